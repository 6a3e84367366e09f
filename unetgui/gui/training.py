"""Fine-tune: a training run in a worker thread, its progress, pause and stop, and the
edits made while it runs.

Training reads copies of the labels made when Fine-tune is pressed. Edits of those
planes during the run are copied again after a second's pause and put in the run's
mailbox (:class:`EditMailbox`, by plane name), which the training thread empties before
its next step: the one way values go from the GUI to the training thread. Values come
back only as the worker's signals (progress, weight snapshots). Planes marked for
training during a run are used by the next run (the panel says so).

In a project, the run also trains on the planes marked in the project's other images:
the training thread reads them from their sidecars before the first step
(core.project_jobs.training_set), so the window never waits on those files. Planes are
named 'NAME plane P' then, and edits of any image of the project on screen reach the run.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore

from unetgui.core import holdout, recipes
from unetgui.core.configs import TrainingConfig
from unetgui.core.errors import UnetguiError
from unetgui.core.labels import LabelDocument
from unetgui.core.project import Project
from unetgui.core.project_jobs import training_set
from unetgui.core.run_outcome import describe_run, judged_on_own_planes
from unetgui.core.runtime import CpuShare
from unetgui.gui.image_session import ImageSession
from unetgui.gui.model_controller import ModelController
from unetgui.gui.panels.training import TrainingPanel
from unetgui.gui.workers import TrainingWorker

if TYPE_CHECKING:  # torch's modules, imported when a run starts (the window opens without them)
    from unetgui.core.train import TrainingPlane

REDRAW_INTERVAL = 0.5  # s; the loss curve and progress bar redraw at most twice a second
EDIT_DELAY_MS = 1000  # edits of training planes go to the running training after this pause


class EditMailbox:
    """Copies of edited training planes, from the GUI thread to the training thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._edits: dict[str, TrainingPlane] = {}

    def put(self, edits: dict[str, TrainingPlane]) -> None:
        """GUI thread: newer copies replace older ones of the same plane (by name)."""
        with self._lock:
            self._edits.update(edits)

    def take(self) -> dict[str, TrainingPlane]:
        """Training thread, before each step: everything put since the last take."""
        with self._lock:
            edits, self._edits = self._edits, {}
        return edits

    def updates_for(self, planes: list[TrainingPlane]) -> Callable[[], dict[int, TrainingPlane]]:
        """The ``updates`` callable core.train.train wants: edits of ``planes``, by index
        (edits of planes not in the run are dropped)."""
        index = {plane.name: i for i, plane in enumerate(planes)}
        return lambda: {index[name]: plane for name, plane in self.take().items() if name in index}


class TrainingController(QtCore.QObject):
    runningChanged = QtCore.Signal(bool)
    snapshotReady = QtCore.Signal(object)  # UNetModel: a copy of the weights, for live predictions
    trained = QtCore.Signal(dict)  # the history entry of a run that changed the weights
    message = QtCore.Signal(str)
    error = QtCore.Signal(str, str)  # title, text

    def __init__(self, panel: TrainingPanel, models: ModelController, session: ImageSession,
                 channel: Callable[[], int | None], weight_parameters: Callable[[], dict],
                 live_every: Callable[[], float], cpu_share: CpuShare,
                 project_images: Callable[[], tuple[Project | None, list[str], bool]] = lambda: (None, [], False),
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self._models = models
        self._session = session
        self._channel = channel  # the channel a one-channel model reads
        self._weight_parameters = weight_parameters  # w0, sigma, class_balance
        self._live_every = live_every  # seconds between snapshots for live predictions (0: on request)
        self._cpu_share = cpu_share
        self._worker: TrainingWorker | None = None
        # (the project, its other images with annotated planes, whether the image on screen is one of it)
        self._project_images = project_images
        self._mailbox = EditMailbox()
        self._run_images: dict[str, np.ndarray] = {}  # plane name -> the model's input, copied at the start
        self._run_image: object = None  # the image the run reads edits of (a Path), or its project
        self._edited: set[int] = set()
        self._edit_timer = QtCore.QTimer(self, singleShot=True, interval=EDIT_DELAY_MS)
        self._edit_timer.timeout.connect(self._hand_over_edits)
        self._steps: list[int] = []
        self._losses: list[float] = []
        self._val_steps: list[int] = []
        self._val_scores: list[float] = []
        self._last_redraw = 0.0
        self._last_progress = None
        self._run_intro = ""
        panel.fineTuneRequested.connect(self.fine_tune)
        panel.pauseToggled.connect(self.pause)
        panel.stopRequested.connect(self.stop)
        models.modelChanged.connect(self._model_changed)
        models.loaded.connect(self._model_changed)  # the first model: its recipe
        session.labelsChanged.connect(self._labels_changed)
        session.opened.connect(self._edited.clear)
        if models.ready:
            panel.show_recipe(recipes.recipe_for(models.model))

    @property
    def training(self) -> bool:
        """A run is going on (until its end is handled, not only while its thread runs)."""
        return self._worker is not None

    @property
    def steps_done(self) -> int:
        """Steps of the current (or last) run that have reported back."""
        return self._steps[-1] if self._steps else 0

    def _model_changed(self, model) -> None:
        # another model: its recipe; the weights of a run that just ended: keep the user's settings
        if not self.training and not self._models.dirty:
            self.panel.show_recipe(recipes.recipe_for(model))

    # ------------------------------------------------------------------ starting

    def training_config(self) -> TrainingConfig:
        """The active model's recipe (core.recipes, as the command line uses it) with the
        choices made in the panel's advanced settings and the weight-map parameters."""
        choices = self.panel.settings()
        strength = choices.pop("augmentation")  # a share of the recipe's own augmentation
        recipe = recipes.recipe_for(self._models.model)
        return recipes.with_choices(recipe, augment=recipe.augment.scaled(strength), **choices,
                                    **self._weight_parameters())

    def _plane_name(self, plane: int, in_project: bool) -> str:
        """'plane 3' alone; 'cells.tif plane 3' in a project (as the other images' planes)."""
        return f"{self._session.path.name} plane {plane}" if in_project else f"plane {plane}"

    def _planes(self, role: str, in_project: bool) -> list[TrainingPlane]:
        from unetgui.core.predict import model_input
        from unetgui.core.train import TrainingPlane

        stack, document, model = self._session.stack, self._session.document, self._models.model
        return [TrainingPlane(model_input(stack.read_plane(p), model, self._channel()),
                              *_annotation_copies(document, p), self._plane_name(p, in_project))
                for p in document.planes_with_role(role)]

    def fine_tune(self) -> bool:
        """Start training on the planes marked for training (in every image of a project);
        returns False with a message (and nothing started) when that is not possible."""
        from unetgui.core.train import train

        session, model = self._session, self._models.model
        if self.training or session.stack is None:
            return False
        project, others, in_project = self._project_images()
        others_train = any("train" in project.roles.get(name, {}).values() for name in others)
        if not session.document.planes_with_role("train") and not others_train:
            where = " in any image of the project" if project is not None else ""
            self.error.emit("Nothing to train on",
                            f"Mark at least one plane for training{where}: paint cells on it, or choose Training "
                            "in the Planes panel.")
            return False
        try:
            config = self.training_config()
            training, validation = self._planes("train", in_project), self._planes("validation", in_project)
            model.net.to(self._models.device)
            self._mailbox = EditMailbox()
            if others:
                note = {"project": project.folder.name, "init": self._models.name}
                run = _project_run(model, training, validation, config, project, others, self._channel(),
                                   self._mailbox, note)
            else:
                run = train(model, training, config, validation=validation,
                            note={"image": session.stack.path.name, "init": self._models.name},
                            updates=self._mailbox.updates_for(training))
        except (UnetguiError, RuntimeError) as error:
            self.error.emit("Cannot start training", str(error))
            return False
        self._worker = TrainingWorker(run, model, self._live_every(), self._cpu_share, self)
        self._worker.item.connect(self._progress)
        self._worker.snapshot.connect(self.snapshotReady)
        self._worker.failed.connect(lambda text: self.error.emit("Training stopped", text))
        self._worker.finished.connect(self._finished)
        for values in (self._steps, self._losses, self._val_steps, self._val_scores):
            values.clear()
        self.panel.show_curves([], [], [], [])
        self.panel.show_progress(0, config.steps, "starting...")
        self._run_images = {plane.name: plane.image for plane in training}
        self._run_image = project if in_project else session.path
        self._edited.clear()
        if others:
            self._run_intro = (f"Training on {len(training)} plane(s) of this image and the planes marked in "
                               f"{len(others)} other image(s) of the project. Edits on training planes are used "
                               "within seconds; other planes you mark, by the next run.")
        else:
            self._run_intro = (f"Training on {len(training)} plane(s), {_judged_on(training, validation, config)}. "
                               "Edits on these training planes are used within seconds; other planes you mark, "
                               "by the next run.")
        self.panel.show_status(self._run_intro)
        self.panel.set_training(True)
        self._last_redraw = 0.0
        self._last_progress = None
        self._worker.start()
        self.runningChanged.emit(True)
        return True

    # ------------------------------------------------------------------ while it runs

    def pause(self, paused: bool) -> None:
        if self._worker is not None:
            (self._worker.pause if paused else self._worker.resume)()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self.panel.show_progress(self.steps_done, self._total_steps(), "stopping after this step...")

    def request_snapshot(self) -> None:
        """Ask the running worker for a copy of its weights (after this step, or at once
        when paused); it arrives by :attr:`snapshotReady`."""
        if self._worker is not None:
            self._worker.request_snapshot()

    @property
    def snapshots_on_request_only(self) -> bool:
        """The run hands out snapshots only when asked (live predictions were off at its start)."""
        return self._worker is not None and self._worker.snapshot_every <= 0

    def _total_steps(self) -> int:
        return self._last_progress.total_steps if self._last_progress is not None else 0

    def _progress(self, progress) -> None:
        if progress.message:
            self.message.emit(progress.message)
        if progress.validation is not None:
            self._val_steps.append(progress.step)
            self._val_scores.append(progress.validation.ap50)
            self.panel.show_status(f"{self._run_intro}\n{_validation_text(progress)}")
        if not np.isfinite(progress.loss):  # step 0 (the model before training), or a retry
            if progress.validation is not None:
                self._redraw()
            return
        self._steps.append(progress.step)
        self._losses.append(progress.loss)
        self._last_progress = progress
        # the curve keeps every point and catches up at the next redraw
        now = time.perf_counter()
        if progress.validation is not None or now - self._last_redraw >= REDRAW_INTERVAL:
            self._redraw()

    def _redraw(self) -> None:
        self._last_redraw = time.perf_counter()
        self.panel.show_curves(self._steps, self._losses, self._val_steps, self._val_scores)
        progress = self._last_progress
        if progress is None:
            return
        per_step = progress.elapsed / max(progress.step, 1)
        remaining = per_step * (progress.total_steps - progress.step)
        self.panel.show_progress(progress.step, progress.total_steps,
                                 f"step {progress.step} / {progress.total_steps}, {duration(remaining)} left")

    def _labels_changed(self, event) -> None:
        if self.training and self._reads_edits_of_this_image() and self._session.document.role(event.plane) == "train":
            self._edited.add(event.plane)
            self._edit_timer.start()  # a pause in the user's edits hands them over

    def _reads_edits_of_this_image(self) -> bool:
        """The run trains on the image on screen: the one it started on, or one of its project."""
        project, _, in_project = self._project_images()
        return self._run_image == self._session.path or (in_project and self._run_image is project)

    def _hand_over_edits(self) -> None:
        """Copy the edited training planes (GUI thread: the document is not thread-safe);
        the run takes those it trains on."""
        from unetgui.core.predict import model_input
        from unetgui.core.train import TrainingPlane

        session, document = self._session, self._session.document
        if not self.training or document is None or not self._reads_edits_of_this_image():
            self._edited.clear()
            return
        in_project = self._run_image is not session.path
        copies = {}
        try:
            for p in sorted(self._edited):
                name = self._plane_name(p, in_project)
                image = self._run_images.get(name)
                if image is None and not in_project:
                    continue  # marked during the run: the next run takes it
                if image is None:  # perhaps a plane of another image of the run: read it now
                    image = model_input(session.stack.read_plane(p), self._models.model, self._channel())
                copies[name] = TrainingPlane(image, *_annotation_copies(document, p), name)
        except UnetguiError as error:
            self.message.emit(f"Your latest edits could not be handed to the training: {error}")
        self._edited.clear()
        self._mailbox.put(copies)

    # ------------------------------------------------------------------ the end

    def _finished(self) -> None:
        worker, self._worker = self._worker, None
        self._edit_timer.stop()
        self._run_images, self._run_image = {}, None
        self._redraw()  # the steps since the last throttled redraw
        self.panel.set_training(False)
        self.runningChanged.emit(False)
        if worker is not None:
            worker.deleteLater()
        history = self._models.model.history
        if not history or history[-1].get("steps", 0) == 0:
            self.panel.show_progress(0, 0, "idle")
            return
        entry = history[-1]
        self.panel.show_progress(entry["steps"], entry["steps"],
                                 f"{entry['ended']} after {entry['steps']} steps ({duration(entry['seconds'])})")
        outcome = outcome_text(entry)
        self.panel.show_status(outcome)  # what the run did, in place of what it was doing
        self.message.emit(outcome)
        self.trained.emit(entry)

    def shutdown(self) -> None:
        """Stop the run and wait for its thread (closing the window)."""
        self._edit_timer.stop()
        if self._worker is not None:
            self._worker.stop()
            self._worker.wait()


def _project_run(model, training: list[TrainingPlane], validation: list[TrainingPlane], config: TrainingConfig,
                 project: Project, others: list[str], channel: int | None, mailbox: EditMailbox, note: dict):
    """A run over the image on screen's planes and those of ``others``, which the training
    thread reads from their sidecars first (core.project_jobs.training_set)."""
    from unetgui.core.train import TrainingProgress, train

    found = training_set(project, model, channel, images=others)
    training, validation = training + found.training, validation + found.validation
    run = train(model, training, config, validation=validation, note=note,
                updates=mailbox.updates_for(training))
    read = ", ".join(f"{name} ({n})" for name, n in found.sources.items()) or "none"
    yield TrainingProgress(0, config.steps, math.nan, 0.0,
                           message=" ".join([f"Planes read from the project's other images: {read}.", *found.notes]))
    yield from run


def _annotation_copies(document: LabelDocument, plane: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Copies of the plane's labels and ignore mask (None when nothing is ignored), for
    training in another thread: the document is the GUI thread's."""
    ignore = np.array(document.ignore_of(plane))
    return np.array(document.labels_of(plane)), ignore if ignore.any() else None


def _judged_on(training, validation, config: TrainingConfig) -> str:
    """How the run will be judged, in words (the held-back band needs enough cells)."""
    if validation:
        return f"validating on {len(validation)}"
    if config.auto_validation and any(holdout.choose_band(p.labels, config.auto_validation) for p in training):
        return "validating on a band held back from them"
    return (f"with nothing to validate on (mark a validation plane, or annotate {holdout.MIN_CELLS} "
            "cells or more on a plane, to keep only a model that improves)")


def _validation_text(progress) -> str:
    """The panel's line about validation: the start, then the latest and best scores."""
    score, best = progress.validation, progress.best_validation
    if progress.step == 0:
        return f"Before training: validation AP@0.5 {score.ap50:.3f}, foreground IoU {score.foreground_iou:.3f}"
    return (f"Validation AP@0.5 {score.ap50:.3f}, foreground IoU {score.foreground_iou:.3f} "
            f"(best AP {best.ap50:.3f})")


#: Said after a run judged on a band of the planes it trained on: that band is like them,
#: and other images may not gain. Measured (benchmarks/quality.py, section 1b): fine-tuned
#: on two images of a mixed collection, one run improved its band and lost AP@0.5
#: 0.818 -> 0.758 on the collection's other 14 images (0.805 once averaged with the start).
BAND_SCOPE = ("That check used cells held back from the planes you annotated. To judge images unlike "
              "them, correct a plane of one and mark it for validation (Planes panel).")


def outcome_text(entry: dict) -> str:
    """What a finished run did, in plain words (core/run_outcome.py), and what to do next."""
    said = describe_run(entry)
    if entry.get("kept_the_starting_weights"):
        return f"{said} Correct more cells, or mark another plane for training, and try again."
    scope = f" {BAND_SCOPE}" if judged_on_own_planes(entry) else ""
    return f"{said} Save it with Save... in the Model panel.{scope}"


def duration(seconds: float) -> str:
    """Seconds in words: '42 s', '3 min 05 s', '1 h 02 min'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
