"""One open image: its stack, its label document, autosave, recovery, recent files.

Opening reads the image and its saved annotations (a refused or damaged save is set
aside and said so, never lost); closing stops what works on it. The session re-emits
the document's change events as signals, so the canvas, the planes panel and the
controllers follow the labels without holding a subscription each. Dialogs are the
window's; the session reports by :attr:`error` and :attr:`message`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore

from unetgui.core import annotations as sidecar
from unetgui.core.autoseg import auto_segment
from unetgui.core.cell_files import read_cells
from unetgui.core.errors import UnetguiError
from unetgui.core.io import ImageStack, open_image
from unetgui.core.labels import LabelDocument, LabelsChanged, RolesChanged
from unetgui.core.multiscale import is_large
from unetgui.core.ome_zarr_files import is_zarr, open_ome_zarr_labels
from unetgui.gui.autosave import Autosaver
from unetgui.gui.workers import GeneratorWorker, LatestOnly

MAX_RECENT = 10


class ImageSession(QtCore.QObject):
    opened = QtCore.Signal()  # stack, document and path are set
    closed = QtCore.Signal()  # nothing is open any more
    labelsChanged = QtCore.Signal(object)  # core.labels.LabelsChanged
    roleChanged = QtCore.Signal(int, str)  # plane, role
    settingsLoaded = QtCore.Signal(dict)  # the settings saved with the annotations
    recentChanged = QtCore.Signal(list)  # paths, newest first
    message = QtCore.Signal(str, int)  # text, milliseconds to show it
    error = QtCore.Signal(str, str)  # title, text

    def __init__(self, settings: QtCore.QSettings, sidecar_settings: Callable[[], dict],
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.stack: ImageStack | None = None
        self.document: LabelDocument | None = None
        self.path: Path | None = None
        self.large = False  # planes too large to edit: shown for viewing only (core.multiscale)
        self.stored_labels: ImageStack | None = None  # a large OME-Zarr's own labels, shown with it
        self.jobs = LatestOnly(self)  # autosaves
        self.autosaver = Autosaver(self.jobs, self)
        self.autosaver.saved.connect(lambda path: self.message.emit(f"Saved annotations to {path}", 3000))
        self.autosaver.failed.connect(lambda text: self.error.emit("Autosave failed", text))
        self._sidecar_settings = sidecar_settings
        self._unsubscribe = None
        self._segmenter: GeneratorWorker | None = None

    # ------------------------------------------------------------------ open and close

    def open(self, path: str | Path) -> bool:
        """Open an image and its saved annotations; on failure say why and keep the one open."""
        path = Path(path)
        try:
            stack = open_image(path)
        except UnetguiError as error:
            self.error.emit("Cannot open image", str(error))
            return False
        try:
            state = sidecar.load_annotations(path, stack.shape)
        except sidecar.RefusedAnnotationsError as error:
            self.error.emit("Saved annotations not loaded", _set_aside_message(error))
            state = None
        except UnetguiError as error:
            self.error.emit("Saved annotations not loaded", f"{error}\n\nStarting with empty labels.")
            state = None
        self.close()
        self.stack, self.path, self.large = stack, path, is_large(stack)
        if self.large and is_zarr(path):  # e.g. what `unetgui predict` wrote blockwise
            self.stored_labels = open_ome_zarr_labels(path, (stack.n_planes, stack.height, stack.width))
        if state is not None:
            self.document = sidecar.document_from_state(state)
            self.settingsLoaded.emit(state.settings)
        else:
            self.document = LabelDocument(stack.n_planes, (stack.height, stack.width))
        self._unsubscribe = self.document.subscribe(self._document_changed)
        self.autosaver.attach(path, self.document, stack.shape, self._sidecar_settings)
        self.remember_recent(path)
        sidecar.mark_session_open(path)
        self.opened.emit()
        restored = " (annotations restored)" if state is not None else ""
        opened = (f"Opened {path.name}: {stack.n_planes} plane(s) of {stack.width} x {stack.height} px, "
                  f"{stack.n_channels} channel(s), {stack.dtype}{restored}.")
        self.message.emit(opened, 6000)
        return True

    def close(self) -> None:
        """Stop what works on the open image and forget it (its annotations are saved or
        were offered to be, by the caller)."""
        if self._segmenter is not None:
            self._segmenter.stop()
            self._segmenter.wait()
        self.autosaver.detach()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.stack is not None:
            self.stack.close()
        had_image = self.stack is not None
        if self.stored_labels is not None:
            self.stored_labels.close()
        self.stack = self.document = self.stored_labels = None
        self.large = False
        if had_image:
            self.closed.emit()

    def shutdown(self) -> None:
        """Closing the window: forget the image, wait for writes, mark a clean exit."""
        self.close()
        self.jobs.wait(10000)
        sidecar.mark_session_closed()

    @property
    def plane_axis_name(self) -> str:
        """How the planes are called: Time, Z or Plane."""
        axes = self.stack.plane_axes if self.stack else ""
        return {"T": "Time", "Z": "Z"}.get(axes, "Plane")

    def _document_changed(self, event) -> None:
        if isinstance(event, LabelsChanged):
            self.labelsChanged.emit(event)
        elif isinstance(event, RolesChanged):
            self.roleChanged.emit(event.plane, event.role)
        self.autosaver.changed()

    # ------------------------------------------------------------------ saving

    @property
    def unsaved(self) -> bool:
        """Changes not yet written by autosave."""
        return self.autosaver.dirty

    def save_now(self) -> bool:
        """Save at once (Ctrl+S, closing); a failure is reported and returns False."""
        message = self.autosaver.save_now()
        if message is not None:
            self.error.emit("Cannot save annotations", message)
            return False
        if self.path is not None:
            self.message.emit(f"Saved annotations beside {self.path.name}.", 4000)
        return True

    def settings_changed(self) -> None:
        """Settings saved with the annotations changed (e.g. the weight map's): autosave."""
        self.autosaver.changed()

    # ------------------------------------------------------------------ labels from elsewhere

    def import_labels(self, path: str | Path) -> bool:
        """Load labels from Fiji, QuPath, Cellpose...: a label TIFF, an ImageJ ROI set or
        GeoJSON, as the annotation; each plane's change is one undoable edit."""
        if self.stack is None:
            return False
        try:
            labels = read_cells(path, (self.stack.n_planes, self.stack.height, self.stack.width))
        except UnetguiError as error:
            self.error.emit("Cannot import labels", str(error))
            return False
        for plane in range(labels.shape[0]):
            if labels[plane].any() or self.document.labels_of(plane).any():
                self.document.set_plane_labels(plane, labels[plane])
        self.message.emit(f"Imported labels from {Path(path).name}.", 5000)
        return True

    def auto_segment(self, planes: list[int], channel: int | None) -> bool:
        """Replace the labels of ``planes`` by a classical segmentation, in a worker; each
        plane is one undoable edit. False when one is already running."""
        if self.stack is None or (self._segmenter is not None and self._segmenter.isRunning()):
            return False
        stack = self.stack
        self._segmenter = GeneratorWorker(lambda: _segment_planes(stack, planes, channel), self)
        self._segmenter.item.connect(self._segmented)
        self._segmenter.failed.connect(lambda text: self.error.emit("Auto-segmentation failed", text))
        self._segmenter.finished.connect(lambda: self.message.emit("Auto-segmentation done.", 4000))
        self.message.emit("Auto-segmenting...", 0)
        self._segmenter.start()
        return True

    def _segmented(self, item) -> None:
        plane, labels, done, total = item
        if self.document is not None:
            self.document.set_plane_labels(plane, labels)
            self.message.emit(f"Auto-segmented {done} of {total} plane(s)...", 0)

    # ------------------------------------------------------------------ recent files, recovery

    def recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def remember_recent(self, path: Path) -> None:
        """Put an image or a project folder first in File > Open recent."""
        recent = [p for p in self.recent() if p != str(path.resolve())]
        self.settings.setValue("recent", [str(path.resolve()), *recent][:MAX_RECENT])
        self.recentChanged.emit(self.recent())

    def unclean_exit(self) -> Path | None:
        """The image open when unetgui last ended without closing properly, if it exists."""
        try:
            path = sidecar.unclean_session()
        except UnetguiError as error:  # a damaged marker, moved aside: nothing to recover
            self.message.emit(str(error), 10000)
            return None
        return Path(path) if path is not None and Path(path).exists() else None

    def forget_unclean_exit(self) -> None:
        sidecar.mark_session_closed()


def _set_aside_message(error: sidecar.RefusedAnnotationsError) -> str:
    """Move refused annotations out of autosave's way; the dialog text says where."""
    try:
        kept = sidecar.set_aside(error.folder)
    except UnetguiError as move_error:
        where = f"They stay in '{error.folder}' ({move_error})"
    else:
        where = f"They were moved to '{kept}', where nothing will overwrite them"
    return f"{error}\n\n{where}. Starting with empty labels."


def _segment_planes(stack: ImageStack, planes: list[int], channel: int | None):
    for done, plane in enumerate(planes, start=1):
        yield plane, auto_segment(stack.read_plane(plane), channel=channel), done, len(planes)
