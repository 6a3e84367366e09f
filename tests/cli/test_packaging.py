"""The bundle recipe takes the files unetgui needs at run time."""

import importlib.util
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NEEDED = {"starter.unet", "sample_nuclei.tif", "SAMPLE-LICENSE.txt", "unetgui.svg"}


def test_the_installed_package_carries_the_resources():
    shipped = {entry.name for entry in resources.files("unetgui.resources").iterdir()}
    assert NEEDED <= shipped


def test_the_bundle_recipe_takes_the_model_the_sample_and_the_icon():
    spec = importlib.util.spec_from_file_location("bundle_files", ROOT / "packaging" / "bundle_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    files = module.resource_files()
    assert {Path(source).name for source, _ in files} >= NEEDED
    assert {folder for _, folder in files} == {"resources"}  # where core.starter.bundled_file looks
    recipe = (ROOT / "packaging" / "unetgui.spec").read_text()
    assert "datas = resource_files()" in recipe and (ROOT / "packaging" / "entry.py").is_file()


def test_a_cuda_build_without_the_cuda_torch_says_what_to_install():
    import subprocess
    import sys

    import pytest
    import torch

    if torch.version.cuda is not None:
        pytest.skip("a CUDA environment would start a real build")
    done = subprocess.run([sys.executable, str(ROOT / "packaging" / "build.py"), "--cuda"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "CUDA build" in done.stderr and "pytorch.org" in done.stderr


def test_the_recipe_leaves_out_headers_build_tools_and_test_libraries():
    recipe = (ROOT / "packaging" / "unetgui.spec").read_text()
    for trimmed in ("torch/include/", "torch/bin/", "libtorchbind_test", "PySide6/Qt/translations/"):
        assert trimmed in recipe
