"""Instance labels of a plane too large for memory, block by block, identical to
:func:`unetgui.core.postprocess.probabilities_to_labels` on the whole plane up to the
cells' numbering.

Each step of the whole-plane rule becomes a local pass per block plus a small global
merge on what the blocks' edges show:

1. **Cells** (:func:`label_cells`): threshold and 4-connected components in each block.
   :func:`merge_cells` joins the components that touch across block faces into one cell
   (a graph of (block, local id) nodes whose connected components are the cells), adds
   up their sizes and drops the specks, then numbers the cells 1..N.
2. **Holes** (:func:`label_background`, :func:`merge_background`): the 8-connected
   background regions of each block, joined across faces and corners the same way;
   a region is a hole when it never reaches the plane's edge and every cell it meets is
   one and the same cell.
3. **Growth back into the gaps** (:func:`final_block`) looks only ``2 * grow_back`` px
   around each pixel, so each block reads that halo of its neighbours' results.

Every pass is one block in, a few strips and tables out: the merges hold per-cell
tables, never the pixels. Pure numpy and scipy; the scheduling (threads, Dask) and the
storage of the per-block arrays are the caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import connected_components

from unetgui.core.blocks import Block, BlockGrid
from unetgui.core.postprocess import MIN_RELATIVE_AREA, fragment_floor, grow_into_gaps

_CROSS = ndimage.generate_binary_structure(2, 1)
_SQUARE = ndimage.generate_binary_structure(2, 2)
# Reads a stored per-block array over a region of the plane: (name, rows, cols) -> (rows, cols).
StoredReader = Callable[[str, tuple[int, int], tuple[int, int]], np.ndarray]


@dataclass(frozen=True)
class Edges:
    """The four outermost rows and columns of a block's array."""

    top: np.ndarray
    bottom: np.ndarray
    left: np.ndarray
    right: np.ndarray

    @classmethod
    def of(cls, array: np.ndarray) -> Edges:
        return cls(array[0].copy(), array[-1].copy(), array[:, 0].copy(), array[:, -1].copy())


@dataclass(frozen=True)
class BlockCells:
    """What one block's cells tell the merge: sizes by local id and the ids on its edges."""

    sizes: np.ndarray  # (n + 1,) int64 pixels per local id; [0] is background
    edges: Edges  # local ids


@dataclass(frozen=True)
class BlockBackground:
    """What one block's background regions tell the merge."""

    n_regions: int
    pairs: np.ndarray  # (k, 2) int64 (local region, cell id) meeting across a 4-adjacency
    at_border: np.ndarray  # local regions touching the plane's true edge
    regions: Edges  # local region ids on the edges
    cells: Edges  # cell ids (final numbering) on the edges


def label_cells(foreground: np.ndarray, threshold: float) -> tuple[np.ndarray, BlockCells]:
    """One block's cells before merging: (local ids (rows, cols) int32, summary).

    Parameters
    ----------
    foreground : ndarray
        (rows, cols) probability of being in a cell.
    threshold : float
        Pixels above it are cell (as :func:`~unetgui.core.postprocess.probabilities_to_labels`).
    """
    cells, _ = ndimage.label(foreground > threshold, structure=_CROSS)
    cells = cells.astype(np.int32, copy=False)
    return cells, BlockCells(np.bincount(cells.ravel()).astype(np.int64), Edges.of(cells))


def merge_cells(grid: BlockGrid, blocks: Sequence[BlockCells], min_size: int,
                min_relative_area: float = MIN_RELATIVE_AREA) -> list[np.ndarray]:
    """Join the cells that cross block faces, drop the small ones, number the rest.

    Parameters
    ----------
    grid : BlockGrid
        The plane's blocks.
    blocks : sequence of BlockCells
        :func:`label_cells`' summaries, one per block in grid order.
    min_size : int
        Cells of fewer pixels (over all blocks) are dropped.
    min_relative_area : float
        Then cells under this share of the plane's typical cell area, as
        :func:`~unetgui.core.postprocess.probabilities_to_labels` drops them.

    Returns
    -------
    list of ndarray
        Per block, local id -> cell id (0 background or dropped; cells 1..N over the
        whole plane).
    """
    offsets = np.concatenate([[0], np.cumsum([len(b.sizes) for b in blocks])])
    heads, tails = [], []
    for block in grid:
        here = blocks[block.index]
        for d_row, d_col, mine, theirs in ((0, 1, "right", "left"), (1, 0, "bottom", "top")):
            other = grid.neighbour(block, d_row, d_col)
            if other is None:
                continue
            a, b = getattr(here.edges, mine), getattr(blocks[other.index].edges, theirs)
            both = (a > 0) & (b > 0)  # 4-connectivity: straight across the face only
            heads.append(a[both] + offsets[block.index])
            tails.append(b[both] + offsets[other.index])
    component = _components(int(offsets[-1]), heads, tails)
    sizes = np.bincount(component, weights=np.concatenate([b.sizes for b in blocks]))
    background = component[offsets[:-1]]  # every block's local id 0
    keep = sizes >= max(int(min_size), 1)
    keep[background] = False
    keep &= sizes >= fragment_floor(np.where(keep, sizes, 0), min_relative_area)
    numbers = np.zeros(len(sizes), dtype=np.int64)
    numbers[keep] = np.arange(1, int(keep.sum()) + 1)
    return [numbers[component[offsets[k]:offsets[k + 1]]] for k in range(len(blocks))]


def label_background(grid: BlockGrid, block: Block, cells: np.ndarray,
                     cell_ids: np.ndarray) -> tuple[np.ndarray, BlockBackground]:
    """One block's background regions (8-connected) after the small cells are dropped.

    Parameters
    ----------
    grid, block : the plane's blocks and this one
    cells : (rows, cols) local cell ids from :func:`label_cells`
    cell_ids : this block's table from :func:`merge_cells`

    Returns
    -------
    tuple
        (local region ids (rows, cols) int32, summary).
    """
    numbered = cell_ids[cells]
    regions, n_regions = ndimage.label(numbered == 0, structure=_SQUARE)
    regions = regions.astype(np.int32, copy=False)
    pairs = []
    for here, there in (((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
                        ((slice(None, -1), slice(None)), (slice(1, None), slice(None)))):
        for region, cell in ((regions[here], numbered[there]), (regions[there], numbered[here])):
            meet = (region > 0) & (cell > 0)
            pairs.append(np.stack([region[meet], cell[meet]], axis=1))
    edges = Edges.of(regions)
    height, width = grid.image_shape
    at_border = [side for side, outer in ((edges.top, block.rows[0] == 0), (edges.bottom, block.rows[1] == height),
                                          (edges.left, block.cols[0] == 0), (edges.right, block.cols[1] == width))
                 if outer]
    border = np.unique(np.concatenate(at_border)) if at_border else np.zeros(0, np.int32)
    return regions, BlockBackground(int(n_regions), np.unique(np.concatenate(pairs).astype(np.int64), axis=0),
                                    border[border > 0], edges, Edges.of(numbered))


def merge_background(grid: BlockGrid, blocks: Sequence[BlockBackground]) -> list[np.ndarray]:
    """Which background regions are holes, and of which cell.

    A region (joined across blocks by 8-connectivity) is a hole of cell k when it does not
    touch the plane's edge and every cell it meets across a 4-adjacency is k, as
    :func:`~unetgui.core.postprocess.fill_holes_per_cell` decides on the whole plane.

    Returns
    -------
    list of ndarray
        Per block, local region id -> the cell id that fills it (0: stays background).
    """
    offsets = np.concatenate([[0], np.cumsum([b.n_regions + 1 for b in blocks])])
    heads, tails, pairs = [], [], [np.zeros((0, 2), np.int64)]

    def join(a, block_a, b, block_b):
        both = (a > 0) & (b > 0)
        heads.append(a[both] + offsets[block_a])
        tails.append(b[both] + offsets[block_b])

    def meet(regions, block_r, cells):
        both = (regions > 0) & (cells > 0)
        pairs.append(np.stack([regions[both] + offsets[block_r], cells[both]], axis=1))

    for block in grid:
        here = blocks[block.index]
        pairs.append(np.stack([here.pairs[:, 0] + offsets[block.index], here.pairs[:, 1]], axis=1))
        for d_row, d_col, mine, theirs in ((0, 1, "right", "left"), (1, 0, "bottom", "top")):
            other = grid.neighbour(block, d_row, d_col)
            if other is None:
                continue
            there = blocks[other.index]
            a, b = getattr(here.regions, mine), getattr(there.regions, theirs)
            for shift in (-1, 0, 1):  # 8-connectivity: straight and diagonally across the face
                lo, hi = max(0, shift), len(a) + min(0, shift)
                join(a[lo - shift:hi - shift], block.index, b[lo:hi], other.index)
            meet(a, block.index, getattr(there.cells, theirs))  # 4-adjacency for region-cell
            meet(b, other.index, getattr(here.cells, mine))
        corner = grid.neighbour(block, 1, 1)  # diagonal neighbours across a block corner
        if corner is not None:
            join(here.regions.bottom[-1:], block.index, blocks[corner.index].regions.top[:1], corner.index)
        right, below = grid.neighbour(block, 0, 1), grid.neighbour(block, 1, 0)
        if right is not None and below is not None:
            join(blocks[right.index].regions.bottom[:1], right.index, blocks[below.index].regions.top[-1:], below.index)
    component = _components(int(offsets[-1]), heads, tails)
    n = int(component.max()) + 1
    pairs = np.unique(np.concatenate(pairs), axis=0)
    region, cell = np.unique(np.stack([component[pairs[:, 0]], pairs[:, 1]], axis=1), axis=0).T \
        if len(pairs) else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    only = np.bincount(region, minlength=n)[region] == 1
    fill = np.zeros(n, dtype=np.int64)
    fill[region[only]] = cell[only]
    for k, summary in enumerate(blocks):
        fill[component[summary.at_border + offsets[k]]] = 0
    fill[component[offsets[:-1]]] = 0  # every block's local id 0 is a cell, not a region
    return [fill[component[offsets[k]:offsets[k + 1]]] for k in range(len(blocks))]


def final_block(grid: BlockGrid, block: Block, read: StoredReader, cell_ids: Sequence[np.ndarray],
                fills: Sequence[np.ndarray], grow_back: int | None) -> np.ndarray:
    """The block's final labels: cells numbered, holes filled, grown into the gaps.

    Parameters
    ----------
    grid, block : the plane's blocks and this one
    read : reads the stored ``"cells"`` and ``"regions"`` arrays of the plane over a
        region that may span several blocks
    cell_ids, fills : every block's tables from :func:`merge_cells` and
        :func:`merge_background` (only this block's and its neighbours' are used)
    grow_back : as :func:`~unetgui.core.postprocess.probabilities_to_labels` takes it

    Returns
    -------
    ndarray
        (rows, cols) uint32 cell ids.
    """
    reach = 2 * int(grow_back or 0)
    height, width = grid.image_shape
    rows = (max(0, block.rows[0] - reach), min(height, block.rows[1] + reach))
    cols = (max(0, block.cols[0] - reach), min(width, block.cols[1] + reach))
    local_cells, local_regions = read("cells", rows, cols), read("regions", rows, cols)
    labels = np.zeros(local_cells.shape, dtype=np.int64)
    for d_row in (-1, 0, 1):
        for d_col in (-1, 0, 1):
            other = grid.neighbour(block, d_row, d_col)
            if other is None:
                continue
            r0, r1 = max(rows[0], other.rows[0]), min(rows[1], other.rows[1])
            c0, c1 = max(cols[0], other.cols[0]), min(cols[1], other.cols[1])
            if r0 >= r1 or c0 >= c1:
                continue
            part = (slice(r0 - rows[0], r1 - rows[0]), slice(c0 - cols[0], c1 - cols[0]))
            numbered = cell_ids[other.index][local_cells[part]]
            labels[part] = np.where(numbered > 0, numbered, fills[other.index][local_regions[part]])
    if reach:
        labels = grow_into_gaps(labels, int(grow_back))
    inner = (slice(block.rows[0] - rows[0], block.rows[1] - rows[0]),
             slice(block.cols[0] - cols[0], block.cols[1] - cols[0]))
    return labels[inner].astype(np.uint32)


def _components(n_nodes: int, heads: list[np.ndarray], tails: list[np.ndarray]) -> np.ndarray:
    """Connected components of a graph given by its edges: node -> component index."""
    head = np.concatenate(heads) if heads else np.zeros(0, np.int64)
    tail = np.concatenate(tails) if tails else np.zeros(0, np.int64)
    graph = sparse.coo_matrix((np.ones(len(head), dtype=np.int8), (head, tail)), shape=(n_nodes, n_nodes))
    return connected_components(graph, directed=False)[1]
