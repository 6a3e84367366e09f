"""The U-Net's shape arithmetic and architecture against the paper's numbers."""

import math

import pytest
import torch

from unetgui.core.errors import InvalidInputError
from unetgui.core.unet import (
    UNet,
    UNetConfig,
    input_size_for_output,
    margin,
    min_input_size,
    nearest_valid_input_sizes,
    output_size,
    parameter_count,
    valid_input_sizes,
)


def test_paper_network_sizes():
    config = UNetConfig()
    assert output_size(config, 572) == 388
    assert margin(config) == 92
    assert 572 in valid_input_sizes(config, 500, 600)
    # 23 convolutional layers: 18 valid 3x3, 4 up-convolutions, one 1x1
    net = UNet(config)
    convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert len(convs) == 23
    assert abs(parameter_count(net) - 31.03e6) < 0.01e6


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_every_listed_size_runs_and_gives_the_predicted_output(depth):
    config = UNetConfig(depth=depth, base_channels=2, dropout=0.0)
    net = UNet(config).eval()
    for size in valid_input_sizes(config, 1, min_input_size(config) + 3 * 2**depth):
        with torch.inference_mode():
            out = net(torch.zeros(1, 1, size, size + 2**depth))
        assert out.shape == (1, 2, output_size(config, size), output_size(config, size + 2**depth))
        assert size - out.shape[-2] == 2 * margin(config)


def test_invalid_size_names_the_nearest_valid_ones():
    config = UNetConfig()
    with pytest.raises(InvalidInputError, match="556, 572"):
        output_size(config, 570)
    assert nearest_valid_input_sizes(config, 572) == [572]
    assert nearest_valid_input_sizes(config, 10) == [188]


def test_input_size_for_output_covers_it_minimally():
    config = UNetConfig(depth=3)
    for wanted in (1, 50, 97, 300):
        size = input_size_for_output(config, wanted)
        assert output_size(config, size) >= wanted
        assert size == min_input_size(config) or output_size(config, size - 8) < wanted


def test_configurable_width_channels_classes_and_batch_norm():
    config = UNetConfig(in_channels=3, n_classes=4, depth=2, base_channels=8, batch_norm=True)
    net = UNet(config).eval()
    out = net(torch.zeros(2, 3, 60, 60))
    assert out.shape == (2, 4, 20, 20)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert UNetConfig.from_dict(config.to_dict()) == config


def test_he_initialisation_std():
    torch.manual_seed(0)
    net = UNet(UNetConfig(base_channels=16))
    conv = net.down[1][0]  # 16 -> 32 channels, 3x3
    expected = math.sqrt(2.0 / (16 * 9))
    assert conv.weight.std().item() == pytest.approx(expected, rel=0.05)
    assert torch.all(conv.bias == 0)


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    net = UNet(UNetConfig(depth=2, base_channels=4, dropout=0.5))
    x = torch.randn(1, 1, 60, 60)
    net.eval()
    assert torch.equal(net(x), net(x))
    net.train()
    assert not torch.equal(net(x), net(x))


@pytest.mark.parametrize(
    "values", [{"depth": 0}, {"n_classes": 1}, {"base_channels": 0}, {"dropout": 1.0}, {"in_channels": 0}]
)
def test_bad_config_is_refused(values):
    with pytest.raises(InvalidInputError):
        UNetConfig(**values)


def test_unknown_config_key_is_refused():
    with pytest.raises(InvalidInputError, match="wings"):
        UNetConfig.from_dict({"wings": 2})
