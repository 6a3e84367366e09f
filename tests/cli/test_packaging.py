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
