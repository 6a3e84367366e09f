"""Tests for unetgui.core.augment: crops, conventions, consistency of the deformation."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from unetgui.core import augment
from unetgui.core.augment import (
    AugmentConfig,
    TileTransform,
    apply_transform,
    draw_transform,
    elastic_displacement,
    gray_value_transform,
    sample_tile,
)
from unetgui.core.errors import InvalidInputError

FULL = AugmentConfig()
OFF = AugmentConfig.off()


def random_plane(seed=0, shape=(40, 50), channels=2, classes=(0, 1, 3)):
    """Random image, target, weights and ignore mask of one plane."""
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(channels, *shape)).astype(np.float32)
    target = rng.choice(np.array(classes, dtype=np.uint8), size=shape)
    weights = rng.uniform(0.5, 3.0, size=shape).astype(np.float32)
    ignore = rng.random(shape) < 0.2
    return image, target, weights, ignore


def smooth_plane(seed=0, shape=(160, 170), blob=8.0):
    """Smooth image in [0, 1] with blobs; target, ignore = thresholds of it; weights = it."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=shape), blob, mode="reflect")
    field = (field - field.min()) / (field.max() - field.min())
    target = (field > 0.5).astype(np.uint8)
    ignore = field > 0.7
    return field[None].astype(np.float32), target, field.astype(np.float32), ignore


def crop(a, r, c, n):
    return a[..., r : r + n, c : c + n]


def test_identity_is_exact_crop():
    image, target, weights, ignore = random_plane()
    tile = sample_tile(
        image, target, weights, ignore,
        center=(20, 25), in_size=24, out_size=8, config=OFF, rng=np.random.default_rng(1),
    )
    # output rows [16, 24), input rows [8, 32); columns [21, 29) and [13, 37)
    np.testing.assert_array_equal(tile.image, image[:, 8:32, 13:37])
    np.testing.assert_array_equal(tile.target, target[16:24, 21:29])
    np.testing.assert_array_equal(tile.ignore, ignore[16:24, 21:29])
    np.testing.assert_array_equal(
        tile.weights, np.where(ignore, 0, weights)[16:24, 21:29]
    )
    assert tile.image.dtype == np.float32 and tile.image.shape == (2, 24, 24)
    assert tile.target.dtype == np.int64 and tile.target.shape == (8, 8)
    assert tile.weights.dtype == np.float32 and tile.ignore.dtype == bool


@pytest.mark.parametrize(
    "center, out_size, r0, c0",
    [((20.5, 25.4), 8, 17, 21), ((20.0, 25.0), 5, 18, 23), ((0.0, 50.0), 4, -2, 48)],
)
def test_centre_convention(center, out_size, r0, c0):
    """r0 = floor(center_row - out_size / 2 + 0.5)."""
    image, target, weights, ignore = random_plane()
    tile = sample_tile(
        image, target, weights, None,
        center=center, in_size=out_size + 4, out_size=out_size, config=OFF,
        rng=np.random.default_rng(0),
    )
    padded = np.pad(target, 10, mode="reflect")
    np.testing.assert_array_equal(tile.target, crop(padded, r0 + 10, c0 + 10, out_size))


def test_identity_through_the_grid_matches_the_crop():
    """The warping path with the identity transform reproduces the crop (align_corners).

    Not bit-exact: grid_sample's float32 normalised coordinates carry ~1e-7 x crop size
    px of rounding; a half-pixel convention error would show as differences of ~0.5.
    """
    image, target, weights, ignore = random_plane(channels=3)
    args = augment._check_inputs(image, target, weights, ignore, (20, 25), 24, 8)
    tile = augment._warp(*args, TileTransform())
    np.testing.assert_allclose(tile.image, image[:, 8:32, 13:37], atol=1e-4, rtol=0)
    np.testing.assert_array_equal(tile.target, target[16:24, 21:29])
    np.testing.assert_array_equal(tile.ignore, ignore[16:24, 21:29])
    np.testing.assert_allclose(tile.weights, np.where(ignore, 0, weights)[16:24, 21:29], atol=1e-5)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotation_by_quarter_turns_is_rot90(k):
    image, target, weights, ignore = random_plane(seed=k)
    tile = apply_transform(
        image, target, weights, ignore,
        center=(20, 25), in_size=24, out_size=8, transform=TileTransform(angle=90.0 * k),
    )
    np.testing.assert_array_equal(tile.target, np.rot90(target[16:24, 21:29], k))
    np.testing.assert_array_equal(tile.ignore, np.rot90(ignore[16:24, 21:29], k))
    np.testing.assert_allclose(
        tile.image, np.rot90(image[:, 8:32, 13:37], k, axes=(1, 2)), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("flip_rows, flip_cols", [(True, False), (False, True), (True, True)])
def test_flips_match_numpy_flips(flip_rows, flip_cols):
    image, target, weights, ignore = random_plane()
    tile = apply_transform(
        image, target, weights, ignore,
        center=(20, 25), in_size=24, out_size=8,
        transform=TileTransform(flip_rows=flip_rows, flip_cols=flip_cols),
    )
    axes = tuple(a for a, f in ((0, flip_rows), (1, flip_cols)) if f)
    np.testing.assert_array_equal(tile.target, np.flip(target[16:24, 21:29], axes))
    np.testing.assert_allclose(
        tile.image, np.flip(image[:, 8:32, 13:37], tuple(a + 1 for a in axes)), atol=1e-4, rtol=0
    )
    np.testing.assert_allclose(
        tile.weights, np.flip(np.where(ignore, 0, weights)[16:24, 21:29], axes), atol=1e-5
    )


def test_near_border_mirrors_the_plane():
    """Tiles reaching out of the plane (here by more than the plane's size) are mirrored."""
    image, target, weights, ignore = random_plane(shape=(30, 40))
    tile = sample_tile(
        image, target, weights, ignore,
        center=(1, 2), in_size=92, out_size=12, config=OFF, rng=np.random.default_rng(0),
    )
    pad = 100
    img_p = np.pad(image, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
    # output rows [-5, 7), cols [-4, 8); input rows [-45, 47), cols [-44, 48)
    np.testing.assert_array_equal(tile.image, crop(img_p, pad - 45, pad - 44, 92))
    np.testing.assert_array_equal(
        tile.target, crop(np.pad(target, pad, mode="reflect"), pad - 5, pad - 4, 12)
    )
    # the same through the grid: flipped mirrored crop
    tile = apply_transform(
        image, target, weights, ignore,
        center=(1, 2), in_size=92, out_size=12, transform=TileTransform(flip_cols=True),
    )
    np.testing.assert_allclose(
        tile.image, crop(img_p, pad - 45, pad - 44, 92)[..., ::-1], atol=1e-4, rtol=0
    )


def test_near_border_full_augmentation_is_finite_and_valid():
    image, target, weights, ignore = random_plane(shape=(30, 40))
    for seed in range(5):
        tile = sample_tile(
            image, target, weights, ignore,
            center=(0.5, 39.0), in_size=60, out_size=20, config=FULL.scaled(2),
            rng=np.random.default_rng(seed),
        )
        assert tile.image.shape == (2, 60, 60) and tile.target.shape == (20, 20)
        assert np.isfinite(tile.image).all() and np.isfinite(tile.weights).all()
        assert np.isin(tile.target, [0, 1, 3]).all()
        assert tile.weights.min() >= 0 and tile.weights.max() <= 3.0


def test_same_seed_same_tile_other_seed_other_tile():
    image, target, weights, ignore = random_plane(shape=(80, 90))
    config = AugmentConfig(noise_std=0.1)

    def tile(seed):
        return sample_tile(
            image, target, weights, ignore,
            center=(40, 45), in_size=60, out_size=20, config=config,
            rng=np.random.default_rng(seed),
        )

    a, b, c = tile(7), tile(7), tile(8)
    for name in ("image", "target", "weights", "ignore"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.image, c.image)


def test_label_image_and_weights_deform_consistently():
    """Thresholding the deformed image gives the deformed target (same transform)."""
    image, target, weights, ignore = smooth_plane()
    config = AugmentConfig(gray=False, elastic_sigma=10.0)
    agree, agree_wrong = [], []
    for seed in range(6):
        kwargs = dict(center=(80, 85), in_size=92, out_size=52, config=config)
        tile = sample_tile(image, target, weights, ignore, rng=np.random.default_rng(seed), **kwargs)
        other = sample_tile(image, target, weights, ignore, rng=np.random.default_rng(seed + 100), **kwargs)
        inner = tile.image[0, 20:72, 20:72]
        agree.append(np.mean((inner > 0.5) == tile.target))
        agree_wrong.append(np.mean((inner > 0.5) == other.target))
        assert np.mean(tile.ignore == (inner > 0.7)) >= 0.97
        free = ~tile.ignore
        np.testing.assert_allclose(tile.weights[free], inner[free], atol=0.02)
        assert (tile.weights[tile.ignore] == 0).all()
    assert min(agree) >= 0.97, agree
    assert np.mean(agree_wrong) < 0.9, agree_wrong  # the check has teeth


def test_weights_are_zero_where_ignored_and_ignore_none():
    image, target, weights, ignore = random_plane(shape=(60, 60))
    rng = np.random.default_rng(3)
    tile = sample_tile(
        image, target, weights, ignore,
        center=(30, 30), in_size=40, out_size=20, config=FULL, rng=rng,
    )
    assert tile.ignore.any()
    assert (tile.weights[tile.ignore] == 0).all()
    assert (tile.weights[~tile.ignore] > 0).all()
    tile = sample_tile(
        image, target, weights, None,
        center=(30, 30), in_size=40, out_size=20, config=FULL, rng=rng,
    )
    assert not tile.ignore.any() and (tile.weights > 0).all()


def test_inputs_are_not_mutated_and_outputs_are_new():
    image, target, weights, ignore = random_plane()
    copies = [a.copy() for a in (image, target, weights, ignore)]
    for config in (OFF, FULL, AugmentConfig(noise_std=0.5)):
        tile = sample_tile(
            image, target, weights, ignore,
            center=(20, 25), in_size=24, out_size=8, config=config, rng=np.random.default_rng(0),
        )
        for out in (tile.image, tile.target, tile.weights, tile.ignore):
            out[...] = 0  # writable and owned
            for a in (image, target, weights, ignore):
                assert not np.shares_memory(out, a)
    for a, b in zip((image, target, weights, ignore), copies):
        np.testing.assert_array_equal(a, b)


def test_read_only_and_other_dtypes_are_accepted():
    image, target, weights, ignore = random_plane()
    image = image.astype(">f8")
    for a in (image, target, weights, ignore):
        a.flags.writeable = False
    tile = sample_tile(
        image, target.astype(np.int32), weights, ignore,
        center=(20, 25), in_size=24, out_size=8, config=FULL, rng=np.random.default_rng(0),
    )
    assert tile.image.dtype == np.float32 and np.isin(tile.target, [0, 1, 3]).all()


def test_target_values_stay_in_the_original_set():
    image, target, weights, ignore = random_plane(shape=(64, 64), classes=(0, 2, 5, 7))
    for seed in range(4):
        tile = sample_tile(
            image, target, weights, ignore,
            center=(32, 32), in_size=48, out_size=28, config=FULL.scaled(2),
            rng=np.random.default_rng(seed),
        )
        assert set(np.unique(tile.target)) <= {0, 2, 5, 7}


def test_elastic_displacement_interpolates_the_coarse_grid():
    field = elastic_displacement((41, 31), np.random.default_rng(5), sigma=10.0, grid=3)
    coarse = np.random.default_rng(5).normal(0.0, 10.0, size=(2, 3, 3))
    assert field.shape == (2, 41, 31) and field.dtype == np.float32
    # grid points sit on the corner pixels and the centre (align_corners=True)
    np.testing.assert_allclose(field[:, ::20, ::15], coarse, atol=1e-4)
    ref = F.interpolate(
        torch.from_numpy(coarse)[None], size=(41, 31), mode="bicubic", align_corners=True
    )[0].numpy()
    np.testing.assert_allclose(field, ref, atol=1e-4)


def test_elastic_displacement_statistics_and_smoothness():
    rng = np.random.default_rng(0)
    fields = np.stack([elastic_displacement((64, 64), rng, sigma=10.0) for _ in range(60)])
    std = fields.std(axis=0)  # per pixel and component, over draws
    assert 10.0 * 0.85 <= std[:, ::63, ::63].mean() <= 10.0 * 1.15  # grid points: sigma
    assert 10.0 * 0.5 <= std.mean() <= 10.0 * 1.1  # between: smoothed, still sigma-ish
    steps = np.abs(np.diff(fields, axis=-1)).max()
    assert steps < 3.0  # 32 px between grid points: smooth, no jumps
    zero = elastic_displacement((10, 10), rng, sigma=0.0)
    np.testing.assert_array_equal(zero, 0)


def test_draw_transform_follows_the_config():
    rng = np.random.default_rng(0)
    t = draw_transform(OFF, rng, n_channels=2)
    assert not t.moves_pixels and t.gray is None
    t = draw_transform(FULL, rng, n_channels=2)
    assert t.moves_pixels and t.displacement.shape == (2, 3, 3)
    assert 0 <= t.angle < 360 and t.gray.gamma.shape == (2,)
    t = draw_transform(AugmentConfig(elastic_grid=5, rotate=False), rng, n_channels=1)
    assert t.displacement.shape == (2, 5, 5) and t.angle == 0
    assert not TileTransform(angle=360.0, displacement=np.zeros((2, 3, 3))).moves_pixels


def test_config_off_scaled_and_invalid():
    assert AugmentConfig.NONE == AugmentConfig.off() == FULL.scaled(0)
    assert FULL.scaled(1) == FULL
    strong = AugmentConfig(noise_std=0.1).scaled(2)
    assert strong.elastic_sigma == 20 and strong.gray_strength == 0.4 and strong.noise_std == 0.2
    assert strong.rotate and strong.flip
    for bad in (dict(elastic_sigma=-1.0), dict(gray_strength=float("nan")), dict(elastic_grid=1)):
        with pytest.raises(InvalidInputError):
            AugmentConfig(**bad)
    with pytest.raises(InvalidInputError):
        FULL.scaled(-0.5)


def test_gray_value_transform():
    image, *_ = random_plane(shape=(20, 30))
    before = image.copy()
    same = gray_value_transform(image, np.random.default_rng(0), 0.0)
    np.testing.assert_array_equal(same, image)
    assert not np.shares_memory(same, image)
    a = gray_value_transform(image, np.random.default_rng(1), 0.3)
    b = gray_value_transform(image, np.random.default_rng(1), 0.3)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == image.shape and np.isfinite(a).all()
    assert not np.allclose(a, image)
    # monotone per channel: gray changes keep the order of pixel values
    for ch in range(2):
        order = np.argsort(image[ch].ravel())
        assert (np.diff(a[ch].ravel()[order]) >= -1e-5).all()
    noisy = gray_value_transform(image, np.random.default_rng(2), 0.0, noise_std=0.5)
    assert 0.45 < (noisy - image).std() < 0.55
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(target=np.zeros((40, 49), np.uint8)), "labels"),
        (dict(weights=np.ones((41, 50), np.float32)), "weight"),
        (dict(ignore=np.zeros((40, 51), bool)), "ignore"),
        (dict(image=np.zeros((40, 50), np.float32)), "channels"),
        (dict(target=np.zeros((40, 50), np.float32)), "labels"),
        (dict(in_size=6, out_size=8), "input tile"),
        (dict(in_size=13, out_size=8), "even"),
        (dict(out_size=0, in_size=4), "output tile"),
        (dict(center=(41.0, 3.0)), "outside"),
        (dict(center=(float("nan"), 3.0)), "outside"),
        (dict(center=(3.0,)), "centre"),
    ],
)
def test_bad_inputs_raise(change, match):
    image, target, weights, ignore = random_plane()
    kwargs = dict(
        image=image, target=target, weights=weights, ignore=ignore,
        center=(20, 25), in_size=24, out_size=8, config=FULL, rng=np.random.default_rng(0),
    )
    kwargs.update(change)
    with pytest.raises(InvalidInputError, match=match):
        sample_tile(**kwargs)
