"""Process-wide settings: thread counts beside the window, the start-up preload."""

from __future__ import annotations

import gc
import os
import sys

import pytest

from unetgui.core import runtime


@pytest.mark.parametrize(("cores", "alone", "beside"), [(1, 1, 1), (2, 2, 1), (8, 8, 7)])
def test_training_threads_leave_one_core_unless_training_is_alone(monkeypatch, cores, alone, beside):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert runtime.training_threads(alone=True) == alone
    assert runtime.training_threads() == beside


def test_preload_imports_what_the_first_optimiser_needs_and_leaves_the_collector_on():
    thread = runtime.preload_training_modules()
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert "torch._dynamo" in sys.modules
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
