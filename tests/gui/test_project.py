"""Projects in the window: open a folder, annotate two images, fine-tune on both, predict
the project, export it and read every output back; crash recovery inside a project."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from PySide6 import QtWidgets

from tests.gui.conftest import add_window, drag
from unetgui.core.io import read_labels
from unetgui.core.model import new_model
from unetgui.core.project import PROJECT_FILE
from unetgui.core.synthetic import SyntheticConfig, synthetic_stack
from unetgui.core.unet import UNetConfig

TINY = UNetConfig(depth=2, base_channels=4, dropout=0.0)
SIZES = ((96, 128, "uint16"), (80, 96, "uint8"), (96, 96, "float32"), (72, 100, "uint16"))


@pytest.fixture
def project_folder(tmp_path):
    """Four 2-plane images of different sizes and types, and their true labels."""
    folder = tmp_path / "experiment"
    folder.mkdir()
    truth = {}
    for i, (rows, cols, dtype) in enumerate(SIZES):
        image, labels = synthetic_stack(2, SyntheticConfig(shape=(rows, cols), n_cells=8, radius_range=(6, 10)),
                                        np.random.default_rng(10 + i))
        name = f"field{i + 1}.tif"
        tifffile.imwrite(folder / name, image.astype(dtype), imagej=dtype != "float32", metadata={"axes": "TYX"})
        truth[name] = labels
    return folder, truth


def states(window) -> list[str]:
    panel = window.images_panel
    return [panel.list.item(row).text().split("\n")[1] for row in range(panel.list.count())]


def wait_for_list(qtbot, window):
    qtbot.waitUntil(lambda: "..." not in states(window), timeout=20_000)


def open_folder(qtbot, window, folder):
    """File > Open folder, until its first image is open and its list filled in."""
    assert window.open_folder(folder)
    qtbot.waitUntil(lambda: window.image_path is not None, timeout=20_000)
    wait_for_list(qtbot, window)


def saved_project(qtbot, folder, key, expected):
    """The project file says ``expected`` under ``key`` (it is written by a worker)."""
    def written():
        return (folder / PROJECT_FILE).exists() and json.loads((folder / PROJECT_FILE).read_text()).get(key) == expected
    qtbot.waitUntil(written, timeout=20_000)


def test_open_folder_annotate_two_images_fine_tune_predict_and_export(window, qtbot, project_folder):
    folder, truth = project_folder
    assert window.open_image(folder)  # as File > Open folder, a dropped folder or 'unetgui DIR' do
    qtbot.waitUntil(lambda: window.image_path is not None, timeout=20_000)
    wait_for_list(qtbot, window)
    assert window.docks["Images"].isVisible()
    assert window.images_panel.list.count() == 4 and window.image_path.name == "field1.tif"
    assert states(window) == ["not annotated"] * 4
    assert not window.images_panel.list.item(0).icon().isNull()
    saved_project(qtbot, folder, "images", [f"field{i}.tif" for i in (1, 2, 3, 4)])

    # annotate plane 0 of field1 (and paint a stroke on it, as a user would), then move on
    window.document.set_plane_labels(0, truth["field1.tif"][0])
    window.choose_tool("paint")
    window.tool_state.set_label(int(truth["field1.tif"][0].max()) + 1)
    drag(window.canvas, [(3, 3), (3, 8)])
    window.actions_by_id["next_image"].trigger()  # Ctrl+Right
    assert window.image_path.name == "field2.tif"
    window.document.set_plane_labels(0, truth["field2.tif"][0])
    window.document.set_plane_labels(1, truth["field2.tif"][1])
    window.document.set_role(1, "validation")
    window.actions_by_id["next_image"].trigger()
    assert window.image_path.name == "field3.tif"
    qtbot.waitUntil(lambda: states(window)[:2] == ["1 plane annotated", "2 planes annotated"], timeout=20_000)
    saved_project(qtbot, folder, "roles", {"field1.tif": {"0": "train"}, "field2.tif": {"0": "train", "1": "validation"}})

    # fine-tune from field3 (nothing annotated on it): the planes of both other images are used
    window.models.set_model(new_model(TINY, seed=0, info={"name": "tiny"}), "tiny")
    window.training_panel.steps.setValue(3)
    window.training_panel.tile_size.setValue(92)
    assert window.training.fine_tune()
    qtbot.waitUntil(lambda: not window.training.training, timeout=120_000)
    entry = window.models.model.history[-1]
    assert entry["training_planes"] == ["field1.tif plane 0", "field2.tif plane 0"]
    assert entry["validation_planes"] == ["field2.tif plane 1"]
    assert entry["project"] == "experiment"

    # predict the images not annotated, then export everything
    assert window.predict_project(True)
    qtbot.waitUntil(lambda: not window.project.busy, timeout=60_000)
    qtbot.waitUntil(lambda: states(window)[2:] == ["not annotated, predicted"] * 2, timeout=20_000)
    assert window.predictions.predictions  # field3, on screen, shows its prediction
    window.images_panel.kinds["rois"].setChecked(True)
    window.images_panel.kinds["probabilities"].setChecked(True)
    window.images_panel.kinds["ome-zarr"].setChecked(True)
    window.images_panel.export_button.click()
    qtbot.waitUntil(lambda: not window.project.busy, timeout=60_000)
    out = folder / "unetgui-output"
    for name, (rows, cols, _) in zip(sorted(truth), SIZES, strict=True):
        labels = read_labels(out / name.replace(".tif", "_labels.tif"))
        assert labels.shape == (2, rows, cols)
    exported = read_labels(out / "field2_labels.tif")
    assert np.array_equal(exported[1], truth["field2.tif"][1])  # the annotation, as painted
    assert (out / "field3_probabilities.tif").exists() and not (out / "field1_probabilities.tif").exists()
    assert (out / "field1_rois.zip").exists()
    from unetgui.core.ome_zarr_files import read_ome_zarr_labels

    assert np.array_equal(read_ome_zarr_labels(out / "field2.ome.zarr", exported.shape), exported)
    qtbot.waitUntil(lambda: all("exported" in s for s in states(window)), timeout=20_000)


def test_moving_between_images_keeps_each_ones_labels_and_undo(window, qtbot, project_folder):
    folder, truth = project_folder
    open_folder(qtbot, window, folder)
    window.document.set_plane_labels(0, truth["field1.tif"][0])
    window.images_panel.list.setCurrentRow(3)  # a click in the list
    assert window.image_path.name == "field4.tif" and not window.document.labels_of(0).any()
    window.actions_by_id["previous_image"].trigger()
    window.actions_by_id["previous_image"].trigger()
    window.actions_by_id["previous_image"].trigger()
    assert window.image_path.name == "field1.tif"
    assert np.array_equal(window.document.labels_of(0), truth["field1.tif"][0])
    window.actions_by_id["previous_image"].trigger()  # at the first image: stays
    assert window.image_path.name == "field1.tif"


def test_a_project_reopens_after_a_crash_at_the_image_that_was_open(qtbot, settings, project_folder, monkeypatch):
    folder, truth = project_folder
    first = add_window(qtbot, settings)
    open_folder(qtbot, first, folder)
    first.open_project_image(folder / "field2.tif")
    first.document.set_plane_labels(1, truth["field2.tif"][1])
    assert first.session.save_now()
    first.session.autosaver.detach()  # the process dies here: no clean shutdown
    first.project.shutdown()
    from unetgui.core import annotations

    monkeypatch.setattr(annotations, "_session_alive", lambda marker: False)
    annotations._own_session = None
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *a, **k: QtWidgets.QMessageBox.StandardButton.Yes)
    second = add_window(qtbot, settings)
    second.offer_recovery()
    qtbot.waitUntil(lambda: second.image_path is not None and second.image_path.name == "field2.tif", timeout=20_000)
    assert second.project.project is not None and second.project.project.folder == folder.resolve()
    assert second.image_path.name == "field2.tif" and second.images_panel.list.currentRow() == 1
    assert np.array_equal(second.document.labels_of(1), truth["field2.tif"][1])


def test_a_folder_with_a_newer_project_file_is_refused_and_left_alone(window, project_folder):
    folder, _ = project_folder
    (folder / PROJECT_FILE).write_text(json.dumps({"format": "unetgui-project", "version": 99, "images": []}))
    assert not window.open_folder(folder)
    assert "newer version" in window.statusBar().currentMessage()
    assert json.loads((folder / PROJECT_FILE).read_text())["version"] == 99


def test_the_project_remembers_its_model_and_the_title_says_where_you_are(qtbot, settings, project_folder):
    folder, _ = project_folder
    first = add_window(qtbot, settings)
    open_folder(qtbot, first, folder)
    assert first.windowTitle() == "field1.tif (1 of 4) - experiment - unetgui"
    first.models.set_model(new_model(TINY, seed=3, info={"name": "mine"}), "mine")
    assert first.models.save_model(folder / "models" / "mine.unet")
    saved_project(qtbot, folder, "model", "models/mine.unet")
    second = add_window(qtbot, settings)
    open_folder(qtbot, second, folder)
    assert second.models.path == (folder / "models" / "mine.unet").resolve() and second.models.name == "mine"
