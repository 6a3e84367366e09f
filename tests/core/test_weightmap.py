"""Tests for unetgui.core.weightmap: hand-checked tiny cases, invariants, brute force."""

import math

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.segmentation import expand_labels

from tests.core.weightmap_reference import (
    reference_border_weights,
    reference_falk2019,
    reference_nearest_two,
)
from unetgui.core.errors import InvalidInputError
from unetgui.core.weightmap import (
    _nearest_two_distances,
    border_margin,
    border_weights,
    class_balance_weights,
    insert_separation_gaps,
    separation_borders,
    training_targets,
    update_border_weights_region,
    weight_map,
    weight_map_falk2019,
)

EPS = 1e-3


def touching_cells(size, n_cells, seed, reach=12, dtype=np.int32):
    """Voronoi-like cells: random seeds grown by ``reach`` px; most touch a neighbour."""
    rng = np.random.default_rng(seed)
    seeds = np.zeros(size, dtype=np.int32)
    points = rng.integers(0, size, size=(n_cells, 2))
    seeds[points[:, 0], points[:, 1]] = np.arange(1, n_cells + 1)
    return expand_labels(seeds, reach).astype(dtype)


def cells_touch(labels):
    """True if two different cells are 8-neighbours anywhere."""
    pairs = [
        (labels[:, :-1], labels[:, 1:]),
        (labels[:-1, :], labels[1:, :]),
        (labels[:-1, :-1], labels[1:, 1:]),
        (labels[:-1, 1:], labels[1:, :-1]),
    ]
    return any(np.any((a != b) & (a != 0) & (b != 0)) for a, b in pairs)


def two_squares():
    labels = np.zeros((8, 12), dtype=np.uint16)
    labels[2:6, 2:6] = 1
    labels[2:6, 6:10] = 2
    return labels


# ------------------------------------------------------------------ hand-checked cases


def test_margin_is_the_documented_22_pixels():
    assert border_margin(5.0, 10.0, 1e-3) == 22
    # by construction the term at distance m is below eps, one pixel closer it is not
    m = border_margin(2.0, 7.0, 1e-3)
    assert 7 * math.exp(-(m**2) / 8) <= 1e-3 < 7 * math.exp(-((m - 1) ** 2) / 8)
    assert border_margin(5.0, 1e-4, 1e-3) == 0


def test_two_single_pixel_cells_midpoint_by_hand():
    labels = np.zeros((11, 11), dtype=np.int32)
    labels[5, 2] = 1
    labels[5, 8] = 2
    w = border_weights(labels)
    assert w.dtype == np.float32 and w.shape == (11, 11)
    # on the segment between them d1 + d2 = 6: 10 * exp(-36 / 50)
    assert w[5, 5] == pytest.approx(10 * math.exp(-0.72), rel=1e-6)
    assert w[5, 4] == pytest.approx(4.867522559599, rel=1e-6)
    # one row up: d1 = d2 = sqrt(10), (d1 + d2)^2 = 40
    assert w[4, 5] == pytest.approx(10 * math.exp(-0.8), rel=1e-6)
    # cell pixels get no border term
    assert w[5, 2] == 0 and w[5, 8] == 0


def test_one_cell_alone_has_no_border_term():
    labels = np.zeros((30, 30), dtype=np.int64)
    labels[10:15, 12:20] = 7
    assert not border_weights(labels).any()
    w = weight_map(labels)
    n_fg, n = 40, 900
    assert np.allclose(w[labels == 7], n / (2 * n_fg))
    assert np.allclose(w[labels == 0], n / (2 * (n - n_fg)))


def test_no_cells_gives_plain_weights():
    labels = np.zeros((9, 7), dtype=np.uint8)
    assert not border_weights(labels).any()
    assert np.array_equal(weight_map(labels), np.ones((9, 7), np.float32))
    assert np.allclose(weight_map_falk2019(labels), 0.1)
    foreground, weights = training_targets(labels)
    assert foreground.dtype == np.uint8 and not foreground.any()


def test_two_touching_squares_get_a_gap_between_them_only():
    labels = two_squares()
    expected = np.zeros(labels.shape, dtype=bool)
    expected[2:6, 5:7] = True
    assert np.array_equal(separation_borders(labels), expected)
    gapped = insert_separation_gaps(labels)
    assert gapped.dtype == labels.dtype
    assert np.array_equal(gapped, np.where(expected, 0, labels))
    # 1-pixel gaps: the cell with the larger id gives way
    thin = np.zeros(labels.shape, dtype=bool)
    thin[2:6, 6] = True
    assert np.array_equal(separation_borders(labels, width=1), thin)


def test_cells_touching_at_a_corner_are_separated_for_8_connectivity():
    labels = np.zeros((8, 8), dtype=np.int32)
    labels[0:3, 0:3] = 1
    labels[3:6, 3:6] = 2
    for width in (1, 2):
        gapped = insert_separation_gaps(labels, width=width)
        assert not cells_touch(gapped)
        assert ndi.label(gapped > 0, structure=np.ones((3, 3)))[1] == 2


def test_thin_cell_keeps_its_pixels_and_neighbours_give_way():
    labels = np.zeros((5, 9), dtype=np.int32)
    labels[:, 0:4] = 1
    labels[:, 4] = 2  # a 1-px wide cell between two others
    labels[:, 5:9] = 3
    for width in (1, 2):
        gapped = insert_separation_gaps(labels, width=width)
        assert np.array_equal(gapped[:, 4], labels[:, 4])
        assert set(np.unique(gapped)) == {0, 1, 2, 3}
        assert not cells_touch(gapped)
    # a lone 1-px cell touching nothing is untouched
    single = np.zeros((3, 3), dtype=np.int32)
    single[1, 1] = 4
    assert np.array_equal(insert_separation_gaps(single), single)
    # two 1-px cells side by side: neither may vanish, so they stay touching (documented)
    pair = np.zeros((3, 4), dtype=np.int32)
    pair[1, 1], pair[1, 2] = 5, 6
    for width in (1, 2):
        assert np.array_equal(insert_separation_gaps(pair, width=width), pair)


def test_ignore_pixels_get_weight_zero():
    labels = two_squares()
    ignore = np.zeros(labels.shape, dtype=bool)
    ignore[:, :3] = True
    for w in (weight_map(labels, ignore), weight_map_falk2019(labels, ignore.astype(np.uint8))):
        assert not w[ignore].any()
        assert (w[~ignore] > 0).all()
    foreground, weights = training_targets(labels, ignore)
    assert not weights[ignore].any()


def test_class_balance_with_known_counts():
    fg = np.zeros((4, 4), dtype=bool)
    fg[0, :] = True  # 4 foreground, 12 background
    w = class_balance_weights(fg)
    assert w.dtype == np.float32
    assert np.allclose(w[fg], 16 / 8) and np.allclose(w[~fg], 16 / 24)
    assert w.mean() == pytest.approx(1.0)
    valid = np.ones((4, 4), dtype=bool)
    valid[3, :] = False  # 12 valid: 4 foreground, 8 background
    w = class_balance_weights(fg, valid)
    assert np.allclose(w[fg], 12 / 8) and np.allclose(w[~fg & valid], 12 / 16)
    assert not w[~valid].any()
    assert w[valid].mean() == pytest.approx(1.0)
    # a class is absent: weight 1 on every valid pixel
    assert np.array_equal(class_balance_weights(np.ones((3, 3), bool), valid[:3, :3]),
                          valid[:3, :3].astype(np.float32))


def test_weight_map_is_class_balance_plus_border_term_of_gapped_labels():
    labels = touching_cells((64, 80), 20, seed=3)
    ignore = np.zeros(labels.shape, dtype=bool)
    ignore[40:, 50:] = True
    gapped = insert_separation_gaps(labels)
    expected = class_balance_weights(gapped > 0, ~ignore) + border_weights(gapped)
    expected[ignore] = 0
    np.testing.assert_allclose(weight_map(labels, ignore), expected, rtol=1e-6)
    plain = weight_map(labels, class_balance=False, gaps=False, w0=3.0, sigma=2.0)
    np.testing.assert_allclose(plain, 1 + border_weights(labels, 3.0, 2.0), rtol=1e-6)
    foreground, weights = training_targets(labels, ignore)
    assert np.array_equal(foreground, (gapped > 0).astype(np.uint8))
    np.testing.assert_array_equal(weights, weight_map(labels, ignore))
    foreground, weights = training_targets(labels, scheme="falk2019", lam=20.0)
    assert np.array_equal(foreground, insert_separation_gaps(labels, width=1) > 0)
    np.testing.assert_array_equal(weights, weight_map_falk2019(labels, lam=20.0))


def test_falk2019_foreground_is_one_and_background_follows_the_formula():
    labels = np.zeros((15, 15), dtype=np.int32)
    labels[7, 7] = 1  # alone: no separation term
    w = weight_map_falk2019(labels)
    assert w[7, 7] == 1.0
    assert w[7, 10] == pytest.approx(0.1 + 0.9 * math.exp(-9 / 200), rel=1e-6)
    labels[7, 13] = 2  # now the midpoint (7, 10) has d1 = d2 = 3
    w = weight_map_falk2019(labels)
    expected = 0.1 + 50 * math.exp(-36 / 72) + 0.9 * math.exp(-9 / 200)
    assert w[7, 10] == pytest.approx(expected, rel=1e-6)
    cells = touching_cells((64, 64), 15, seed=8)
    w = weight_map_falk2019(cells)
    gapped = insert_separation_gaps(cells, width=1)
    assert np.all(w[gapped > 0] == 1.0)
    reference = reference_falk2019(gapped)
    assert np.max(np.abs(w - reference)) <= 2 * EPS
    near = reference >= 0.1 + 2 * EPS  # where a term is not cut off
    np.testing.assert_allclose(w[near], reference[near], rtol=1e-5, atol=1e-5)


def test_inputs_are_not_modified():
    labels = touching_cells((40, 40), 8, seed=1, dtype=np.uint16)
    ignore = np.zeros(labels.shape, dtype=bool)
    ignore[:5] = True
    before, ignore_before = labels.copy(), ignore.copy()
    separation_borders(labels)
    insert_separation_gaps(labels)
    border = border_weights(labels)
    border_before = border.copy()
    weight_map(labels, ignore)
    weight_map_falk2019(labels, ignore)
    training_targets(labels, ignore)
    class_balance_weights(labels > 0, ~ignore)
    update_border_weights_region(labels, border, (slice(3, 9), slice(3, 9)))
    assert np.array_equal(labels, before) and np.array_equal(ignore, ignore_before)
    assert np.array_equal(border, border_before)


@pytest.mark.parametrize(
    "labels",
    [
        np.zeros((4, 4, 2), dtype=np.int32),
        np.zeros((4,), dtype=np.int32),
        np.zeros((4, 4), dtype=np.float32),
        np.zeros((4, 4), dtype=bool),
        np.full((4, 4), -1, dtype=np.int16),
        np.zeros((0, 4), dtype=np.int32),
    ],
)
def test_bad_label_images_are_rejected(labels):
    for function in (border_weights, weight_map, weight_map_falk2019, separation_borders):
        with pytest.raises(InvalidInputError):
            function(labels)


@pytest.mark.parametrize(
    "call",
    [
        lambda lab: weight_map(lab, np.zeros((3, 3), bool)),
        lambda lab: weight_map(lab, np.zeros(lab.shape, np.float32)),
        lambda lab: weight_map(lab, sigma=0.0),
        lambda lab: weight_map(lab, w0=-1.0),
        lambda lab: border_weights(lab, eps=0.0),
        lambda lab: border_weights(lab, sigma=float("nan")),
        lambda lab: weight_map_falk2019(lab, v_bal=1.5),
        lambda lab: weight_map_falk2019(lab, sigma_1=-2.0),
        lambda lab: separation_borders(lab, width=3),
        lambda lab: training_targets(lab, scheme="nope"),
        lambda lab: class_balance_weights(lab > 0, np.ones((2, 2), bool)),
        lambda lab: update_border_weights_region(lab, np.zeros((2, 2)), (slice(0, 1),) * 2),
        lambda lab: update_border_weights_region(lab, border_weights(lab), (1, 2)),
    ],
)
def test_bad_arguments_are_rejected(call):
    with pytest.raises(InvalidInputError):
        call(two_squares())


# ------------------------------------------------------------------ invariants and brute force


@pytest.mark.parametrize(
    ("seed", "shape", "n_cells", "w0", "sigma"),
    [
        (0, (64, 64), 12, 10.0, 5.0),
        (1, (96, 128), 30, 10.0, 5.0),
        (2, (128, 96), 25, 3.0, 8.0),
        (3, (100, 100), 40, 10.0, 1.5),  # m = 7: the cut-off matters
        (4, (80, 90), 20, 25.0, 2.5),
    ],
)
def test_border_weights_agree_with_brute_force(seed, shape, n_cells, w0, sigma):
    labels = touching_cells(shape, n_cells, seed)
    fast = border_weights(labels, w0=w0, sigma=sigma)
    brute = reference_border_weights(labels, w0=w0, sigma=sigma)
    # everywhere within eps; exact (float32) where the exact term is >= eps
    assert np.max(np.abs(fast - brute)) <= EPS
    big = brute >= EPS
    assert big.sum() > 100
    np.testing.assert_allclose(fast[big], brute[big], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("margin", [3, 9, 40])
def test_nearest_two_distances_are_exact_within_the_margin(margin):
    labels = touching_cells((70, 90), 18, seed=11, reach=6)
    d1, d2 = _nearest_two_distances(labels, margin)
    r1, r2 = reference_nearest_two(labels)
    for fast, ref in ((d1, r1), (d2, r2)):
        assert fast.dtype == np.float32
        inside = ref <= margin
        np.testing.assert_allclose(fast[inside], ref[inside], rtol=1e-6)
        assert np.all(np.isinf(fast[~inside]))


def test_ids_and_dtypes_do_not_change_the_result():
    labels = touching_cells((64, 64), 15, seed=5)
    expected = weight_map(labels)
    rng = np.random.default_rng(0)
    new_ids = np.concatenate([[0], rng.permutation(np.arange(1, 16)) * 1_000_003])
    for relabelled in (new_ids[labels].astype(np.int64), new_ids[labels].astype(np.uint64),
                       (labels * 3).astype(np.uint8)):
        np.testing.assert_allclose(weight_map(relabelled), expected, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gaps_separate_cells_and_touch_nothing_else(seed):
    labels = touching_cells((96, 96), 35, seed=seed, reach=10)
    assert cells_touch(labels)
    wide = separation_borders(labels)
    thin = separation_borders(labels, width=1)
    assert np.all(thin <= wide)
    for width, gap in ((2, wide), (1, thin)):
        gapped = insert_separation_gaps(labels, width=width)
        assert not cells_touch(gapped)
        assert np.array_equal(np.unique(gapped), np.unique(labels))  # no cell vanished
        assert np.all(labels[gap] > 0)  # only cell pixels are cleared ...
        assert np.array_equal(gapped[~gap], labels[~gap])  # ... and nothing else changes
    # every cleared pixel had an 8-neighbour in another cell
    larger = ndi.maximum_filter(labels, size=3, mode="nearest") != labels
    cells_only = np.where(labels > 0, labels, labels.max() + 1)
    smaller = ndi.minimum_filter(cells_only, size=3, mode="nearest") != labels
    assert np.all((larger | smaller)[wide])


@pytest.mark.parametrize("seed", [0, 1])
def test_local_update_equals_full_recompute(seed):
    rng = np.random.default_rng(seed)
    labels = touching_cells((120, 110), 30, seed=seed)
    border = border_weights(labels, sigma=3.0)
    for r, c, value in [(50, 40, 0), (0, 100, 31), (rng.integers(100), rng.integers(90), 5)]:
        edited = labels.copy()
        box = (slice(r, r + 12), slice(c, c + 9))
        edited[box] = value
        updated = update_border_weights_region(edited, border, box, sigma=3.0)
        np.testing.assert_array_equal(updated, border_weights(edited, sigma=3.0))
        labels, border = edited, updated
