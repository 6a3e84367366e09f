"""The training generator: learns, stops between steps, reproduces, refuses bad data."""

import numpy as np
import pytest
import torch

from unetgui.core.augment import AugmentConfig
from unetgui.core.errors import InvalidInputError, ModelFileError
from unetgui.core.model import load_model, new_model, save_model
from unetgui.core.predict import predict
from unetgui.core.synthetic import SyntheticConfig, synthetic_cells
from unetgui.core.train import TrainingConfig, TrainingPlane, averaged_weights, train
from unetgui.core.unet import UNetConfig

TINY = UNetConfig(depth=2, base_channels=4, dropout=0.0)


@pytest.fixture(scope="module")
def planes():
    rng = np.random.default_rng(0)
    config = SyntheticConfig(shape=(80, 90), n_cells=8, radius_range=(5, 9), noise=0.02)
    made = [synthetic_cells(config, rng) for _ in range(2)]
    return [TrainingPlane(image[None], labels, None, f"plane {i}") for i, (image, labels) in enumerate(made)]


def quick(**overrides):
    values = dict(steps=4, tile_size=92, optimizer="adam", learning_rate=1e-2, augment=AugmentConfig.off(), seed=3,
                  auto_validation=0.0)  # the held-back band has tests of its own
    values.update(overrides)
    return TrainingConfig(**values)


def test_loss_goes_down(planes):
    model = new_model(TINY, seed=0)
    losses = [p.loss for p in train(model, planes[:1], quick(steps=40))]
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_progress_fields_and_history(planes):
    model = new_model(TINY, seed=0)
    progress = list(train(model, planes, quick(steps=3), note={"image": "cells.tif"}))
    assert [p.step for p in progress] == [1, 2, 3]
    assert all(p.total_steps == 3 and p.elapsed >= 0 and np.isfinite(p.loss) for p in progress)
    assert progress[-1].elapsed >= progress[0].elapsed
    (entry,) = model.history
    assert entry["ended"] == "finished" and entry["steps"] == 3 and entry["image"] == "cells.tif"
    assert entry["training_planes"] == ["plane 0", "plane 1"]
    assert not model.net.training  # left ready for prediction


def test_same_seed_same_result_on_cpu(planes):
    runs = []
    for _ in range(2):
        model = new_model(TINY, seed=0)
        losses = [p.loss for p in train(model, planes, quick(steps=3, augment=AugmentConfig(), optimizer="sgd"))]
        runs.append((losses, [p.detach().clone() for p in model.net.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_stop_between_steps_leaves_a_usable_model(planes):
    model = new_model(TINY, seed=0)
    steps_done = []
    run = train(model, planes, quick(steps=50), should_stop=lambda: len(steps_done) >= 2)
    for progress in run:
        steps_done.append(progress.step)
    assert steps_done == [1, 2]
    assert model.history[-1]["ended"] == "stopped" and model.history[-1]["steps"] == 2
    assert predict(model, planes[0].image).shape == (2, 80, 90)


def test_closing_the_generator_stops_and_records_it(planes):
    model = new_model(TINY, seed=0)
    run = train(model, planes, quick(steps=50))
    next(run)
    run.close()
    assert model.history[-1]["ended"] == "stopped" and model.history[-1]["steps"] == 1


def test_time_limit(planes):
    model = new_model(TINY, seed=0)
    progress = list(train(model, planes, quick(steps=10_000, max_seconds=0.0)))
    assert progress == [] and model.history[-1]["ended"] == "time limit"


def test_validation_scores_and_keeps_the_best(planes):
    model = new_model(TINY, seed=0)
    progress = list(train(model, planes[:1], quick(steps=4, validation_every=2), validation=planes[1:]))
    scored = [p for p in progress if p.validation is not None]
    assert [p.step for p in scored] == [0, 2, 4]  # step 0: the model before training
    assert np.isnan(progress[0].loss)
    best = max((p.validation for p in scored), key=lambda s: s.key)
    assert progress[-1].best_validation == best
    assert 0.0 <= best.foreground_iou <= 1.0 and 0.0 <= best.ap50 <= 1.0
    assert model.history[-1]["best_validation"]["ap50"] == best.ap50


def test_fine_tuning_continues_a_saved_model(planes, tmp_path):
    model = new_model(TINY, seed=0)
    list(train(model, planes, quick(steps=2)))
    save_model(model, tmp_path / "m.unet")
    again = load_model(tmp_path / "m.unet")
    list(train(again, planes, quick(steps=2), note={"init": "fine-tuned from m.unet"}))
    assert len(again.history) == 2 and again.history[1]["init"] == "fine-tuned from m.unet"


def test_ignored_pixels_do_not_count(planes):
    plane = planes[0]
    ignore = np.ones(plane.labels.shape, bool)
    ignore[:40, :45] = False  # only the top-left quarter is annotated
    if not plane.labels[:40, :45].any():
        pytest.skip("no cell in the annotated corner for this seed")
    model = new_model(TINY, seed=0)
    progress = list(train(model, [TrainingPlane(plane.image, plane.labels, ignore)], quick(steps=2)))
    assert len(progress) == 2


def test_bad_data_is_refused_before_the_first_step(planes):
    model = new_model(TINY, seed=0)
    image = planes[0].image
    empty = TrainingPlane(image, np.zeros(image.shape[1:], np.uint16), None, "plane 7")
    with pytest.raises(InvalidInputError, match="Plane 7 has no cells"):
        train(model, [empty], quick())
    all_ignored = TrainingPlane(image, planes[0].labels, np.ones(image.shape[1:], bool), "plane 2")
    with pytest.raises(InvalidInputError, match="no cells"):
        train(model, [all_ignored], quick())
    with pytest.raises(InvalidInputError, match="do not match"):
        train(model, [TrainingPlane(image, planes[0].labels[:10])], quick())
    with pytest.raises(InvalidInputError, match="no annotated planes"):
        train(model, [], quick())
    with pytest.raises(ModelFileError, match="2 channel"):
        train(new_model(UNetConfig(in_channels=2, depth=2, base_channels=2)), planes, quick())
    with pytest.raises(InvalidInputError, match="2-class"):
        train(new_model(UNetConfig(n_classes=3, depth=2, base_channels=2)), planes, quick())
    with pytest.raises(InvalidInputError, match="Nearest valid tile sizes"):
        train(model, planes, quick(tile_size=90))
    nan_image = image.astype(np.float32)
    nan_image[0, 0, 0] = np.inf
    with pytest.raises(InvalidInputError, match="infinite"):
        next(iter(train(model, [TrainingPlane(nan_image, planes[0].labels)], quick())))
    with pytest.raises(InvalidInputError, match="optimiser"):
        TrainingConfig(optimizer="rmsprop")


def test_running_out_of_gpu_memory_shrinks_the_batch_then_the_tile_and_goes_on(planes, monkeypatch):
    """The out-of-memory path, exercised on the CPU: torch raises the same error type."""
    import unetgui.core.train as train_module

    real_step = train_module._step
    seen = []  # (batch, tile) of every attempted step

    def step(net, optimizer, tiles, *args):
        seen.append((len(tiles), tiles[0].image.shape[-1]))
        if len(seen) <= 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_step(net, optimizer, tiles, *args)

    monkeypatch.setattr(train_module, "_step", step)
    model = new_model(TINY, seed=0)
    progress = list(train(model, planes, quick(steps=3, batch_size=2, tile_size=92)))
    messages = [p.message for p in progress if p.message]
    assert "batches of 1" in messages[0] and "px tiles" in messages[1]
    assert seen[0] == (2, 92) and seen[1] == (1, 92) and seen[2][0] == 1 and seen[2][1] < 92
    assert [p.step for p in progress if np.isfinite(p.loss)] == [1, 2, 3]
    assert model.history[-1]["ended"] == "finished" and model.history[-1]["tile_size"] == seen[2][1]


def test_out_of_memory_with_the_smallest_tile_is_a_clear_error(planes, monkeypatch):
    import unetgui.core.train as train_module

    def step(*args):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(train_module, "_step", step)
    with pytest.raises(InvalidInputError, match="ran out of memory even with the smallest tile"):
        list(train(new_model(TINY, seed=0), planes, quick(steps=3, tile_size=92)))


def test_edited_planes_are_used_from_the_next_step(planes, monkeypatch):
    """updates() hands in edited labels between steps; the tiles then come from them."""
    import unetgui.core.train as train_module

    real_step = train_module._step
    cell_fraction = []  # of the annotated pixels of each step's target tiles

    def step(net, optimizer, tiles, *args):
        cell_fraction.append(float(np.mean([t.target[t.weights > 0].mean() for t in tiles])))
        return real_step(net, optimizer, tiles, *args)

    monkeypatch.setattr(train_module, "_step", step)
    everything = TrainingPlane(planes[0].image, np.ones_like(planes[0].labels), None, "plane 0, edited")
    no_cells = TrainingPlane(planes[1].image, np.zeros_like(planes[1].labels), None, "plane 1, wiped")
    handed = {3: {0: everything, 1: no_cells}}  # before step 3 (0-based calls)
    calls = []

    def updates():
        calls.append(len(calls))
        return handed.get(len(calls) - 1, {})

    progress = list(train(new_model(TINY, seed=0), planes, quick(steps=8), updates=updates))
    assert len(calls) == 8
    message = progress[3].message
    assert message == ("Training now uses your edits of plane 0, edited. "
                       "It goes on with the earlier labels of plane 1, wiped, as it has no cells left.")
    assert all(p.message is None for i, p in enumerate(progress) if i != 3)
    # from step 4 on, tiles come from plane 0 (all cell) or the unchanged plane 1
    assert max(cell_fraction[:3]) < 0.9 and any(f == 1.0 for f in cell_fraction[3:])


# ------------------------------------------------------------------ never worse off


@pytest.fixture(scope="module")
def crowded():
    rng = np.random.default_rng(5)
    config = SyntheticConfig(shape=(120, 150), n_cells=20, radius_range=(5, 8), noise=0.02)
    image, labels = synthetic_cells(config, rng)
    return TrainingPlane(image[None], labels, None, "plane 3")


@pytest.fixture
def prepared_planes(monkeypatch) -> list:
    """Every plane training prepares (its ignore mask, weights, tile centres), in order."""
    import unetgui.core.train as train_module

    seen = []
    real = train_module._PreparedPlane.__init__

    def spy(self, plane, model, config):
        real(self, plane, model, config)
        seen.append(self)

    monkeypatch.setattr(train_module._PreparedPlane, "__init__", spy)
    return seen


def test_without_validation_planes_a_band_is_held_back_and_never_trained_on(crowded, prepared_planes):
    seen = prepared_planes
    model = new_model(TINY, seed=0)
    progress = list(train(model, [crowded], quick(steps=3, validation_every=1, auto_validation=0.2)))
    (entry,) = model.history
    (held,) = entry["held_back"]
    assert held["plane"] == "plane 3" and held["cells"] >= 1
    assert "Held back" in progress[0].message and "plane 3" in progress[0].message
    assert progress[0].step == 0 and progress[0].validation is not None
    # the band has zero weight and is never a tile centre
    (prepared,) = seen
    assert prepared.ignore.all(axis=0).any() or prepared.ignore.all(axis=1).any()  # a full band
    assert (prepared.weights[prepared.ignore] == 0).all()
    centres = np.unravel_index(prepared.annotated, prepared.ignore.shape)
    assert not prepared.ignore[centres].any()


def test_the_held_back_band_holds_cells_on_both_sides():
    from unetgui.core.holdout import choose_band

    labels = np.zeros((100, 60), np.uint16)
    for i in range(10):  # ten 6 x 6 cells down the long axis
        labels[i * 10 + 2 : i * 10 + 8, 20:26] = i + 1
    rows, cols, n = choose_band(labels, 0.2)
    assert cols == slice(0, 60) and rows.stop - rows.start == 20 and n == 2
    assert choose_band(labels[:30], 0.2) is None  # 3 cells: too few to spare any


def test_a_validation_crop_keeps_the_network_context_and_ignores_all_but_the_band(crowded):
    from unetgui.core.holdout import hold_back

    training, validation, held = hold_back([crowded], context=10, fraction=0.2)
    (band,), (crop,) = held, validation
    assert training[0].ignore[band.rows, band.cols].all()
    assert training[0].ignore.sum() == (band.rows.stop - band.rows.start) * (band.cols.stop - band.cols.start)
    assert crop.image.shape[1:] == crop.labels.shape == crop.ignore.shape
    assert (~crop.ignore).sum() == training[0].ignore.sum()  # exactly the band is scored
    assert crop.labels.size > (~crop.ignore).sum()  # with context around it


def _scripted_validation(monkeypatch, values):
    """``_validate`` returns ``values`` in turn (AP and IoU alike), after really predicting."""
    import unetgui.core.train as train_module

    scores, real_validate = iter(values), train_module._validate

    def scripted(model, planes, layout):
        real_validate(model, planes, layout)
        value = next(scores)
        return train_module.ValidationScore(value, value)

    monkeypatch.setattr(train_module, "_validate", scripted)


def test_a_run_that_only_degrades_stops_and_keeps_the_starting_weights(planes, monkeypatch):
    model = new_model(TINY, seed=0)
    start = {k: v.clone() for k, v in model.net.state_dict().items()}
    # the scores are scripted: the start scores 0.9, every later validation 0.1
    config = quick(steps=40, validation_every=1, learning_rate=50.0, stop_if_worse_after=3)
    _scripted_validation(monkeypatch, [0.9] + [0.1] * 100)
    progress = list(train(model, planes[:1], config, validation=planes[1:]))
    entry = model.history[-1]
    assert entry["ended"] == "no improvement" and entry["steps"] == 3
    assert entry["kept_the_starting_weights"] and entry["validation_before"]["ap50"] == 0.9
    assert progress[-1].best_validation.ap50 == 0.9
    for key, value in model.net.state_dict().items():
        assert torch.equal(value, start[key]), key


def test_a_run_ends_with_its_weights_averaged_with_the_starting_ones(planes):
    model = new_model(TINY, seed=0)
    start = {k: v.clone() for k, v in model.net.state_dict().items()}
    config = quick(steps=3, memory_layout="contiguous")
    own = new_model(TINY, seed=0)
    list(train(own, planes[:1], config))  # the same run, not averaged
    list(train(model, planes[:1], quick(steps=3, memory_layout="contiguous", start_share=0.25)))
    changed = 0
    for key, value in model.net.state_dict().items():
        expected = 0.25 * start[key] + 0.75 * own.net.state_dict()[key]
        torch.testing.assert_close(value, expected, rtol=0, atol=1e-6)
        changed += not torch.equal(value, own.net.state_dict()[key])
    assert changed  # the average is not the run's own weights
    assert model.history[-1]["blended_with_start"] == {"start_share": 0.25, "validation": None}
    assert own.history[-1]["blended_with_start"] is None


def test_averaged_weights_mix_floats_and_keep_the_run_s_counters():
    state = {"w": torch.tensor([1.0, 3.0]), "seen": torch.tensor(7)}
    start = {"w": torch.tensor([5.0, -1.0]), "seen": torch.tensor(2)}
    averaged = averaged_weights(state, start, 0.25)
    torch.testing.assert_close(averaged["w"], torch.tensor([2.0, 2.0]), rtol=0, atol=0)
    assert averaged["seen"].item() == 7 and averaged["seen"].dtype == torch.int64
    assert state["w"].tolist() == [1.0, 3.0]  # the inputs are left alone


@pytest.mark.parametrize("blend_score, kept", [(0.6, False), (0.95, True)])
def test_on_validation_planes_the_user_chose_the_average_must_score_as_well_as_the_run(
        planes, monkeypatch, blend_score, kept):
    model = new_model(TINY, seed=0)
    _scripted_validation(monkeypatch, [0.5, 0.9, 0.8, blend_score])  # start, steps 1-2, the average
    list(train(model, planes[:1], quick(steps=2, validation_every=1, start_share=0.5), validation=planes[1:]))
    entry = model.history[-1]
    assert entry["best_validation"]["ap50"] == 0.9 and not entry["kept_the_starting_weights"]
    if kept:
        assert entry["blended_with_start"] == {"start_share": 0.5,
                                               "validation": {"foreground_iou": 0.95, "ap50": 0.95}}
    else:
        assert entry["blended_with_start"] is None


def test_a_run_judged_on_its_own_held_back_band_keeps_the_average(crowded, monkeypatch):
    model = new_model(TINY, seed=0)
    _scripted_validation(monkeypatch, [0.5, 0.9, 0.8, 0.6])  # the band cannot see other kinds of image
    list(train(model, [crowded], quick(steps=2, validation_every=1, auto_validation=0.2, start_share=0.5)))
    entry = model.history[-1]
    assert entry["held_back"] and entry["blended_with_start"]["validation"]["ap50"] == 0.6


def test_a_run_that_fails_says_so_and_is_not_averaged(planes, monkeypatch):
    import unetgui.core.train as train_module

    model = new_model(TINY, seed=0)
    real_step, calls = train_module._step, []

    def diverging(*args):
        calls.append(1)
        if len(calls) == 3:
            raise InvalidInputError("Training diverged (the loss became infinite or NaN).")
        return real_step(*args)

    monkeypatch.setattr(train_module, "_step", diverging)
    with pytest.raises(InvalidInputError, match="diverged"):
        list(train(model, planes[:1], quick(steps=5, start_share=0.5)))
    entry = model.history[-1]
    assert (entry["ended"], entry["steps"], entry["blended_with_start"]) == ("failed", 2, None)


def test_a_run_that_kept_the_starting_weights_is_not_averaged(planes, monkeypatch):
    model = new_model(TINY, seed=0)
    _scripted_validation(monkeypatch, [0.9, 0.1, 0.2])
    list(train(model, planes[:1], quick(steps=2, validation_every=1, start_share=0.5), validation=planes[1:]))
    entry = model.history[-1]
    assert entry["kept_the_starting_weights"] and entry["blended_with_start"] is None


def test_edits_during_training_keep_the_band_held_back(crowded, prepared_planes):
    model = new_model(TINY, seed=0)
    edited = TrainingPlane(crowded.image, crowded.labels, None, "plane 3")
    sent = []

    def updates():
        if not sent:
            sent.append(True)
            return {0: edited}
        return {}

    list(train(model, [crowded], quick(steps=2, auto_validation=0.2), updates=updates))
    first, after_edit = prepared_planes
    np.testing.assert_array_equal(first.ignore, after_edit.ignore)
    assert after_edit.ignore.any()


# ------------------------------------------------------------------ recipes and schedule


def test_the_learning_rate_warms_up_then_decays_to_its_floor():
    from unetgui.core.train import LR_FLOOR, lr_factor

    config = TrainingConfig(steps=101, warmup_steps=10, lr_decay="cosine")
    factors = [lr_factor(config, step) for step in range(101)]
    assert factors[0] == pytest.approx(0.1, abs=1e-3) and factors[9] > 0.95  # warmed up, barely decayed
    assert factors[-1] == pytest.approx(LR_FLOOR)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert [lr_factor(TrainingConfig(), s) for s in (0, 50, 499)] == [1.0, 1.0, 1.0]


def test_recipes_follow_the_model_and_the_users_choices():
    from unetgui.core import recipes

    starter_like = new_model(TINY, seed=0)
    assert recipes.recipe_for(starter_like) is recipes.SCRATCH
    starter_like.history.append({"ended": "finished"})
    assert recipes.recipe_for(starter_like) is recipes.FINE_TUNE
    sgd = recipes.with_choices(recipes.FINE_TUNE, optimizer="sgd")
    assert sgd.optimizer == "sgd" and sgd.lr == TrainingConfig(optimizer="sgd").lr  # sgd's own default
    assert recipes.with_choices(recipes.FINE_TUNE, learning_rate=5e-4, steps=None).lr == 5e-4
    assert recipes.with_choices(recipes.FINE_TUNE, steps=None).steps == recipes.FINE_TUNE.steps
    assert recipes.FINE_TUNE.start_share == 0.5 and recipes.SCRATCH.start_share == 0  # nothing to keep of a new one
