"""Synthetic cells: invariants on generated data with fixed seeds."""

import time

import numpy as np
import pytest
from scipy import ndimage

from unetgui.core.errors import InvalidInputError
from unetgui.core.synthetic import (
    SyntheticConfig,
    SyntheticDomain,
    domain_images,
    place_cells,
    synthetic_cells,
    synthetic_stack,
)

# Every realistic effect switched on, strongly enough to see it.
REALISTIC = dict(
    irregularity=0.06, max_aspect=1.6, brightness_range=(0.3, 1.0), edge_darkening=0.6,
    chromatin=0.4, nucleoli=0.8, dividing=0.1, gradient=0.1, autofluorescence=0.08,
    vignetting=0.3, read_noise=0.01, texture_scale=3.0, cytoplasm=0.3,
)


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
        {"edge_darkening": 1.5},
        {"nucleoli": -0.1},
        {"brightness_range": (0.0, 1.0)},
        {"max_aspect": 0.5},
        {"white": 0.0},
        {"white": 2.5},
        {"cytoplasm": 1.2},
        {"irregularity": 0.5},
        {"autofluorescence": float("nan")},
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


# --------------------------------------------------------------------------- realism


def test_effects_change_the_image_not_the_labels():
    """Placement comes first from the same random stream: rendering never moves a cell."""
    plain = SyntheticConfig(shape=(128, 128), n_cells=20, dtype="float32")
    rich = SyntheticConfig(shape=(128, 128), n_cells=20, dtype="float32", **{
        k: v for k, v in REALISTIC.items() if k not in ("irregularity", "max_aspect")})
    image, labels = synthetic_cells(plain, np.random.default_rng(7))
    image2, labels2 = synthetic_cells(rich, np.random.default_rng(7))
    assert np.array_equal(labels, labels2)
    assert not np.allclose(image, image2)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_realistic_cells_are_brighter_than_their_surroundings(dtype):
    config = SyntheticConfig(shape=(192, 192), n_cells=30, radius_range=(6, 14), dtype=dtype, **REALISTIC)
    image, labels = synthetic_cells(config, np.random.default_rng(2))
    assert image.dtype == np.dtype(dtype)
    near = ndimage.binary_dilation(labels > 0, iterations=6) & (labels == 0)
    assert image[labels > 0].mean() > 1.5 * image[near].mean()
    if dtype != "float32":
        assert np.count_nonzero(image == np.iinfo(dtype).max) <= 0.002 * image.size


def test_dome_profile_makes_rims_dimmer_than_centres():
    config = SyntheticConfig(shape=(128, 128), n_cells=10, radius_range=(10, 14), touching=0.0,
                             edge_darkening=0.8, texture=0.0, blur_sigma=0, noise=0, dtype="float32")
    image, labels = synthetic_cells(config, np.random.default_rng(3))
    rim = (labels > 0) & ~ndimage.binary_erosion(labels > 0)
    core = ndimage.binary_erosion(labels > 0, iterations=6)
    assert image[rim].mean() < 0.75 * image[core].mean()


def test_nucleoli_are_dim_spots_inside_cells():
    base = dict(shape=(128, 128), n_cells=8, radius_range=(12, 16), touching=0.0, texture=0.0,
                brightness_range=(1.0, 1.0), blur_sigma=0, noise=0, dtype="float32")
    flat, labels = synthetic_cells(SyntheticConfig(**base), np.random.default_rng(4))
    spotted, _ = synthetic_cells(SyntheticConfig(**base, nucleoli=1.0), np.random.default_rng(4))
    inside = labels > 0
    assert np.ptp(flat[inside]) < 1e-6  # flat cells of brightness 1
    assert spotted[inside].min() < 0.8 * flat[inside].min()
    assert np.all(spotted <= flat + 1e-6)  # nucleoli only dim
    assert np.array_equal(spotted[~inside], flat[~inside])


def test_dividing_cells_are_brighter():
    base = dict(shape=(160, 160), n_cells=25, radius_range=(6, 10), noise=0, dtype="float32")
    calm, labels = synthetic_cells(SyntheticConfig(**base), np.random.default_rng(5))
    mitosis, _ = synthetic_cells(SyntheticConfig(**base, dividing=1.0), np.random.default_rng(5))
    assert mitosis[labels > 0].mean() > 1.4 * calm[labels > 0].mean()


def test_gradient_and_vignetting_make_the_background_uneven():
    base = dict(shape=(128, 128), n_cells=0, noise=0, blur_sigma=0, dtype="float32")
    even, _ = synthetic_cells(SyntheticConfig(**base), np.random.default_rng(6))
    assert np.ptp(even) < 1e-6
    for effect in ({"gradient": 0.2}, {"vignetting": 0.5}, {"autofluorescence": 0.1}):
        uneven, _ = synthetic_cells(SyntheticConfig(**base, **effect), np.random.default_rng(6))
        assert np.ptp(uneven) > 0.03, effect


def test_white_sets_the_used_integer_range():
    config = SyntheticConfig(shape=(96, 96), n_cells=10, white=0.0625, **{"dtype": "uint16"})
    image, _ = synthetic_cells(config, np.random.default_rng(8))
    assert 0.03 * 65535 < image.max() < 0.1 * 65535  # like a 12-bit camera


def test_cytoplasm_is_a_dim_unlabelled_glow_next_to_cells():
    base = dict(shape=(160, 160), n_cells=6, radius_range=(10, 14), touching=0.0, texture=0.0,
                blur_sigma=0, noise=0, background=0.0, dtype="float32")
    bare, labels = synthetic_cells(SyntheticConfig(**base), np.random.default_rng(11))
    glow, _ = synthetic_cells(SyntheticConfig(**base, cytoplasm=0.4), np.random.default_rng(11))
    inside, ring = labels > 0, ndimage.binary_dilation(labels > 0, iterations=3) & (labels == 0)
    far = ~ndimage.binary_dilation(labels > 0, iterations=40)
    assert np.array_equal(glow[inside], bare[inside])
    assert np.all(bare[ring] == 0) and glow[ring].mean() > 0.1
    assert glow[ring].max() <= 0.4 * 1.0 + 1e-6  # never as bright as the nucleus's rim
    if far.any():
        assert np.all(glow[far] == 0)


def test_white_above_one_over_exposes_the_brightest_cells():
    config = SyntheticConfig(shape=(128, 128), n_cells=20, dtype="uint8", white=1.6)
    image, labels = synthetic_cells(config, np.random.default_rng(12))
    saturated = image == 255
    assert saturated.mean() > 0.02
    assert np.all(labels[saturated] > 0) or saturated[labels == 0].mean() < 0.01


def test_max_aspect_keeps_sizes_in_range_and_elongation_bounded():
    config = SyntheticConfig(shape=(256, 256), n_cells=40, radius_range=(6, 12), max_aspect=1.5,
                             touching=0.0, irregularity=0.0)
    labels = place_cells(config, np.random.default_rng(9))
    areas = np.bincount(labels.ravel())[1:]
    radii = np.sqrt(areas / np.pi)
    assert radii.min() > 5 and radii.max() < 13


def test_domain_draws_valid_varied_configs_reproducibly():
    domain = SyntheticDomain()
    configs = [domain.draw(np.random.default_rng([1, k])) for k in range(40)]
    again = [domain.draw(np.random.default_rng([1, k])) for k in range(40)]
    assert configs == again
    assert {c.dtype for c in configs} == {"uint8", "uint16", "float32"}
    diameters = [sum(c.radius_range) for c in configs]
    assert min(diameters) < 20 and max(diameters) > 45
    assert all(min(c.shape) >= 256 and max(c.shape) <= 448 for c in configs)


def test_domain_images_depend_on_their_own_seed_only():
    domain = SyntheticDomain(side=(128, 160), diameter=(10, 20))
    both = domain_images(domain, [[1, 0], [1, 1]])
    second = domain_images(domain, [[1, 1]])
    assert np.array_equal(both[1][0], second[0][0]) and np.array_equal(both[1][1], second[0][1])
    assert both[0][0].shape != both[1][0].shape or not np.array_equal(both[0][1], both[1][1])
    image, labels, config = domain_images(domain, [[2, 0]], with_configs=True)[0]
    assert image.shape == labels.shape == config.shape and labels.max() >= 1


def test_bad_domain_is_an_error():
    with pytest.raises(InvalidInputError):
        SyntheticDomain(coverage=(0.5, 0.1))
    with pytest.raises(InvalidInputError):
        SyntheticDomain(dtypes=("int8",))


def test_crowded_realistic_large_image_is_fast():
    config = SyntheticConfig(shape=(1024, 1024), n_cells=600, radius_range=(8, 14), touching=0.7,
                             **REALISTIC)
    synthetic_cells(SyntheticConfig(shape=(64, 64), n_cells=3, **REALISTIC), np.random.default_rng(0))
    start = time.perf_counter()
    _, labels = synthetic_cells(config, np.random.default_rng(1))
    elapsed = time.perf_counter() - start
    assert labels.max() >= 400
    assert elapsed < 5.0  # ~1 s on one core; generous for a shared machine
