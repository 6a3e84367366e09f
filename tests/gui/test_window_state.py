"""The redesigned window: state in models mirrored by widgets, one command table, one
pixel rule, outlines over the weight map, click to accept, Escape cancels a stroke."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from tests.gui.conftest import _send, click, viewport_point


def test_widgets_mirror_the_view_and_tool_state_both_ways(window, stack_file):
    path, _, _ = stack_file
    window.open_image(path)
    window.view.set_visible("labels", False)  # e.g. the L key
    assert not window.layers_panel.visible["labels"].isChecked() and not window.canvas.labels_item.isVisible()
    window.layers_panel.visible["labels"].setChecked(True)  # the user ticks the box
    assert window.view.visible["labels"] and window.canvas.labels_item.isVisible()
    window.tool_state.set_radius(7)
    assert window.tools_panel.radius.value() == 7
    window.tools_panel.label.setValue(12)
    assert window.tool_state.label == 12
    window.view.set_levels(100.0, 900.0)
    assert (window.layers_panel.low.value(), window.layers_panel.high.value()) == (100.0, 900.0)
    assert tuple(window.canvas.image_item.levels) == (100.0, 900.0)


def test_the_hover_readout_uses_the_pixel_the_tools_paint(window, stack_file):
    """Over the top-left half of a pixel the status bar showed the previous pixel."""
    path, image, _ = stack_file
    window.open_image(path)
    window.tool_state.set_label(5)
    window.tool_state.set_radius(0)
    click(window.canvas, 20, 30)  # paints pixel (20, 30)
    assert window.document.labels_of(0)[20, 30] == 5
    seen = []
    window.canvas.cursorMoved.connect(lambda r, c: seen.append((r, c)))
    none = QtCore.Qt.MouseButton.NoButton
    for point in (viewport_point(window.canvas, 19.7, 29.7), viewport_point(window.canvas, 20.3, 30.3)):
        _send(window.canvas.viewport(), QtCore.QEvent.Type.MouseMove, point, none, none)
        QtWidgets.QApplication.processEvents()
        QtCore.QThread.msleep(15)  # pyqtgraph limits hover events to 100 per second
    assert seen and set(seen) == {(20, 30)}
    text = window._cursor_label.text()
    assert "x 30  y 20" in text and f"value {image[0, 20, 30]}" in text and text.endswith("label 5")


def test_labels_turn_to_outlines_while_the_weight_map_is_shown(window, stack_file, qtbot):
    path, _, _ = stack_file
    window.open_image(path)
    square = np.zeros((96, 128), np.uint32)
    square[20:40, 20:40] = 3
    window.document.set_plane_labels(0, square)
    shown = window.canvas.labels_item.image
    assert shown[30, 30] > 0  # filled
    window.view.toggle("weights")  # the W key
    assert window.view.label_outlines and not window.layers_panel.outlines.isChecked()  # not the user's choice
    shown = window.canvas.labels_item.image
    assert shown[30, 30] == 0 and shown[20, 30] > 0  # the inside shows the map, the edge the cell
    window.view.toggle("weights")
    assert window.canvas.labels_item.image[30, 30] > 0


def test_click_to_accept_copies_one_predicted_cell(window, stack_file, qtbot):
    path, _, _ = stack_file
    window.open_image(path)
    window.predictions.predict_plane()
    qtbot.waitUntil(lambda: 0 in window.predictions.predictions, timeout=60_000)
    probability = np.zeros((96, 128), np.uint8)  # independent of the model's prediction
    probability[10:30, 10:30] = 255
    probability[50:70, 60:90] = 255
    window.predictions.predictions[0] = probability
    first = window.document.next_free_id()
    window.prediction_panel.accept_cell_button.click()
    assert window.canvas.tool.name == "accept_cell"
    click(window.canvas, 60, 70)
    labels = np.asarray(window.document.labels_of(0))
    assert set(np.unique(labels)) == {0, first} and (labels[50:70, 60:90] == first).all() and labels[20, 20] == 0
    click(window.canvas, 5, 120)  # background: nothing happens
    assert set(np.unique(np.asarray(window.document.labels_of(0)))) == {0, first}
    window.undo()
    assert not np.asarray(window.document.labels_of(0)).any()


def test_escape_takes_back_the_stroke_being_drawn(window, stack_file):
    path, _, _ = stack_file
    window.open_image(path)
    window.tool_state.set_label(4)
    left, none = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
    viewport = window.canvas.viewport()
    start, end = viewport_point(window.canvas, 30, 30), viewport_point(window.canvas, 30, 60)
    _send(viewport, QtCore.QEvent.Type.MouseMove, start, none, none)
    _send(viewport, QtCore.QEvent.Type.MouseButtonPress, start, left, left)
    QtCore.QThread.msleep(15)
    _send(viewport, QtCore.QEvent.Type.MouseMove, end, none, left)
    assert window.document.labels_of(0)[30, 45] == 4  # painting
    window.actions_by_id["cancel_stroke"].trigger()  # Escape
    _send(viewport, QtCore.QEvent.Type.MouseButtonRelease, end, left, none)
    assert not np.asarray(window.document.labels_of(0)).any() and not window.document.can_undo(0)


def test_the_shortcut_list_has_every_key_of_the_menus(window):
    from unetgui.gui.shortcuts import ShortcutsDialog

    dialog = ShortcutsDialog(window)
    listed = set()
    for row in range(dialog.table.rowCount()):
        listed.update(k.strip() for k in dialog.table.item(row, 0).text().split(" / "))
    bound = {QtGui.QKeySequence(s).toString() for a in window.findChildren(QtGui.QAction) for s in a.shortcuts()}
    assert {"Ctrl+T", "Ctrl+P", "F1", "C", "Esc"} <= bound
    assert bound <= {QtGui.QKeySequence(k).toString() for k in listed}
    # a key with two bindings is one action with two shortcuts, not a second action
    next_plane = [a for a in window.findChildren(QtGui.QAction) if QtGui.QKeySequence("Right") in a.shortcuts()]
    assert len(next_plane) == 1 and QtGui.QKeySequence("PgDown") in next_plane[0].shortcuts()


def test_the_loss_curve_is_smoothed_over_the_raw_steps():
    from unetgui.gui.display import smoothed

    np.testing.assert_allclose(smoothed([2.0, 2.0, 2.0]), [2.0, 2.0, 2.0])  # debiased: no pull towards 0
    noisy = np.where(np.arange(200) % 2, 1.0, 0.0)
    assert np.ptp(smoothed(noisy)[50:]) < 0.15 * np.ptp(noisy)


def test_the_training_history_says_where_the_weights_came_from_in_plain_words(window, stack_file, qtbot):
    """It stored the Model panel's HTML; the command line stores plain words."""
    from unetgui.core.model import new_model
    from unetgui.core.unet import UNetConfig

    path, _, labels = stack_file
    window.open_image(path)
    window.document.set_plane_labels(0, labels[0])
    window.models.set_model(new_model(UNetConfig(depth=2, base_channels=4), seed=0, info={"name": "tiny"}), "tiny")
    window.training_panel.steps.setValue(2)
    window.training_panel.tile_size.setValue(92)
    assert window.training.fine_tune()
    qtbot.waitUntil(lambda: not window.training.training, timeout=60_000)
    assert window.models.model.history[-1]["init"] == "tiny"


def test_roles_and_pruned_api_are_defined_once():
    from unetgui.core import annotations, labels
    from unetgui.gui import display
    from unetgui.gui.canvas import Canvas

    assert not hasattr(annotations, "ROLES") or annotations.ROLES is labels.ROLES
    assert set(annotations.STORED_ROLES) | {"none"} == set(labels.ROLES)
    assert not hasattr(display, "data_range") and not hasattr(Canvas, "set_levels")
