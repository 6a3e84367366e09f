"""Synthetic cells: invariants on generated data with fixed seeds."""

import time

import numpy as np
import pytest
from scipy import ndimage

from unetgui.core.errors import InvalidInputError
from unetgui.core.synthetic import SyntheticConfig, synthetic_cells, synthetic_stack


def touching_pairs(labels, offsets=((0, 1), (1, 0))):
    """Set of (a, b), a < b, of different cells adjacent along the given offsets."""
    pairs = set()
    for dy, dx in offsets:
        rows, cols = labels.shape
        a = labels[: rows - dy, max(-dx, 0) : cols - max(dx, 0)]
        b = labels[dy:, max(dx, 0) : cols + min(dx, 0) or None]
        hit = (a > 0) & (b > 0) & (a != b)
        pairs |= {(min(p, q), max(p, q)) for p, q in zip(a[hit].tolist(), b[hit].tolist())}
    return pairs


def test_same_seed_same_result_other_seed_differs():
    config = SyntheticConfig(shape=(96, 96), n_cells=10)
    image, labels = synthetic_cells(config, np.random.default_rng(5))
    again = synthetic_cells(config, np.random.default_rng(5))
    other = synthetic_cells(config, np.random.default_rng(6))
    assert np.array_equal(image, again[0]) and np.array_equal(labels, again[1])
    assert not np.array_equal(labels, other[1])


def test_labels_are_consecutive_int32_and_each_cell_is_one_piece():
    config = SyntheticConfig(shape=(200, 160), n_cells=40)
    image, labels = synthetic_cells(config, np.random.default_rng(0))
    assert image.shape == labels.shape == (200, 160)
    assert labels.dtype == np.int32
    n = labels.max()
    assert 0.8 * config.n_cells <= n <= config.n_cells
    assert np.array_equal(np.unique(labels), np.arange(n + 1))
    pieces = [ndimage.label(labels == k)[1] for k in range(1, n + 1)]
    assert pieces == [1] * n


def test_touching_cells_share_a_boundary():
    config = SyntheticConfig(shape=(128, 128), n_cells=20, touching=0.6)
    _, labels = synthetic_cells(config, np.random.default_rng(1))
    assert len(touching_pairs(labels)) >= 5  # 4-adjacent pixels of two different cells


def test_no_touching_means_no_contact_even_diagonally():
    config = SyntheticConfig(shape=(128, 128), n_cells=20, touching=0.0)
    _, labels = synthetic_cells(config, np.random.default_rng(1))
    assert labels.max() >= 15
    assert not touching_pairs(labels, ((0, 1), (1, 0), (1, 1), (1, -1)))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_dtype_range_and_cells_brighter_than_background(dtype):
    config = SyntheticConfig(shape=(128, 128), n_cells=20, dtype=dtype)
    image, labels = synthetic_cells(config, np.random.default_rng(2))
    assert image.dtype == np.dtype(dtype)
    assert image[labels > 0].mean() > 3 * image[labels == 0].mean()
    if dtype != "float32":
        top = np.iinfo(dtype).max
        assert image.max() > 0.5 * top  # the range is used ...
        assert np.count_nonzero(image == top) <= 0.001 * image.size  # ... not saturated


def test_no_cells_gives_background_only():
    config = SyntheticConfig(shape=(32, 32), n_cells=0, dtype="float32")
    image, labels = synthetic_cells(config, np.random.default_rng(3))
    assert not labels.any()
    assert abs(image.mean() - config.background) < 0.02


def test_stack_has_independent_planes():
    config = SyntheticConfig(shape=(48, 64), n_cells=5, dtype="uint8")
    image, labels = synthetic_stack(3, config, np.random.default_rng(4))
    assert image.shape == labels.shape == (3, 48, 64)
    assert image.dtype == np.uint8 and labels.dtype == np.int32
    assert all(plane.max() >= 1 for plane in labels)
    assert not np.array_equal(labels[0], labels[1])
    with pytest.raises(InvalidInputError):
        synthetic_stack(0, config, np.random.default_rng(4))


@pytest.mark.parametrize(
    "bad",
    [
        {"shape": (0, 10)},
        {"radius_range": (5.0, 2.0)},
        {"touching": 1.5},
        {"noise": -0.1},
        {"dtype": "int8"},
    ],
)
def test_bad_config_is_an_error(bad):
    with pytest.raises(InvalidInputError):
        SyntheticConfig(**bad)


def test_large_image_is_fast():
    config = SyntheticConfig(shape=(512, 512), n_cells=80)
    synthetic_cells(config, np.random.default_rng(0))  # warm-up
    start = time.perf_counter()
    _, labels = synthetic_cells(config, np.random.default_rng(1))
    elapsed = time.perf_counter() - start
    assert labels.max() >= 70
    assert elapsed < 1.0  # ~0.05 s on one core; generous for a shared machine
