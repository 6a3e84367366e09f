"""How good is a segmentation: foreground IoU and instance average precision (AP).

AP at an IoU threshold t is the one used by the DSB 2018 challenge, StarDist and
Cellpose: match true and predicted cells one to one, a pair counting only if their IoU
is >= t; then AP = TP / (TP + FP + FN). Label images are (Y, X) or (P, Y, X); ids are
per plane (the same id in two planes is two different cells), 0 is background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from unetgui.core.errors import InvalidInputError


@dataclass(frozen=True)
class SegmentationScores:
    """Scores of a predicted segmentation against the ground truth (see :func:`evaluate`)."""

    foreground_iou: float
    ap: dict[float, float]  # IoU threshold -> average precision
    n_true: int  # cells in the ground truth, all planes
    n_pred: int  # cells in the prediction, all planes


def evaluate(truth: np.ndarray, pred: np.ndarray, thresholds=(0.5, 0.75)) -> SegmentationScores:
    """Label images (Y, X) or (P, Y, X) of the same shape -> foreground IoU, AP, cell counts.

    Parameters
    ----------
    truth : ndarray
        (Y, X) or (P, Y, X) non-negative integer ground-truth labels, 0 = background.
    pred : ndarray
        Predicted labels, same shape.
    thresholds : float or sequence of float
        IoU thresholds in (0, 1] at which AP is computed.

    Returns
    -------
    SegmentationScores
        Foreground IoU, AP per threshold and the cell counts, over all planes.
    """
    truth, pred = _as_planes(truth, pred)
    thresholds = _check_thresholds(thresholds)
    counts = [_match_counts(t, p, thresholds) for t, p in zip(truth, pred)]
    return SegmentationScores(
        foreground_iou=foreground_iou(truth, pred),
        ap=_ap_from_counts(counts, thresholds),
        n_true=sum(c[0] for c in counts),
        n_pred=sum(c[1] for c in counts),
    )


def foreground_iou(truth: np.ndarray, pred: np.ndarray) -> float:
    """Label images (Y, X) or (P, Y, X) -> IoU of (truth > 0) and (pred > 0); 1.0 if both empty.

    Parameters
    ----------
    truth : ndarray
        (Y, X) or (P, Y, X) non-negative integer ground-truth labels.
    pred : ndarray
        Predicted labels, same shape.

    Returns
    -------
    float
        Intersection over union of the two foregrounds, in [0, 1].
    """
    truth, pred = _as_planes(truth, pred)
    a, b = truth > 0, pred > 0
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


def average_precision(
    truth: np.ndarray, pred: np.ndarray, thresholds=(0.5, 0.75)
) -> dict[float, float]:
    """Label images (Y, X) or (P, Y, X) -> {threshold: TP / (TP + FP + FN)}.

    TP, FP and FN are summed over all planes before dividing (a stack is scored as one
    set of cells, not as a mean of per-plane scores). No cells on either side -> 1.0.

    Parameters
    ----------
    truth : ndarray
        (Y, X) or (P, Y, X) non-negative integer ground-truth labels.
    pred : ndarray
        Predicted labels, same shape.
    thresholds : float or sequence of float
        IoU thresholds in (0, 1].

    Returns
    -------
    dict of float to float
        AP per threshold.
    """
    truth, pred = _as_planes(truth, pred)
    thresholds = _check_thresholds(thresholds)
    counts = [_match_counts(t, p, thresholds) for t, p in zip(truth, pred)]
    return _ap_from_counts(counts, thresholds)


def match_instances(
    truth: np.ndarray, pred: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Y, X) label planes -> (iou (T, P) float64, truth ids (T,), pred ids (P,)).

    ``iou[i, j]`` is the IoU of cell ``truth_ids[i]`` and cell ``pred_ids[j]`` (ids sorted,
    background excluded). Dense, so T * P * 8 bytes; the scores use the sparse pairs.

    Parameters
    ----------
    truth : ndarray
        (Y, X) non-negative integer ground-truth labels.
    pred : ndarray
        (Y, X) predicted labels.

    Returns
    -------
    iou : ndarray
        (T, P) float64, 0 for cells that do not overlap.
    truth_ids : ndarray
        (T,) the ground truth's cell ids, ascending.
    pred_ids : ndarray
        (P,) the prediction's cell ids, ascending.
    """
    rows, cols, values, truth_ids, pred_ids = _overlaps(truth, pred)
    iou = np.zeros((len(truth_ids), len(pred_ids)))
    iou[rows, cols] = values
    return iou, truth_ids, pred_ids


def matched_count(iou: np.ndarray, threshold: float) -> int:
    """(T, P) IoU matrix -> most one-to-one pairs of cells with IoU >= ``threshold`` (> 0).

    Parameters
    ----------
    iou : ndarray
        (T, P) float IoU matrix, e.g. from :func:`match_instances`.
    threshold : float
        Least IoU of a matching pair.

    Returns
    -------
    int
        The largest number of one-to-one matches (true positives).
    """
    rows, cols = np.nonzero(iou)
    return _matched_count(rows, cols, iou[rows, cols], threshold)


def _overlaps(truth: np.ndarray, pred: np.ndarray):
    """(Y, X) label planes -> the overlapping cell pairs: (rows, cols, iou, truth ids, pred ids).

    ``rows``/``cols`` index ``truth_ids``/``pred_ids`` (sorted, background excluded). All
    intersections and areas come from one histogram of the (truth, pred) id pairs
    (``np.bincount``, or ``np.unique`` when that table would be large), never from a mask
    per pair.
    """
    truth_ids, t = _compact(truth)
    pred_ids, p = _compact(pred)
    n_p = len(pred_ids)
    keys = t * n_p + p
    if len(truth_ids) * n_p <= keys.size:  # a dense histogram is cheaper than sorting
        inter = np.bincount(keys, minlength=len(truth_ids) * n_p)
        pairs = np.flatnonzero(inter)
        inter = inter[pairs]
    else:
        pairs, inter = np.unique(keys, return_counts=True)
    rows, cols = np.divmod(pairs, n_p)
    area_t = np.bincount(rows, weights=inter, minlength=len(truth_ids))
    area_p = np.bincount(cols, weights=inter, minlength=n_p)
    # Shift indices past the background (index 0 iff the id 0 occurs) and drop its pairs.
    t0, p0 = int(truth_ids[:1].tolist() == [0]), int(pred_ids[:1].tolist() == [0])
    cell = (rows >= t0) & (cols >= p0)
    rows, cols, inter = rows[cell], cols[cell], inter[cell]
    iou = inter / (area_t[rows] + area_p[cols] - inter)
    return rows - t0, cols - p0, iou, truth_ids[t0:], pred_ids[p0:]


def _compact(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Y, X) ids -> (sorted distinct ids, flat index of each pixel's id in them).

    What ``np.unique(..., return_inverse=True)`` gives, by a lookup table when the ids
    are small (the usual case), which is several times faster than sorting.
    """
    flat = labels.ravel()
    top = int(flat.max()) if flat.size else 0
    if top > 4 * flat.size + 1024:
        ids, index = np.unique(flat, return_inverse=True)
        return ids, index.ravel()
    present = np.bincount(flat, minlength=top + 1) > 0
    lookup = np.cumsum(present) - 1
    return np.flatnonzero(present), lookup[flat]


def _matched_count(rows: np.ndarray, cols: np.ndarray, iou: np.ndarray, threshold: float) -> int:
    """Sparse IoU pairs -> most one-to-one matches with IoU >= ``threshold``.

    Above 0.5 a cell can overlap that much with at most one other, so counting is enough.
    Otherwise the Hungarian algorithm on just the candidate cells, maximising the number
    of matches first and the total IoU second (as StarDist does).
    """
    ok = iou >= threshold
    rows, cols, iou = rows[ok], cols[ok], iou[ok]
    if threshold > 0.5 or len(iou) == 0:
        return len(iou)
    r_ids, r = np.unique(rows, return_inverse=True)
    c_ids, c = np.unique(cols, return_inverse=True)
    # Each match is worth 1 plus a tie-break below 1/2 in total, so the count wins.
    cost = np.zeros((len(r_ids), len(c_ids)))
    cost[r, c] = -(1 + iou / (2 * min(cost.shape)))
    r_best, c_best = linear_sum_assignment(cost)
    return int(np.count_nonzero(cost[r_best, c_best] < 0))


def _match_counts(truth: np.ndarray, pred: np.ndarray, thresholds) -> tuple[int, int, list[int]]:
    """One plane -> (cells in truth, cells in pred, TP per threshold)."""
    rows, cols, iou, truth_ids, pred_ids = _overlaps(truth, pred)
    return len(truth_ids), len(pred_ids), [_matched_count(rows, cols, iou, t) for t in thresholds]


def _ap_from_counts(counts, thresholds) -> dict[float, float]:
    n_true = sum(c[0] for c in counts)
    n_pred = sum(c[1] for c in counts)
    scores = {}
    for k, t in enumerate(thresholds):
        tp = sum(c[2][k] for c in counts)
        denominator = n_true + n_pred - tp  # TP + FP + FN
        scores[float(t)] = 1.0 if denominator == 0 else tp / denominator
    return scores


def _check_thresholds(thresholds) -> tuple[float, ...]:
    values = tuple(float(t) for t in np.atleast_1d(thresholds))
    if not values or not all(0.0 < t <= 1.0 for t in values):
        raise InvalidInputError(f"IoU thresholds must be in (0, 1], not {thresholds}.")
    return values


def _as_planes(truth: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check two label images and return them as (P, Y, X) views."""
    truth, pred = np.asarray(truth), np.asarray(pred)
    if truth.shape != pred.shape:
        raise InvalidInputError(
            f"The ground truth is {_describe(truth.shape)} but the prediction is "
            f"{_describe(pred.shape)}; they must be the same size to be compared."
        )
    if truth.ndim not in (2, 3):
        raise InvalidInputError(
            "Expected label images shaped (rows, cols) or (planes, rows, cols), "
            f"got shape {truth.shape}."
        )
    for name, labels in (("ground truth", truth), ("prediction", pred)):
        if labels.dtype.kind not in "biu":
            raise InvalidInputError(
                f"The {name} must be an integer label image, not {labels.dtype}."
            )
        if labels.dtype.kind == "i" and labels.size and labels.min() < 0:
            raise InvalidInputError(f"The {name} contains negative label ids.")
    if truth.ndim == 2:
        truth, pred = truth[None], pred[None]
    return truth.astype(np.intp, copy=False), pred.astype(np.intp, copy=False)


def _describe(shape: tuple[int, ...]) -> str:
    if len(shape) == 2:
        return f"{shape[0]} x {shape[1]} pixels"
    if len(shape) == 3:
        return f"{shape[0]} planes of {shape[1]} x {shape[2]} pixels"
    return f"an array of shape {shape}"
