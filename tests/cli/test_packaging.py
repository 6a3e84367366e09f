"""The bundle recipe takes the files unetgui needs at run time."""

from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NEEDED = {"starter.unet", "sample_nuclei.tif", "SAMPLE-LICENSE.txt", "unetgui.svg"}


def test_the_installed_package_carries_the_files_the_bundle_collects():
    shipped = {entry.name for entry in resources.files("unetgui.resources").iterdir()}
    assert NEEDED <= shipped
    spec = (ROOT / "packaging" / "unetgui.spec").read_text()
    assert 'collect_data_files("unetgui.resources")' in spec  # the bundle takes exactly those files
    assert '"entry.py"' in spec and (ROOT / "packaging" / "entry.py").is_file()


def test_pyinstaller_would_collect_the_model_and_the_sample():
    import pytest

    hooks = pytest.importorskip("PyInstaller.utils.hooks", reason="PyInstaller is installed only to build")
    collected = {Path(source).name for source, _ in hooks.collect_data_files("unetgui.resources")}
    assert NEEDED <= collected
