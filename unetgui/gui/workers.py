"""Running core work off the GUI thread.

:class:`LatestOnly` runs one function at a time per purpose in a worker thread; a newer
request for the same purpose makes the older one's result stale, and stale results are
dropped, never shown (ilastik's rule for live views). :class:`GeneratorWorker` runs a
core generator (training, whole-stack prediction) in a QThread and reports each item by
a signal; stopping is a flag checked between items. The GUI thread never waits on them.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator

from PySide6 import QtCore

from unetgui.core.errors import UnetguiError


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
