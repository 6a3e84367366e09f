"""Overlap-tile planning and mirror padding (pure numpy).

The paper's overlap-tile strategy: each output tile needs a larger input tile as context,
and context missing at the image border is filled by mirroring the image. With valid
convolutions every output pixel sees its full context, so tiles fit together without
blending.

One subtlety the paper does not spell out: max-pooling makes the U-Net equivariant only to
shifts by multiples of ``2**depth`` pixels. Tiles placed at other offsets see a different
pooling grid and give (slightly) different numbers where they meet. We therefore place
every tile at an offset that is a multiple of ``align = 2**depth``; neighbouring tiles may
then overlap by a few pixels, where their outputs are identical, and the stitched result
equals one forward pass over the whole mirrored image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from unetgui.core.errors import InvalidInputError


@dataclass(frozen=True)
class Tile:
    """One tile: its input window in padded coordinates, its output window in the image.

    The input window is ``padded[:, row:row + in_h, col:col + in_w]``; the network's output
    for it covers image rows ``row .. row + out_h`` and cols ``col .. col + out_w`` (the
    padding's top-left margin makes the two origins coincide). Only the part inside the
    image is kept.
    """

    row: int
    col: int


@dataclass(frozen=True)
class TilePlan:
    """Where the tiles of one plane go, and how much mirror padding they need."""

    image_shape: tuple[int, int]  # (rows, cols) of the plane
    in_size: tuple[int, int]  # input tile (rows, cols)
    out_size: tuple[int, int]  # output tile (rows, cols)
    margin: int  # context pixels on each side: (in - out) / 2
    tiles: tuple[Tile, ...]

    @property
    def pad_width(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Mirror padding (before, after) for rows and cols so that every tile fits.

        Returns
        -------
        tuple of tuple of int
            ((top, bottom), (left, right)) in px, as :func:`mirror_pad` takes it.
        """
        rows, cols = self.image_shape
        last_row = max(t.row for t in self.tiles)
        last_col = max(t.col for t in self.tiles)
        m = self.margin
        return (
            (m, last_row + self.in_size[0] - m - rows),
            (m, last_col + self.in_size[1] - m - cols),
        )

    def output_window(self, tile: Tile) -> tuple[slice, slice, slice, slice]:
        """(image rows, image cols, tile rows, tile cols) of the part inside the image.

        Parameters
        ----------
        tile : Tile
            One tile of this plan.

        Returns
        -------
        tuple of slice
            Where the tile's output goes in the image (rows, cols), and which part of the
            network's (out_h, out_w) output to take (rows, cols); the two have the same size.
        """
        rows = min(self.out_size[0], self.image_shape[0] - tile.row)
        cols = min(self.out_size[1], self.image_shape[1] - tile.col)
        return (
            slice(tile.row, tile.row + rows),
            slice(tile.col, tile.col + cols),
            slice(0, rows),
            slice(0, cols),
        )


def axis_offsets(length: int, out: int, align: int) -> list[int]:
    """Tile origins along one axis: aligned, covering ``[0, length)``, as few as possible.

    Parameters
    ----------
    length : int
        Pixels along the axis.
    out : int
        Output tile size along the axis.
    align : int
        Every origin is a multiple of this (``2**depth``).

    Returns
    -------
    list of int
        Ascending origins, starting at 0; the last tile may overhang by fewer than ``align`` px.
    """
    stride = out // align * align
    if stride < align:
        raise InvalidInputError(
            f"The output tile ({out} px) must be at least {align} px for this network depth."
        )
    if length <= out:
        return [0]
    last = math.ceil((length - out) / align) * align  # overhangs by fewer than `align` px
    offsets = list(range(0, last, stride))
    offsets.append(last)
    return offsets


def plan_tiles(
    image_shape: tuple[int, int],
    in_size: tuple[int, int] | int,
    out_size: tuple[int, int] | int,
    *,
    align: int = 1,
) -> TilePlan:
    """Plan overlap tiles covering an image of ``image_shape`` (rows, cols).

    Works for images smaller than one tile (one tile, mirror-padded).

    Parameters
    ----------
    image_shape : tuple of int
        (Y, X) of the plane.
    in_size : int or tuple of int
        The network's input tile size, square or (rows, cols).
    out_size : int or tuple of int
        Its output tile size; smaller than ``in_size`` by the same even number on both axes.
    align : int
        ``2**depth``, so the result is seamless (see the module docstring).

    Returns
    -------
    TilePlan
        The tiles and the margin, from which :attr:`TilePlan.pad_width` follows.
    """
    in_size = as_pair(in_size)
    out_size = as_pair(out_size)
    rows, cols = (int(s) for s in image_shape)
    if rows < 1 or cols < 1:
        raise InvalidInputError(f"Cannot tile an empty image of shape {image_shape}.")
    m2 = in_size[0] - out_size[0]
    if m2 != in_size[1] - out_size[1] or m2 < 0 or m2 % 2:
        raise InvalidInputError(
            f"Input tile {in_size} and output tile {out_size} do not fit together: the input must "
            "exceed the output by the same even number of pixels along both axes."
        )
    row_offsets = axis_offsets(rows, out_size[0], align)
    col_offsets = axis_offsets(cols, out_size[1], align)
    tiles = tuple(Tile(r, c) for r in row_offsets for c in col_offsets)
    return TilePlan((rows, cols), in_size, out_size, m2 // 2, tiles)


def order_tiles(plan: TilePlan, focus: tuple[float, float]) -> tuple[Tile, ...]:
    """Tiles sorted by distance of their centre to ``focus`` (row, col): what is on
    screen is predicted first.

    Parameters
    ----------
    plan : TilePlan
        The planned tiles.
    focus : tuple of float
        (row, col) in image pixels, e.g. the centre of the view.

    Returns
    -------
    tuple of Tile
        The plan's tiles, nearest first.
    """
    half_r, half_c = plan.out_size[0] / 2, plan.out_size[1] / 2
    return tuple(
        sorted(plan.tiles, key=lambda t: (t.row + half_r - focus[0]) ** 2 + (t.col + half_c - focus[1]) ** 2)
    )


def mirror_pad(plane: np.ndarray, pad_width: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """Mirror-pad a (C, Y, X) plane along Y and X, as the paper extrapolates borders.

    Uses reflection without repeating the edge pixel. Padding wider than the image (tiny
    images, large context) reflects repeatedly, so any image size works.

    Parameters
    ----------
    plane : ndarray
        (C, Y, X) image plane.
    pad_width : tuple of tuple of int
        ((top, bottom), (left, right)) in px, e.g. :attr:`TilePlan.pad_width`.

    Returns
    -------
    ndarray
        (C, Y + top + bottom, X + left + right), ``plane``'s dtype.
    """
    if plane.ndim != 3:
        raise InvalidInputError(f"Expected a (channels, rows, cols) plane, got shape {plane.shape}.")
    (top, bottom), (left, right) = pad_width
    if min(plane.shape[1:]) == 1:
        mode = "symmetric"  # reflection is undefined for a one-pixel axis
    else:
        mode = "reflect"
    return np.pad(plane, ((0, 0), (top, bottom), (left, right)), mode=mode)


def as_pair(size: tuple[int, int] | int) -> tuple[int, int]:
    """A tile size as (rows, cols).

    Parameters
    ----------
    size : int or tuple of int
        One side for a square tile, or (rows, cols).

    Returns
    -------
    tuple of int
        (rows, cols) as Python ints.
    """
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    a, b = size
    return int(a), int(b)
