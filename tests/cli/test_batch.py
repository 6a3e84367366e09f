"""The command line over many files: batch predict, training on a project or on folders."""

import numpy as np
import pytest
import tifffile

from unetgui.cli import main
from unetgui.core import annotations as sidecar
from unetgui.core.io import read_labels, write_labels
from unetgui.core.model import load_model, new_model, save_model
from unetgui.core.synthetic import SyntheticConfig, synthetic_stack
from unetgui.core.unet import UNetConfig

TINY = ["--steps", "2", "--base-channels", "4", "--depth", "2", "--device", "cpu"]


@pytest.fixture(autouse=True)
def isolated_user_data(tmp_path, monkeypatch):
    monkeypatch.setenv("UNETGUI_DATA_DIR", str(tmp_path / "user-data"))


@pytest.fixture
def folder(tmp_path):
    """Three images of different sizes and types, their labels in labels/, and one corrupt file."""
    images = tmp_path / "images"
    (tmp_path / "labels").mkdir(parents=True)
    images.mkdir()
    truth = {}
    for i, (shape, dtype) in enumerate((((64, 80), "uint16"), ((72, 64), "uint8"), ((64, 64), "float32"))):
        image, labels = synthetic_stack(2, SyntheticConfig(shape=shape, n_cells=6, radius_range=(5, 8)),
                                        np.random.default_rng(i))
        name = f"img{i + 1}"
        tifffile.imwrite(images / f"{name}.tif", image.astype(dtype), metadata={"axes": "TYX"})
        write_labels(tmp_path / "labels" / f"{name}_masks.tif", labels, plane_axis="T")
        truth[name] = labels
    return tmp_path, truth


@pytest.fixture
def tiny_model(tmp_path):
    return save_model(new_model(UNetConfig(in_channels=1, base_channels=4, depth=2)), tmp_path / "tiny.unet")


def test_batch_predict_writes_the_good_files_and_names_the_bad_one(folder, tiny_model, capsys):
    root, _ = folder
    (root / "images" / "broken.tif").write_bytes(b"II*\x00 this is not a TIFF")
    out = root / "out"
    code = main(["predict", str(tiny_model), str(root / "images"), "-o", str(out), "--no-rescale",
                 "--probabilities"])
    err = capsys.readouterr().err
    assert code == 1
    assert "broken.tif" in err.splitlines()[-1] and "1 failed" in err and "3 image(s)" in err
    for name, shape in (("img1", (2, 64, 80)), ("img2", (2, 72, 64)), ("img3", (2, 64, 64))):
        assert read_labels(out / f"{name}_labels.tif").shape == shape
        assert tifffile.imread(out / f"{name}_probabilities.tif").dtype == np.float32
    assert not (out / "broken_labels.tif").exists()

    before = (out / "img1_labels.tif").stat().st_mtime_ns
    code = main(["predict", str(tiny_model), str(root / "images" / "img*.tif"), "-o", str(out), "--no-rescale"])
    assert code == 0 and "skipped 3 whose output exists" in capsys.readouterr().err
    assert (out / "img1_labels.tif").stat().st_mtime_ns == before
    assert main(["predict", str(tiny_model), str(root / "images" / "img1.tif"), str(root / "images" / "img2.tif"),
                 "-o", str(out), "--no-rescale", "--overwrite"]) == 0
    assert (out / "img1_labels.tif").stat().st_mtime_ns != before


def test_batch_predict_refuses_a_named_probabilities_file_and_missing_inputs(folder, tiny_model, capsys):
    root, _ = folder
    assert main(["predict", str(tiny_model), str(root / "images"), "-o", str(root / "out"),
                 "--probabilities", str(root / "p.tif")]) == 2
    assert "without a file name" in capsys.readouterr().err
    assert main(["predict", str(tiny_model), str(root / "nothing*.tif"), "-o", str(root / "out")]) == 2
    assert "No image matches" in capsys.readouterr().err


def test_train_on_folders_of_images_and_labels_matched_by_name(folder, tmp_path, capsys):
    root, _ = folder
    out = tmp_path / "m.unet"
    assert main(["train", "--images", str(root / "images"), "--labels", str(root / "labels"), "-o", str(out),
                 *TINY]) == 0
    planes = load_model(out).history[-1]["training_planes"]
    assert {p.split(" plane ")[0] for p in planes} == {"img1.tif", "img2.tif", "img3.tif"}
    assert main(["train", "--images", str(root / "images"), "-o", str(out), *TINY]) == 2
    assert "both --images DIR and --labels DIR" in capsys.readouterr().err


def test_train_on_a_project_reads_the_planes_annotated_in_the_window(folder, tmp_path, capsys):
    root, truth = folder
    images = root / "images"
    for name, plane, role in (("img1", 1, "train"), ("img3", 0, "train"), ("img3", 1, "validation")):
        path = images / f"{name}.tif"
        shape = (2, 1, *truth[name].shape[1:])
        state = sidecar.load_annotations(path, shape) or sidecar.AnnotationState(shape)
        state.labels[plane] = truth[name][plane].astype(np.uint32)
        state.roles[plane] = role
        sidecar.save_annotations(path, state)
    out = tmp_path / "project.unet"
    assert main(["train", str(images), "-o", str(out), *TINY]) == 0
    entry = load_model(out).history[-1]
    assert entry["training_planes"] == ["img1.tif plane 1", "img3.tif plane 0"]
    assert entry["validation_planes"] == ["img3.tif plane 1"]
    assert "img1.tif (1)" in capsys.readouterr().err
    assert main(["train", str(images), "-o", str(out), "--planes", "0", *TINY, "--overwrite"]) == 2
    assert "choose planes of one image" in capsys.readouterr().err


def test_train_on_a_project_with_nothing_annotated_says_so(folder, tmp_path, capsys):
    root, _ = folder
    assert main(["train", str(root / "images"), "-o", str(tmp_path / "m.unet"), *TINY]) == 2
    assert "No plane of the images" in capsys.readouterr().err


def test_predictions_keep_the_images_pixel_size(folder, tiny_model):
    from unetgui.core.io import open_image

    root, _ = folder
    image = root / "calibrated.tif"
    tifffile.imwrite(image, np.zeros((2, 64, 64), np.uint16), imagej=True, resolution=(1 / 0.25, 1 / 0.25),
                     metadata={"axes": "TYX", "unit": "um"})
    assert main(["predict", str(tiny_model), str(image), "-o", str(root / "one.tif"), "--no-rescale",
                 "--probabilities", str(root / "p.tif")]) == 0
    assert main(["predict", str(tiny_model), str(image), "-o", str(root / "many"), "--no-rescale"]) == 0
    for output in (root / "one.tif", root / "p.tif", root / "many" / "calibrated_labels.tif"):
        with open_image(output) as written:
            assert written.pixel_size == pytest.approx((0.25, 0.25)), output.name
