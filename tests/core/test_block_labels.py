"""Instance labels block by block are the whole-plane labels up to numbering: cells
across faces and corners, specks split by a face, holes spanning blocks, rings around a
block corner."""

import numpy as np
import pytest
from scipy import ndimage

from unetgui.core import block_labels
from unetgui.core.blocks import BlockGrid
from unetgui.core.postprocess import probabilities_to_labels


def blockwise_labels(foreground, block, *, threshold=0.5, min_size=16, min_relative_area=0.0, grow_back=1):
    """The passes of a blockwise job, in memory."""
    grid = BlockGrid(foreground.shape, (block, block), 92)
    stored = {"cells": np.zeros(foreground.shape, np.int32), "regions": np.zeros(foreground.shape, np.int32)}
    summaries = []
    for b in grid:
        stored["cells"][b.slices], summary = block_labels.label_cells(foreground[b.slices], threshold)
        summaries.append(summary)
    cell_ids = block_labels.merge_cells(grid, summaries, min_size, min_relative_area)
    backgrounds = []
    for b in grid:
        stored["regions"][b.slices], summary = block_labels.label_background(grid, b, stored["cells"][b.slices],
                                                                             cell_ids[b.index])
        backgrounds.append(summary)
    fills = block_labels.merge_background(grid, backgrounds)
    out = np.zeros(foreground.shape, np.uint32)
    for b in grid:
        out[b.slices] = block_labels.final_block(grid, b, lambda name, r, c: stored[name][slice(*r), slice(*c)],
                                                 cell_ids, fills, grow_back)
    return out


def same_up_to_numbering(a, b):
    if not np.array_equal(a > 0, b > 0):
        return False
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


@pytest.mark.parametrize("seed", range(12))
def test_random_fields_label_as_the_whole_plane(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(40, 160, 2))
    field = ndimage.gaussian_filter(rng.random(shape), rng.uniform(1.0, 4.0))
    field = (field - field.min()) / np.ptp(field)
    threshold = float(np.quantile(field, rng.uniform(0.3, 0.8)))
    block, min_size, grow = int(rng.choice([16, 32])), int(rng.choice([0, 5, 40])), int(rng.choice([0, 1, 2]))
    share = float(rng.choice([0.0, 0.25, 0.6]))  # fragments: a share of the typical area over the whole plane
    expected = probabilities_to_labels(field, threshold=threshold, min_size=min_size, min_relative_area=share,
                                       grow_back=grow)
    got = blockwise_labels(field, block, threshold=threshold, min_size=min_size, min_relative_area=share,
                           grow_back=grow)
    assert same_up_to_numbering(got, expected)


def test_shapes_that_cross_faces_and_corners():
    fg = np.zeros((96, 96), np.float32)
    rows, cols = np.mgrid[:96, :96]
    ring = np.hypot(rows - 32, cols - 32)
    fg[(ring >= 6) & (ring <= 10)] = 1.0  # a ring around the corner of four blocks: its hole spans all four
    fg[5:7, :] = 1.0  # a thin cell across the whole plane
    fg[40:44, 14:18] = 1.0  # a speck of 16 px split 8 / 8 by a face: kept whole at min_size 16
    fg[60:63, 31:33] = 1.0  # a speck of 6 px across a face: dropped
    fg[70:90, 50:70] = 1.0  # a square with a hole that touches a face from inside
    fg[75:80, 63:65] = 0.0
    fg[47:50, 47:50] = 1.0  # two cells meeting diagonally at a block corner stay two
    fg[50:53, 44:47] = 0.0
    fg[44:47, 50:53] = 0.0
    fg[46, 46] = fg[47, 47] = 0.0
    expected = probabilities_to_labels(fg, min_size=16, min_relative_area=0)
    got = blockwise_labels(fg, 32, min_size=16)
    assert same_up_to_numbering(got, expected)
    assert got[32, 32] > 0 and got[32, 32] == got[32, 22]  # the ring's hole is filled, across 4 blocks
    assert got[41, 15] > 0 and got[60, 31] == 0
    assert len(np.unique(got)) - 1 == len(np.unique(expected)) - 1


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_a_plane_of_only_background_or_only_cell(value):
    fg = np.full((70, 90), value, np.float32)
    got = blockwise_labels(fg, 32)
    assert same_up_to_numbering(got, probabilities_to_labels(fg))
    assert got.max() == (1 if value else 0)
