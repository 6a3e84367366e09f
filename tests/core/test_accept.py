"""Accepting predicted cells inside a box into the labels."""

from __future__ import annotations

import numpy as np
import pytest

from unetgui.core.accept import cells_in_box, paste_cells
from unetgui.core.errors import InvalidInputError


def predicted() -> np.ndarray:
    cells = np.zeros((40, 50), dtype=np.int32)
    cells[2:8, 2:8] = 1  # wholly inside the box (0, 20, 0, 20)
    cells[15:25, 5:10] = 2  # half inside (rows 15-19 of 15-24): not more than half
    cells[16:26, 12:18] = 3  # 4 of 10 rows inside
    cells[12:19, 14:18] = 4  # 5 of 7 rows inside: mostly
    cells[30:35, 30:45] = 5  # outside
    return cells


def test_cells_in_box_are_those_mostly_inside():
    assert cells_in_box(predicted(), (0, 20, 0, 20)).tolist() == [1, 4]
    assert cells_in_box(predicted(), (0, 20, 0, 20), min_inside=0.0).tolist() == [1, 2, 3, 4]
    assert cells_in_box(predicted(), (0, 0, 0, 0)).size == 0
    assert cells_in_box(predicted(), (-10, 100, -5, 100)).tolist() == [1, 2, 3, 4, 5]  # clipped


def test_paste_copies_whole_cells_with_new_ids_and_keeps_the_rest():
    labels = np.zeros((40, 50), dtype=np.uint32)
    labels[4:6, 4:6] = 9  # the user's cell, partly under predicted cell 1
    labels[30:32, 0:3] = 8  # elsewhere
    out, count = paste_cells(labels, predicted(), (0, 20, 0, 20), first_id=10)
    assert count == 2
    assert (out[2:8, 2:8] == 10).all()  # cell 1 overwrote the user's cell 9 where it lies
    assert (out[12:19, 14:18] == 11).all()  # cell 4 copied whole, rows 19+ included
    assert (out[30:32, 0:3] == 8).all() and not (out == 9).any()
    assert out[20, 6] == 0 and out[32, 40] == 0  # cells 2 and 5 not copied
    assert labels.max() == 9  # the input is untouched


def test_paste_with_nothing_inside_changes_nothing():
    labels = np.arange(2000, dtype=np.uint32).reshape(40, 50)
    out, count = paste_cells(labels, predicted(), (36, 40, 0, 5), first_id=5000)
    assert count == 0 and np.array_equal(out, labels)


def test_paste_refuses_mismatched_shapes_and_bad_ids():
    with pytest.raises(InvalidInputError, match="same shape"):
        paste_cells(np.zeros((5, 5), np.uint32), predicted(), (0, 5, 0, 5), first_id=1)
    with pytest.raises(InvalidInputError, match="start at 1"):
        paste_cells(np.zeros((40, 50), np.uint32), predicted(), (0, 5, 0, 5), first_id=0)


def test_predicted_cells_must_be_non_negative_ids():
    cells = predicted()
    cells[0, 0] = -1
    with pytest.raises(InvalidInputError, match="negative"):
        paste_cells(np.zeros((40, 50), np.uint32), cells, (0, 20, 0, 20), first_id=1)
    with pytest.raises(InvalidInputError, match="whole-number"):
        cells_in_box(predicted().astype(np.float32), (0, 20, 0, 20))


def test_paste_keeps_the_labels_dtype_unless_new_ids_need_more():
    labels = np.zeros((40, 50), dtype=np.uint32)
    out, _ = paste_cells(labels, predicted(), (0, 20, 0, 20), first_id=10)
    assert out.dtype == np.uint32
    out, _ = paste_cells(labels.astype(np.uint8), predicted(), (0, 20, 0, 20), first_id=255)
    assert out.dtype == np.int64 and out[13, 15] == 256


def test_paste_cell_copies_only_the_clicked_cell_with_a_new_id():
    from unetgui.core.accept import paste_cell

    labels = np.zeros((6, 8), np.uint32)
    labels[0, 0] = 4
    cells = np.zeros((6, 8), np.int32)
    cells[1:3, 1:4] = 7
    cells[4:6, 5:8] = 9
    out, n = paste_cell(labels, cells, 2, 2, new_id=5)
    assert n == 1 and out.dtype == np.uint32
    assert (out[1:3, 1:4] == 5).all() and not out[4:6, 5:8].any() and out[0, 0] == 4
    assert labels[1, 1] == 0  # the input is not changed
    out, n = paste_cell(labels, cells, 0, 7, new_id=5)  # background: nothing
    np.testing.assert_array_equal(out, labels)
    assert n == 0
    assert paste_cell(labels, cells, 10, 10, new_id=5)[1] == 0  # outside the plane
