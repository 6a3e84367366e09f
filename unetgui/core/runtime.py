"""Process-wide settings for long numeric work, applied once by the entry points.

Not applied on import: they change the whole process, which a library must not do to
its host. The command line and the window call :func:`quiet_openmp` and
:func:`tune_allocator` at start-up.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc mallopt parameters
DESCRIPTION = "glibc, tuned (trim threshold 1 GiB, mmap threshold 32 MiB, one arena)"


def tune_allocator() -> bool:
    """Linux/glibc: keep freed memory for reuse instead of handing it back to the kernel.

    With glibc's default thresholds a process can fall into a mode where the large
    activation buffers of every forward pass are returned to the kernel and page-faulted
    in again on the next one: measured +30% per prediction pass and about +5% per training
    step (benchmarks/bench_predict.py, --malloc default). The cost is that the process keeps
    its peak heap. Returns True when the settings were applied.
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

    With the default spin-waiting, torch's threads burn the CPU they wait on; on a busy
    2-core machine that made a training step 5-30x slower (benchmarks/bench_finetune.py,
    what-if OMP_WAIT_POLICY=PASSIVE). A user's own setting wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def training_threads() -> int:
    """Threads for training beside a window: all cores but one, which the GUI keeps."""
    return max(1, (os.cpu_count() or 2) - 1)
