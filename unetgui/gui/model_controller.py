"""The active model, fine-tuning in a worker thread, live and whole-stack predictions.

The window tells the controller what is open (:meth:`set_image`, :meth:`set_plane`,
:meth:`set_channel`) and listens to its signals; the controller never touches the
window's widgets other than its own panel. Training reads copies of the labels made when
Fine-tune is pressed; edits of those planes during training are copied again after a
second's pause and taken by the training thread before its next step. Planes marked for
training (or validation) during a run are used by the next run (the panel says so).
"""

from __future__ import annotations

import dataclasses
import gc
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from unetgui.core import holdout, recipes
from unetgui.core.accept import paste_cells
from unetgui.core.augment import AugmentConfig
from unetgui.core.cellsize import typical_diameter
from unetgui.core.device import describe_device, resolve_device
from unetgui.core.errors import ModelFileError, UnetguiError
from unetgui.core.labels import LabelsChanged
from unetgui.core.model import UNetModel, load_model, model_cell_size, new_model, save_model
from unetgui.core.postprocess import probabilities_to_labels
from unetgui.core.train import TrainingConfig, TrainingPlane, train
from unetgui.core.unet import parameter_count
from unetgui.gui.panels.model import ModelPanel
from unetgui.gui.prediction import (
    CpuShare,
    LivePredictor,
    PredictionRequest,
    TrainingWorker,
    from_uint8,
    model_input,
    predict_planes,
)
from unetgui.gui.workers import GeneratorWorker

MODEL_FILTER = "unetgui models (*.unet);;All files (*)"
REDRAW_INTERVAL = 0.25  # s; the loss curve and progress bar redraw at most 4x a second
EDIT_DELAY_MS = 1000  # edits of training planes go to the running training after this pause


def starter_or_new() -> tuple[UNetModel, str]:
    """The bundled starter model, or a new 16-channel network if it is not installed."""
    try:
        from unetgui.core.starter import load_starter_model

        return load_starter_model(), "starter model"
    except (ImportError, ModelFileError):
        return new_model(recipes.SCRATCH_NETWORK, seed=0, info={"name": "new network"}), "new network"


class ModelController(QtCore.QObject):
    predictionTile = QtCore.Signal(int, object, object)  # plane, box, uint8 patch
    predictionReady = QtCore.Signal(int, object)  # plane, uint8 (Y, X) or None to clear
    message = QtCore.Signal(str)
    error = QtCore.Signal(str, str)  # title, text
    trainingRunning = QtCore.Signal(bool)

    def __init__(
        self,
        panel: ModelPanel,
        focus: Callable[[], tuple[float, float] | None],
        weight_parameters: Callable[[], dict],
        parent: QtCore.QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self._focus = focus  # (row, col) the user looks at, predicted first
        self._weight_parameters = weight_parameters  # w0, sigma, class_balance of the panel
        self.stack = None
        self.document = None
        self.plane = 0
        self.channel: int | None = None
        self.device = resolve_device("auto")
        self.model, origin = starter_or_new()
        self.model_path: Path | None = None
        self.model_dirty = False
        self.predictions: dict[int, np.ndarray] = {}  # plane -> uint8 foreground, current model
        self._trainer: TrainingWorker | None = None
        self._live_model: UNetModel | None = None  # snapshot of the weights for live predictions
        self._last_redraw = 0.0
        self._last_progress = None
        self._run_intro = ""  # what the running training trains and validates on
        self._stack_worker: GeneratorWorker | None = None
        self._losses: list[float] = []
        self._steps: list[int] = []
        self._val_steps: list[int] = []
        self._val_scores: list[float] = []
        self._cpu_share = CpuShare()
        self._unsubscribe = None  # from the document's change events
        # Edits of training planes during a run: planes edited (GUI thread), then copies
        # handed to the training thread, which takes them before its next step.
        self._run_planes: dict[int, tuple[int, TrainingPlane]] = {}  # plane -> (index, plane)
        self._edited: set[int] = set()
        self._edits_lock = threading.Lock()
        self._edits: dict[int, TrainingPlane] = {}
        self._edit_timer = QtCore.QTimer(self)
        self._edit_timer.setSingleShot(True)
        self._edit_timer.setInterval(EDIT_DELAY_MS)
        self._edit_timer.timeout.connect(self._hand_over_edits)
        self.live = LivePredictor(self._cpu_share, self)
        self.live.tile.connect(self._tile)
        self.live.done.connect(self._prediction_done)
        self.live.sized.connect(self._show_size)
        self.live.failed.connect(lambda text: self.error.emit("Prediction failed", text))
        self._connect_panel()
        self.panel.show_recipe(recipes.recipe_for(self.model))
        self._describe(origin)
        self._show_device()

    # ------------------------------------------------------------------ wiring

    def _connect_panel(self) -> None:
        p = self.panel
        p.newRequested.connect(self.new_network)
        p.openRequested.connect(self.open_dialog)
        p.saveRequested.connect(self.save_dialog)
        p.starterRequested.connect(self.use_starter)
        p.deviceChosen.connect(self.choose_device)
        p.fineTuneRequested.connect(self.fine_tune)
        p.pauseToggled.connect(self._pause)
        p.stopRequested.connect(self.stop)
        p.predictPlaneRequested.connect(self.predict_plane)
        p.predictStackRequested.connect(self.predict_stack)
        p.cancelPredictionRequested.connect(self.cancel_predictions)
        p.acceptRequested.connect(self.accept)

    def set_image(self, stack, document) -> None:
        self.cancel_predictions()
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.stack, self.document = stack, document
        self._unsubscribe = document.subscribe(self._document_changed) if document is not None else None
        # a run that goes on trains on the planes it copied; edits here are another image's
        self._run_planes, self._edited = {}, set()
        self.predictions.clear()
        self.predictionReady.emit(self.plane, None)

    def set_plane(self, plane: int) -> None:
        self.plane = plane
        self.predictionReady.emit(plane, self.predictions.get(plane))
        if self.training:  # follow the user: predict the new plane with the latest weights
            self._predict_while_training()

    def set_channel(self, channel: int | None) -> None:
        self.channel = channel

    @property
    def steps_done(self) -> int:
        """Steps of the current (or last) run that have reported back."""
        return self._steps[-1] if self._steps else 0

    @property
    def training(self) -> bool:
        # until the run's end is handled (_training_finished), not only while its thread runs
        return self._trainer is not None

    # ------------------------------------------------------------------ the active model

    def set_model(self, model: UNetModel, origin: str, path: Path | None = None) -> None:
        self.model = model
        self.model.net.to(self.device)
        self.model_path = path
        self.model_dirty = False
        self.predictions.clear()
        self.predictionReady.emit(self.plane, None)
        self.panel.show_recipe(recipes.recipe_for(model))
        self._describe(origin)

    def new_network(self, base_channels: int) -> None:
        in_channels = self.stack.n_channels if self.stack is not None and self.channel is None else 1
        config = dataclasses.replace(recipes.SCRATCH_NETWORK, in_channels=in_channels, base_channels=base_channels)
        self.set_model(new_model(config, seed=0, info={"name": f"new network ({base_channels} channels)"}), "new network")

    def use_starter(self) -> None:
        model, origin = starter_or_new()
        self.set_model(model, origin)

    def open_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.panel, "Open model", "", MODEL_FILTER)
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path) -> bool:
        try:
            model = load_model(path)
        except UnetguiError as error:
            self.error.emit("Cannot open model", str(error))
            return False
        self.set_model(model, Path(path).name, Path(path))
        self.message.emit(f"Opened model {Path(path).name}.")
        return True

    def save_dialog(self) -> None:
        start = str(self.model_path or "model.unet")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.panel, "Save model", start, MODEL_FILTER)
        if path:
            self.save_model(path)

    def save_model(self, path: str | Path) -> bool:
        path = Path(path)
        if path.suffix == "":
            path = path.with_suffix(".unet")
        try:
            save_model(self.model, path)
        except (UnetguiError, OSError) as error:
            self.error.emit("Cannot save model", str(error))
            return False
        self.model_path, self.model_dirty = path, False
        self._describe(path.name)
        self.message.emit(f"Saved model to {path}")
        return True

    def choose_device(self, name: str) -> None:
        try:
            self.device = resolve_device(name)
        except UnetguiError as error:
            self.error.emit("Device not available", str(error))
            self.panel.device.setCurrentIndex(0)
            self.device = resolve_device("auto")
        self.model.net.to(self.device)
        self._show_device()

    def _show_device(self) -> None:
        self.panel.device_label.setText(f"Using {describe_device(self.device)}")

    def _describe(self, origin: str) -> None:
        config = self.model.config
        steps = sum(int(entry.get("steps", 0)) for entry in self.model.history)
        name = self.model.info.get("name", origin)
        unsaved = " (not saved)" if self.model_dirty else ""
        self.panel.set_model_description(
            f"<b>{name}</b>{unsaved}<br>U-Net, {config.base_channels} base channels, depth {config.depth}, "
            f"{parameter_count(self.model.net) / 1e6:.1f} M parameters, {config.in_channels} input channel(s); "
            f"trained {steps} steps in {len(self.model.history)} run(s)"
        )

    # ------------------------------------------------------------------ training

    def training_config(self) -> TrainingConfig:
        """The active model's recipe (core.recipes, as the command line uses it) with the
        choices made in the panel's advanced settings."""
        p = self.panel
        minutes = p.minutes.value()
        return recipes.with_choices(
            recipes.recipe_for(self.model),
            steps=p.steps.value(),
            max_seconds=minutes * 60 if minutes else None,
            optimizer=p.optimizer.currentData(),
            learning_rate=p.learning_rate.value() or None,
            tile_size=p.tile_size.value() or None,
            batch_size=p.batch_size.value(),
            augment=AugmentConfig().scaled(p.augmentation.value() / 100),
            validation_every=p.validation_every.value(),
            **self._weight_parameters(),
        )

    def _planes(self, role: str) -> list[TrainingPlane]:
        return [
            TrainingPlane(model_input(self.stack.read_plane(p), self.model, self.channel),
                          *self._annotation_copies(p), f"plane {p}")
            for p in self.document.planes_with_role(role)
        ]

    def _annotation_copies(self, plane: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Copies of the plane's labels and ignore mask (None when nothing is ignored), for
        training in another thread: the document is the GUI thread's."""
        ignore = np.array(self.document.ignore_of(plane))
        return np.array(self.document.labels_of(plane)), ignore if ignore.any() else None

    def fine_tune(self) -> bool:
        """Start training on the planes marked for training; returns False with a message
        (and nothing started) when that is not possible."""
        if self.training or self.stack is None:
            return False
        if not self.document.planes_with_role("train"):
            self.error.emit(
                "Nothing to train on",
                "Mark at least one plane for training: paint cells on it, or choose Training "
                "in the Planes panel.",
            )
            return False
        try:
            config = self.training_config()
            training, validation = self._planes("train"), self._planes("validation")
            self.model.net.to(self.device)
            run = train(self.model, training, config, validation=validation,
                        note={"image": self.stack.path.name, "init": self.panel.model_name.text()},
                        updates=self._take_edits)
        except (UnetguiError, RuntimeError) as error:
            self.error.emit("Cannot start training", str(error))
            return False
        snapshot_every = self.panel.refresh_seconds.value() if self.panel.live.isChecked() else 0
        self._trainer = TrainingWorker(run, self.model, snapshot_every, self._cpu_share, self)
        self._trainer.item.connect(self._progress)
        self._trainer.snapshot.connect(self._snapshot)
        self._trainer.failed.connect(lambda text: self.error.emit("Training stopped", text))
        self._trainer.finished.connect(self._training_finished)
        self._losses.clear(), self._steps.clear(), self._val_steps.clear(), self._val_scores.clear()
        self.panel.loss_curve.setData([], [])
        self.panel.validation_curve.setData([], [])
        self.panel.progress.setRange(0, config.steps)
        self.panel.progress.setValue(0)
        self.panel.progress.setFormat("starting...")
        self._run_planes = {p: (i, plane) for i, (p, plane) in
                            enumerate(zip(self.document.planes_with_role("train"), training))}
        self._edited.clear()
        self._edits.clear()
        judged_on = _judged_on(training, validation, config)
        self._run_intro = (f"Training on {len(training)} plane(s), {judged_on}. Edits on these training "
                           "planes are used within seconds; other planes you mark, by the next run.")
        self.panel.training_status.setText(self._run_intro)
        self.panel.set_training(True)
        self._last_redraw = 0.0
        self._last_progress = None
        self._live_model = None  # the worker hands out the first snapshot after step 1
        self._trainer.start()
        self.trainingRunning.emit(True)
        return True

    def _pause(self, paused: bool) -> None:
        if self._trainer is not None:
            (self._trainer.pause if paused else self._trainer.resume)()

    def stop(self) -> None:
        if self._trainer is not None:
            self._trainer.stop()
            self.panel.progress.setFormat("stopping after this step...")

    def _progress(self, progress) -> None:
        if progress.step == 1:
            # Whatever starting to train created or imported (the first optimiser imports
            # torch._dynamo, ~800 modules, if the start-up preload has not yet) goes out of
            # the collector's way, as at start-up, or each full collection pauses the
            # window for 60-120 ms.
            gc.freeze()
        if progress.message:
            self.message.emit(progress.message)
        if progress.validation is not None:
            self._val_steps.append(progress.step)
            self._val_scores.append(progress.validation.ap50)
            # validation AP on the loss axis's scale: both are shown on 0..~1
            self.panel.validation_curve.setData(self._val_steps, self._val_scores)
            self.panel.training_status.setText(f"{self._run_intro}\n{_validation_text(progress)}")
        if not np.isfinite(progress.loss):  # step 0 (the model before training), or a retry
            return
        self._steps.append(progress.step)
        self._losses.append(progress.loss)
        self._last_progress = progress
        # Redrawing on every step cost 8 ms of GUI time per step (bench_finetune.py);
        # the curve keeps every point and catches up at the next redraw.
        now = time.perf_counter()
        if progress.validation is not None or now - self._last_redraw >= REDRAW_INTERVAL:
            self._redraw_progress()

    def _redraw_progress(self) -> None:
        progress = self._last_progress
        if progress is None:
            return
        self._last_redraw = time.perf_counter()
        self.panel.loss_curve.setData(self._steps, self._losses)
        self.panel.progress.setValue(progress.step)
        per_step = progress.elapsed / max(progress.step, 1)
        remaining = per_step * (progress.total_steps - progress.step)
        self.panel.progress.setFormat(f"step %v / %m, {_duration(remaining)} left")

    def _snapshot(self, model: UNetModel) -> None:
        self._live_model = model
        self._request_live(model)

    # ------------------------------------------------------------------ edits while training

    def _document_changed(self, event) -> None:
        if isinstance(event, LabelsChanged) and self.training and event.plane in self._run_planes:
            self._edited.add(event.plane)
            self._edit_timer.start()  # a pause in the user's edits hands them over

    def _hand_over_edits(self) -> None:
        """Copy the edited training planes (GUI thread: the document is not thread-safe)."""
        if not self.training:
            return
        copies = {}
        for p in sorted(self._edited):
            index, plane = self._run_planes[p]
            labels, ignore = self._annotation_copies(p)
            copies[index] = dataclasses.replace(plane, labels=labels, ignore=ignore)
        self._edited.clear()
        with self._edits_lock:
            self._edits.update(copies)

    def _take_edits(self) -> dict[int, TrainingPlane]:
        """For the training thread, before each step: the edits handed over since."""
        with self._edits_lock:
            edits, self._edits = self._edits, {}
        return edits

    def _training_finished(self) -> None:
        worker = self._trainer
        self._trainer = None
        self._edit_timer.stop()
        self._run_planes = {}
        self._redraw_progress()  # the steps since the last throttled redraw
        self.panel.set_training(False)
        self.trainingRunning.emit(False)
        if not self.model.history or self.model.history[-1].get("steps", 0) == 0:
            self.panel.progress.setFormat("idle")
            return
        self.model_dirty = True
        entry = self.model.history[-1]
        self.panel.progress.setFormat(f"{entry['ended']} after {entry['steps']} steps ({_duration(entry['seconds'])})")
        self._describe("fine-tuned model")
        self.predictions.clear()
        self.message.emit(_outcome_text(entry))
        if worker is not None:
            worker.deleteLater()
        self.predict_plane()

    # ------------------------------------------------------------------ predictions

    def _predict_while_training(self, fresh: bool = False) -> None:
        """With the latest snapshot, or a new one from the worker (after the step running
        now, or at once when paused): before the first one, and for ``fresh`` when live
        predictions are off. Copying weights here could catch them mid-update."""
        worker = self._trainer
        if worker is not None and (self._live_model is None or (fresh and worker.snapshot_every <= 0)):
            worker.request_snapshot()  # its snapshot brings the prediction (_snapshot)
        elif self._live_model is not None:
            self._request_live(self._live_model)

    def _request_live(self, model: UNetModel) -> None:
        if self.stack is None:
            return
        try:
            image = model_input(self.stack.read_plane(self.plane), model, self.channel)
        except UnetguiError as error:
            self.error.emit("Cannot predict", str(error))
            return
        # on the training device: on a GPU a snapshot predicts there, beside training; live
        # predictions during training stay fast (no test-time augmentation)
        tta = self.panel.tta.isChecked() and not self.training
        self.live.request(PredictionRequest(self.plane, image, model, self._focus(), self.device, tta,
                                            self._cell_diameter()))

    def _cell_diameter(self) -> float | None:
        """The user's override, else the median diameter of the cells in the labels, else
        None (the predictor estimates it from the image)."""
        if self.panel.diameter.value():
            return float(self.panel.diameter.value())
        if self.document is None:
            return None
        annotated = self.document.annotated_planes()
        # a few planes, this one first: a bincount per plane on the GUI thread, kept short
        planes = ([self.plane] if self.plane in annotated else []) + [p for p in annotated if p != self.plane]
        return typical_diameter(self.document.labels_of(p) for p in planes[:3])

    def _show_size(self, plane: int, diameter, scale: float) -> None:
        size = model_cell_size(self.model)
        if diameter is None or size is None:
            self.panel.size_status.setText("")
            return
        action = "image at its own size" if scale == 1.0 else f"image resized by {scale:.2f}"
        self.panel.size_status.setText(f"Cells ~{diameter:.0f} px (model: {size.low:.0f}-{size.high:.0f} px): "
                                       f"{action}.")

    def predict_plane(self) -> None:
        if self.training:
            self._predict_while_training(fresh=True)
        else:  # a snapshot: the predictor must never share a module with a training run
            self._request_live(self.model.snapshot())
        self.panel.prediction_status.setText(f"Predicting plane {self.plane}...")

    def _tile(self, plane: int, box, patch) -> None:
        if plane == self.plane:
            self.predictionTile.emit(plane, box, patch)

    def _prediction_done(self, plane: int, probability: np.ndarray) -> None:
        # kept during training too: Accept takes what the user sees (training's end
        # clears them and predicts again with the final weights)
        self.predictions[plane] = probability
        self.predictionReady.emit(plane, probability)
        self.panel.prediction_status.setText(f"Predicted plane {plane}.")

    def predict_stack(self) -> None:
        if self.stack is None or self.training or (self._stack_worker and self._stack_worker.isRunning()):
            return
        planes = list(range(self.stack.n_planes))
        model, stack, channel, tta = self.model.snapshot(), self.stack, self.channel, self.panel.tta.isChecked()
        diameter = self._cell_diameter()
        model.net.to(self.device)
        self._stack_worker = GeneratorWorker(lambda: predict_planes(model, stack, planes, channel, tta, diameter),
                                             self)
        self._stack_worker.item.connect(self._stack_item)
        self._stack_worker.failed.connect(lambda text: self.error.emit("Prediction failed", text))
        self._stack_worker.finished.connect(self._stack_finished)
        self.panel.cancel_prediction_button.setEnabled(True)
        self.panel.prediction_status.setText(f"Predicting {len(planes)} planes...")
        self._stack_worker.start()

    def _stack_item(self, item) -> None:
        plane, probability, done, total = item
        self.predictions[plane] = probability
        if plane == self.plane:
            self.predictionReady.emit(plane, probability)
        self.panel.prediction_status.setText(f"Predicted {done} of {total} planes.")

    def _stack_finished(self) -> None:
        self.panel.cancel_prediction_button.setEnabled(False)
        if self._stack_worker is not None and self._stack_worker.stopping:
            self.panel.prediction_status.setText(f"Cancelled; {len(self.predictions)} plane(s) predicted.")

    def cancel_predictions(self) -> None:
        self.live.cancel()
        if self._stack_worker is not None and self._stack_worker.isRunning():
            self._stack_worker.stop()

    def accept(self, which: str) -> int:
        """Copy predicted cells into the labels; one undoable edit per plane. Returns planes changed."""
        if self.document is None:
            return 0
        if which == "plane":
            planes = [self.plane]
        else:
            planes = [p for p in sorted(self.predictions) if self.document.role(p) == "none"]
        missing = [p for p in planes if p not in self.predictions]
        if missing:
            self.error.emit("No prediction yet", "Predict this plane first (Predict plane), then accept it.")
            return 0
        for plane in planes:
            self.document.set_plane_labels(plane, self._predicted_cells(plane))
        self.message.emit(f"Accepted the prediction of {len(planes)} plane(s); Ctrl+Z undoes it per plane.")
        return len(planes)

    def accept_box(self, box: tuple[int, int, int, int]) -> int:
        """Copy the predicted cells lying mostly inside ``box`` (r0, r1, c0, c1) of the
        current plane into its labels, with new ids, as one undoable edit. Returns cells copied."""
        if self.document is None:
            return 0
        if self.plane not in self.predictions:
            self.error.emit("No prediction yet", "Predict this plane first (Predict plane), then drag a box to accept.")
            return 0
        cells = self._predicted_cells(self.plane)
        try:
            labels, count = paste_cells(self.document.labels_of(self.plane), cells, box,
                                        first_id=self.document.next_free_id())
            if count:
                self.document.set_plane_labels(self.plane, labels)
        except (UnetguiError, MemoryError) as error:  # e.g. every cell id taken
            self.error.emit("Cannot accept the prediction", str(error) or "Not enough memory.")
            return 0
        if count:
            self.message.emit(f"Accepted {count} predicted cell(s) in the box; Ctrl+Z undoes it.")
        else:
            self.message.emit("No predicted cell lies mostly inside that box.")
        return count

    def _predicted_cells(self, plane: int) -> np.ndarray:
        """The plane's stored prediction as cell labels (what Accept copies)."""
        return probabilities_to_labels(from_uint8(self.predictions[plane]))

    def shutdown(self) -> None:
        """Stop every worker (closing the window); the model stays as it is."""
        self._edit_timer.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._trainer is not None:
            self._trainer.stop()
            self._trainer.wait()
        if self._stack_worker is not None:
            self._stack_worker.stop()
            self._stack_worker.wait()
        if self.live.isRunning():
            self.live.shutdown()


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


def _outcome_text(entry: dict) -> str:
    """What a finished run did, in plain words: better, or kept as it was."""
    before, best = entry.get("validation_before"), entry.get("best_validation")
    if entry.get("kept_the_starting_weights"):
        return (f"Training did not beat the model you started with on the validation cells "
                f"(AP@0.5 {before['ap50']:.3f} before), so that model is kept unchanged. "
                "Correct more cells, or mark another plane for training, and try again.")
    if before and best:
        return (f"Training improved validation AP@0.5 from {before['ap50']:.3f} to {best['ap50']:.3f}; "
                "the best model is active. Save it with Save... in the Model panel.")
    return "Training ended; the model is active. Save it with Save... in the Model panel."


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

