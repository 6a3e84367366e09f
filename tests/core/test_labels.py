"""Tests for unetgui.core.labels: hand-checked tiny planes, undo exactness, events, limits."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from unetgui.core.errors import InvalidInputError
from unetgui.core.labels import (
    LabelDocument,
    LabelsChanged,
    LabelSnapshot,
    RolesChanged,
    brush_mask,
)

PLUS = np.array(
    [
        [0, 0, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0],
    ],
    dtype=np.uint32,
)


def recorder(doc):
    events = []
    doc.subscribe(events.append)
    return events


def brute_brush(start, end, radius, shape):
    """Reference: pixel centres within radius of the segment, by dense sampling of it."""
    rows, cols = np.indices(shape, dtype=float)
    out = np.zeros(shape, dtype=bool)
    for t in np.linspace(0, 1, 2001):
        r = start[0] + t * (end[0] - start[0])
        c = start[1] + t * (end[1] - start[1])
        out |= (rows - r) ** 2 + (cols - c) ** 2 <= radius**2 + 1e-9
    return out


def random_doc(seed, n_planes=3, shape=(24, 30)):
    rng = np.random.default_rng(seed)
    doc = LabelDocument(n_planes, shape)
    for _ in range(12):
        plane = int(rng.integers(n_planes))
        points = rng.uniform(-3, max(shape) + 3, size=(int(rng.integers(1, 5)), 2))
        doc.paint(plane, points, value=int(rng.integers(0, 6)), radius=float(rng.uniform(0, 4)))
    return doc


# --------------------------------------------------------------------------- brush shape


def test_dab_radius_1_is_a_plus():
    doc = LabelDocument(1, (5, 5))
    assert doc.paint(0, [(2, 2)], value=1, radius=1)
    np.testing.assert_array_equal(doc.labels_of(0), PLUS)


def test_dab_radius_1_5_is_a_square_and_radius_0_one_pixel():
    doc = LabelDocument(1, (5, 5))
    doc.paint(0, [(2, 2)], value=4, radius=1.5)
    expected = np.zeros((5, 5), dtype=np.uint32)
    expected[1:4, 1:4] = 4
    np.testing.assert_array_equal(doc.labels_of(0), expected)
    doc.paint(0, [(0.3, 4.2)], value=9, radius=0)
    assert doc.pick(0, 0, 4) == 9 and int((doc.labels_of(0) == 9).sum()) == 1


def test_dab_is_clipped_at_the_plane_edge():
    doc = LabelDocument(1, (5, 5))
    doc.paint(0, [(0, 0)], value=2, radius=1)
    assert sorted(zip(*np.nonzero(doc.labels_of(0)), strict=True)) == [(0, 0), (0, 1), (1, 0)]
    assert brush_mask((-10, -10), (-9, -9), 2, (5, 5)) is None


@pytest.mark.parametrize("seed", range(4))
def test_brush_mask_matches_dense_sampling(seed):
    rng = np.random.default_rng(seed)
    shape = (20, 23)
    for _ in range(10):
        start, end = rng.uniform(-2, 22, 2), rng.uniform(-2, 22, 2)
        radius = float(rng.uniform(0.8, 5))
        (r0, r1, c0, c1), mask = brush_mask(tuple(start), tuple(end), radius, shape)
        full = np.zeros(shape, dtype=bool)
        full[r0:r1, c0:c1] = mask
        np.testing.assert_array_equal(full, brute_brush(start, end, radius, shape))


def test_fast_stroke_leaves_no_gap():
    doc = LabelDocument(1, (64, 64))
    doc.paint(0, [(3, 2), (60, 50), (5, 61)], value=1, radius=2)
    _, n = ndi.label(doc.labels_of(0) == 1)  # 4-connected
    assert n == 1
    for point in [(3, 2), (31.5, 26), (60, 50), (5, 61)]:
        assert doc.pick(0, round(point[0]), round(point[1])) == 1


def test_thin_stroke_is_an_8_connected_line():
    doc = LabelDocument(1, (5, 5))
    doc.paint(0, [(0, 0), (4, 4)], value=3, radius=0)
    np.testing.assert_array_equal(doc.labels_of(0), np.eye(5, dtype=np.uint32) * 3)
    doc = LabelDocument(1, (40, 40))
    doc.paint(0, [(1.3, 0.2), (38.7, 13.9)], value=1, radius=0)
    _, n = ndi.label(doc.labels_of(0) == 1, structure=np.ones((3, 3)))
    assert n == 1 and doc.pick(0, 1, 0) == 1 and doc.pick(0, 39, 14) == 1


def test_long_stroke_is_split_but_equals_one_capsule():
    doc = LabelDocument(1, (300, 300))
    doc.paint(0, [(5, 5), (290, 270)], value=1, radius=3)
    box, mask = brush_mask((5, 5), (290, 270), 3, (300, 300))
    expected = np.zeros((300, 300), dtype=bool)
    expected[box[0]:box[1], box[2]:box[3]] = mask
    np.testing.assert_array_equal(doc.labels_of(0) == 1, expected)


def test_long_diagonal_stroke_keeps_small_pieces_and_undoes_exactly():
    doc = LabelDocument(1, (1200, 1200))
    doc.paint(0, [(0, 0)], value=2, radius=5)
    before = doc.labels_of(0).copy()
    doc.paint(0, [(3, 3), (1190, 1190)], value=1, radius=1)
    assert doc.history_nbytes < 200_000  # not a 1200 x 1200 mask
    doc.undo(0)
    np.testing.assert_array_equal(doc.labels_of(0), before)
    doc.redo(0)
    assert doc.pick(0, 600, 600) == 1


def test_only_background_preserves_existing_cells():
    doc = LabelDocument(1, (5, 5))
    doc.paint(0, [(2, 2)], value=1, radius=0)
    doc.paint(0, [(2, 2)], value=2, radius=1, only_background=True)
    expected = PLUS * 2
    expected[2, 2] = 1
    np.testing.assert_array_equal(doc.labels_of(0), expected)
    assert not doc.paint(0, [(2, 2)], value=0, radius=3, only_background=True)


def test_eraser_paints_background():
    doc = LabelDocument(1, (5, 5))
    doc.paint(0, [(2, 2)], value=1, radius=1.5)
    doc.paint(0, [(2, 0), (2, 4)], value=0, radius=0)
    assert doc.labels_of(0)[2].tolist() == [0, 0, 0, 0, 0]
    assert int(doc.labels_of(0).sum()) == 6


# --------------------------------------------------------------------------- undo / redo


def test_one_undo_takes_back_a_whole_stroke_exactly():
    doc = random_doc(0)
    before = doc.labels_of(1).copy()
    doc.begin_stroke(1, value=7, radius=2)
    for point in [(1, 1), (10, 3), (20, 25), (3, 28), (3.5, 28.5)]:
        doc.stroke_to(*point)
    doc.end_stroke()
    after = doc.labels_of(1).copy()
    assert not np.array_equal(before, after)
    assert doc.undo(1)
    np.testing.assert_array_equal(doc.labels_of(1), before)
    assert doc.redo(1)
    np.testing.assert_array_equal(doc.labels_of(1), after)
    assert not doc.redo(1)


@pytest.mark.parametrize("seed", range(3))
def test_undo_all_then_redo_all_restores_every_state(seed):
    rng = np.random.default_rng(seed)
    doc = LabelDocument(1, (20, 20))
    states = [doc.labels_of(0).copy()]
    for step in range(15):
        kind = step % 4
        if kind == 0:
            doc.paint(0, rng.uniform(0, 20, (3, 2)), value=int(rng.integers(0, 5)), radius=2.5)
        elif kind == 1:
            doc.fill(0, *map(int, rng.integers(0, 20, 2)), int(rng.integers(0, 5)))
        elif kind == 2:
            doc.merge_cells(0, 1, int(rng.integers(2, 5)))
        else:
            doc.set_plane_labels(0, rng.integers(0, 3, (20, 20)) * (rng.random((20, 20)) < .3))
        if not np.array_equal(doc.labels_of(0), states[-1]):
            states.append(doc.labels_of(0).copy())
    for state in reversed(states[:-1]):
        assert doc.undo(0)
        np.testing.assert_array_equal(doc.labels_of(0), state)
    assert not doc.undo(0) and doc.role(0) == "none"
    for state in states[1:]:
        assert doc.redo(0)
        np.testing.assert_array_equal(doc.labels_of(0), state)


def test_history_is_per_plane():
    doc = LabelDocument(3, (8, 8))
    doc.paint(0, [(1, 1)], value=1, radius=1)
    doc.paint(2, [(5, 5)], value=2, radius=1)
    doc.paint(0, [(6, 6)], value=3, radius=1)
    assert doc.undo(2)
    assert doc.labels_of(2).max() == 0 and doc.pick(0, 6, 6) == 3
    assert not doc.can_undo(1) and not doc.undo(1)
    assert doc.undo(0) and doc.pick(0, 6, 6) == 0 and doc.pick(0, 1, 1) == 1
    assert doc.can_redo(0) and doc.can_redo(2)


def test_new_edit_clears_redo_of_its_plane_only():
    doc = LabelDocument(2, (8, 8))
    doc.paint(0, [(1, 1)], value=1, radius=1)
    doc.paint(1, [(1, 1)], value=1, radius=1)
    doc.undo(0)
    doc.undo(1)
    doc.paint(0, [(4, 4)], value=2, radius=1)
    assert not doc.can_redo(0) and doc.can_redo(1)


def test_history_bound_by_items_drops_oldest():
    doc = LabelDocument(1, (10, 10), history_items=3)
    for value in range(1, 6):
        doc.paint(0, [(5, 5)], value=value, radius=1)
    assert [doc.undo(0) for _ in range(4)] == [True, True, True, False]
    assert doc.pick(0, 5, 5) == 2  # the two oldest edits can no longer be undone


def test_history_bound_by_bytes_drops_oldest_across_planes():
    doc = LabelDocument(3, (64, 64), history_bytes=4000)
    doc.set_plane_labels(0, np.ones((64, 64), dtype=np.uint8))  # ~20 kB: not undoable
    assert not doc.can_undo(0) and doc.history_nbytes == 0
    for plane in (1, 2, 1, 2, 1, 2):
        doc.paint(plane, [(30, 30)], value=plane + doc.version(plane), radius=8)
    assert 0 < doc.history_nbytes <= 4000
    undone = {1: 0, 2: 0}
    for plane in (1, 2):
        while doc.undo(plane):
            undone[plane] += 1
    assert 1 <= undone[1] < 3 and 1 <= undone[2] < 3
    assert undone[2] >= undone[1]  # plane 1 painted first, so it lost its items first


def test_unrecordable_edit_clears_older_history_of_the_plane():
    doc = LabelDocument(1, (64, 64), history_bytes=4000)
    doc.paint(0, [(3, 3)], value=1, radius=1)
    doc.set_plane_labels(0, np.full((64, 64), 5))
    assert not doc.can_undo(0)


def test_undo_during_a_stroke_takes_back_the_stroke():
    doc = LabelDocument(1, (10, 10))
    doc.begin_stroke(0, value=1, radius=1)
    doc.stroke_to(2, 2)
    assert doc.can_undo(0)
    assert doc.undo(0) and not doc.in_stroke and doc.labels_of(0).max() == 0


def test_cancel_stroke_restores_and_records_nothing():
    doc = LabelDocument(1, (10, 10))
    events = recorder(doc)
    doc.begin_stroke(0, value=1, radius=1)
    doc.stroke_to(2, 2)
    doc.stroke_to(2, 7)
    assert doc.cancel_stroke()
    assert doc.labels_of(0).max() == 0 and not doc.can_undo(0) and doc.role(0) == "none"
    assert events[-2:] == [LabelsChanged(0, "labels", (1, 4, 1, 9)), RolesChanged(0, "none")]


def test_stroke_to_without_begin_is_a_programming_error():
    with pytest.raises(RuntimeError):
        LabelDocument(1, (4, 4)).stroke_to(1, 1)


# --------------------------------------------------------------------------- other edits


def test_fill_is_4_connected_and_does_not_leak_diagonally():
    labels = np.array(
        [
            [1, 1, 0, 0],
            [1, 1, 0, 0],
            [0, 0, 1, 1],
            [0, 0, 1, 1],
        ]
    )
    doc = LabelDocument(1, (4, 4))
    doc.set_plane_labels(0, labels)
    assert doc.fill(0, 0, 0, 5)
    expected = labels.copy()
    expected[:2, :2] = 5
    np.testing.assert_array_equal(doc.labels_of(0), expected)
    assert not doc.fill(0, 0, 0, 5)
    assert doc.fill(0, 0, 3, 9)  # background: the top-right block only
    assert doc.labels_of(0)[:2, 2:].tolist() == [[9, 9], [9, 9]]
    assert doc.labels_of(0)[2:, :2].tolist() == [[0, 0], [0, 0]]


def test_fill_of_a_large_region_grows_its_window_and_matches_flood():
    rng = np.random.default_rng(5)
    labels = (rng.random((300, 300)) < 0.45).astype(np.uint32)
    doc = LabelDocument(1, (300, 300))
    doc.set_plane_labels(0, labels)
    regions, _ = ndi.label(labels == 0)
    big = np.argmax(np.bincount(regions.ravel())[1:]) + 1
    row, col = map(int, np.argwhere(regions == big)[0])
    events = recorder(doc)
    doc.fill(0, row, col, 7)
    expected = np.where(regions == big, 7, labels)
    np.testing.assert_array_equal(doc.labels_of(0), expected)
    rows, cols = np.nonzero(regions == big)
    assert events[0] == LabelsChanged(
        0, "labels", (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1))


def test_fill_on_untouched_plane_fills_all():
    doc = LabelDocument(2, (6, 7))
    assert doc.fill(1, 3, 3, 2)
    assert (doc.labels_of(1) == 2).all() and doc.next_free_id() == 3


def test_pick_delete_merge():
    labels = np.zeros((6, 6), dtype=np.uint16)
    labels[1:3, 1:3] = 4
    labels[4, 0] = 4
    labels[3:6, 3:6] = 8
    doc = LabelDocument(1, (6, 6))
    doc.set_plane_labels(0, labels)
    events = recorder(doc)
    assert doc.pick(0, 1, 1) == 4 and doc.pick(0, 0, 0) == 0
    assert doc.delete_cell(0, 4)
    assert events[-1] == LabelsChanged(0, "labels", (1, 5, 0, 3))  # the cell's extent
    assert not (doc.labels_of(0) == 4).any() and not doc.delete_cell(0, 4)
    assert doc.merge_cells(0, 2, 8)
    np.testing.assert_array_equal(doc.labels_of(0), np.where(labels == 8, 2, 0))
    assert events[-1] == LabelsChanged(0, "labels", (3, 6, 3, 6))
    doc.undo(0)
    doc.undo(0)
    np.testing.assert_array_equal(doc.labels_of(0), labels)


def test_next_free_id_across_planes_and_after_removal():
    doc = LabelDocument(3, (8, 8))
    assert doc.next_free_id() == 1
    doc.paint(2, [(1, 1)], value=7, radius=0)
    doc.paint(0, [(1, 1)], value=3, radius=0)
    assert doc.next_free_id() == 8
    doc.delete_cell(2, 7)
    assert doc.next_free_id() == 4
    doc.undo(2)
    assert doc.next_free_id() == 8
    doc.set_plane_labels(1, np.full((8, 8), 12))
    assert doc.next_free_id() == 13


def test_ignore_layer_is_separate():
    doc = LabelDocument(1, (5, 5))
    events = recorder(doc)
    doc.paint(0, [(2, 2)], value=True, radius=1, layer="ignore")
    np.testing.assert_array_equal(doc.ignore_of(0), PLUS.astype(bool))
    assert doc.labels_of(0).max() == 0 and doc.allocated_planes("labels") == ()
    assert events[0] == LabelsChanged(0, "ignore", (1, 4, 1, 4))
    doc.paint(0, [(2, 2)], value=False, radius=0, layer="ignore")
    assert int(doc.ignore_of(0).sum()) == 4
    doc.undo(0)
    np.testing.assert_array_equal(doc.ignore_of(0), PLUS.astype(bool))


def test_set_plane_labels_with_ignore_is_one_undo_item():
    doc = LabelDocument(2, (6, 6))
    labels = np.zeros((6, 6), dtype=np.int64)
    labels[2:4, 1:3] = 5
    ignore = np.zeros((6, 6), dtype=bool)
    ignore[5, 5] = True
    events = recorder(doc)
    assert doc.set_plane_labels(1, labels, ignore=ignore)
    assert events == [LabelsChanged(1, "labels", (2, 4, 1, 3)),
                      LabelsChanged(1, "ignore", (5, 6, 5, 6)), RolesChanged(1, "train")]
    labels[0, 0] = 99  # the document keeps no reference to its inputs
    assert doc.pick(1, 0, 0) == 0 and doc.labels_of(1).dtype == np.uint32
    assert doc.undo(1)
    assert doc.labels_of(1).max() == 0 and not doc.ignore_of(1).any()
    assert not doc.set_plane_labels(0, np.zeros((6, 6), dtype=np.uint8))
    assert doc.allocated_planes() == (1,)


def test_set_plane_labels_not_undoable_clears_history():
    doc = LabelDocument(1, (6, 6))
    doc.paint(0, [(2, 2)], value=1, radius=1)
    doc.set_plane_labels(0, np.full((6, 6), 2), undoable=False)
    assert not doc.can_undo(0) and doc.pick(0, 0, 0) == 2


# --------------------------------------------------------------------------- roles, events


def test_painting_marks_plane_train_and_undo_unmarks_it():
    doc = LabelDocument(3, (6, 6))
    events = recorder(doc)
    assert doc.annotated_planes() == ()
    doc.paint(1, [(2, 2)], value=1, radius=1)
    assert doc.role(1) == "train" and doc.planes_with_role("train") == (1,)
    assert RolesChanged(1, "train") in events
    doc.set_role(2, "validation")
    doc.paint(2, [(2, 2)], value=1, radius=1)
    assert doc.role(2) == "validation" and doc.annotated_planes() == (1, 2)
    doc.undo(1)
    assert doc.role(1) == "none" and events[-1] == RolesChanged(1, "none")
    doc.redo(1)
    assert doc.role(1) == "train"
    doc.undo(2)
    assert doc.role(2) == "validation"


def test_a_stroke_that_changes_nothing_records_nothing():
    doc = LabelDocument(1, (6, 6))
    events = recorder(doc)
    assert not doc.paint(0, [(2, 2), (4, 4)], value=0, radius=2)
    assert events == [] and not doc.can_undo(0) and doc.role(0) == "none"
    assert doc.allocated_planes() == ()


def test_events_carry_the_changed_box_per_stroke_step():
    doc = LabelDocument(1, (20, 20))
    events = recorder(doc)
    doc.begin_stroke(0, value=1, radius=1)
    doc.stroke_to(5, 5)
    doc.stroke_to(5, 9)
    doc.stroke_to(5, 9.2)  # nothing new
    doc.end_stroke()
    assert events == [LabelsChanged(0, "labels", (4, 7, 4, 7)), RolesChanged(0, "train"),
                      LabelsChanged(0, "labels", (4, 7, 6, 11))]
    doc.undo(0)
    assert events[-2:] == [LabelsChanged(0, "labels", (4, 7, 4, 11)), RolesChanged(0, "none")]


def test_unsubscribe_and_version():
    doc = LabelDocument(2, (6, 6))
    events = []
    unsubscribe = doc.subscribe(events.append)
    v0, v1 = doc.version(0), doc.version(1)
    doc.paint(0, [(2, 2)], value=1, radius=1)
    assert doc.version(0) > v0 and doc.version(1) == v1
    v0 = doc.version(0)
    doc.undo(0)
    assert doc.version(0) > v0
    unsubscribe()
    unsubscribe()
    doc.redo(0)
    assert len(events) == 4


# --------------------------------------------------------------------------- memory, saving


def test_planes_are_allocated_lazily():
    doc = LabelDocument(500, (2048, 2048))
    zeros = doc.labels_of(123)
    assert zeros.shape == (2048, 2048) and zeros.dtype == np.uint32 and zeros.max() == 0
    assert zeros.strides == (0, 0) and not zeros.flags.writeable
    assert doc.allocated_planes() == () and doc.allocated_planes("ignore") == ()
    doc.paint(7, [(10, 10)], value=1, radius=2)
    doc.paint(8, [(10, 10)], value=0, radius=2)  # erasing nothing allocates nothing
    assert doc.allocated_planes() == (7,)
    view = doc.labels_of(7)
    with pytest.raises(ValueError):
        view[0, 0] = 3


def test_snapshot_round_trip():
    doc = random_doc(3)
    doc.paint(2, [(4, 4)], value=True, radius=3, layer="ignore")
    doc.set_role(0, "validation")
    snap = doc.to_arrays()
    assert set(snap.labels) == set(doc.allocated_planes())
    assert snap.roles == tuple(doc.role(p) for p in range(3))
    again = LabelDocument.from_arrays(snap)
    for plane in range(3):
        np.testing.assert_array_equal(again.labels_of(plane), doc.labels_of(plane))
        np.testing.assert_array_equal(again.ignore_of(plane), doc.ignore_of(plane))
        assert again.role(plane) == doc.role(plane)
    assert again.next_free_id() == doc.next_free_id()
    assert not any(again.can_undo(p) for p in range(3))
    snap.labels[doc.allocated_planes()[0]][:] = 77  # copies both ways
    assert doc.next_free_id() < 78 and again.next_free_id() < 78


def test_from_arrays_checks_its_input():
    with pytest.raises(InvalidInputError):
        LabelDocument.from_arrays(LabelSnapshot(2, (4, 4), labels={2: np.zeros((4, 4), int)}))
    with pytest.raises(InvalidInputError):
        LabelDocument.from_arrays(LabelSnapshot(2, (4, 4), labels={0: -np.ones((4, 4), int)}))
    with pytest.raises(InvalidInputError):
        LabelDocument.from_arrays(LabelSnapshot(2, (4, 4), ignore={0: np.zeros((4, 5), bool)}))
    with pytest.raises(InvalidInputError):
        LabelDocument.from_arrays(LabelSnapshot(2, (4, 4), roles=("none", "test")))
    with pytest.raises(InvalidInputError):
        LabelDocument.from_arrays(LabelSnapshot(2, (4, 4), roles=("none",)))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.labels_of(3),
        lambda d: d.labels_of(-1),
        lambda d: d.paint(5, [(1, 1)], value=1, radius=1),
        lambda d: d.paint(0, [(1, 1)], value=-1, radius=1),
        lambda d: d.paint(0, [(1, 1)], value=2**32, radius=1),
        lambda d: d.paint(0, [(1, 1)], value=1.5, radius=1),
        lambda d: d.paint(0, [(1, 1)], value=1, radius=-0.5),
        lambda d: d.paint(0, [(1, 1)], value=1, radius=float("nan")),
        lambda d: d.paint(0, [(1, float("inf"))], value=1, radius=1),
        lambda d: d.paint(0, [(1, 1)], value=2, radius=1, layer="ignore"),
        lambda d: d.paint(0, [(1, 1)], value=1, radius=1, layer="mask"),
        lambda d: d.set_role(0, "test"),
        lambda d: d.planes_with_role("done"),
        lambda d: d.pick(0, 8, 0),
        lambda d: d.fill(0, 0, -1, 1),
        lambda d: d.fill(0, 0, 0, -3),
        lambda d: d.delete_cell(0, 0),
        lambda d: d.merge_cells(0, 0, 3),
        lambda d: d.set_plane_labels(0, np.zeros((8, 9), dtype=np.uint32)),
        lambda d: d.set_plane_labels(0, np.zeros((8, 8), dtype=bool)),
        lambda d: d.set_plane_labels(0, np.zeros((8, 8), dtype=np.float32)),
        lambda d: d.set_plane_labels(0, np.full((8, 8), -2)),
        lambda d: d.set_plane_labels(0, None, ignore=np.zeros((7, 8), dtype=bool)),
    ],
)
def test_bad_arguments_raise_invalid_input(call):
    doc = LabelDocument(3, (8, 8))
    with pytest.raises(InvalidInputError):
        call(doc)
    assert doc.allocated_planes() == () and not doc.in_stroke


@pytest.mark.parametrize("args", [(0, (4, 4)), (2, (0, 4)), (2, (4,)), (2, 5), (1.5, (4, 4))])
def test_bad_document_shape(args):
    with pytest.raises(InvalidInputError):
        LabelDocument(*args)
