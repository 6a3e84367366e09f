"""Foreground IoU and AP on tiny label images whose TP/FP/FN can be counted by hand."""

import numpy as np
import pytest

from unetgui.core.errors import InvalidInputError
from unetgui.core.metrics import (
    SegmentationScores,
    average_precision,
    evaluate,
    foreground_iou,
    match_instances,
    matched_count,
)
from unetgui.core.synthetic import SyntheticConfig, place_cells


def two_cells():
    """Cell 1: 3 x 3 = 9 px top left; cell 2: 2 x 4 = 8 px bottom right."""
    labels = np.zeros((6, 8), dtype=np.int32)
    labels[0:3, 0:3] = 1
    labels[4:6, 4:8] = 2
    return labels


def split_and_missing():
    """Cell 1 split into 6 px (id 5) + 3 px (id 7); cell 2 not found."""
    pred = np.zeros((6, 8), dtype=np.uint16)
    pred[0:3, 0:2] = 5
    pred[0:3, 2] = 7
    return pred


def test_match_instances_by_hand():
    iou, truth_ids, pred_ids = match_instances(two_cells(), split_and_missing())
    assert truth_ids.tolist() == [1, 2] and pred_ids.tolist() == [5, 7]
    assert np.allclose(iou, [[6 / 9, 3 / 9], [0, 0]])


def test_match_instances_against_per_pair_masks():
    truth = place_cells(SyntheticConfig(shape=(64, 64), n_cells=10), np.random.default_rng(1))
    pred = np.roll(truth, 2, axis=1)
    pred[pred == 3] = 40  # ids need not be consecutive
    iou, truth_ids, pred_ids = match_instances(truth, pred)
    for i, a in enumerate(truth_ids):
        for j, b in enumerate(pred_ids):
            ta, pb = truth == a, pred == b
            assert iou[i, j] == pytest.approx(np.count_nonzero(ta & pb) / np.count_nonzero(ta | pb))


def test_split_cell_and_missing_cell_counted_by_hand():
    scores = evaluate(two_cells(), split_and_missing())
    assert isinstance(scores, SegmentationScores)
    assert scores.n_true == 2 and scores.n_pred == 2
    # t = 0.5: TP 1 (cell 1 <-> id 5, IoU 2/3), FP 1 (id 7), FN 1 (cell 2) -> 1/3
    # t = 0.75: no match -> TP 0, FP 2, FN 2 -> 0
    assert scores.ap == pytest.approx({0.5: 1 / 3, 0.75: 0.0})
    assert scores.foreground_iou == pytest.approx(9 / 17)
    assert type(scores.foreground_iou) is float


def test_identical_and_permuted_ids_score_one():
    truth = place_cells(SyntheticConfig(shape=(64, 64), n_cells=12), np.random.default_rng(2))
    permutation = np.concatenate([[0], np.random.default_rng(0).permutation(truth.max()) + 100])
    for pred in (truth.copy(), permutation[truth]):
        scores = evaluate(truth, pred, thresholds=(0.5, 0.75, 0.9, 1.0))
        assert scores.foreground_iou == 1.0
        assert scores.ap == {0.5: 1.0, 0.75: 1.0, 0.9: 1.0, 1.0: 1.0}


def test_empty_cases():
    empty = np.zeros((5, 5), dtype=np.int32)
    assert evaluate(empty, empty).ap == {0.5: 1.0, 0.75: 1.0}
    assert foreground_iou(empty, empty) == 1.0
    cells = empty.copy()
    cells[1, 1], cells[3, 3] = 1, 2
    for truth, pred in ((empty, cells), (cells, empty)):
        scores = evaluate(truth, pred)
        assert scores.ap == {0.5: 0.0, 0.75: 0.0} and scores.foreground_iou == 0.0


def test_stack_counts_over_all_planes_with_ids_per_plane():
    truth = np.stack([two_cells(), np.zeros((6, 8), dtype=np.int32)])
    truth[1, 0:2, 0:2] = 1  # same id as plane 0's cell 1: a different cell
    pred = truth.copy()
    pred[1] = 0  # plane 1's cell is missed
    scores = evaluate(truth, pred)
    assert scores.n_true == 3 and scores.n_pred == 2
    # TP 2, FP 0, FN 1 over the stack -> 2/3 (a per-plane mean would give 1/2)
    assert scores.ap == pytest.approx({0.5: 2 / 3, 0.75: 2 / 3})
    assert average_precision(truth, pred) == scores.ap


def test_matching_is_one_to_one_at_exactly_half():
    truth = np.zeros((2, 4), dtype=np.int32)
    truth[0] = 1
    pred = np.zeros((2, 4), dtype=np.int32)
    pred[0, :2], pred[0, 2:] = 1, 2  # both halves have IoU exactly 0.5 with the cell
    assert average_precision(truth, pred, thresholds=(0.5,)) == {0.5: pytest.approx(1 / 2)}


def test_low_threshold_uses_optimal_matching():
    # Greedy (best pair first) would take (0, 0) and leave row 1 unmatched.
    iou = np.array([[0.45, 0.35], [0.40, 0.0]])
    assert matched_count(iou, 0.3) == 2
    assert matched_count(iou, 0.42) == 1
    assert matched_count(np.zeros((0, 3)), 0.3) == 0


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(InvalidInputError, match=r"2 planes of 6 x 8 pixels.*6 x 7 pixels"):
        evaluate(np.zeros((2, 6, 8), dtype=np.int32), np.zeros((6, 7), dtype=np.int32))


@pytest.mark.parametrize(
    "truth",
    [np.zeros((2, 2, 2, 2), dtype=np.int32), np.zeros((4, 4)), np.full((4, 4), -1)],
    ids=["4-d", "float", "negative"],
)
def test_bad_label_images_are_errors(truth):
    with pytest.raises(InvalidInputError):
        evaluate(truth, np.zeros(truth.shape, dtype=np.int32))


@pytest.mark.parametrize("thresholds", [(0.0,), (1.5,), ()])
def test_bad_thresholds_are_errors(thresholds):
    with pytest.raises(InvalidInputError):
        average_precision(two_cells(), two_cells(), thresholds=thresholds)
