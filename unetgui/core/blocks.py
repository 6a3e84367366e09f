"""Blockwise overlap-tile prediction: a plane too large for memory, one block at a time.

The U-Net's valid convolutions make this exact. Each output pixel depends only on a fixed
window of input, so a block predicted from its own input window (the block plus the
network's margin, read from the image, mirrored only where the window leaves the image)
equals that part of the whole-plane prediction (:func:`unetgui.core.predict.iter_predict`)
as long as
  - every block starts at a multiple of ``2**depth`` (the pooling grid, see
    :mod:`unetgui.core.tiling`),
  - the mirror padding is the whole plane's (:func:`window_indices` reproduces
    ``numpy.pad``'s reflection at the plane's true border), and
  - the normalisation uses the whole plane's percentiles (:func:`plane_limits`, from
    exactly the pixels the in-memory path samples).
No blending, no seams. Blocks are a whole number of tile strides, so the tiles inside
them are the in-memory tiles: blockwise prediction costs no extra network passes.

Pure numpy and torch; the scheduling (threads, Dask workers) is the caller's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from unetgui.core import tiling
from unetgui.core.errors import InvalidInputError
from unetgui.core.model import UNetModel
from unetgui.core.normalize import sample_block, sample_step
from unetgui.core.predict import DEFAULT_MAX_TILE, iter_tile_batches, model_input
from unetgui.core.unet import UNetConfig, input_size_for_output, input_step, output_size, valid_input_sizes

DEFAULT_BLOCK_PX = 1024  # a block's side, rounded to whole tile strides (1152 px for 572 px tiles)
# Reads a region of one plane: (row0, row1, col0, col1) -> (C, rows, cols) raw pixels.
RegionReader = Callable[[int, int, int, int], np.ndarray]


@dataclass(frozen=True)
class Block:
    """One block of a plane: its place in the grid and the pixels it covers."""

    index: int  # row-major position in the grid
    grid: tuple[int, int]  # (block row, block col)
    rows: tuple[int, int]  # [row0, row1) of the plane
    cols: tuple[int, int]  # [col0, col1)

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows[1] - self.rows[0], self.cols[1] - self.cols[0]

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(*self.rows), slice(*self.cols)


@dataclass(frozen=True)
class BlockGrid:
    """How a plane of ``image_shape`` is cut into blocks of ``block_shape`` (the last
    row and column of blocks may be smaller), and the tile each block is predicted with."""

    image_shape: tuple[int, int]
    block_shape: tuple[int, int]
    tile_size: int  # input tile side

    @property
    def grid_shape(self) -> tuple[int, int]:
        return tuple(math.ceil(n / b) for n, b in zip(self.image_shape, self.block_shape))

    def __len__(self) -> int:
        rows, cols = self.grid_shape
        return rows * cols

    def block(self, index: int) -> Block:
        """Block ``index`` (row-major)."""
        n_rows, n_cols = self.grid_shape
        if not 0 <= index < n_rows * n_cols:
            raise IndexError(f"block {index} out of range for {n_rows * n_cols} blocks")
        i, j = divmod(int(index), n_cols)
        (height, width), (bh, bw) = self.image_shape, self.block_shape
        return Block(int(index), (i, j), (i * bh, min(height, (i + 1) * bh)), (j * bw, min(width, (j + 1) * bw)))

    def __iter__(self) -> Iterator[Block]:
        return (self.block(k) for k in range(len(self)))

    def neighbour(self, block: Block, d_row: int, d_col: int) -> Block | None:
        """The block ``d_row``, ``d_col`` blocks away, or None past the plane's edge."""
        i, j = block.grid[0] + d_row, block.grid[1] + d_col
        n_rows, n_cols = self.grid_shape
        if 0 <= i < n_rows and 0 <= j < n_cols:
            return self.block(i * n_cols + j)
        return None


def plan_blocks(config: UNetConfig, image_shape: tuple[int, int], *, tile_size: int | None = None,
                block_px: int = DEFAULT_BLOCK_PX, device_type: str = "cpu") -> BlockGrid:
    """Cut a plane into blocks that are a whole number of tile strides (see module doc).

    Parameters
    ----------
    config : UNetConfig
        The network; decides the valid tiles and the alignment.
    image_shape : tuple of int
        (Y, X) of the plane.
    tile_size : int, optional
        Input tile side; by default the largest valid one up to 572 px (1084 on CUDA).
    block_px : int
        About how many pixels a block's side should have.
    device_type : str
        "cpu", "cuda" or "mps": the default tile size depends on it.

    Returns
    -------
    BlockGrid
        The blocks and their tile size.
    """
    if tile_size is None:
        sizes = valid_input_sizes(config, 1, DEFAULT_MAX_TILE.get(device_type, 572))
        if not sizes:
            raise InvalidInputError("This network's smallest tile is larger than the default tile size; "
                                    "give a tile size.")
        tile_size = sizes[-1]
    align = input_step(config)
    stride = output_size(config, tile_size) // align * align
    if stride < align:
        raise InvalidInputError(f"Tiles of {tile_size} px are too small to predict blockwise with this network.")
    side = max(1, round(block_px / stride)) * stride
    return BlockGrid(tuple(int(n) for n in image_shape), (side, side), int(tile_size))


def mirror_index(index: np.ndarray, length: int, *, symmetric: bool = False) -> np.ndarray:
    """Where each (possibly outside) index of an axis of ``length`` reads from, as
    ``numpy.pad`` mirrors it: ``reflect`` (edge not repeated), or ``symmetric``.

    Parameters
    ----------
    index : ndarray of int
        Positions along the axis; negative or >= ``length`` lie in the padding.
    length : int
        The axis' size.
    symmetric : bool
        Repeat the edge pixel (``numpy.pad``'s ``symmetric``), as
        :func:`unetgui.core.tiling.mirror_pad` does for planes with a one-pixel axis.

    Returns
    -------
    ndarray of int
        Indices in ``[0, length)``.
    """
    index = np.asarray(index, dtype=np.int64)
    if length == 1:
        return np.zeros_like(index)
    if symmetric:
        period = 2 * length
        folded = np.mod(index, period)
        return np.where(folded >= length, period - 1 - folded, folded)
    period = 2 * (length - 1)
    folded = np.mod(index, period)
    return np.where(folded >= length, period - folded, folded)


def read_window(read_region: RegionReader, image_shape: tuple[int, int], rows: tuple[int, int],
                cols: tuple[int, int]) -> np.ndarray:
    """Pixels ``rows`` x ``cols`` of the plane mirror-padded without limit, reading only
    the part of the plane they come from.

    Parameters
    ----------
    read_region : callable
        (row0, row1, col0, col1) -> (C, rows, cols) raw pixels of the plane.
    image_shape : tuple of int
        (Y, X) of the plane.
    rows, cols : tuple of int
        [start, stop) in the coordinates of the plane; may reach outside it.

    Returns
    -------
    ndarray
        (C, rows, cols) pixels.
    """
    symmetric = min(image_shape) == 1  # as tiling.mirror_pad
    row_index = mirror_index(np.arange(*rows), image_shape[0], symmetric=symmetric)
    col_index = mirror_index(np.arange(*cols), image_shape[1], symmetric=symmetric)
    r0, r1 = int(row_index.min()), int(row_index.max()) + 1
    c0, c1 = int(col_index.min()), int(col_index.max()) + 1
    region = np.asarray(read_region(r0, r1, c0, c1))
    if rows == (r0, r1) and cols == (c0, c1):
        return region
    return region[:, (row_index - r0)[:, None], (col_index - c0)[None, :]]


def plane_limits(model: UNetModel, read_region: RegionReader, grid: BlockGrid, *,
                 channel: int | None = None) -> np.ndarray:
    """The whole plane's normalisation percentiles, read block by block.

    The same pixels as :meth:`unetgui.core.normalize.Normalization.limits` samples from
    the whole plane (so the same numbers), never more than one block in memory.

    Returns
    -------
    ndarray
        (C, 2) low and high percentiles of the model's input channels.
    """
    return model.normalization.limits_of_sample(
        np.concatenate([block_sample(model, read_region, grid, block, channel=channel) for block in grid], axis=1))


def block_sample(model: UNetModel, read_region: RegionReader, grid: BlockGrid, block: Block, *,
                 channel: int | None = None) -> np.ndarray:
    """(C, n) float32: the pixels of ``block`` that the plane's normalisation samples."""
    pixels = model_input(np.asarray(read_region(*block.rows, *block.cols)), model, channel)
    step = sample_step(grid.image_shape[0] * grid.image_shape[1])
    return sample_block(pixels, block.rows[0], block.cols[0], grid.image_shape[1], step)


def predict_block(model: UNetModel, read_region: RegionReader, grid: BlockGrid, block: Block,
                  limits: np.ndarray, *, channel: int | None = None, batch_size: int = 1,
                  mixed_precision: bool | None = None, tta: bool = False) -> np.ndarray:
    """Class probabilities of one block, equal to that part of the whole-plane prediction.

    Parameters
    ----------
    model : UNetModel
        The model, on the device to predict on.
    read_region : callable
        (row0, row1, col0, col1) -> (C, rows, cols) raw pixels of the plane.
    grid : BlockGrid
        The plane's blocks (and tile size).
    block : Block
        The block to predict.
    limits : ndarray
        (C, 2) normalisation percentiles of the whole plane (:func:`plane_limits`).
    channel, batch_size, mixed_precision, tta
        As :func:`unetgui.core.predict.iter_predict_planes` takes them.

    Returns
    -------
    ndarray
        (n_classes, rows, cols) float32 softmax probabilities of the block.
    """
    config = model.config
    shape = block.shape
    in_size = tuple(min(grid.tile_size, input_size_for_output(config, n)) for n in shape)
    out_size = tuple(output_size(config, n) for n in in_size)
    plan = tiling.plan_tiles(shape, in_size, out_size, align=input_step(config))
    (top, bottom), (left, right) = plan.pad_width
    window = read_window(read_region, grid.image_shape, (block.rows[0] - top, block.rows[1] + bottom),
                         (block.cols[0] - left, block.cols[1] + right))
    padded = model.normalization.apply(model_input(window, model, channel), limits)
    result = np.empty((config.n_classes, *shape), dtype=np.float32)
    for _ in iter_tile_batches(model, padded, plan, plan.tiles, result, batch_size=batch_size,
                               mixed_precision=mixed_precision, tta=tta):
        pass
    return result

