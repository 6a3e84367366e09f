"""Classical first segmentation: hand-made disks whose answer is known, synthetic cells
scored against their true labels, and the input rules (dtypes, channels, NaN, flat)."""

import numpy as np
import pytest

from unetgui.core.autoseg import AutoSegmentConfig, auto_segment, split_touching_cells
from unetgui.core.errors import InvalidInputError
from unetgui.core.metrics import evaluate, match_instances
from unetgui.core.synthetic import SyntheticConfig, synthetic_cells


def disks(shape, centres, radius):
    """-> (Y, X) int32 labels of disks (later ones drawn over earlier ones where they overlap)."""
    rows, cols = np.indices(shape)
    labels = np.zeros(shape, dtype=np.int32)
    for k, (y, x) in enumerate(centres, start=1):
        labels[(rows - y) ** 2 + (cols - x) ** 2 <= radius**2] = k
    return labels


def render(labels, seed=0, noise=0.03):
    """Labels -> float64 image: cells 1.0 on background 0.1, plus mild Gaussian noise."""
    rng = np.random.default_rng(seed)
    return np.where(labels > 0, 1.0, 0.1) + noise * rng.standard_normal(labels.shape)


def figure_eight():
    """Two disks of radius 15 whose centres are 24 px apart: one blob with a waist."""
    return disks((80, 110), [(40, 43), (40, 67)], 15)


def scattered():
    return disks((120, 120), [(25, 25), (25, 90), (90, 30), (85, 88)], 12)


def ious(truth, pred):
    iou, _, _ = match_instances(truth, pred)
    return iou


def test_two_touching_disks_are_split_in_two():
    truth = figure_eight()
    pred = auto_segment(render(truth))
    assert pred.dtype == np.int32 and pred.shape == truth.shape
    assert sorted(np.unique(pred)) == [0, 1, 2]
    iou = ious(truth, pred)
    assert (iou.max(axis=1) > 0.85).all()  # each disk is one predicted cell


def test_without_splitting_the_figure_eight_stays_one_cell():
    pred = auto_segment(render(figure_eight()), AutoSegmentConfig(split_touching=False))
    assert sorted(np.unique(pred)) == [0, 1]


def test_isolated_disks_get_one_label_each():
    truth = scattered()
    pred = auto_segment(render(truth, seed=1))
    assert pred.max() == 4
    iou = ious(truth, pred)
    assert (iou.max(axis=1) > 0.9).all()


def test_synthetic_cells_average_precision():
    # Measured: AP@0.5 = 1.0 (30 of 30 cells), AP@0.75 = 0.77.
    image, truth = synthetic_cells(SyntheticConfig(shape=(256, 256), n_cells=30),
                                   np.random.default_rng(1))
    scores = evaluate(truth, auto_segment(image))
    assert scores.ap[0.5] >= 0.9
    assert scores.ap[0.75] >= 0.65


def test_dark_objects_are_found_after_inverting():
    truth = figure_eight()
    bright = render(truth)
    dark = bright.max() - bright
    assert np.array_equal(auto_segment(dark, AutoSegmentConfig(dark_objects=True)),
                          auto_segment(bright))
    # Read as bright objects, the dark image's cell is the background around the disks.
    as_bright = auto_segment(dark)
    assert np.count_nonzero(as_bright[truth == 0]) > 0.9 * np.count_nonzero(truth == 0)


def test_dtypes_give_the_same_result_for_the_same_relative_image():
    relative = np.clip(render(scattered(), seed=2, noise=0.08), 0, 1.2)
    as_uint8 = np.round(relative * 200).astype(np.uint8)
    results = [auto_segment(image) for image in
               (as_uint8, as_uint8.astype(np.uint16) * 257, as_uint8 / np.float32(200),
                as_uint8.astype(np.float64) - 1000.0)]
    assert results[0].max() == 4
    for other in results[1:]:
        assert np.array_equal(other, results[0])


@pytest.mark.parametrize("flat", [np.zeros((40, 50), np.uint8), np.full((40, 50), 7, np.uint16),
                                  np.full((40, 50), 0.3, np.float32)])
def test_flat_image_gives_no_cells(flat):
    pred = auto_segment(flat)
    assert pred.shape == flat.shape and pred.dtype == np.int32 and not pred.any()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_pixels_are_refused(bad):
    image = render(scattered())
    image[5, 5] = bad
    with pytest.raises(InvalidInputError, match="NaN"):
        auto_segment(image)


def test_multichannel_uses_the_chosen_channel():
    left = render(disks((80, 110), [(40, 25)], 14), seed=3)
    right = render(figure_eight(), seed=4)
    stack = np.stack([left, right]).astype(np.float32)
    assert np.array_equal(auto_segment(stack, channel=0), auto_segment(stack[0]))
    assert np.array_equal(auto_segment(stack, channel=1), auto_segment(stack[1]))
    assert auto_segment(stack, channel=0).max() == 1
    assert auto_segment(stack, channel=1).max() == 2
    assert auto_segment(stack).max() >= 2  # the mean of both channels holds all disks
    with pytest.raises(InvalidInputError, match="channel 2"):
        auto_segment(stack, channel=2)


def test_input_is_not_modified():
    image = render(figure_eight()).astype(np.float32)
    before = image.copy()
    auto_segment(image, AutoSegmentConfig(dark_objects=True))
    assert np.array_equal(image, before)


def test_fixed_threshold_and_min_size():
    truth = disks((100, 100), [(30, 30), (70, 70)], 12) + disks((100, 100), [(80, 15)], 2) * 3
    image = render(truth, seed=5)
    assert auto_segment(image, AutoSegmentConfig(threshold=0.5)).max() == 2  # speck: 13 px
    assert auto_segment(image, AutoSegmentConfig(threshold=0.5, min_size=5)).max() == 3
    assert not auto_segment(image, AutoSegmentConfig(threshold=1.0)).any()


def test_a_hole_inside_a_cell_is_filled_only_when_asked():
    rows, cols = np.indices((80, 80))
    radius = np.hypot(rows - 40, cols - 40)
    ring = (radius <= 20) & (radius > 7)
    image = render(ring.astype(np.int32), seed=6)
    filled = auto_segment(image)
    assert filled.max() == 1 and filled[40, 40] == 1  # not cut around the hole either
    kept = auto_segment(image, AutoSegmentConfig(fill_holes=False))
    assert kept[40, 40] == 0 and np.count_nonzero(kept) < np.count_nonzero(filled)


def test_the_space_inside_a_ring_of_cells_stays_background():
    angles = np.arange(8) * np.pi / 4
    centres = [(60 + 32 * np.sin(a), 60 + 32 * np.cos(a)) for a in angles]
    truth = disks((120, 120), centres, 14)
    pred = auto_segment(render(truth, seed=7))
    assert pred.max() == 8
    assert pred[60, 60] == 0
    assert (ious(truth, pred).max(axis=1) > 0.8).all()


def test_split_touching_cells_on_a_mask():
    mask = figure_eight() > 0
    labels = split_touching_cells(mask)
    assert len(np.unique(labels[mask])) == 2 and not labels[~mask].any()
    assert len(np.unique(split_touching_cells(mask, min_distance=30)[mask])) == 1
    assert not split_touching_cells(np.zeros((5, 5), bool)).any()


@pytest.mark.parametrize("field, value", [("smoothing", -1.0), ("threshold", 1.5),
                                          ("min_size", -1), ("min_distance", 0)])
def test_bad_settings_are_refused(field, value):
    with pytest.raises(InvalidInputError):
        AutoSegmentConfig(**{field: value})


def test_bad_shapes_are_refused():
    with pytest.raises(InvalidInputError, match="shape"):
        auto_segment(np.zeros((2, 3, 8, 8)))
    with pytest.raises(InvalidInputError, match="type"):
        auto_segment(np.zeros((8, 8), dtype=complex))
