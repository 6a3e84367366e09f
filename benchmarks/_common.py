"""Helpers shared by the benchmark scripts (not a test or package module)."""

from __future__ import annotations

import torch

from unetgui.core import runtime


def tune_malloc() -> str:
    """The allocator settings the command line and the window use (unetgui.core.runtime)."""
    return runtime.DESCRIPTION if runtime.tune_allocator() else "default (mallopt not available)"


def minor_faults() -> int:
    """Minor page faults of this process so far (0 where getrusage is missing)."""
    try:
        import resource
    except ImportError:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so timings cover it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
