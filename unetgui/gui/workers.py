"""Every kind of worker thread of the window; the GUI thread never waits on them.

- :class:`LatestOnly` runs one function at a time per purpose in a thread pool; a newer
  request for the same purpose makes the older one's result stale, and stale results are
  dropped, never shown (ilastik's rule for live views). Weight maps, autosaves.
- :class:`GeneratorWorker` runs a core generator (auto-segmentation, whole-stack
  prediction) in a QThread and reports each item by a signal; stopping is a flag checked
  between items.
- :class:`LivePredictor` predicts the newest requested plane, tile by tile, for the user
  to watch; stale requests are abandoned between tiles.
- :class:`TrainingWorker` runs the core training generator and, between steps (or while
  paused), hands out snapshots of the weights for live predictions: the only moments
  the weights are not being changed.

Values cross between threads only as signal arguments (worker -> GUI) and through the
thread-safe objects a worker is given (``core.runtime.CpuShare``, the training run's
edit mailbox): never by reading each other's attributes.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore

from unetgui.core import runtime
from unetgui.core.errors import UnetguiError
from unetgui.core.postprocess import encode_probability, foreground_probability
from unetgui.core.runtime import CpuShare

if TYPE_CHECKING:  # torch is imported by the threads that use it: the window opens without it
    import torch

    from unetgui.core.model import UNetModel


def describe_error(error: BaseException) -> str:
    """A message for a dialog: ours are already sentences; others get a plain prefix."""
    if isinstance(error, UnetguiError):
        return str(error)
    if isinstance(error, MemoryError):
        return "There is not enough memory for this. Close other programs or work on fewer planes."
    return f"Something went wrong: {type(error).__name__}: {error}"


class _Signals(QtCore.QObject):
    done = QtCore.Signal(str, int, object)  # purpose, request id, result
    failed = QtCore.Signal(str, int, str)  # purpose, request id, message


class _Job(QtCore.QRunnable):
    def __init__(self, signals: _Signals, purpose: str, request: int, fn: Callable, args: tuple) -> None:
        super().__init__()
        self.signals, self.purpose, self.request, self.fn, self.args = signals, purpose, request, fn, args

    def run(self) -> None:
        try:
            result = self.fn(*self.args)
        except Exception as error:  # reported to the window, never lost in a thread
            traceback.print_exc()
            self.signals.failed.emit(self.purpose, self.request, describe_error(error))
        else:
            self.signals.done.emit(self.purpose, self.request, result)


class LatestOnly(QtCore.QObject):
    """Background jobs where only the newest request of each purpose matters."""

    finished = QtCore.Signal(str, object)  # purpose, result (current requests only)
    failed = QtCore.Signal(str, str)  # purpose, message

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._latest: dict[str, int] = {}
        self._running: dict[str, bool] = {}
        self._queued: dict[str, tuple[int, Callable, tuple]] = {}
        self._signals = _Signals()
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)

    def submit(self, purpose: str, fn: Callable, *args) -> int:
        """Run ``fn(*args)`` soon; an older pending request of ``purpose`` is dropped."""
        request = self._latest.get(purpose, 0) + 1
        self._latest[purpose] = request
        if self._running.get(purpose):
            self._queued[purpose] = (request, fn, args)  # runs when the current one ends
        else:
            self._start(purpose, request, fn, args)
        return request

    def cancel(self, purpose: str) -> None:
        """Forget pending and running requests of ``purpose`` (their results are dropped)."""
        self._latest[purpose] = self._latest.get(purpose, 0) + 1
        self._queued.pop(purpose, None)

    def busy(self, purpose: str) -> bool:
        return bool(self._running.get(purpose)) or purpose in self._queued

    def wait(self, msecs: int = 30000) -> bool:
        """For tests and shutdown only: block until the pool is idle."""
        return self._pool.waitForDone(msecs)

    def _start(self, purpose: str, request: int, fn: Callable, args: tuple) -> None:
        self._running[purpose] = True
        self._pool.start(_Job(self._signals, purpose, request, fn, args))

    def _next(self, purpose: str) -> None:
        self._running[purpose] = False
        queued = self._queued.pop(purpose, None)
        if queued is not None:
            self._start(purpose, *queued)

    def _on_done(self, purpose: str, request: int, result: object) -> None:
        self._next(purpose)
        if request == self._latest.get(purpose):
            self.finished.emit(purpose, result)

    def _on_failed(self, purpose: str, request: int, message: str) -> None:
        self._next(purpose)
        if request == self._latest.get(purpose):
            self.failed.emit(purpose, message)


class GeneratorWorker(QtCore.QThread):
    """Runs ``make()`` (which returns a generator) in a thread; emits every item.

    ``stop()`` asks it to end between items (closing the generator so its cleanup runs);
    ``pause()``/``resume()`` hold it between items without busy-waiting.
    """

    item = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def __init__(self, make: Callable[[], Iterator], parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._make = make
        self._stop = False
        self._paused = False
        self._mutex = QtCore.QMutex()
        self._resumed = QtCore.QWaitCondition()

    def stop(self) -> None:
        with QtCore.QMutexLocker(self._mutex):
            self._stop = True
            self._paused = False
            self._resumed.wakeAll()

    def pause(self) -> None:
        with QtCore.QMutexLocker(self._mutex):
            self._paused = True

    def resume(self) -> None:
        with QtCore.QMutexLocker(self._mutex):
            self._paused = False
            self._resumed.wakeAll()

    @property
    def stopping(self) -> bool:
        return self._stop

    def after_item(self, value) -> None:
        """Runs in the worker thread after each item, while the generator is suspended."""

    def while_paused(self) -> None:
        """Runs in the worker thread each time :meth:`wake` stirs it while paused."""

    def wake(self) -> None:
        """Have a paused worker run :meth:`while_paused` (from any thread)."""
        with QtCore.QMutexLocker(self._mutex):
            self._resumed.wakeAll()

    def _hold(self) -> bool:
        """Between items: wait while paused; False when asked to stop."""
        while True:
            with QtCore.QMutexLocker(self._mutex):
                if self._stop:
                    return False
                if not self._paused:
                    return True
                self._resumed.wait(self._mutex)
            self.while_paused()

    def run(self) -> None:
        generator = None
        try:
            generator = self._make()
            for value in generator:
                self.item.emit(value)
                self.after_item(value)
                if not self._hold():
                    break
        except Exception as error:
            traceback.print_exc()
            self.failed.emit(describe_error(error))
        finally:
            if generator is not None and hasattr(generator, "close"):
                generator.close()


def _use_threads(threads: int) -> None:
    """Set the calling thread's torch thread count (torch's count is per thread)."""
    import torch

    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class PredictionRequest:
    plane: int
    image: np.ndarray  # (C, Y, X), already what the model takes
    model: UNetModel  # a snapshot the predictor may move to ``device``
    focus: tuple[float, float] | None = None
    device: torch.device | None = None  # None: where the model is
    tta: bool = False  # average the 8 rotations and flips of each tile
    diameter: float | None = None  # the cells' diameter in px; None: measured on the prediction


class LivePredictor(QtCore.QThread):
    """Predicts the newest requested plane; stale requests are dropped between tiles."""

    tile = QtCore.Signal(int, object, object)  # plane, box, uint8 patch of the foreground
    done = QtCore.Signal(int, object)  # plane, (Y, X) uint8 foreground probability
    sized = QtCore.Signal(int, object, float)  # plane, cell diameter (px or None), scale used
    failed = QtCore.Signal(str)

    def __init__(self, share: CpuShare, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._share = share
        self._mutex = QtCore.QMutex()
        self._wake = QtCore.QWaitCondition()
        self._pending: PredictionRequest | None = None
        self._working = False  # a request was taken and its pass has not ended
        self._quit = False

    def request(self, request: PredictionRequest) -> None:
        with QtCore.QMutexLocker(self._mutex):
            self._pending = request
            self._wake.wakeAll()
        if not self.isRunning():
            self.start()

    def cancel(self) -> None:
        with QtCore.QMutexLocker(self._mutex):
            self._pending = None

    @property
    def idle(self) -> bool:
        """No request waiting and no pass running (read-only; for tests and benchmarks,
        e.g. benchmarks/bench_finetune.py waiting for the last live prediction)."""
        with QtCore.QMutexLocker(self._mutex):
            return self._pending is None and not self._working

    def shutdown(self) -> None:
        with QtCore.QMutexLocker(self._mutex):
            self._quit = True
            self._pending = None
            self._wake.wakeAll()
        self.wait()

    def _take(self) -> PredictionRequest | None:
        with QtCore.QMutexLocker(self._mutex):
            while self._pending is None and not self._quit:
                self._wake.wait(self._mutex)
            request, self._pending = self._pending, None
            if self._quit:
                return None
            self._working = True
            return request

    def _superseded(self) -> bool:
        with QtCore.QMutexLocker(self._mutex):
            return self._pending is not None or self._quit

    def run(self) -> None:
        while (request := self._take()) is not None:
            try:
                with self._share.computing():
                    self._predict(request)
            except Exception as error:  # shown to the user; the thread keeps serving
                traceback.print_exc()
                self.failed.emit(describe_error(error))
            finally:
                with QtCore.QMutexLocker(self._mutex):
                    self._working = False

    def _predict(self, request: PredictionRequest) -> None:
        from unetgui.core.predict import iter_predict_sized

        _use_threads(self._share.prediction_threads())
        if request.device is not None:  # here, not on the GUI thread (a copy to the GPU)
            request.model.net.to(request.device)
        for progress in iter_predict_sized(request.model, request.image, diameter=request.diameter,
                                           focus=request.focus, tta=request.tta):
            if self._superseded():
                return  # a newer request came: this result would be stale
            for r0, r1, c0, c1 in progress.boxes:
                patch = foreground_probability(progress.partial[:, r0:r1, c0:c1])
                self.tile.emit(request.plane, (r0, r1, c0, c1), encode_probability(patch))
            if progress.probabilities is not None:
                self.sized.emit(request.plane, progress.diameter, progress.scale)
                self.done.emit(request.plane, encode_probability(foreground_probability(progress.probabilities)))


class TrainingWorker(GeneratorWorker):
    """Runs ``train(...)``; emits progress per step, and a weight snapshot after step 1,
    then every ``snapshot_every`` seconds (0: only when asked, :meth:`request_snapshot`).

    Between steps it sets its torch thread count from ``share`` (every core, or one fewer
    while a live prediction runs). Setting it also sets the default that threads started
    later begin with, so the count from before is put back at the end.
    """

    snapshot = QtCore.Signal(object)  # UNetModel on the CPU

    def __init__(self, run, model: UNetModel, snapshot_every: float, share: CpuShare,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(lambda: run, parent)
        self._model = model
        self._share = share
        self.snapshot_every = snapshot_every
        self._last_snapshot = -math.inf  # the first after step 1: live predictions start at once
        self._snapshot_wanted = False

    def run(self) -> None:
        import torch

        previous = torch.get_num_threads()
        with self._share.training():
            self._set_threads()
            try:
                super().run()
            finally:
                torch.set_num_threads(previous)

    def _set_threads(self) -> None:
        _use_threads(self._share.training_threads())

    def request_snapshot(self) -> None:
        """Hand out a snapshot after the step running now, or at once when paused (any thread)."""
        self._snapshot_wanted = True
        self.wake()

    def after_item(self, value) -> None:
        step = getattr(value, "step", 1)
        if step == 0:  # the score before training: no new weights yet
            return
        if step == 1:  # what starting to train created or imported: out of the collector's way
            runtime.freeze_collector(collect=False)
        due = self.snapshot_every > 0 and time.perf_counter() - self._last_snapshot >= self.snapshot_every
        if due or self._snapshot_wanted:
            self._hand_out_snapshot()
        self._set_threads()

    def while_paused(self) -> None:
        if self._snapshot_wanted:  # paused between steps: the weights are not changing
            self._hand_out_snapshot()

    def _hand_out_snapshot(self) -> None:
        self._snapshot_wanted = False
        self._last_snapshot = time.perf_counter()
        self._share.prediction_expected()  # so the next step already leaves it a core
        self.snapshot.emit(self._model.snapshot())

