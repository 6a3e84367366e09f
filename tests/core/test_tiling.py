"""Tile plans cover the image, stay aligned, and mirror padding behaves like the paper's."""

import numpy as np
import pytest

from unetgui.core.errors import InvalidInputError
from unetgui.core.tiling import mirror_pad, order_tiles, plan_tiles


@pytest.mark.parametrize("shape", [(1, 1), (5, 300), (388, 388), (389, 1000), (2048, 777)])
def test_plan_covers_every_pixel_with_aligned_tiles(shape):
    plan = plan_tiles(shape, 572, 388, align=16)
    covered = np.zeros(shape, dtype=int)
    for tile in plan.tiles:
        assert tile.row % 16 == 0 and tile.col % 16 == 0
        rows, cols, tile_rows, tile_cols = plan.output_window(tile)
        covered[rows, cols] += 1
        assert tile_rows.stop - tile_rows.start == rows.stop - rows.start
    assert covered.min() >= 1
    (top, bottom), (left, right) = plan.pad_width
    assert top == left == plan.margin == 92
    for tile in plan.tiles:  # every input window lies inside the padded image
        assert tile.row + 572 <= shape[0] + top + bottom
        assert tile.col + 572 <= shape[1] + left + right


def test_number_of_tiles_is_minimal_for_the_stride():
    plan = plan_tiles((1024, 1024), 572, 388, align=16)
    # stride 384: origins 0, 384, and 640 (aligned, ending past 1024 by < 16 px)
    assert sorted({t.row for t in plan.tiles}) == [0, 384, 640]
    assert len(plan.tiles) == 9


def test_focus_orders_tiles_by_distance():
    plan = plan_tiles((1000, 1000), 572, 388, align=16)
    ordered = order_tiles(plan, (999, 999))
    assert (ordered[0].row, ordered[0].col) == (max(t.row for t in plan.tiles),) * 2
    assert set(ordered) == set(plan.tiles)


def test_mirror_pad_reflects_without_repeating_the_edge():
    plane = np.arange(5, dtype=np.float32)[None, None, :].repeat(2, axis=1)
    padded = mirror_pad(plane, ((0, 0), (2, 3)))
    np.testing.assert_array_equal(padded[0, 0], [2, 1, 0, 1, 2, 3, 4, 3, 2, 1])


def test_mirror_pad_wider_than_the_image_and_one_pixel_images():
    plane = np.arange(3, dtype=np.float32).reshape(1, 1, 3)
    padded = mirror_pad(plane, ((4, 4), (7, 7)))
    assert padded.shape == (1, 9, 17)
    assert set(np.unique(padded)) <= {0.0, 1.0, 2.0}
    single = mirror_pad(np.ones((1, 1, 1), np.float32), ((3, 3), (3, 3)))
    assert single.shape == (1, 7, 7) and np.all(single == 1)


def test_inconsistent_tile_sizes_are_refused():
    with pytest.raises(InvalidInputError):
        plan_tiles((100, 100), (572, 572), (388, 390))
    with pytest.raises(InvalidInputError):
        plan_tiles((100, 100), 573, 388)
    with pytest.raises(InvalidInputError):
        plan_tiles((0, 100), 572, 388)
