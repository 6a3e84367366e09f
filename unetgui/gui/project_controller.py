"""The open project: its images, their thumbnails and states, moving between them, and
the jobs over all of them (predict, export) with progress, time left and Cancel.

The list fills in at once with the names; thumbnails and states come from a worker, one
image at a time, so opening a folder of hundreds of images never holds up the window.
Moving to another image saves the one on screen first (autosave's save, no question
asked) and opens the next as File > Open does; each image keeps its own sidecar, undo
and autosave. The project file (core/project.py) is written when the project opens,
when an image's roles change in a save, and when the model or output folder changes.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore

from unetgui.core.errors import UnetguiError
from unetgui.core.project import Project, open_project, save_project
from unetgui.core.project_jobs import (
    ImageProgress,
    export_images,
    image_status,
    predict_images,
    summary,
    thumbnail,
)
from unetgui.gui.panels.images import ImagesPanel
from unetgui.gui.training import duration
from unetgui.gui.workers import GeneratorWorker, LatestOnly

if TYPE_CHECKING:
    from unetgui.core.model import UNetModel


class ProjectController(QtCore.QObject):
    opened = QtCore.Signal()  # a project is open (its list is shown)
    closed = QtCore.Signal()
    imageWanted = QtCore.Signal(object)  # Path: the user chose another image of the project
    jobFinished = QtCore.Signal(str, list)  # "predict" | "export", the names done
    message = QtCore.Signal(str, int)  # text, milliseconds
    error = QtCore.Signal(str, str)  # title, text

    def __init__(self, panel: ImagesPanel, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.project: Project | None = None
        self.current = -1  # row of the image on screen, -1 when it is not one of the project's
        self._scanner: GeneratorWorker | None = None
        self._job: GeneratorWorker | None = None
        self._job_kind = ""
        self._job_items: list[ImageProgress] = []
        self._job_started = 0.0
        self._scan_changed = False
        self._states = LatestOnly(self)
        self._states.finished.connect(lambda purpose, item: purpose.startswith("state ") and self._show_state(*item))
        self._states.failed.connect(self._job_failed)
        panel.imageChosen.connect(self.go)
        panel.cancelRequested.connect(self.cancel_job)

    # ------------------------------------------------------------------ open and close

    def open(self, folder: str | Path) -> bool:
        """Open ``folder`` as a project; False (and a message) when it cannot be."""
        try:
            opened = open_project(folder)
        except UnetguiError as error:
            self.error.emit("Cannot open the folder", str(error))
            return False
        self.close()
        self.project = opened.project
        self._save()
        self.current = -1
        self.panel.set_images(f"{self.project.folder.name}: {len(self.project.images)} image(s)",
                              self.project.images)
        self.panel.set_output(str(self.project.output_folder))
        self.opened.emit()
        if opened.notes:
            self.error.emit("About this project", "\n\n".join(opened.notes))
        return True

    def close(self) -> None:
        """Forget the project (the image on screen stays open as a single image)."""
        self.cancel_job(wait=True)
        self._stop_scanner()
        if self.project is not None:
            self.project = None
            self.current = -1
            self.closed.emit()

    def shutdown(self) -> None:
        self.close()
        self._states.wait(10000)

    def _save(self) -> None:
        """Write the project file in a worker (a copy of it: the GUI thread goes on changing
        the project); an fsync on a busy disk can take tens of milliseconds."""
        self._states.submit("save project", save_project, copy.deepcopy(self.project))

    def _job_failed(self, purpose: str, text: str) -> None:
        if purpose == "save project":
            self.message.emit(f"The project file could not be written ({text}); your annotations are still "
                              "saved with each image.", 10000)

    # ------------------------------------------------------------------ the list

    def rescan(self) -> None:
        """Thumbnails and states of every image, from a worker, in list order."""
        if self.project is None:
            return
        project = self.project
        self._stop_scanner()
        self._scanner = GeneratorWorker(lambda: _scan(project), self)
        self._scanner.item.connect(lambda item: self._show_state(*item))
        self._scanner.finished.connect(self._scan_finished)
        self._scan_changed = False
        self._scanner.start()

    def _scan_finished(self) -> None:
        if self._scan_changed and self.project is not None:
            self._save()  # the roles summary, as the sidecars say

    def refresh(self, names: list[str]) -> None:
        """The states of ``names`` again (after a save, a prediction, an export)."""
        if self.project is None:
            return
        project = self.project
        for name in names:
            self._states.submit(f"state {name}",
                                lambda n=name: (project.images.index(n), n, None, image_status(project, n)))

    def _show_state(self, row: int, name: str, picture, status) -> None:
        if self.project is None or row >= len(self.project.images) or self.project.images[row] != name:
            return
        if isinstance(status, str):  # the file cannot be read
            self.panel.show_state(row, name, status)
            return
        self.panel.show_state(row, name, status.text)
        self.panel.show_thumbnail(row, picture)
        if self.project.roles.get(name, {}) != status.roles:
            self.project.roles[name] = dict(status.roles)
            self._scan_changed = True

    def _stop_scanner(self) -> None:
        if self._scanner is not None:
            self._scanner.stop()
            self._scanner.wait()
            self._scanner = None

    def row_of(self, path: Path | None) -> int:
        """The row of ``path`` in the project, or -1."""
        if self.project is None or path is None:
            return -1
        try:
            relative = Path(path).resolve().relative_to(self.project.folder)
        except ValueError:
            return -1
        name = str(relative)
        return self.project.images.index(name) if name in self.project.images else -1

    def image_shown(self, path: Path | None) -> None:
        """The window opened ``path``: select its row (none if it is not in the project)."""
        self.current = self.row_of(path)
        self.panel.set_current(self.current)

    def go(self, row: int) -> None:
        """Ask for image ``row`` (the window saves the one on screen and opens it)."""
        if self.project is not None and 0 <= row < len(self.project.images) and row != self.current:
            self.imageWanted.emit(self.project.path_of(self.project.images[row]))
        else:
            self.panel.set_current(self.current)

    def step(self, delta: int) -> None:
        """Next (+1) or previous (-1) image; at either end, stay."""
        if self.project is None or not self.project.images:
            return
        row = min(max(self.current + delta, 0), len(self.project.images) - 1) if self.current >= 0 else 0
        self.go(row)

    def record_roles(self, path: Path, roles: dict[int, str]) -> None:
        """An image of the project was saved with these roles: keep the summary current."""
        row = self.row_of(path)
        if row < 0:
            return
        name = self.project.images[row]
        if self.project.roles.get(name, {}) != roles:
            self.project.roles[name] = dict(roles)
            self._save()
        self.refresh([name])

    def set_model(self, model: Path | str | None) -> None:
        """The model in use changed (opened, saved, the starter chosen): the project remembers it."""
        if self.project is not None and model is not None:
            before = self.project.model
            self.project.set_model(model)
            if self.project.model != before:
                self._save()

    def set_output(self, folder: str | Path) -> None:
        if self.project is not None:
            self.project.output = str(Path(folder))
            self.panel.set_output(str(self.project.output_folder))
            self._save()
            self.refresh(list(self.project.images))

    def other_annotated_images(self, shown: Path | None) -> list[str]:
        """Names of the images, other than the one on screen, with planes marked for
        training or validation (per the roles summary, which the sidecars keep current)."""
        if self.project is None:
            return []
        row = self.row_of(shown)
        current = self.project.images[row] if row >= 0 else None
        return [name for name in self.project.images if name != current and self.project.roles.get(name)]

    # ------------------------------------------------------------------ jobs

    @property
    def busy(self) -> bool:
        return self._job is not None

    def predict(self, model: UNetModel, model_name: str, only_not_annotated: bool, **options) -> bool:
        """Predict every image (or those not annotated) with ``model``, in a worker."""
        project = self.project
        if project is None or self.busy:
            return False
        names = [n for n in project.images if not (only_not_annotated and project.annotated(n))]
        if not names:
            self.error.emit("Nothing to predict", "Every image of the project has annotated planes.")
            return False
        return self._start("predict", lambda: predict_images(project, names, model, model_name, **options),
                           len(names))

    def export(self, kinds: list[str]) -> bool:
        """Export every image of the project into its output folder, in a worker."""
        project = self.project
        if project is None or self.busy:
            return False
        names = list(project.images)
        return self._start("export", lambda: export_images(project, names, kinds), len(names))

    def _start(self, kind: str, make: Callable[[], Iterator[ImageProgress]], total: int) -> bool:
        self._job_kind, self._job_items, self._job_started = kind, [], time.perf_counter()
        self._job = GeneratorWorker(make, self)
        self._job.item.connect(self._job_item)
        self._job.failed.connect(lambda text: self.error.emit("The project job stopped", text))
        self._job.finished.connect(self._job_finished)
        verb = "Predicting" if kind == "predict" else "Exporting"
        self.panel.show_job(f"{verb} {total} image(s)...", 0, total)
        self._job.start()
        return True

    def _job_item(self, item: ImageProgress) -> None:
        if item.done or item.error:
            self._job_items.append(item)
        fraction = (item.image + (item.plane / item.planes if item.planes and not item.done else 0)) / item.images
        elapsed = time.perf_counter() - self._job_started
        left = f", {duration(elapsed / fraction - elapsed)} left" if fraction > 0 else ""
        verb = "Predicting" if self._job_kind == "predict" else "Exporting"
        where = f" plane {item.plane} of {item.planes}" if item.planes and not item.done else ""
        self.panel.show_job(f"{verb} image {min(item.image + 1, item.images)} of {item.images}: "
                            f"{item.name}{where}{left}", int(fraction * 1000), 1000)

    def cancel_job(self, wait: bool = False) -> None:
        if self._job is not None:
            self._job.stop()
            if wait:
                self._job.wait()

    def _job_finished(self) -> None:
        job, self._job = self._job, None
        kind, items = self._job_kind, self._job_items
        if job is not None:
            job.deleteLater()
        self.panel.show_job(None)
        verb = "Predicted" if kind == "predict" else "Exported"
        text = summary(items, verb) if items else f"{verb} nothing."
        if job is not None and job.stopping:
            text = f"Cancelled. {text}"
        if kind == "export" and self.project is not None:
            text += f" Files are in {self.project.output_folder}."
        self.panel.show_status(text)
        self.message.emit(text, 10000)
        done = [item.name for item in items if item.done]
        self.refresh(done)
        self.jobFinished.emit(kind, done)


def _scan(project: Project):
    """(row, name, thumbnail or None, state) for each image, in list order."""
    for row, name in enumerate(list(project.images)):
        try:
            picture = thumbnail(project.path_of(name))
        except UnetguiError as error:
            yield row, name, None, f"cannot be read: {error}"
            continue
        yield row, name, picture, image_status(project, name)
