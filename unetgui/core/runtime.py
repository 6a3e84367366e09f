"""Process-wide settings for long numeric work, and how training and prediction share the cores.

The settings are not applied on import: they change the whole process, which a library
must not do to its host. The command line and the window call :func:`quiet_openmp` and
:func:`tune_allocator` at start-up; the window also :func:`preload_training_modules` and
:func:`freeze_collector`. :class:`CpuShare` splits the cores between a training run and
predictions that run beside it (the window's live predictions).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys
import threading
import time

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc mallopt parameters
DESCRIPTION = "glibc, tuned (trim threshold 1 GiB, mmap threshold 32 MiB, one arena)"


def tune_allocator() -> bool:
    """Linux/glibc: keep freed memory for reuse instead of handing it back to the kernel.

    With glibc's default thresholds a process can fall into a mode where the large
    activation buffers of every forward pass are returned to the kernel and page-faulted
    in again on the next one (figures: benchmarks/README.md). The cost is that the process
    keeps its peak heap.

    Returns
    -------
    bool
        True when the settings were applied (False off Linux/glibc, or when glibc refused).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # only glibc has mallopt with these meanings
    except (OSError, AttributeError):
        return False
    applied = bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30) and libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20))
    libc.mallopt(_M_ARENA_MAX, 1)  # worker threads share the main, untrimmed heap
    return applied


def quiet_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spinning (must run before torch loads).

    With the default spin-waiting, torch's threads burn the CPU they wait on, which slows
    training badly on a machine busy with other work (figures: benchmarks/README.md). A
    user's own setting wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def usable_cores() -> int:
    """The CPU cores this process may run on.

    Returns
    -------
    int
        The cores in the process's affinity mask (else the machine's count, else 2); >= 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 2


def training_threads(*, alone: bool = False) -> int:
    """Threads for training beside a window: every core while nothing else computes
    (``alone``), else all cores but one, which the GUI and live predictions keep.

    Parameters
    ----------
    alone : bool
        Nothing else computes: training may take every core.

    Returns
    -------
    int
        Thread count, >= 1.
    """
    cores = usable_cores()
    return max(1, cores if alone else cores - 1)


def preload_training_modules() -> threading.Thread:
    """Import what the first optimiser pulls in, in a background thread; returns it.

    Creating any torch optimiser imports torch._dynamo (about 800 modules, sympy among
    them). Lazily, in the training thread, that work filled the collector, and its full
    collection paused the window as training started (figures: benchmarks/README.md).
    Done here right after start-up, the collector is off
    while the modules load and their objects are then frozen (``gc.freeze``) with the
    rest of start-up, so no collection ever walks them (nor frees cyclic garbage the
    window made in that second or two: a little memory, once). A training run started
    meanwhile waits on the import lock, as it would on its own import.

    Returns
    -------
    threading.Thread
        The started daemon thread; join it to wait for the imports.
    """

    def load() -> None:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            import torch._dynamo  # noqa: F401
        except Exception:  # noqa: BLE001 - an optimisation only: training imports it again
            pass
        finally:
            gc.freeze()
            if was_enabled:
                gc.enable()

    thread = threading.Thread(target=load, name="unetgui-preload", daemon=True)
    thread.start()
    return thread


def freeze_collector(*, collect: bool = True) -> None:
    """Move every object alive now out of the garbage collector's way (``gc.freeze``).

    torch and Qt leave a few hundred thousand long-lived objects; each full collection
    that walks them holds the GIL long enough to freeze a window. The window calls it once
    start-up is done, and its training worker after a run's first step (what starting to
    train created or imported), there without collecting first (``collect=False``): a
    collection in a worker would hold the GIL just the same.

    Parameters
    ----------
    collect : bool
        Run a full collection first, so that garbage is not frozen with the rest.
    """
    if collect:
        gc.collect()
    gc.freeze()


class CpuShare:
    """Splits the cores between training and predictions beside it, so that together
    they never ask for more threads than there are cores.

    Two torch (OpenMP) thread teams that together want more threads than there are cores
    stall at each other's barriers. So training takes every core while it computes alone
    and one fewer while a prediction runs or is about to (a snapshot was just handed
    out); a prediction takes what training leaves (every core when nothing trains).
    torch's thread count belongs to the thread that sets it, so each worker sets its own:
    training between steps (it follows a prediction within one step), the predictor
    before each pass. Thread-safe.
    """

    PENDING_S = 1.0  # a snapshot just handed out: its prediction starts within this time

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._predicting = 0
        self._training = 0
        self._pending_until = 0.0

    @contextlib.contextmanager
    def computing(self):
        """Wrap a prediction pass that may run beside training.

        Yields
        ------
        None
            Inside the block the pass counts as running: training leaves it a core.
        """
        with self._lock:
            self._predicting += 1
            self._pending_until = 0.0
        try:
            yield
        finally:
            with self._lock:
                self._predicting -= 1

    @contextlib.contextmanager
    def training(self):
        """Wrap a training run.

        Yields
        ------
        None
            Inside the block the run counts as training: predictions take one core.
        """
        with self._lock:
            self._training += 1
        try:
            yield
        finally:
            with self._lock:
                self._training -= 1

    def prediction_expected(self) -> None:
        """A snapshot was handed out: its prediction pass is about to start."""
        with self._lock:
            self._pending_until = time.monotonic() + self.PENDING_S

    def training_threads(self) -> int:
        """Threads for the training run's next step.

        Returns
        -------
        int
            Every core while no prediction runs or is expected, else all cores but one.
        """
        with self._lock:
            alone = self._predicting == 0 and time.monotonic() >= self._pending_until
        return training_threads(alone=alone)

    def prediction_threads(self) -> int:
        """Threads for a prediction pass.

        Returns
        -------
        int
            The core training leaves while it runs (it takes all but one), else every core.
        """
        with self._lock:
            training = self._training > 0
        return 1 if training else usable_cores()
