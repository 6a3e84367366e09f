"""Accepting predicted cells into the labels, for a region the user marks.

The user corrects instead of drawing: where the prediction is good, its cells are copied
in; elsewhere the labels stay as they are. Whole cells are copied (a cell cut at the
edge of the box would be a wrong label), so a cell belongs to the box when most of it
lies inside.
"""

from __future__ import annotations

import numpy as np

from unetgui.core.errors import InvalidInputError
from unetgui.core.labels import Box


def cells_in_box(cells: np.ndarray, box: Box, *, min_inside: float = 0.5) -> np.ndarray:
    """Ids of the cells (labels > 0) with more than ``min_inside`` of their pixels in ``box``.

    Parameters
    ----------
    cells : ndarray
        (Y, X) non-negative integer cell ids, e.g. a prediction.
    box : Box
        (row0, row1, col0, col1), half-open; clipped to the plane.
    min_inside : float
        Share of a cell's pixels that must lie inside the box (strictly more than this).

    Returns
    -------
    ndarray
        (N,) intp cell ids, ascending.
    """
    cells = _cell_ids(cells)
    r0, r1, c0, c1 = _clip(box, cells.shape)
    inside = np.bincount(cells[r0:r1, c0:c1].ravel())
    ids = np.flatnonzero(inside[1:]) + 1
    if ids.size == 0:
        return ids
    totals = np.bincount(cells.ravel(), minlength=inside.size)
    return ids[inside[ids] > min_inside * totals[ids]]


def paste_cells(labels: np.ndarray, cells: np.ndarray, box: Box, *, first_id: int,
                min_inside: float = 0.5) -> tuple[np.ndarray, int]:
    """``labels`` with the cells of ``cells`` that lie mostly inside ``box`` copied in.

    Each pasted cell gets a new id, counting up from ``first_id``, and overwrites the
    labels where it lies; nothing else changes. The inputs are not changed.

    Parameters
    ----------
    labels : ndarray
        (Y, X) integer labels to paste into (the document's uint32).
    cells : ndarray
        (Y, X) non-negative integer predicted cell ids, same shape.
    box : Box
        (row0, row1, col0, col1), half-open: the region the user marked.
    first_id : int
        Id of the first pasted cell (>= 1); the others follow consecutively.
    min_inside : float
        Share of a cell's pixels that must lie inside ``box`` for it to be pasted.

    Returns
    -------
    new_labels : ndarray
        (Y, X) copy of ``labels`` with the cells pasted, in ``labels``' unsigned dtype, or
        int64 when that dtype cannot hold the new ids.
    n_pasted : int
        Number of cells pasted.
    """
    labels, cells = _checked(labels, cells, first_id)
    chosen = cells_in_box(cells, box, min_inside=min_inside)
    top = first_id + chosen.size - 1
    out = _copy_for(labels, top)  # a copy (the document's uint32 unless new ids need more)
    if chosen.size == 0:
        return out, 0
    new_ids = np.zeros(int(cells.max()) + 1, dtype=out.dtype)
    new_ids[chosen] = np.arange(first_id, top + 1)
    mapped = new_ids[cells]
    hit = mapped > 0
    out[hit] = mapped[hit]
    return out, int(chosen.size)


def paste_cell(labels: np.ndarray, cells: np.ndarray, row: int, col: int, *, new_id: int) -> tuple[np.ndarray, int]:
    """``labels`` with the one predicted cell at (row, col) copied in, as ``new_id``.

    The click-to-accept tool: the quickest way to take good cells one by one. The cell
    overwrites the labels where it lies; nothing else changes. The inputs are not changed.

    Parameters
    ----------
    labels : ndarray
        (Y, X) integer labels to paste into (the document's uint32).
    cells : ndarray
        (Y, X) non-negative integer predicted cell ids, same shape.
    row, col : int
        The pixel clicked.
    new_id : int
        Id the pasted cell gets (>= 1).

    Returns
    -------
    new_labels : ndarray
        (Y, X) copy of ``labels``, with the cell when there is one at (row, col).
    n_pasted : int
        1, or 0 when (row, col) is background in ``cells`` or outside the plane.
    """
    labels, cells = _checked(labels, cells, new_id)
    out = _copy_for(labels, new_id)
    inside = 0 <= row < cells.shape[0] and 0 <= col < cells.shape[1]
    cell = int(cells[row, col]) if inside else 0
    if cell == 0:
        return out, 0
    out[cells == cell] = new_id
    return out, 1


def _checked(labels, cells, first_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predicted cells as arrays of one plane's shape, and a valid first new id."""
    labels, cells = np.asarray(labels), _cell_ids(cells)
    if labels.shape != cells.shape or labels.ndim != 2:
        raise InvalidInputError(
            f"Labels {labels.shape} and predicted cells {cells.shape} must be planes of the same shape."
        )
    if first_id < 1:
        raise InvalidInputError(f"New cell ids start at 1 or above, not {first_id}.")
    return labels, cells


def _copy_for(labels: np.ndarray, top_id: int) -> np.ndarray:
    """A copy of ``labels`` in a dtype that holds ids up to ``top_id`` (theirs if it can)."""
    fits = labels.dtype.kind == "u" and top_id <= np.iinfo(labels.dtype).max
    return labels.astype(labels.dtype if fits else np.int64)


def _cell_ids(cells) -> np.ndarray:
    cells = np.asarray(cells)
    if cells.dtype == bool or not np.issubdtype(cells.dtype, np.integer):
        raise InvalidInputError(f"Predicted cells must be whole-number ids, not {cells.dtype}.")
    if cells.size and cells.min() < 0:
        raise InvalidInputError("Predicted cell ids cannot be negative.")
    return cells


def _clip(box: Box, shape: tuple[int, int]) -> Box:
    r0, r1, c0, c1 = (int(v) for v in box)
    r0, r1 = sorted((max(0, min(r0, shape[0])), max(0, min(r1, shape[0]))))
    c0, c1 = sorted((max(0, min(c0, shape[1])), max(0, min(c1, shape[1]))))
    return r0, r1, c0, c1
