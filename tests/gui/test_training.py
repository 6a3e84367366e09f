"""Fine-tuning in the window: training in a worker, live predictions, stop, accept, save."""

from __future__ import annotations

import time

import numpy as np
import pytest
import tifffile
from PySide6 import QtCore, QtWidgets

from tests.gui.conftest import click, drag
from unetgui.core.model import load_model, new_model
from unetgui.core.predict import predict
from unetgui.core.starter import load_starter_model
from unetgui.core.unet import UNetConfig

TINY = UNetConfig(depth=2, base_channels=4, dropout=0.0)


class EventLoopProbe:
    """A 10 ms QTimer; the longest gap between its ticks is the worst GUI freeze."""

    def __init__(self) -> None:
        self.timer = QtCore.QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.worst = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.worst = max(self.worst, now - self.last)
        self.last = now

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


@pytest.fixture
def annotated(window, stack_file):
    """The window with a 3-plane stack, planes 0 and 1 annotated, a tiny network active."""
    path, image, labels = stack_file
    window.open_image(path)
    window.document.set_plane_labels(0, labels[0])
    window.document.set_plane_labels(1, labels[1])
    window.models.set_model(new_model(TINY, seed=0, info={"name": "tiny"}), "tiny")
    window.training_panel.tile_size.setValue(92)
    window.training_panel.optimizer.setCurrentIndex(window.training_panel.optimizer.findData("adam"))
    window.training_panel.learning_rate.setValue(0.01)
    window.prediction_panel.refresh_seconds.setValue(1)
    return window, image, labels


def points(window) -> int:
    """How many steps the loss curve shows."""
    x, _ = window.training_panel.loss_curve.getData()
    return 0 if x is None else len(x)


def wait_for_training(qtbot, window, timeout=120_000):
    qtbot.waitUntil(lambda: not window.training.training, timeout=timeout)


def test_fine_tune_trains_in_the_background_and_predictions_refresh(annotated, qtbot):
    window, image, labels = annotated
    window.training_panel.steps.setValue(40)
    window.canvas.set_prediction(None)
    probe = EventLoopProbe()
    probe.start()
    qtbot.mouseClick(window.training_panel.fine_tune_button, QtCore.Qt.MouseButton.LeftButton)
    assert window.training.training
    assert not window.training_panel.fine_tune_button.isEnabled() and window.training_panel.stop_button.isEnabled()
    # the user keeps painting while it trains
    window.choose_tool("paint")
    window.tool_state.set_label(99)
    click(window.canvas, 5, 5)
    assert window.document.labels_of(0)[5, 5] == 99
    wait_for_training(qtbot, window)
    probe.stop()
    qtbot.waitUntil(lambda: 0 in window.predictions.predictions, timeout=30_000)

    assert points(window) == 40
    assert not window.training_panel.loss_plot.getAxis("left").autoSIPrefix  # plain losses, not 700 "(x0.001)"
    assert window.models.model.history[-1]["ended"] == "finished"
    assert window.models.dirty
    shown = window.canvas.prediction_item.image
    assert shown is not None and shown.dtype == np.uint8 and shown.max() > 0
    np.testing.assert_array_equal(shown, window.predictions.predictions[0])
    # the window never froze: a blocked event loop would stall for the whole run
    assert probe.worst < 1.0, f"the GUI event loop paused for {probe.worst:.2f} s"


def test_live_predictions_arrive_during_training(annotated, qtbot):
    window, _, _ = annotated
    window.training_panel.steps.setValue(100_000)
    arrived = []
    window.predictions.ready.connect(lambda plane, prob: prob is not None and arrived.append(plane))
    assert window.training.fine_tune()
    qtbot.waitUntil(lambda: len(arrived) >= 1, timeout=60_000)
    assert window.view.visible["prediction"]
    steps_before_stop = window.training.steps_done
    qtbot.mouseClick(window.training_panel.stop_button, QtCore.Qt.MouseButton.LeftButton)
    wait_for_training(qtbot, window, timeout=30_000)
    entry = window.models.model.history[-1]
    assert entry["ended"] == "stopped"
    assert entry["steps"] <= steps_before_stop + 2  # the stop lands within a step or two
    assert window.training_panel.fine_tune_button.isEnabled()


def test_predict_plane_during_training_takes_fresh_weights_even_when_paused(annotated, qtbot):
    window, _, _ = annotated
    window.training_panel.steps.setValue(100_000)
    window.prediction_panel.live.setChecked(False)
    arrived = []
    window.predictions.ready.connect(lambda plane, prob: prob is not None and arrived.append(plane))
    assert window.training.fine_tune()
    qtbot.waitUntil(lambda: window.training.steps_done >= 2, timeout=30_000)
    assert not arrived and window.predictions._live_model is None  # live predictions are off
    window.show_plane(2)  # asks the worker for a snapshot: it comes after the current step
    qtbot.waitUntil(lambda: 2 in arrived, timeout=60_000)
    first = window.predictions._live_model
    qtbot.waitUntil(lambda: window.training.steps_done >= 6, timeout=30_000)
    window.training_panel.pause_button.setChecked(True)
    qtbot.wait(300)
    paused_at = window.training.steps_done
    arrived.clear()
    window.predictions.predict_plane()  # while paused: a new snapshot all the same, at once
    qtbot.waitUntil(lambda: 2 in arrived, timeout=30_000)
    assert window.predictions._live_model is not first
    assert window.training.steps_done == paused_at
    window.training_panel.pause_button.setChecked(False)
    window.training.stop()
    wait_for_training(qtbot, window)


def test_pause_and_resume(annotated, qtbot):
    window, _, _ = annotated
    window.training_panel.steps.setValue(100_000)
    window.prediction_panel.live.setChecked(False)
    assert window.training.fine_tune()
    qtbot.waitUntil(lambda: window.training.steps_done >= 2, timeout=30_000)
    window.training_panel.pause_button.setChecked(True)
    qtbot.wait(300)
    paused_at = window.training.steps_done
    qtbot.wait(700)
    assert window.training.steps_done <= paused_at + 1
    window.training_panel.pause_button.setChecked(False)
    qtbot.waitUntil(lambda: window.training.steps_done > paused_at + 2, timeout=30_000)
    window.training.stop()
    wait_for_training(qtbot, window)


def train_without_live_predictions(window, qtbot) -> list[str]:
    """Start a long run (live predictions off) and wait for 2 steps; the messages it sends."""
    messages: list[str] = []
    window.training.message.connect(messages.append)
    window.training_panel.steps.setValue(100_000)
    window.prediction_panel.live.setChecked(False)
    assert window.training.fine_tune()
    qtbot.waitUntil(lambda: window.training.steps_done >= 2, timeout=30_000)
    return messages


def test_edits_of_a_training_plane_reach_the_running_training(annotated, qtbot):
    window, _, labels = annotated
    messages = train_without_live_predictions(window, qtbot)
    window.show_plane(1)
    window.choose_tool("paint")
    window.tool_state.set_label(window.document.next_free_id())
    drag(window.canvas, [(40.0, 60.0), (44.0, 64.0)])  # a new cell on training plane 1
    window.show_plane(2)
    window.document.set_plane_labels(2, labels[2])  # marks plane 2: used by the next run only
    qtbot.waitUntil(lambda: any("uses your edits" in m for m in messages), timeout=30_000)
    used = [m for m in messages if "uses your edits" in m]
    assert used == ["Training now uses your edits of plane 1."]
    assert "within seconds" in window.training_panel.training_status.text()
    window.training.stop()
    wait_for_training(qtbot, window)


def test_edits_of_another_image_opened_during_training_stay_out_of_it(annotated, qtbot, tmp_path):
    window, image, labels = annotated
    messages = train_without_live_predictions(window, qtbot)
    other = tmp_path / "other.tif"
    tifffile.imwrite(other, image[:, ::-1].copy(), imagej=True, metadata={"axes": "TYX"})
    window.session.autosaver.save_soon()
    qtbot.waitUntil(lambda: not window.session.jobs.busy("autosave"), timeout=10_000)
    assert window.open_image(other)
    window.document.set_plane_labels(1, labels[1][::-1].copy())  # plane 1 of another image
    steps, edited = window.training.steps_done, time.perf_counter()
    # well past the handover (1 s after the last edit), and steps taken since
    qtbot.waitUntil(lambda: time.perf_counter() > edited + 2.5 and window.training.steps_done >= steps + 5, timeout=60_000)
    assert not any("uses your edits" in m for m in messages)
    window.training.stop()
    wait_for_training(qtbot, window)


def test_saved_model_reloads_and_predicts_the_same(annotated, qtbot, tmp_path):
    window, image, _ = annotated
    window.training_panel.steps.setValue(5)
    assert window.training.fine_tune()
    wait_for_training(qtbot, window)
    assert window.training_panel.steps.value() == 5  # the next run keeps the user's settings
    assert window.models.save_model(tmp_path / "tuned")
    assert not window.models.dirty
    loaded = load_model(tmp_path / "tuned.unet")
    plane = image[2][None]
    np.testing.assert_array_equal(predict(loaded, plane), predict(window.models.model, plane))
    assert loaded.history[-1]["steps"] == 5


def test_accept_prediction_is_one_undoable_edit_and_probabilities_export(annotated, qtbot, tmp_path):
    window, _, _ = annotated
    window.models.set_model(new_model(TINY, seed=0), "tiny")
    window.show_plane(2)
    window.predictions.predict_plane()
    qtbot.waitUntil(lambda: 2 in window.predictions.predictions, timeout=30_000)
    # an untrained network predicts roughly uniform probabilities: make the test independent of it
    probability = np.zeros_like(window.predictions.predictions[2])
    probability[10:30, 10:30] = 255
    probability[50:70, 60:90] = 255
    window.predictions.predictions[2] = probability
    assert window.predictions.accept("plane") == 1
    labels = np.asarray(window.document.labels_of(2))
    assert len(np.unique(labels)) == 3 and labels[20, 20] > 0 and labels[40, 40] == 0
    window.undo()
    assert not np.asarray(window.document.labels_of(2)).any()

    out = window.export_to(tmp_path / "probs.tif", "probabilities", whole_stack=True)
    probs = tifffile.imread(out)
    assert probs.shape == (3, 96, 128) and probs.dtype == np.float32
    assert probs[2, 20, 20] == 1.0 and probs[0].max() == 0.0


def test_a_training_error_shows_a_message_and_the_window_stays_usable(annotated, qtbot):
    window, _, _ = annotated
    window.document.set_role(2, "train")  # plane 2 has no cells
    assert not window.training.fine_tune()
    dialogs = [w for w in window.findChildren(QtWidgets.QMessageBox, "error-dialog") if w.isVisible()]
    assert dialogs and "no cells" in dialogs[-1].text()
    assert not window.training.training and window.training_panel.fine_tune_button.isEnabled()
    window.document.set_role(2, "none")
    window.training_panel.steps.setValue(2)
    assert window.training.fine_tune()
    wait_for_training(qtbot, window)


def test_nothing_marked_for_training_says_what_to_do(window, stack_file):
    path, _, _ = stack_file
    window.open_image(path)
    assert not window.training.fine_tune()
    dialogs = [w for w in window.findChildren(QtWidgets.QMessageBox, "error-dialog") if w.isVisible()]
    assert dialogs and "Mark at least one plane for training" in dialogs[-1].text()


def test_training_and_live_predictions_share_the_cores(qtbot):
    import torch

    from unetgui.core import runtime
    from unetgui.core.runtime import CpuShare
    from unetgui.gui.workers import TrainingWorker

    alone, beside = runtime.training_threads(alone=True), runtime.training_threads()
    share = CpuShare()
    assert share.prediction_threads() == alone  # nothing trains: a prediction takes every core
    seen: list[int] = []
    predictor: list[int] = []
    prediction = share.computing()

    def steps():  # runs in the worker thread; a live prediction starts after step 0, ends after 1
        for step in range(3):
            seen.append(torch.get_num_threads())
            if step == 0:
                prediction.__enter__()
                predictor.append(share.prediction_threads())
            elif step == 1:
                prediction.__exit__(None, None, None)
            yield step

    worker = TrainingWorker(steps(), new_model(TINY, seed=0), 0, share)
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    assert seen == [alone, beside, alone]
    assert predictor == [max(1, alone - beside)]  # together never more than the cores
    assert share.prediction_threads() == alone


def test_handing_out_a_snapshot_leaves_its_prediction_a_core_from_the_next_step(qtbot):
    import torch

    from unetgui.core import runtime
    from unetgui.core.runtime import CpuShare
    from unetgui.gui.workers import TrainingWorker

    seen: list[int] = []

    def steps():
        for step in range(2):
            seen.append(torch.get_num_threads())
            yield step

    worker = TrainingWorker(steps(), new_model(TINY, seed=0), 1e-9, CpuShare())  # a snapshot every step
    with qtbot.waitSignals([worker.snapshot, worker.finished], timeout=10_000):
        worker.start()
    assert seen == [runtime.training_threads(alone=True), runtime.training_threads()]


def test_accept_in_a_box_copies_the_predicted_cells_dragged_around(annotated, qtbot):
    window, _, _ = annotated
    window.show_plane(2)
    window.predictions.predict_plane()
    qtbot.waitUntil(lambda: 2 in window.predictions.predictions, timeout=30_000)
    probability = np.zeros_like(window.predictions.predictions[2])  # independent of the untrained net
    probability[10:30, 10:30] = 255  # inside the box below
    probability[50:70, 60:90] = 255  # outside it
    window.predictions.predictions[2] = probability
    window.document.set_plane_labels(2, np.pad(np.full((4, 4), 7), ((80, 12), (100, 24))))  # a cell of the user's
    first = window.document.next_free_id()

    window.prediction_panel.accept_box_button.click()
    assert window.canvas.tool.name == "accept_box"
    drag(window.canvas, [(5.0, 5.0), (20.0, 20.0), (36.0, 40.0)])

    labels = np.asarray(window.document.labels_of(2))
    assert set(np.unique(labels)) == {0, 7, first}
    assert (labels[10:30, 10:30] == first).all() and labels[60, 70] == 0 and labels[81, 101] == 7
    assert not window.canvas._box.isVisible()
    window.undo()
    assert set(np.unique(np.asarray(window.document.labels_of(2)))) == {0, 7}


def test_without_validation_planes_the_window_says_what_it_held_back_and_how_it_went(annotated, qtbot):
    window, _, _ = annotated
    messages: list[str] = []
    window.training.message.connect(messages.append)
    window.training_panel.steps.setValue(6)
    window.training_panel.validation_every.setValue(3)
    assert window.training.fine_tune()
    wait_for_training(qtbot, window)
    assert any(m.startswith("Held back") and "plane 0" in m for m in messages)
    x, y = window.training_panel.validation_curve.getData()
    assert list(x) == [0, 3, 6]  # the model before training is the first point
    entry = window.models.model.history[-1]
    assert entry["validation_before"] is not None and entry["held_back"]
    outcome = next(m for m in reversed(messages) if m.startswith("Training "))
    assert window.training_panel.training_status.text() == outcome  # the panel says it too
    if entry["kept_the_starting_weights"]:
        assert "kept unchanged" in outcome
    else:
        assert f"from {entry['validation_before']['ap50']:.3f} to {entry['best_validation']['ap50']:.3f}" in outcome


def test_a_run_judged_on_its_own_held_back_band_says_how_far_that_check_reaches():
    from unetgui.gui.training import BAND_SCOPE, outcome_text

    better = {"validation_before": {"ap50": 0.8, "foreground_iou": 0.8},
              "best_validation": {"ap50": 0.9, "foreground_iou": 0.85}, "kept_the_starting_weights": False}
    on_band = outcome_text({**better, "held_back": [{"plane": "plane 0", "cells": 12}]})
    assert "from 0.800 to 0.900" in on_band and on_band.endswith(BAND_SCOPE)
    on_marked_planes = outcome_text({**better, "held_back": []})  # the user's validation planes
    assert "from 0.800 to 0.900" in on_marked_planes and BAND_SCOPE not in on_marked_planes


def test_the_outcome_says_when_the_active_model_blends_the_run_with_the_starting_one():
    from unetgui.gui.training import outcome_text

    better = {"validation_before": {"ap50": 0.8, "foreground_iou": 0.8},
              "best_validation": {"ap50": 0.9, "foreground_iou": 0.85}, "kept_the_starting_weights": False,
              "blended_with_start": {"start_share": 0.5, "validation": {"ap50": 0.875, "foreground_iou": 0.86}}}
    text = outcome_text(better)
    assert "from 0.800 to 0.900" in text and "half and half" in text and "AP@0.5 0.875 on the same cells" in text
    assert "the best of the run" not in text
    unjudged = outcome_text({"blended_with_start": {"start_share": 0.25, "validation": None}})
    assert unjudged.startswith("Training ended; the new model blends the run 75% to 25% with the model you")


def test_the_window_trains_with_the_same_recipes_as_the_command_line(window, monkeypatch):
    import dataclasses

    from unetgui.core import recipes
    from unetgui.core.configs import AugmentConfig

    # a recipe's own augmentation reaches the window: the panel's 100 % is the recipe's strength
    monkeypatch.setattr(recipes, "FINE_TUNE", dataclasses.replace(recipes.FINE_TUNE,
                                                                   augment=AugmentConfig(gray_strength=0.3)))
    for model, recipe in ((window.models.model, recipes.FINE_TUNE), (new_model(TINY, seed=0), recipes.SCRATCH)):
        window.models.set_model(model, "test")
        config = window.training.training_config()
        assert window.training_panel.steps.value() == recipe.steps
        for name in ("steps", "optimizer", "lr", "warmup_steps", "lr_decay", "auto_validation",
                     "stop_if_worse_after", "start_share", "augment"):  # augmentation at the panel's default 100 %
            assert getattr(config, name) == getattr(recipe, name), name
        assert window.training_panel.start_share.isEnabled() == (recipe is recipes.FINE_TUNE)
    window.models.set_model(load_starter_model(), "starter")
    window.training_panel.start_share.setValue(0)  # the trained weights alone
    assert window.training.training_config().start_share == 0


def test_predict_with_rotations_and_flips_averaged_in_the_window(annotated, qtbot):
    from unetgui.core.postprocess import encode_probability, foreground_probability

    window, image, _ = annotated
    window.prediction_panel.tta.setChecked(True)
    window.show_plane(2)
    window.predictions.predictions.clear()
    window.predictions.predict_plane()
    qtbot.waitUntil(lambda: 2 in window.predictions.predictions, timeout=60_000)
    expected = encode_probability(foreground_probability(predict(window.models.model, image[2][None], tta=True)))
    np.testing.assert_array_equal(window.predictions.predictions[2], expected)


def test_the_prediction_panel_says_the_cell_size_and_resizes_for_the_model(window, stack_file, qtbot):
    """The starter model knows cells of some 10-45 px; an override of 150 px resizes the
    image to its typical size."""
    from unetgui.core.cellsize import scale_for
    from unetgui.core.model import model_cell_size

    path, _, _ = stack_file
    window.open_image(path)
    size = model_cell_size(window.models.model)
    assert size is not None and size.high < 60
    window.prediction_panel.diameter.setValue(150)
    window.predictions.predict_plane()
    qtbot.waitUntil(lambda: 0 in window.predictions.predictions, timeout=60_000)
    status = window.prediction_panel.size_status.text()
    assert "Cells ~150 px" in status and f"resized by {scale_for(150, size):.2f}" in status
    assert f"(model: {size.low:.0f}-{size.high:.0f} px)" in status
    assert window.predictions.predictions[0].shape == (96, 128)
    window.prediction_panel.diameter.setValue(0)  # automatic: estimated from the image (cells ~10-20 px)
    window.predictions.predictions.clear()
    window.predictions.predict_plane()
    qtbot.waitUntil(lambda: 0 in window.predictions.predictions, timeout=60_000)
    assert "Cells ~" in window.prediction_panel.size_status.text() and "150 px" not in window.prediction_panel.size_status.text()
    # measured on this plane's prediction, and kept for the image's other planes
    measured = window.predictions.cell_diameter()
    assert measured is not None and f"Cells ~{measured:.0f} px" in window.prediction_panel.size_status.text()
    window.open_image(path)
    assert window.predictions.cell_diameter() is None  # another image (or the same, opened again): measured anew
