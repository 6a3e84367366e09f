"""Probabilities -> instance labels: tiny hand-made maps, a brute-force hole filler, and a
round trip through the training gap rule on synthetic touching cells."""

import numpy as np
import pytest
from scipy import ndimage

from unetgui.core.errors import InvalidInputError
from unetgui.core.metrics import match_instances
from unetgui.core.postprocess import (
    MIN_RELATIVE_AREA,
    fill_holes_per_cell,
    foreground_probability,
    grow_into_gaps,
    probabilities_to_labels,
    typical_cell_area,
)
from unetgui.core.synthetic import SyntheticConfig, place_cells


def gap_rule(labels):
    """The training gap (2015 width): a cell pixel with another cell in its 8-neighbourhood -> 0."""
    padded = np.pad(labels, 1)
    rows, cols = labels.shape
    other = np.zeros(labels.shape, dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            nb = padded[1 + dy : 1 + dy + rows, 1 + dx : 1 + dx + cols]
            other |= (nb > 0) & (nb != labels)
    return np.where(other & (labels > 0), 0, labels)


def two_touching_rectangles():
    labels = np.zeros((12, 14), dtype=np.int32)
    labels[2:10, 2:7] = 1
    labels[2:10, 7:12] = 2
    return labels


# ---------------------------------------------------------------- softmax helper


def test_foreground_probability_two_and_three_classes():
    two = np.stack([np.full((2, 3), 0.25), np.full((2, 3), 0.75)]).astype(np.float32)
    fg = foreground_probability(two)
    assert fg.shape == (2, 3) and fg.dtype == np.float32
    assert np.array_equal(fg, two[1])
    fg[0, 0] = 9
    assert two[1, 0, 0] == np.float32(0.75)  # a copy, not a view
    three = np.stack([np.full((2, 2), 0.5), np.full((2, 2), 0.3), np.full((2, 2), 0.2)])
    assert np.allclose(foreground_probability(three), 0.5)


@pytest.mark.parametrize("shape", [(4, 4), (1, 4, 4), (2, 3, 4, 4)])
def test_foreground_probability_rejects_bad_shapes(shape):
    with pytest.raises(InvalidInputError):
        foreground_probability(np.zeros(shape))


def test_foreground_probability_rejects_nan():
    probs = np.zeros((2, 3, 3))
    probs[1, 1, 1] = np.nan
    with pytest.raises(InvalidInputError):
        foreground_probability(probs)


# ---------------------------------------------------------------- labels


def test_all_zero_map_gives_all_zero_int32_labels():
    out = probabilities_to_labels(np.zeros((8, 9), dtype=np.float32))
    assert out.shape == (8, 9) and out.dtype == np.int32 and not out.any()


@pytest.mark.parametrize("bad", [np.zeros((2, 4, 4)), np.zeros(5)])
def test_wrong_ndim_is_an_error(bad):
    with pytest.raises(InvalidInputError):
        probabilities_to_labels(bad)


def test_nan_is_an_error():
    probs = np.zeros((5, 5))
    probs[2, 2] = np.nan
    with pytest.raises(InvalidInputError):
        probabilities_to_labels(probs)


def test_blobs_get_consecutive_ids_threshold_is_strict_and_input_is_kept():
    probs = np.zeros((10, 13))
    probs[1:5, 1:5] = 0.9
    probs[6:9, 8:12] = 0.6
    probs[6:9, 1:4] = 0.5  # exactly at the threshold: background
    before = probs.copy()
    out = probabilities_to_labels(probs, min_size=4)
    assert np.array_equal(probs, before)
    assert np.array_equal(np.unique(out), [0, 1, 2])
    assert np.array_equal(out > 0, probs > 0.5)


def test_cells_meeting_at_a_corner_stay_apart_4_connectivity():
    probs = np.zeros((8, 8))
    probs[0:4, 0:4] = 1
    probs[4:8, 4:8] = 1
    out = probabilities_to_labels(probs, min_size=0, grow_back=None)
    assert out.max() == 2 and out[0, 0] != out[7, 7]


def test_objects_below_min_size_are_removed():
    probs = np.zeros((12, 12))
    probs[0:3, 0:5] = 1  # 15 px
    probs[6:10, 6:10] = 1  # 16 px
    out = probabilities_to_labels(probs, min_size=16)
    assert out.max() == 1 and not out[0:3, 0:5].any() and (out[6:10, 6:10] == 1).all()


def test_fragments_under_a_share_of_the_typical_cell_are_removed():
    probs = np.zeros((40, 60))
    probs[2:22, 2:22] = 1  # 400 px
    probs[2:22, 30:50] = 1  # 400 px
    probs[30:39, 2:11] = 1  # 81 px: under a quarter of 400
    probs[30:40, 30:40] = 1  # 100 px: exactly a quarter, kept
    out = probabilities_to_labels(probs, min_size=0, grow_back=None, min_relative_area=0.25)
    assert out.max() == 3 and not out[30:39, 2:11].any() and out[35, 35] > 0
    kept = probabilities_to_labels(probs, min_size=0, grow_back=None, min_relative_area=0)
    assert kept.max() == 4 and kept[35, 5] > 0
    probs[30:35, 50:55] = 1  # 25 px, 6 % of the typical cell: a fragment by default
    out = probabilities_to_labels(probs, min_size=0, grow_back=None)
    assert MIN_RELATIVE_AREA > 25 / 400 and not out[30:35, 50:55].any()
    assert out[10, 10] > 0 and out[10, 40] > 0 and out[35, 35] > 0  # the cells and the quarter-size one stay


def test_typical_area_follows_the_area_not_the_count_of_cells():
    # one large cell and many specks: the median pixel lies in the large cell
    assert typical_cell_area(np.array([400] + [5] * 30)) == 400
    assert typical_cell_area(np.array([100, 0, 200, 300])) == 200  # pixel 300 of 600; 0: an id not in use
    assert typical_cell_area(np.array([], dtype=np.int64)) is None
    probs = np.zeros((30, 80))
    probs[2:22, 2:22] = 1
    for col in range(30, 78, 4):
        probs[2:4, col:col + 2] = 1  # 12 specks of 4 px: they stay specks
    out = probabilities_to_labels(probs, min_size=0, grow_back=None)
    assert out.max() == 1


@pytest.mark.parametrize("share", [-0.1, 1.0, float("nan")])
def test_relative_area_out_of_range_is_refused(share):
    with pytest.raises(InvalidInputError, match="share of the typical cell"):
        probabilities_to_labels(np.zeros((8, 8)), min_relative_area=share)


def test_holes_filled_per_cell_only():
    probs = np.zeros((12, 20))
    probs[1:6, 1:6] = 1
    probs[3, 3] = 0  # hole inside one cell: filled
    probs[1:11, 8:19] = 1
    probs[2:10, 9:18] = 0  # a ring ...
    probs[4:8, 12:15] = 1  # ... around a separate cell: the space between is no hole
    out = probabilities_to_labels(probs, min_size=0, grow_back=None)
    assert out.max() == 3
    assert out[3, 3] == out[1, 1] > 0
    assert out[2, 9] == 0 and out[5, 13] not in (0, out[1, 8])
    kept = probabilities_to_labels(probs, min_size=0, grow_back=None, fill_holes=False)
    assert kept[3, 3] == 0


def test_pocket_enclosed_by_two_touching_cells_is_not_filled():
    labels = np.zeros((7, 7), dtype=np.int32)
    labels[1:6, 1:6] = 1
    labels[1:6, 4:6] = 2
    labels[2:5, 2:5] = 0
    assert np.array_equal(fill_holes_per_cell(labels), labels)
    labels[2:5, 4] = 1  # now the pocket borders cell 1 only
    expected = labels.copy()
    expected[2:5, 2:4] = 1
    assert np.array_equal(fill_holes_per_cell(labels), expected)


def test_fill_holes_matches_a_region_by_region_reference():
    config = SyntheticConfig(shape=(96, 96), n_cells=12, touching=0.5)
    labels = place_cells(config, np.random.default_rng(3))
    holey = labels.copy()
    holey[np.random.default_rng(4).random(labels.shape) < 0.08] = 0  # holes, some at borders
    # Reference: each 8-connected background region away from the image edge whose
    # 4-neighbours all belong to one cell becomes that cell.
    reference = holey.copy()
    regions, n = ndimage.label(holey == 0, structure=np.ones((3, 3)))
    for r in range(1, n + 1):
        region = regions == r
        if region[0].any() or region[-1].any() or region[:, 0].any() or region[:, -1].any():
            continue
        ring = ndimage.binary_dilation(region) & ~region
        around = set(np.unique(holey[ring]).tolist())
        if len(around) == 1:
            reference[region] = around.pop()
    assert np.count_nonzero(reference != holey) > 50
    assert np.array_equal(fill_holes_per_cell(holey), reference)


def test_lone_cell_does_not_grow():
    labels = np.zeros((9, 9), dtype=np.int32)
    labels[2:7, 3:6] = 4
    assert np.array_equal(grow_into_gaps(labels, 1), labels)
    out = probabilities_to_labels((labels > 0).astype(float), min_size=0)
    assert np.array_equal(out > 0, labels > 0)


def test_touching_rectangles_grow_back_over_their_gap():
    truth = two_touching_rectangles()
    out = probabilities_to_labels((gap_rule(truth) > 0).astype(np.float32), min_size=0)
    assert out.max() == 2
    assert np.array_equal(out[truth > 0], truth[truth > 0])  # every truth pixel is back
    # The rule is not invertible: each end of the contact may gain one pixel per cell.
    assert np.count_nonzero((out > 0) & (truth == 0)) <= 4


def test_grow_back_none_or_zero_keeps_the_gap():
    truth = two_touching_rectangles()
    gapped = gap_rule(truth)
    for grow_back in (None, 0):
        out = probabilities_to_labels((gapped > 0).astype(float), min_size=0, grow_back=grow_back)
        assert np.array_equal(out > 0, gapped > 0)


def test_round_trip_through_the_gap_rule_on_synthetic_cells():
    truth = place_cells(
        SyntheticConfig(shape=(160, 160), n_cells=30, radius_range=(9.0, 16.0), touching=0.7),
        np.random.default_rng(7),
    )
    gapped = gap_rule(truth)
    assert np.count_nonzero(gapped != truth) > 100  # plenty of contacts to undo
    out = probabilities_to_labels((gapped > 0).astype(np.float32), min_size=0)
    assert out.max() == truth.max()
    iou, _, _ = match_instances(truth, out)
    assert iou.max(axis=1).min() >= 0.95
    assert iou.max(axis=1).mean() >= 0.98
    assert np.count_nonzero((truth > 0) & (out == 0)) <= 4
