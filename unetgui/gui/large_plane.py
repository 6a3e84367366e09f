"""Reads what the canvas shows of a plane too large to hold at full size, in worker
threads: an overview of the whole plane, then the part in view at the resolution level
that fits the screen, again each time the view settles after a pan or zoom
(core/multiscale.py says what is read)."""

from __future__ import annotations

from PySide6 import QtCore

from unetgui.core import multiscale
from unetgui.gui.workers import LatestOnly

SETTLE_MS = 60  # a pan or zoom is read once it pauses this long


class LevelReader(QtCore.QObject):
    # plane, multiscale.View of the image, and of its stored labels (None without labels)
    overviewRead = QtCore.Signal(int, object, object)
    detailRead = QtCore.Signal(int, object, object)  # as overviewRead; None: the overview suffices
    progress = QtCore.Signal(str)  # "Reading an overview of plane 2: 40%", "" when done
    failed = QtCore.Signal(str)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = LatestOnly(self)
        self.jobs.finished.connect(self._finished)
        self.jobs.failed.connect(lambda _purpose, text: self.failed.emit(text))
        self._progress = _ThreadProgress()
        self._progress.fraction.connect(self._progressed)
        self._plane = 0

    def read_overview(self, stack, labels, plane: int) -> None:
        """Start reading ``plane``'s overview (and its labels', from a labels ``ImageStack``
        or None); its details follow with :meth:`read_detail`."""
        self._plane = plane
        self.jobs.cancel("detail")
        self.jobs.submit("overview", _overview, stack, labels, plane, self._progress)

    def read_detail(self, stack, labels, plane: int, box, full_per_screen_px: float, coarser_than: float) -> None:
        """Read the part ``box`` (full-size pixels) at the level the zoom calls for."""
        self.jobs.submit("detail", _detail, stack, labels, plane, box, full_per_screen_px, coarser_than)

    def cancel(self) -> None:
        self.jobs.cancel("overview")
        self.jobs.cancel("detail")
        self.progress.emit("")

    def busy(self) -> bool:
        """A read is running or queued (for tests)."""
        return self.jobs.busy("overview") or self.jobs.busy("detail")

    def _finished(self, purpose: str, result) -> None:
        if purpose == "overview":
            self.progress.emit("")
            self.overviewRead.emit(*result)
        else:
            self.detailRead.emit(*result)

    def _progressed(self, fraction: float) -> None:
        if fraction < 1.0:
            self.progress.emit(f"Reading an overview of plane {self._plane + 1}: {fraction:.0%}")


class _ThreadProgress(QtCore.QObject):
    """Emitted from a worker thread; the connection queues it to the GUI thread."""

    fraction = QtCore.Signal(float)


def _overview(stack, labels, plane: int, progress: _ThreadProgress):
    view = multiscale.overview(stack, plane, on_progress=progress.fraction.emit)
    return plane, view, None if labels is None else multiscale.overview(labels, plane)


def _detail(stack, labels, plane: int, box, full_per_screen_px: float, coarser_than: float):
    view = multiscale.detail(stack, plane, box, full_per_screen_px, coarser_than=coarser_than)
    if view is None or labels is None:
        return plane, view, None
    return plane, view, multiscale.detail(labels, plane, box, full_per_screen_px, coarser_than=coarser_than)
