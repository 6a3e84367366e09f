"""Autosave: a few seconds after each change, the annotations are written beside the image.

The countdown restarts with every change (a pause in editing is the natural moment to
save), but never past a deadline counted from the first unsaved change: steady editing
without pauses still saves at least every AUTOSAVE_MAX_DELAY_MS, so at most that much
work can be lost.

Writing happens in a worker thread on a copy of the document (copying allocated planes
is fast; compressing and writing them is not), atomically, through
:mod:`unetgui.core.annotations`. ``dirty`` stays True until a save of the latest change
has succeeded, so closing the window knows whether to ask.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

from unetgui.core.annotations import (
    AnnotationState,
    save_annotations,
    state_from_snapshot,
)
from unetgui.core.labels import LabelDocument
from unetgui.gui.workers import LatestOnly, describe_error

AUTOSAVE_DELAY_MS = 3000
AUTOSAVE_MAX_DELAY_MS = 10000


class Autosaver(QtCore.QObject):
    saved = QtCore.Signal(str)  # path of the sidecar
    rolesSaved = QtCore.Signal(object, object)  # image path, {plane: role} of the planes annotated, after any save
    failed = QtCore.Signal(str)  # message

    def __init__(self, jobs: LatestOnly, parent: QtCore.QObject | None = None, *,
                 delay_ms: int = AUTOSAVE_DELAY_MS, max_delay_ms: int = AUTOSAVE_MAX_DELAY_MS) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self._timer = QtCore.QTimer(self)  # restarted by every change
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.save_soon)
        self._deadline = QtCore.QTimer(self)  # started by the first unsaved change only
        self._deadline.setSingleShot(True)
        self._deadline.setInterval(max_delay_ms)
        self._deadline.timeout.connect(self.save_soon)
        self._change = 0  # counts changes; a save records the count it covered
        self._saved_change = 0
        self._target = None
        jobs.finished.connect(self._done)
        jobs.failed.connect(self._failed)

    def attach(self, image_path: Path, document: LabelDocument, image_shape, settings) -> None:
        """Start watching a freshly opened image (its state counts as saved)."""
        self._stop_timers()
        self._target = (Path(image_path), document, tuple(image_shape), settings)
        self._change = self._saved_change = 0

    def detach(self) -> None:
        self._stop_timers()
        self._target = None

    def _stop_timers(self) -> None:
        self._timer.stop()
        self._deadline.stop()

    @property
    def dirty(self) -> bool:
        return self._target is not None and self._change != self._saved_change

    def changed(self) -> None:
        """Something changed: save a few seconds from now (restarting the countdown)."""
        if self._target is None:
            return
        self._change += 1
        self._timer.start()
        if not self._deadline.isActive():
            self._deadline.start()

    def save_soon(self) -> None:
        self._stop_timers()
        if self._target is None:
            return
        path, document, image_shape, settings = self._target
        state = state_from_snapshot(document.to_arrays(), image_shape, settings())
        self._jobs.submit("autosave", _save, path, state, self._change)

    def save_now(self) -> str | None:
        """Save synchronously (closing the window); returns an error message or None."""
        if self._target is None:
            return None
        self._stop_timers()
        # An autosave of an older snapshot must not land after this one.
        self._jobs.cancel("autosave")
        self._jobs.wait()
        path, document, image_shape, settings = self._target
        state = state_from_snapshot(document.to_arrays(), image_shape, settings())
        try:
            save_annotations(path, state)
        except Exception as error:  # shown to the user by the caller
            return describe_error(error)
        self._saved_change = self._change
        self.rolesSaved.emit(path, dict(state.roles))
        return None

    def _done(self, purpose: str, result) -> None:
        if purpose != "autosave":
            return
        sidecar, change, path, roles = result
        self._saved_change = max(self._saved_change, change)
        self.saved.emit(str(sidecar))
        self.rolesSaved.emit(path, roles)

    def _failed(self, purpose: str, message: str) -> None:
        if purpose == "autosave":
            self.failed.emit(message)


def _save(path: Path, state: AnnotationState, change: int):
    return save_annotations(path, state), change, path, dict(state.roles)
