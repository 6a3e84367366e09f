"""Process-wide settings: thread counts beside the window, the start-up preload."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from unetgui.core import runtime


@pytest.mark.parametrize(("cores", "alone", "beside"), [(1, 1, 1), (2, 2, 1), (8, 8, 7)])
def test_training_threads_leave_one_core_unless_training_is_alone(monkeypatch, cores, alone, beside):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert runtime.training_threads(alone=True) == alone
    assert runtime.training_threads() == beside


@pytest.mark.parametrize("collector", ["on", "off"])
def test_preload_imports_what_the_first_optimiser_needs_and_leaves_the_collector_as_it_was(collector):
    """In a fresh process: here torch._dynamo may long be loaded, and freezing would stick."""
    code = textwrap.dedent(f"""
        import gc, sys
        from unetgui.core import runtime
        assert "torch._dynamo" not in sys.modules
        if "{collector}" == "off":
            gc.disable()
        thread = runtime.preload_training_modules()
        thread.join(timeout=120)
        print(not thread.is_alive(), "torch._dynamo" in sys.modules, gc.isenabled(), gc.get_freeze_count() > 0)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True)
    assert out.stdout.split() == ["True", "True", str(collector == "on"), "True"], out.stderr
