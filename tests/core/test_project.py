"""Projects: a folder of images, its project file, and the jobs over its images."""

import json

import numpy as np
import pytest
import tifffile

from unetgui.core import annotations as sidecar
from unetgui.core.errors import ImageFileError, InvalidInputError
from unetgui.core.io import read_labels
from unetgui.core.model import new_model
from unetgui.core.outputs import output_name
from unetgui.core.project import (
    PROJECT_FILE,
    find_images,
    image_stem,
    open_project,
    save_project,
)
from unetgui.core.project_jobs import (
    export_images,
    image_status,
    predict_images,
    summary,
    thumbnail,
    training_set,
)
from unetgui.core.stored_prediction import load_prediction
from unetgui.core.synthetic import SyntheticConfig, synthetic_stack
from unetgui.core.unet import UNetConfig


@pytest.fixture(autouse=True)
def isolated_user_data(tmp_path, monkeypatch):
    monkeypatch.setenv("UNETGUI_DATA_DIR", str(tmp_path / "user-data"))


def make_folder(folder, sizes=((64, 80), (72, 64), (64, 64)), dtypes=("uint16", "uint8", "float32")):
    """Images of different sizes and types: well1.tif, well2.tif, well10.tif (+ their labels)."""
    folder.mkdir(exist_ok=True)
    truth = {}
    for i, (shape, dtype) in enumerate(zip(sizes, dtypes, strict=True)):
        image, labels = synthetic_stack(2, SyntheticConfig(shape=shape, n_cells=6, radius_range=(5, 8)),
                                        np.random.default_rng(i))
        name = f"well{[1, 2, 10][i]}.tif"
        tifffile.imwrite(folder / name, image.astype(dtype), imagej=dtype != "float32", metadata={"axes": "TYX"})
        truth[name] = labels
    return truth


def annotate(folder, name, labels, roles):
    """Save annotations for ``name`` as the window's autosave does."""
    with tifffile.TiffFile(folder / name) as tif:
        n, rows, cols = tif.series[0].shape[0], *tif.series[0].shape[-2:]
    state = sidecar.AnnotationState((n, 1, rows, cols), {p: labels[p].astype(np.uint32) for p in roles}, {}, roles, {})
    sidecar.save_annotations(folder / name, state)


def test_images_are_found_in_natural_order_and_outputs_are_not_images(tmp_path):
    make_folder(tmp_path / "p")
    (tmp_path / "p" / "notes.txt").write_text("x")
    (tmp_path / "p" / ".hidden.tif").write_bytes(b"")
    (tmp_path / "p" / "unetgui-output").mkdir()
    (tmp_path / "p" / "unetgui-output" / "well1_labels.tif").write_bytes(b"")
    assert find_images(tmp_path / "p") == ["well1.tif", "well2.tif", "well10.tif"]
    assert image_stem("cells.ome.tif") == "cells" and image_stem("a.b.PNG") == "a.b"
    assert output_name("cells.ome.tif", "labels") == "cells_labels.tif"
    assert output_name("day1.well3.tif", "rois", plane=2) == "day1.well3_rois_2.zip"


def test_a_project_round_trips_and_keeps_its_order(tmp_path):
    make_folder(tmp_path / "p")
    opened = open_project(tmp_path / "p")
    project = opened.project
    assert project.images == ["well1.tif", "well2.tif", "well10.tif"] and opened.notes == ()
    project.images.reverse()
    project.roles["well2.tif"] = {0: "train"}
    project.set_model(tmp_path / "p" / "models" / "mine.unet")
    save_project(project)
    again = open_project(tmp_path / "p").project
    assert again.images == ["well10.tif", "well2.tif", "well1.tif"]
    assert again.roles == {"well2.tif": {0: "train"}} and again.model == "models/mine.unet"
    assert again.model_path() == (tmp_path / "p" / "models" / "mine.unet").resolve()


def test_moved_folder_deleted_image_and_new_image_are_each_said(tmp_path):
    make_folder(tmp_path / "p")
    save_project(open_project(tmp_path / "p").project)
    (tmp_path / "p").rename(tmp_path / "moved")
    (tmp_path / "moved" / "well2.tif").unlink()
    tifffile.imwrite(tmp_path / "moved" / "extra.tif", np.zeros((8, 8), np.uint8))
    opened = open_project(tmp_path / "moved")
    assert opened.project.images == ["well1.tif", "well10.tif", "extra.tif"]
    text = " ".join(opened.notes)
    assert "well2.tif" in text and "no longer in the folder" in text
    assert "1 new image" in text and "moved from" in text


def test_newer_older_and_damaged_project_files(tmp_path):
    folder = tmp_path / "p"
    make_folder(folder)
    (folder / PROJECT_FILE).write_text(json.dumps({"format": "unetgui-project", "version": 99, "images": []}))
    with pytest.raises(ImageFileError, match="newer version"):
        open_project(folder)
    assert json.loads((folder / PROJECT_FILE).read_text())["version"] == 99  # left as it was

    old = {"format": "unetgui-project", "version": 0, "images": ["well10.tif"], "model": None, "output": None}
    (folder / PROJECT_FILE).write_text(json.dumps(old))
    opened = open_project(folder)
    assert opened.project.images[0] == "well10.tif" and "older version" in opened.notes[0]
    assert json.loads((folder / "unetgui-project.v0.json").read_text()) == old

    (folder / PROJECT_FILE).write_text("{not json")
    opened = open_project(folder)
    assert "moved to" in opened.notes[0] and not (folder / PROJECT_FILE).exists()
    kept = list(folder.glob("unetgui-project.damaged-*.json"))
    assert len(kept) == 1 and kept[0].read_text() == "{not json"
    assert opened.project.images == ["well1.tif", "well2.tif", "well10.tif"]


def test_training_set_reads_the_annotated_planes_of_every_image(tmp_path):
    folder = tmp_path / "p"
    truth = make_folder(folder)
    annotate(folder, "well1.tif", truth["well1.tif"], {1: "train"})
    annotate(folder, "well10.tif", truth["well10.tif"], {0: "train", 1: "validation"})
    project = open_project(folder).project
    model = new_model(UNetConfig(in_channels=1, base_channels=4, depth=2))
    found = training_set(project, model)
    assert [p.name for p in found.training] == ["well1.tif plane 1", "well10.tif plane 0"]
    assert [p.name for p in found.validation] == ["well10.tif plane 1"]
    assert found.sources == {"well1.tif": 1, "well10.tif": 2}
    assert np.array_equal(found.training[0].labels, truth["well1.tif"][1])
    assert found.training[0].image.shape == (1, 64, 80) and found.training[1].image.shape == (1, 64, 64)
    assert [p.name for p in training_set(project, model, skip=["well1.tif"]).training] == ["well10.tif plane 0"]
    assert image_status(project, "well10.tif").text == "2 planes annotated"
    assert image_status(project, "well2.tif").text == "not annotated"


def test_training_set_names_every_image_whose_channels_do_not_fit(tmp_path):
    folder = tmp_path / "p"
    truth = make_folder(folder)
    annotate(folder, "well1.tif", truth["well1.tif"], {0: "train"})
    model = new_model(UNetConfig(in_channels=2, base_channels=4, depth=2))
    with pytest.raises(InvalidInputError, match=r"reads 2 channels.*well1\.tif \(1 channel\)"):
        training_set(open_project(folder).project, model)


def test_predict_then_export_merges_annotations_over_predictions(tmp_path):
    folder = tmp_path / "p"
    truth = make_folder(folder)
    (folder / "broken.tif").write_bytes(b"II*\x00garbage")
    annotate(folder, "well2.tif", truth["well2.tif"], {0: "train"})
    project = open_project(folder).project
    model = new_model(UNetConfig(in_channels=1, base_channels=4, depth=2))
    steps = list(predict_images(project, project.images, model, "tiny", rescale=False))
    done = [s.name for s in steps if s.done]
    assert done == ["well1.tif", "well2.tif", "well10.tif"]
    assert [s.name for s in steps if s.error] == ["broken.tif"]
    assert "3 of 4 images" in summary(steps, "Predicted") and "broken.tif" in summary(steps, "Predicted")
    stored = load_prediction(folder / "well2.tif", (2, 72, 64))
    assert stored is not None and stored.probability.dtype == np.uint8 and stored.model == "tiny"
    assert image_status(project, "well2.tif").text == "1 plane annotated, predicted"

    kinds = ["labels", "mask", "probabilities", "rois", "geojson", "measurements"]
    exported = list(export_images(project, ["well2.tif", "broken.tif"], kinds))
    assert exported[0].done and exported[1].error
    labels = read_labels(project.output_folder / "well2_labels.tif")
    assert np.array_equal(labels[0], truth["well2.tif"][0])  # the annotation, not the prediction
    assert np.array_equal(labels[1], stored.labels[1])  # the prediction
    probabilities = tifffile.imread(project.output_folder / "well2_probabilities.tif")
    assert probabilities.dtype == np.float32 and probabilities.shape == (2, 72, 64)
    mask = tifffile.imread(project.output_folder / "well2_mask.tif")
    assert set(np.unique(mask)) <= {0, 255} and (mask[0] > 0).sum() == (labels[0] > 0).sum()
    assert (project.output_folder / "well2_rois.zip").exists()
    assert image_status(project, "well2.tif").exported


def test_export_without_overwrite_skips_images_already_exported(tmp_path):
    folder = tmp_path / "p"
    truth = make_folder(folder)
    annotate(folder, "well1.tif", truth["well1.tif"], {0: "train"})
    project = open_project(folder).project
    first = list(export_images(project, ["well1.tif"], ["labels"]))
    assert first[0].written
    again = list(export_images(project, ["well1.tif"], ["labels"], overwrite=False))
    assert again[0].done and again[0].written == ()


def test_thumbnail_is_small_and_8_bit(tmp_path):
    make_folder(tmp_path / "p")
    picture = thumbnail(tmp_path / "p" / "well1.tif", size=32)
    assert picture.dtype == np.uint8 and max(picture.shape) <= 32 and picture.max() == 255


def test_label_pairs_match_by_name_in_the_layouts_people_use(tmp_path):
    from unetgui.core.project import label_pairs

    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    for name in ("a.tif", "b.tif", "c.png", "d.tif"):
        (images / name).write_bytes(b"")  # pairing goes by names only
    for name in ("a.tif", "b_masks.tif", "c_cp_masks.png"):
        (labels / name).write_bytes(b"")
    pairs, unmatched = label_pairs(images, labels)
    assert [(i.name, lab.name) for i, lab in pairs] == [("a.tif", "a.tif"), ("b.tif", "b_masks.tif"),
                                                        ("c.png", "c_cp_masks.png")]
    assert unmatched == ["d.tif"]
    # images and labels in one folder: the label files are not images to train on
    (images / "a_labels.tif").write_bytes(b"")
    pairs, unmatched = label_pairs(images, images)
    assert [(i.name, lab.name) for i, lab in pairs] == [("a.tif", "a_labels.tif")]
    assert unmatched == ["b.tif", "c.png", "d.tif"]
