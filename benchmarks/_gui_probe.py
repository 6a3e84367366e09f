"""Shared helpers of the GUI benchmarks (bench_gui.py, bench_finetune.py).

:class:`Probe`: a 5 ms QTimer whose gaps are the event loop's pauses, split by schedstat
into time the GUI thread ran, waited for a CPU and slept. :class:`CallLog`: timed
wrappers around public methods, the jobs handed to ``LatestOnly.submit``, and garbage
collections, to say what a pause was. The loop runs with QEventLoop.exec()
(:func:`run_loop`), never QTest.qWait (see benchmarks/README.md). Import after setting
QT_QPA_PLATFORM (e.g. "offscreen") if needed.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtTest, QtWidgets

PAUSE_LIMIT_S = 0.050
PROBE_MS = 5


def _qt_message(mode, context, message) -> None:
    if "propagateSizeHints" not in message:  # the offscreen plugin's noise on every window
        print(message, file=sys.stderr)


def qt_app() -> QtWidgets.QApplication:
    app = QtWidgets.QApplication.instance()
    if app is None:
        QtCore.qInstallMessageHandler(_qt_message)
        app = QtWidgets.QApplication([])
    return app


def make_window(tmp: Path, size: tuple[int, int]):
    from unetgui.gui.main_window import MainWindow

    settings = QtCore.QSettings(str(tmp / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    win = MainWindow(settings=settings)
    win.resize(*size)
    win.show()
    QtTest.QTest.qWaitForWindowExposed(win)
    run_loop(20)
    return win


def close_window(win) -> None:
    """Close without questions (as tests/gui/conftest.py): no autosave, model not dirty."""
    win.session.autosaver.detach()
    win.models.dirty = False
    win.shutdown()
    win.close()
    win.deleteLater()
    qt_app().processEvents()


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


class CallLog:
    """Timed wrappers around methods (class attributes), and the garbage collector's runs.

    Calls on the GUI thread go to ``calls``, calls on other threads to ``worker`` (their
    native thread ids to ``worker_tids``), collections over 1 ms to ``gc``. Install before
    the windows are created: signal connections bind methods then.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float]] = []  # name, start, end
        self.worker: list[tuple[str, float, float]] = []  # calls in other threads
        self.gc: list[tuple[str, float, float]] = []
        self.worker_tids: set[int] = set()
        self._undo: list[tuple[object, str, object]] = []
        self._gui = threading.get_ident()
        self._gc_start = 0.0
        gc.callbacks.append(self._gc_event)

    def _gc_event(self, phase: str, info: dict) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_start = now
        elif now - self._gc_start > 0.001:
            where = "GUI" if threading.get_ident() == self._gui else "worker"
            self.gc.append((f"gc gen{info['generation']} in the {where} thread "
                            f"({info['collected']} freed)", self._gc_start, now))

    def wrap(self, owner, attr: str, name=None) -> None:
        """Time ``owner.attr``; name: a label, or a function of the call's args giving one."""
        original = getattr(owner, attr, None)
        if original is None:  # renamed in the app: time the rest
            return
        label = name or f"{getattr(owner, '__name__', owner)}.{attr}"
        log = self

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if threading.get_ident() != log._gui:
                log.worker_tids.add(threading.get_native_id())
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                record = (label(*args) if callable(label) else label, start, time.perf_counter())
                if threading.get_ident() == log._gui:
                    log.calls.append(record)
                else:
                    log.worker.append(record)

        self._undo.append((owner, attr, original))
        setattr(owner, attr, timed)

    def wrap_jobs(self, owner, label=lambda purpose: f"worker: {purpose} job") -> None:
        """Time the functions handed to ``owner.submit(purpose, fn, *args)`` (LatestOnly's
        public method) where they run, i.e. in the pool's worker threads."""
        log = self

        def timed_fn(name, fn):
            @functools.wraps(fn)
            def run(*args, **kwargs):
                worker = threading.get_ident() != log._gui
                if worker:
                    log.worker_tids.add(threading.get_native_id())
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    (log.worker if worker else log.calls).append((name, start, time.perf_counter()))
            return run

        original = owner.submit

        @functools.wraps(original)
        def submit(self, purpose, fn, *args):
            return original(self, purpose, timed_fn(label(purpose), fn), *args)

        self._undo.append((owner, "submit", original))
        owner.submit = submit

    def restore(self) -> None:
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)
        self._undo.clear()
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._gc_event)

    def clear(self) -> None:
        self.calls.clear()
        self.worker.clear()
        self.gc.clear()

    def overlapping(self, start: float, end: float, records=None):
        return [r for r in (self.calls if records is None else records) if r[1] < end and r[2] > start]

    def longest(self, since: float = 0.0, n: int = 6) -> list[tuple[str, float, int]]:
        """Per name: the longest single call, and the count, since ``since``."""
        best: dict[str, tuple[float, int]] = {}
        for name, start, end in self.calls:
            if start >= since:
                longest, count = best.get(name, (0.0, 0))
                best[name] = (max(longest, end - start), count + 1)
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:n]
        return [(name, longest, count) for name, (longest, count) in ranked]


def thread_schedstat(tid: int | None = None) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for a CPU) of a thread of this
    process (native id ``tid``; None: the calling thread). Linux only (else NaN)."""
    path = "/proc/thread-self/schedstat" if tid is None else f"/proc/self/task/{tid}/schedstat"
    try:
        with open(path) as handle:
            run_ns, wait_ns, _ = handle.read().split()
        return int(run_ns) / 1e9, int(wait_ns) / 1e9
    except (OSError, ValueError):
        return float("nan"), float("nan")


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def steal_seconds() -> float:
    """CPU time the hypervisor gave to others (all CPUs, /proc/stat 'steal'), in seconds."""
    try:
        with open("/proc/stat") as handle:
            fields = handle.readline().split()
        return int(fields[8]) / _CLK_TCK
    except (OSError, IndexError, ValueError):
        return float("nan")


def other_thread_stacks(depth: int = 3) -> list[str]:
    """Where the other Python threads are now (innermost frames first)."""
    out = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        where = []
        while frame is not None and len(where) < depth:
            where.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}")
            frame = frame.f_back
        out.append(" < ".join(where))
    return out


class Probe:
    """A 5 ms QTimer; the gaps between its timeouts show how long the loop was blocked.

    Each tick also reads the GUI thread's schedstat, so a long gap can be split into time
    the GUI thread ran (work), waited for a CPU (other load on the machine) and slept
    (blocked: waiting for the GIL held by another thread, or a lock, or I/O); and after a
    gap over 20 ms it notes where the other Python threads are.
    """

    def __init__(self, interval_ms: int = PROBE_MS, worker_tids=lambda: ()) -> None:
        self.interval = interval_ms / 1e3
        self.worker_tids = worker_tids  # native ids of worker threads to watch too
        self.worker_sched: list[dict[int, tuple[float, float]]] = []
        self.timer = QtCore.QTimer()
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.ticks: list[float] = []
        self.sched: list[tuple[float, float]] = []
        self.steal: list[float] = []
        self.stacks: dict[int, list[str]] = {}

    def _tick(self) -> None:
        now = time.perf_counter()
        if now - self.ticks[-1] > 0.020:
            self.stacks[len(self.ticks) - 1] = other_thread_stacks()
        self._sample(now)

    def _sample(self, now: float) -> None:
        self.ticks.append(now)
        self.sched.append(thread_schedstat())
        self.steal.append(steal_seconds())
        self.worker_sched.append({tid: thread_schedstat(tid) for tid in tuple(self.worker_tids())})

    def start(self) -> None:
        self.stacks = {}
        self.ticks, self.sched, self.worker_sched, self.steal = [], [], [], []
        self._sample(time.perf_counter())
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self._sample(time.perf_counter())

    def pauses(self) -> tuple[np.ndarray, np.ndarray]:
        """(pause seconds, start time) per gap."""
        t = np.asarray(self.ticks)
        return np.maximum(np.diff(t) - self.interval, 0.0), t[:-1]

    def split(self, index: int) -> tuple[float, float, float]:
        """Gap ``index`` as (ran, waited for a CPU, slept) seconds of the GUI thread."""
        gap = self.ticks[index + 1] - self.ticks[index]
        ran = self.sched[index + 1][0] - self.sched[index][0]
        waited = self.sched[index + 1][1] - self.sched[index][1]
        return ran, waited, max(gap - ran - waited, 0.0)

    def worker_split(self, index: int) -> tuple[float, float] | None:
        """The busiest watched worker thread in gap ``index``: (ran, waited for a CPU)."""
        a, b = self.worker_sched[index], self.worker_sched[index + 1]
        pairs = [(b[t][0] - a[t][0], b[t][1] - a[t][1]) for t in a.keys() & b.keys()]
        pairs = [p for p in pairs if np.isfinite(p[0])]
        return max(pairs, key=sum) if pairs else None


def viewport_point(canvas, row: float, col: float) -> QtCore.QPoint:
    scene = canvas.view.mapViewToScene(QtCore.QPointF(col + 0.5, row + 0.5))
    return canvas.mapFromScene(scene)


def send_mouse(widget, kind, point, button, buttons) -> None:
    event = QtGui.QMouseEvent(kind, QtCore.QPointF(point), QtCore.QPointF(widget.mapToGlobal(point)),
                              button, buttons, QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(widget, event)


def drag(canvas, points, spacing_ms: int = 12) -> None:
    """As tests/gui/conftest.py drag(): press, move through ``points``, release; the event
    loop runs between moves (with run_loop, not qWait)."""
    left, none = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
    viewport = canvas.viewport()
    pixels = [viewport_point(canvas, r, c) for r, c in points]
    send_mouse(viewport, QtCore.QEvent.Type.MouseMove, pixels[0], none, none)
    send_mouse(viewport, QtCore.QEvent.Type.MouseButtonPress, pixels[0], left, left)
    for p in pixels[1:]:
        run_loop(spacing_ms)  # pyqtgraph drops moves faster than its mouseRateLimit (100/s)
        send_mouse(viewport, QtCore.QEvent.Type.MouseMove, p, none, left)
    send_mouse(viewport, QtCore.QEvent.Type.MouseButtonRelease, pixels[-1], left, none)


def run_loop(msecs: int) -> None:
    """Run the event loop for ``msecs`` as app.exec() would (not QTest.qWait, which holds
    the GIL while it sleeps and starves worker threads)."""
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(max(int(msecs), 0), loop.quit)
    loop.exec()


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if condition():
            return True
        run_loop(10)
    return condition()


def pause_stats(probe: Probe) -> tuple[float, float, int]:
    pauses, _ = probe.pauses()
    if not pauses.size:
        return 0.0, 0.0, 0
    return float(pauses.max()), float(np.percentile(pauses, 99)), int((pauses > PAUSE_LIMIT_S).sum())


def gc_summary(records) -> str:
    if not records:
        return ""
    name, start, end = max(records, key=lambda r: r[2] - r[1])
    return f"; longest garbage collection {(end - start) * 1e3:.1f} ms ({name.split(' (')[0]})"


def explain_pauses(probe: Probe, log: CallLog, t0: float, n: int = 3,
                   worker_note: str = "a timed call running in a worker thread",
                   extra=None) -> None:
    """The longest GUI-thread calls, and what the GUI thread did in the longest pauses.

    worker_note: what to say when a timed call of another thread overlaps a pause.
    extra: optional ``extra(index, start, end) -> list[str]``, more lines for a pause.
    """
    longest = log.longest(since=t0)
    print("        longest GUI-thread calls: " + ", ".join(
        f"{name} {d * 1e3:.1f} ms (x{count})" for name, d, count in longest))
    pauses, starts = probe.pauses()
    for index in np.argsort(pauses)[::-1][:n]:
        if pauses[index] < 0.010:
            break
        a, b = starts[index], starts[index] + pauses[index] + probe.interval
        inside = sorted(log.overlapping(a, b), key=lambda r: r[1] - r[2])[:3]
        worker = log.overlapping(a, b, log.worker)
        what = ", ".join(f"{name} {(e - s) * 1e3:.1f} ms" for name, s, e in inside) or "no timed GUI call"
        ran, waited, slept = probe.split(index)
        collections = log.overlapping(a, b, log.gc)
        print(f"        pause {pauses[index] * 1e3:5.1f} ms at t={a - t0:5.2f} s: {what}"
              f"{'; ' + worker_note if worker else ''}")
        line = (f"          GUI thread in that gap: ran {ran * 1e3:.1f} ms, waited for a CPU "
                f"{waited * 1e3:.1f} ms, slept/blocked {slept * 1e3:.1f} ms")
        split = probe.worker_split(index) if worker else None
        if split is not None:
            line += (f"; worker thread ran {split[0] * 1e3:.1f} ms, waited for a CPU "
                     f"{split[1] * 1e3:.1f} ms")
        steal = probe.steal[index + 1] - probe.steal[index]
        if steal > 0:
            line += f"; the hypervisor took {steal * 1e3:.0f} ms of CPU time from this machine (steal)"
        print(line)
        for name, s, e in collections:
            print(f"          {name}: {(e - s) * 1e3:.1f} ms")
        for text in (extra(index, a, b) if extra is not None else ()):
            print(f"          {text}")
        for stack in probe.stacks.get(index, [])[:2]:
            print(f"          other thread then at: {stack}")


@contextlib.contextmanager
def maybe_profile(enabled: bool, title: str):
    if not enabled:
        yield
        return
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        print(f"      cProfile ({title}, GUI thread), top 12 by internal time:")
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime")
        width = 0
        for func, (_cc, nc, tt, ct, _callers) in sorted(
                stats.stats.items(), key=lambda kv: -kv[1][2])[:12]:
            filename, line, fname = func
            where = f"{Path(filename).name}:{line}({fname})" if line else fname
            width = max(width, len(where))
            print(f"        {tt * 1e3:8.1f} ms self {ct * 1e3:8.1f} ms cum  x{nc:<5d} {where}")


def time_full_gc() -> float:
    start = time.perf_counter()
    gc.collect()
    return time.perf_counter() - start
