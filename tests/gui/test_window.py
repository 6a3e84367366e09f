"""The main window, driven as a user would: open, move planes, paint, undo, save, export."""

from __future__ import annotations

import numpy as np
import tifffile
import torch
from PySide6 import QtCore, QtWidgets

from tests.gui.conftest import add_window, click, drag
from unetgui.core.io import write_labels
from unetgui.core.weightmap import weight_map


def error_dialogs(window) -> list[QtWidgets.QMessageBox]:
    return [w for w in window.findChildren(QtWidgets.QMessageBox, "error-dialog") if w.isVisible()]


def test_open_a_stack_and_move_between_planes(window, stack_file, qtbot):
    path, image, _ = stack_file
    assert window.open_image(path)
    assert window.stack.shape == (3, 1, 96, 128)
    assert window.plane_bar.label.text() == "Time 0 (0-2)" and window.planes_panel.list.currentRow() == 0
    np.testing.assert_array_equal(window.canvas.image_item.image, image[0])
    qtbot.keyClick(window.canvas, QtCore.Qt.Key.Key_PageDown)
    assert window.plane == 1
    np.testing.assert_array_equal(window.canvas.image_item.image, image[1])
    qtbot.keyClick(window.canvas, QtCore.Qt.Key.Key_Left)
    assert window.plane == 0
    window.plane_bar.slider.setValue(2)
    assert window.plane == 2 and window.planes_panel.list.currentRow() == 2


def test_paint_erase_fill_undo_redo_with_the_mouse(window, stack_file):
    path, _, _ = stack_file
    window.open_image(path)
    doc = window.document
    window.choose_tool("paint")
    window.tool_state.set_label(7)
    window.tool_state.set_radius(2)
    drag(window.canvas, [(20, 10), (20, 40), (50, 40)])
    labels = np.asarray(doc.labels_of(0))
    assert labels[20, 10] == 7 and labels[20, 25] == 7 and labels[20, 40] == 7 and labels[35, 40] == 7
    assert labels[60, 60] == 0
    # the stroke is continuous: every pixel on the horizontal leg is painted
    assert np.all(labels[20, 10:41] == 7)
    painted = labels.copy()
    assert doc.role(0) == "train"

    window.choose_tool("erase")
    click(window.canvas, 20, 25)
    assert doc.labels_of(0)[20, 25] == 0 and doc.labels_of(0)[20, 10] == 7

    window.undo()
    np.testing.assert_array_equal(doc.labels_of(0), painted)
    window.redo()
    assert doc.labels_of(0)[20, 25] == 0
    window.undo()
    window.undo()  # the whole stroke is one undo item
    assert not np.asarray(doc.labels_of(0)).any()

    # a closed square outline, filled inside with the fill tool
    window.choose_tool("paint")
    window.tool_state.set_radius(0)
    window.tool_state.set_label(3)
    drag(window.canvas, [(60, 60), (60, 80), (80, 80), (80, 60), (60, 60)])
    window.tool_state.set_label(4)
    window.choose_tool("fill")
    click(window.canvas, 70, 70)
    labels = np.asarray(doc.labels_of(0))
    assert np.all(labels[61:80, 61:80] == 4) and labels[60, 70] == 3 and labels[90, 10] == 0


def test_the_canvas_mirrors_the_document_in_place(window, stack_file):
    path, _, _ = stack_file
    window.open_image(path)
    window.choose_tool("paint")
    window.tool_state.set_label(256)  # shows as colour 256 % 255 + 1 = 2
    window.tool_state.set_radius(1)
    click(window.canvas, 30, 30)
    shown = window.canvas.labels_item.image
    assert shown.dtype == np.uint8 and shown[30, 30] == 2 and shown[0, 0] == 0


def test_undo_history_is_kept_per_plane(window, stack_file, qtbot):
    path, _, _ = stack_file
    window.open_image(path)
    window.choose_tool("paint")
    window.tool_state.set_label(5)
    click(window.canvas, 10, 10)
    window.show_plane(1)
    click(window.canvas, 40, 40)
    window.show_plane(0)
    window.undo()
    assert window.document.labels_of(0)[10, 10] == 0
    assert window.document.labels_of(1)[40, 40] == 5


def test_pick_new_cell_delete_and_merge(window, stack_file):
    path, _, _ = stack_file
    window.open_image(path)
    doc = window.document
    window.choose_tool("paint")
    window.tool_state.set_radius(3)
    window.tool_state.set_label(2)
    click(window.canvas, 20, 20)
    window.new_cell()
    assert window.tool_state.label == 3
    click(window.canvas, 20, 26)
    window.choose_tool("pick")
    click(window.canvas, 20, 20)
    assert window.tool_state.label == 2
    window.choose_tool("merge")
    click(window.canvas, 20, 20)
    click(window.canvas, 20, 26)
    assert set(np.unique(doc.labels_of(0))) == {0, 2}
    window.choose_tool("delete")
    click(window.canvas, 20, 26)
    assert not np.asarray(doc.labels_of(0)).any()


def test_ignore_brush_marks_pixels_to_leave_out(window, stack_file):
    path, _, _ = stack_file
    window.open_image(path)
    window.choose_tool("ignore")
    window.tool_state.set_radius(4)
    drag(window.canvas, [(50, 50), (50, 70)])
    ignore = np.asarray(window.document.ignore_of(0))
    assert ignore[50, 50:71].all() and not ignore[10, 10]
    assert window.canvas.ignore_item.image[50, 60] > 0


def test_weight_map_layer_shows_what_the_core_computes(window, stack_file, qtbot):
    path, _, labels = stack_file
    window.open_image(path)
    window.document.set_plane_labels(0, labels[0])
    window.weights.set_parameters({"w0": 8.0})
    window.view.set_visible("weights", True)
    qtbot.waitUntil(lambda: window.canvas.weights_item.image is not None, timeout=10000)
    expected = weight_map(labels[0].astype(np.uint32), np.zeros(labels[0].shape, bool), w0=8.0, sigma=5.0)
    top = float(expected.max())  # shown as uint8 steps from 0 to the largest weight, the bar says which
    np.testing.assert_array_equal(window.canvas.weights_item.image, np.rint(expected / top * 255).astype(np.uint8))
    assert tuple(window.canvas.weights_bar.levels()) == (0.0, top)


def test_autosave_then_reopen_restores_exactly(qtbot, settings, stack_file):

    path, _, labels = stack_file
    first = add_window(qtbot, settings)
    first.open_image(path)
    first.document.set_plane_labels(1, labels[1])
    first.choose_tool("ignore")
    first.show_plane(2)
    drag(first.canvas, [(5, 5), (5, 20)])
    first.document.set_role(1, "validation")
    first.weights_panel.sigma.setValue(3.5)
    qtbot.waitUntil(lambda: not first.session.autosaver.dirty, timeout=15000)
    expected = first.document.to_arrays()
    first.close()

    second = add_window(qtbot, settings)
    second.open_image(path)
    restored = second.document.to_arrays()
    assert restored.roles == expected.roles and restored.roles[1] == "validation"
    empty = np.zeros((96, 128), np.uint32)
    assert expected.labels[1].any() and expected.ignore[2].any()
    for plane in range(3):
        np.testing.assert_array_equal(second.document.labels_of(plane), expected.labels.get(plane, empty))
        np.testing.assert_array_equal(second.document.ignore_of(plane), expected.ignore.get(plane, empty > 0))
    assert second.weights_panel.sigma.value() == 3.5
    second.close()


def test_export_labels_and_masks_read_back(window, stack_file, tmp_path):
    path, _, labels = stack_file
    window.open_image(path)
    for plane in range(3):
        window.document.set_plane_labels(plane, labels[plane])
    out = window.export_to(tmp_path / "out_labels.tif", "labels", whole_stack=True)
    with tifffile.TiffFile(out) as tif:
        assert tif.is_imagej and tif.series[0].axes == "TYX"
        np.testing.assert_array_equal(tif.asarray(), labels)
    assert str(out) in window.statusBar().currentMessage()
    window.show_plane(1)
    mask = tifffile.imread(window.export_to(tmp_path / "mask1.tif", "mask", whole_stack=False))
    np.testing.assert_array_equal(mask, np.where(labels[1] > 0, 255, 0))
    # the image with its labels for napari, opened again as an image, its labels imported back
    zarr_path = window.export_to(tmp_path / "cells.ome.zarr", "ome-zarr", whole_stack=True)
    assert window.session.save_now() and window.open_image(zarr_path) and window.stack.shape == (3, 1, 96, 128)
    assert window.session.import_labels(zarr_path)
    np.testing.assert_array_equal(window.document.labels_of(2), labels[2])


def test_import_labels_from_another_tool(window, stack_file, tmp_path):
    path, _, labels = stack_file
    write_labels(tmp_path / "fiji_labels.tif", labels, plane_axis="T")
    window.open_image(path)
    assert window.session.import_labels(tmp_path / "fiji_labels.tif")
    np.testing.assert_array_equal(window.document.labels_of(2), labels[2])
    write_labels(tmp_path / "wrong.tif", labels[:, :50])
    assert not window.session.import_labels(tmp_path / "wrong.tif")
    assert error_dialogs(window)


def test_auto_segment_fills_the_current_plane(window, stack_file, qtbot):
    path, _, _ = stack_file
    window.open_image(path)
    window.auto_segment(False)
    qtbot.waitUntil(lambda: np.asarray(window.document.labels_of(0)).any(), timeout=15000)
    assert len(np.unique(window.document.labels_of(0))) > 3
    assert not np.asarray(window.document.labels_of(1)).any()
    window.undo()
    assert not np.asarray(window.document.labels_of(0)).any()


def test_bad_files_show_a_dialog_and_the_window_survives(window, stack_file, tmp_path):
    text = tmp_path / "notes.tif"
    text.write_text("not an image")
    assert not window.open_image(text)
    dialogs = error_dialogs(window)
    assert dialogs and "notes.tif" in dialogs[0].text()
    dialogs[0].close()
    path, _, _ = stack_file
    assert window.open_image(path)  # still usable
    assert window.stack is not None


def test_recent_files(window, stack_file):
    path, _, _ = stack_file
    window.open_image(path)
    assert str(path.resolve()) in window.session.recent()
    assert window.recent_menu.actions()[0].text() == str(path.resolve())


def test_closing_with_unsaved_changes_asks(qtbot, settings, stack_file, monkeypatch):
    from unetgui.gui import main_window
    path, _, _ = stack_file
    answers = []

    def answer(choice):
        def ask(parent, title, text):
            answers.append(title if "cells.tif" in text else text)
            return choice
        return ask

    win = add_window(qtbot, settings)
    win.open_image(path)
    win.document.set_plane_labels(0, np.ones((96, 128), np.uint32))
    assert win.session.autosaver.dirty
    monkeypatch.setattr(main_window, "ask_unsaved", answer("cancel"))
    assert not win.close()
    assert win.document is not None  # cancelled: still open
    monkeypatch.setattr(main_window, "ask_unsaved", answer("save"))
    assert win.close()
    assert answers == ["Unsaved annotations", "Unsaved annotations"]

    again = add_window(qtbot, settings)
    again.open_image(path)
    assert np.all(again.document.labels_of(0) == 1)  # saved on close
    again.document.set_plane_labels(0, np.zeros((96, 128), np.uint32))
    monkeypatch.setattr(main_window, "ask_unsaved", answer("discard"))
    assert again.close()
    third = add_window(qtbot, settings)
    third.open_image(path)
    assert np.all(third.document.labels_of(0) == 1)  # the discarded change is gone
    third.close()


def test_after_a_crash_the_next_start_offers_to_recover(qtbot, settings, stack_file, monkeypatch):
    from unetgui.core import annotations

    path, _, labels = stack_file
    crashed = add_window(qtbot, settings)
    crashed.open_image(path)
    crashed.document.set_plane_labels(0, labels[0])
    qtbot.waitUntil(lambda: not crashed.session.autosaver.dirty, timeout=15000)
    # simulate a crash: the session marker stays, as if the process had died
    monkeypatch.setattr(annotations, "unclean_session", lambda: path)
    asked = []
    monkeypatch.setattr(
        QtWidgets.QMessageBox, "question",
        lambda *args, **kwargs: asked.append(args[2]) or QtWidgets.QMessageBox.StandardButton.Yes,
    )
    fresh = add_window(qtbot, settings)
    fresh.offer_recovery()
    assert asked and "did not close properly" in asked[0]
    assert fresh.image_path == path
    np.testing.assert_array_equal(fresh.document.labels_of(0), labels[0])
    crashed.session.autosaver.detach()


def test_dropping_a_file_opens_it(window, stack_file):
    from PySide6 import QtGui

    path, _, _ = stack_file
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(path))])
    event = QtGui.QDropEvent(
        QtCore.QPointF(10, 10), QtCore.Qt.DropAction.CopyAction, mime,
        QtCore.Qt.MouseButton.NoButton, QtCore.Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert window.image_path == path and window.stack.n_planes == 3


def test_accept_box_tool_boxes_the_pixels_under_the_drag():
    from unetgui.core.labels import LabelDocument
    from unetgui.gui.tools import AcceptBoxTool

    boxes, shown = [], []

    class State:  # what a tool reads and calls (gui.tool_state.ToolState, without Qt)
        document = LabelDocument(1, (50, 60))
        accept_box = boxes.append
        show_box = shown.append

    tool = AcceptBoxTool(State())

    def drag(start, end):
        tool.press(*start)
        tool.move(*end)
        tool.release(*end)

    drag((10.4, 20.6), (12.5, 30.49))  # pixel centres are whole numbers
    assert boxes[-1] == (10, 14, 21, 31) and shown[-2:] == [(10, 14, 21, 31), None]
    drag((12.5, 30.49), (10.4, 20.6))  # any direction
    assert boxes[-1] == (10, 14, 21, 31)
    drag((-3.0, 55.0), (5.0, 70.0))  # partly outside: clipped to the plane
    assert boxes[-1] == (0, 6, 55, 60)
    count = len(boxes)
    drag((-10.0, -10.0), (-5.0, -3.0))  # wholly outside: nothing shown, nothing accepted
    assert len(boxes) == count and shown[-2:] == [None, None]


def test_cells_go_to_fiji_and_qupath_and_come_back_as_undoable_edits(window, stack_file, tmp_path):
    path, _, labels = stack_file
    window.open_image(path)
    for plane in range(3):
        window.document.set_plane_labels(plane, labels[plane])
    rois = window.export_to(tmp_path / "cells.zip", "rois", whole_stack=True)
    cells = window.export_to(tmp_path / "cells.geojson", "geojson", whole_stack=True)
    table = window.export_to(tmp_path / "cells.csv", "measurements", whole_stack=True)
    assert rois and cells and table and not error_dialogs(window)
    assert "Exported" in window.statusBar().currentMessage()
    header, *rows = table.read_text().splitlines()
    assert header.startswith("label,plane,area") and len(rows) == sum(len(np.unique(p)) - 1 for p in labels)
    for source in (rois, cells):
        for plane in range(3):
            window.document.set_plane_labels(plane, np.zeros((96, 128), np.uint32))
        assert window.session.import_labels(source)
        for plane in range(3):
            np.testing.assert_array_equal(window.document.labels_of(plane), labels[plane])
        window.undo()  # the import of the plane on screen is one undoable edit
        assert not np.asarray(window.document.labels_of(0)).any()
    (tmp_path / "broken.zip").write_bytes(b"not a zip at all")
    assert not window.session.import_labels(tmp_path / "broken.zip")
    (message,) = [w.text() for w in error_dialogs(window)]
    assert "ImageJ ROI" in message
    assert np.asarray(window.document.labels_of(1)).any()  # nothing already there is lost


def test_help_opens_a_working_copy_of_the_sample(window, tmp_path, monkeypatch):
    monkeypatch.setenv("UNETGUI_DATA_DIR", str(tmp_path / "data"))
    window.actions_by_id["open_sample"].trigger()
    assert window.image_path == tmp_path / "data" / "sample" / "sample_nuclei.tif"
    assert window.stack.shape == (3, 1, 511, 511)


def test_the_first_start_welcomes_and_the_image_replaces_it(window, stack_file):
    assert window.pages.currentWidget() is window.welcome and window.welcome.isVisible()
    assert not window.canvas.isVisible()
    window.open_image(stack_file[0])
    assert window.canvas.isVisible() and not window.welcome.isVisible()


def test_the_application_icon_and_desktop_entry_ship(qtbot):
    from pathlib import Path

    from unetgui.gui.app import application_icon

    icon = application_icon()
    assert not icon.isNull() and not icon.pixmap(64, 64).isNull()
    entry = (Path(__file__).parents[2] / "packaging" / "unetgui.desktop").read_text()
    assert "Exec=unetgui %F" in entry and "Icon=unetgui" in entry and "Type=Application" in entry


def test_the_app_collects_garbage_on_the_gui_thread_only(qtbot):
    """Cyclic garbage made in a worker thread is freed on the GUI thread's timer, never in
    the worker (where freeing Qt objects deadlocks)."""
    import gc
    import threading

    from unetgui.gui.app import collect_garbage_on_gui_thread

    freed_on_gui_thread = []

    class Cycle:
        def __init__(self):
            self.me = self

        def __del__(self):
            freed_on_gui_thread.append(threading.current_thread() is threading.main_thread())

    collector = collect_garbage_on_gui_thread()
    kept = []
    try:
        def work():
            Cycle()
            kept.extend([] for _ in range(20_000))  # allocations far past the collector's thresholds

        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
        assert freed_on_gui_thread == []  # not in the worker
        qtbot.waitUntil(lambda: freed_on_gui_thread == [True], timeout=5000)
    finally:
        collector.timer.stop()
        gc.enable()


def test_share_the_model_as_a_bioimageio_package_and_open_it_again(window, qtbot, tmp_path):
    from unetgui.core.bioimageio_export import PackageInfo
    from unetgui.core.model import new_model
    from unetgui.core.unet import UNetConfig

    window.models.set_model(new_model(UNetConfig(depth=2, base_channels=4), seed=5, info={"name": "tiny"}), "tiny")
    before = {k: v.clone() for k, v in window.models.model.net.state_dict().items()}
    assert window.models.share(tmp_path / "tiny", PackageInfo(name="tiny cells", authors=("A. Biologist",)))
    qtbot.waitUntil(lambda: "Wrote the bioimage.io package" in window.statusBar().currentMessage(), timeout=120_000)
    window.models.use_starter()
    assert window.models.open_model(tmp_path / "tiny.zip")
    assert window.models.name == "tiny"
    for key, value in window.models.model.net.state_dict().items():
        assert torch.equal(value.cpu(), before[key].cpu()), key
