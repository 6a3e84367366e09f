"""Blockwise prediction equals the in-memory prediction: the mirrored border, the pooling
grid and the normalisation all come out the same block by block."""

import numpy as np
import pytest

from unetgui.core import blocks
from unetgui.core.model import new_model
from unetgui.core.normalize import Normalization
from unetgui.core.predict import predict
from unetgui.core.unet import UNetConfig, input_step


@pytest.fixture(scope="module")
def small_model():
    return new_model(UNetConfig(base_channels=4, depth=2), seed=3)


def reader_of(image):
    return lambda r0, r1, c0, c1: image[:, r0:r1, c0:c1]


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("length", [1, 2, 3, 8])
@pytest.mark.parametrize("pad", [0, 1, 7, 30])
def test_mirror_index_is_numpy_pads_reflection_however_wide(symmetric, length, pad):
    axis = np.arange(length)
    expected = np.pad(axis, pad, mode="symmetric" if symmetric else "reflect")
    assert np.array_equal(axis[blocks.mirror_index(np.arange(-pad, length + pad), length, symmetric=symmetric)],
                          expected)


def test_blocks_are_whole_tile_strides_on_the_pooling_grid(small_model):
    grid = blocks.plan_blocks(small_model.config, (1000, 700), tile_size=92, block_px=250)
    side = grid.block_shape[0]
    assert side % input_step(small_model.config) == 0 and side >= 250 * 0.75
    covered = np.zeros((1000, 700), int)
    for block in grid:
        assert block.rows[0] % side == 0 and block.cols[0] % side == 0
        covered[block.slices] += 1
    assert (covered == 1).all()
    last = grid.block(len(grid) - 1)
    assert grid.neighbour(last, 0, 1) is None and grid.neighbour(last, -1, -1) is not None


@pytest.mark.parametrize("shape,block_px", [((300, 517), 100), ((97, 130), 40), ((64, 64), 500), ((1, 90), 40)])
def test_blockwise_probabilities_equal_the_whole_plane(small_model, shape, block_px):
    image = np.random.default_rng(sum(shape)).integers(0, 4000, (1, *shape)).astype(np.uint16)
    expected = predict(small_model, image, tile_size=92)
    grid = blocks.plan_blocks(small_model.config, shape, tile_size=92, block_px=block_px)
    limits = blocks.plane_limits(small_model, reader_of(image), grid)
    result = np.full_like(expected, np.nan)
    for block in grid:
        result[(slice(None), *block.slices)] = blocks.predict_block(small_model, reader_of(image), grid, block, limits)
    assert np.allclose(result, expected, atol=1e-5, rtol=0)


def test_the_plane_normalisation_is_sampled_identically_block_by_block(small_model):
    # 1100 x 999 px is over 4 x 262144: the whole-plane rule samples every 4th pixel, in
    # row-major order, across row ends
    image = np.random.default_rng(1).gamma(2.0, 300.0, (2, 1100, 999)).astype(np.float32)
    grid = blocks.plan_blocks(small_model.config, image.shape[1:], tile_size=92, block_px=300)
    model = new_model(UNetConfig(in_channels=2, base_channels=4, depth=2), Normalization(2.0, 99.0), seed=1)
    assert np.array_equal(blocks.plane_limits(model, reader_of(image), grid), model.normalization.limits(image))


def test_a_window_reaching_past_the_plane_reads_only_the_part_it_mirrors():
    image = np.arange(2 * 50 * 60).reshape(2, 50, 60)
    asked = []

    def read(r0, r1, c0, c1):
        asked.append((r0, r1, c0, c1))
        return image[:, r0:r1, c0:c1]

    window = blocks.read_window(read, (50, 60), (-5, 20), (40, 70))
    expected = np.pad(image, ((0, 0), (5, 0), (0, 10)), mode="reflect")[:, 0:25, 40:70]
    assert np.array_equal(window, expected)
    assert asked == [(0, 20, 40, 60)]
