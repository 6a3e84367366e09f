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
    """Ids of the cells (labels > 0) with more than ``min_inside`` of their pixels in ``box``."""
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
    labels where it lies; nothing else changes. Returns (new labels, cells pasted); the
    inputs are not changed.
    """
    labels, cells = np.asarray(labels), _cell_ids(cells)
    if labels.shape != cells.shape or labels.ndim != 2:
        raise InvalidInputError(
            f"Labels {labels.shape} and predicted cells {cells.shape} must be planes of the same shape."
        )
    if first_id < 1:
        raise InvalidInputError(f"New cell ids start at 1 or above, not {first_id}.")
    chosen = cells_in_box(cells, box, min_inside=min_inside)
    top = first_id + chosen.size - 1
    dtype = labels.dtype if labels.dtype.kind == "u" and top <= np.iinfo(labels.dtype).max else np.int64
    out = labels.astype(dtype)  # a copy (the document's uint32 unless new ids need more)
    if chosen.size == 0:
        return out, 0
    new_ids = np.zeros(int(cells.max()) + 1, dtype=dtype)
    new_ids[chosen] = np.arange(first_id, top + 1)
    mapped = new_ids[cells]
    hit = mapped > 0
    out[hit] = mapped[hit]
    return out, int(chosen.size)


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
