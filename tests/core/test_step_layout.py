"""The memory layout of training steps: timed without side effects, used throughout a run."""

import dataclasses

import numpy as np
import pytest
import torch

import unetgui.core.step_layout as step_layout
import unetgui.core.train as train_module
from unetgui.core.augment import AugmentConfig
from unetgui.core.errors import InvalidInputError
from unetgui.core.model import new_model
from unetgui.core.synthetic import SyntheticConfig, synthetic_cells
from unetgui.core.train import TrainingConfig, TrainingPlane, train
from unetgui.core.unet import UNetConfig

NET = UNetConfig(depth=2, base_channels=4, batch_norm=True, dropout=0.3)
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def fresh_choices(monkeypatch):
    monkeypatch.setattr(step_layout, "_chosen", {})


@pytest.fixture(scope="module")
def planes():
    rng = np.random.default_rng(0)
    config = SyntheticConfig(shape=(80, 90), n_cells=8, radius_range=(5, 9), noise=0.02)
    return [TrainingPlane(image[None], labels, name=f"plane {i}")
            for i, (image, labels) in enumerate(synthetic_cells(config, rng) for _ in range(2))]


def quick(**overrides):
    values = dict(steps=4, tile_size=92, learning_rate=1e-2, augment=AugmentConfig.off(), seed=3,
                  auto_validation=0.0)
    values.update(overrides)
    return TrainingConfig(**values)


def test_timing_the_layouts_changes_nothing_of_the_network_or_the_random_streams():
    net = new_model(NET, seed=0).net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}  # weights and batch-norm statistics
    rng_before = torch.get_rng_state()
    chosen = step_layout.training_memory_format(net, 92, 1, CPU)
    assert chosen in (torch.channels_last, torch.contiguous_format)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())
    assert torch.equal(torch.get_rng_state(), rng_before)


def test_the_faster_layout_is_chosen_once_per_network_and_tile(monkeypatch):
    calls = []

    def timings(net, in_size, batch_size, should_stop=None):
        calls.append(in_size)
        return {torch.channels_last: 2.0, torch.contiguous_format: 1.0}

    monkeypatch.setattr(step_layout, "step_seconds", timings)
    net = new_model(NET, seed=0).net
    assert step_layout.training_memory_format(net, 92, 1, CPU) == torch.contiguous_format
    assert step_layout.training_memory_format(net, 92, 1, CPU) == torch.contiguous_format
    assert calls == [92]
    step_layout.training_memory_format(net, 124, 1, CPU)
    assert calls == [92, 124]


def test_a_stop_during_the_timing_ends_it_at_once_and_caches_nothing():
    asked = []

    def stop():
        asked.append(True)
        return True

    net = new_model(NET, seed=0).net
    assert step_layout.training_memory_format(net, 92, 1, CPU, should_stop=stop) == torch.channels_last
    assert asked == [True] and step_layout._chosen == {}


def test_a_layout_asked_for_is_used_without_timing(monkeypatch):
    monkeypatch.setattr(step_layout, "step_seconds", lambda *a: pytest.fail("timed although a layout was given"))
    net = new_model(NET, seed=0).net
    assert step_layout.training_memory_format(net, 92, 1, CPU, "contiguous") == torch.contiguous_format
    assert step_layout.training_memory_format(net, 92, 1, CPU, "channels_last") == torch.channels_last
    with pytest.raises(InvalidInputError, match="memory layout"):
        TrainingConfig(memory_layout="nhwc")


def test_the_layout_names_agree_in_the_config_the_core_and_the_command_line():
    from unetgui.cli import _parser
    from unetgui.core.configs import MEMORY_LAYOUTS

    assert ("auto", *step_layout.LAYOUTS) == MEMORY_LAYOUTS
    train_parser = _parser()._subparsers._group_actions[0].choices["train"]
    (option,) = [a for a in train_parser._actions if "--memory-layout" in a.option_strings]
    assert tuple(option.choices) == MEMORY_LAYOUTS


@pytest.mark.parametrize("layout", ["channels_last", "contiguous"])
def test_every_step_runs_in_the_chosen_layout_also_after_validation(planes, monkeypatch, layout):
    fmt = step_layout.LAYOUTS[layout]
    seen = []
    real_step = train_module._step

    def spy(net, optimizer, tiles, device, amp_dtype, scaler, used):
        weight = net.down[1][0].weight  # (8, 4, 3, 3): the layouts differ
        seen.append((used == fmt, weight.is_contiguous(memory_format=fmt)))
        return real_step(net, optimizer, tiles, device, amp_dtype, scaler, used)

    monkeypatch.setattr(train_module, "_step", spy)
    model = new_model(NET, seed=0)
    list(train(model, planes[:1], quick(steps=5, validation_every=2, memory_layout=layout), validation=planes[1:]))
    assert seen == [(True, True)] * 5  # validation predicts channels-last; training turns it back
    assert model.history[-1]["memory_layout"] == layout


def test_both_layouts_train_the_same_network(planes):
    runs = {}
    # no dropout: its masks follow memory order; SGD: Adam turns rounding-sized gradients into whole steps
    for layout in ("channels_last", "contiguous"):
        model = new_model(dataclasses.replace(NET, dropout=0.0), seed=0)
        losses = [p.loss for p in train(model, planes, quick(memory_layout=layout, optimizer="sgd"))]
        runs[layout] = (losses, [p.detach().clone() for p in model.net.parameters()])
    (losses_a, weights_a), (losses_b, weights_b) = runs.values()
    np.testing.assert_allclose(losses_a, losses_b, rtol=1e-4)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(weights_a, weights_b))
