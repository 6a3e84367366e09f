"""What a viewer reads to show a plane far larger than the screen (pure numpy, no Qt).

A screen shows about two million pixels. A 40000 x 40000 mosaic holds 1.6 billion, and
drawing it at full resolution would need 6 GB for the screen copy alone. So a large
plane is shown as napari and QuPath show one:

* an **overview** of the whole plane, at most :data:`OVERVIEW_SIDE` pixels a side: the
  file's coarsest pyramid level where it has one, else read band by band and
  subsampled (memory stays bounded; the whole plane is decoded once);
* a **detail** of the part in view, at the coarsest level that still gives at least one
  image pixel per screen pixel, read again as the view pans and zooms.

Without a pyramid, the only finer level is the full size: a detail is read once the
part in view is small enough (:data:`DETAIL_PIXELS`), and the overview stands in before.
Without zarr (the ``[zarr]`` extra) a compressed TIFF cannot be read in parts: its
overview comes from the whole plane, when it fits in memory, and there is no detail.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import memory

#: Planes with more pixels than this open for viewing only (and are predicted blockwise).
LARGE_PLANE_PX = 8192 * 8192
#: The longest side of an overview.
OVERVIEW_SIDE = 2048
#: The most pixels a detail read may hold (several screens' worth).
DETAIL_PIXELS = 3072 * 3072
#: Rows read at a time while subsampling a plane that has no pyramid.
BAND_BYTES = 64 * 2**20


def is_large(stack) -> bool:
    """Whether ``stack``'s planes are too large to edit in memory: more than
    :data:`LARGE_PLANE_PX` pixels, or a plane and its working copies (labels, the
    screen's copy) would not fit in the memory free now."""
    pixels = stack.height * stack.width
    working = stack.plane_nbytes + pixels * (4 + 4 + 2)  # labels, screen ARGB, label display
    return pixels > LARGE_PLANE_PX or working > memory.available_bytes()


@dataclass(frozen=True)
class View:
    """Pixels of one level shown over a box of the full-size plane."""

    data: np.ndarray  # (C, h, w) of the image's dtype
    level: int  # which of stack.level_shapes it was read from (0: full size), maybe subsampled
    box: tuple[float, float, float, float]  # (row0, row1, col0, col1) in full-size pixels

    @property
    def step(self) -> float:
        """Full-size pixels per pixel of ``data`` (along rows)."""
        return (self.box[1] - self.box[0]) / self.data.shape[1]


def choose_level(level_shapes, full_per_screen_px: float) -> int:
    """The coarsest level that still shows at least one of its pixels per screen pixel.

    Parameters
    ----------
    level_shapes : (Y, X) per level, full size first
    full_per_screen_px : full-size pixels one screen pixel spans at the present zoom

    Returns
    -------
    int
        An index into ``level_shapes``.
    """
    full = level_shapes[0][0]
    best = 0
    for level, (height, _) in enumerate(level_shapes):
        if full / height <= max(full_per_screen_px, 1.0) * 1.001:
            best = level
    return best


def overview(stack, plane: int, *, side: int | None = None,
             on_progress: Callable[[float], None] | None = None) -> View:
    """The whole plane at most ``side`` pixels a side (see the module docstring).

    Parameters
    ----------
    stack : core.io.ImageStack
    plane : plane number
    side : the longest side wanted (default :data:`OVERVIEW_SIDE`)
    on_progress : called with the fraction read, while a plane without a small enough
        pyramid level is subsampled band by band

    Returns
    -------
    View
    """
    side = side or OVERVIEW_SIDE
    shapes = stack.level_shapes if _reads_parts(stack) else stack.level_shapes[:1]
    full_h, full_w = shapes[0]
    level = len(shapes) - 1
    for candidate in range(len(shapes)):  # the finest level already small enough
        if max(shapes[candidate]) <= side:
            level = candidate
            break
    height, width = shapes[level]
    step = max(1, math.ceil(max(height, width) / side))
    if step == 1:
        data = stack.read_level_region(plane, level, (0, height), (0, width))
        return View(data, level, (0.0, float(full_h), 0.0, float(full_w)))
    out_h, out_w = math.ceil(height / step), math.ceil(width / step)
    scale_y, scale_x = full_h / height, full_w / width
    box = (0.0, out_h * step * scale_y, 0.0, out_w * step * scale_x)
    if not _reads_parts(stack):  # the whole plane, if it fits (read_plane says so when not)
        return View(stack.read_plane(plane)[:, ::step, ::step].copy(), level, box)
    row_bytes = width * stack.n_channels * stack.dtype.itemsize
    band = max(step, BAND_BYTES // max(row_bytes, 1) // step * step)
    data = np.empty((stack.n_channels, out_h, out_w), dtype=stack.dtype)
    for start in range(0, height, band):
        stop = min(start + band, height)
        rows = stack.read_level_region(plane, level, (start, stop), (0, width))
        data[:, start // step:start // step + math.ceil((stop - start) / step)] = rows[:, ::step, ::step]
        if on_progress is not None:
            on_progress(stop / height)
    # row r of the subsample shows level row r * step: it covers out_h * step level rows
    return View(data, level, box)


def detail(stack, plane: int, box: tuple[float, float, float, float], full_per_screen_px: float, *,
           margin: float = 0.25, max_pixels: int | None = None, coarser_than: float = math.inf) -> View | None:
    """The part of the plane in ``box`` (full-size pixels, row0, row1, col0, col1), with
    ``margin`` of its size around it for panning, at the level :func:`choose_level` picks
    (coarser where that level's read would exceed ``max_pixels``, default
    :data:`DETAIL_PIXELS`).

    Returns None when no level with fewer than ``coarser_than`` full-size pixels per
    pixel (the overview's :attr:`View.step`) fits: the overview shows as much.
    """
    if not _reads_parts(stack):
        return None  # the overview is all there is
    shapes = stack.level_shapes
    full_h, full_w = shapes[0]
    r0, r1, c0, c1 = box
    pad_r, pad_c = (r1 - r0) * margin, (c1 - c0) * margin
    r0, r1 = max(r0 - pad_r, 0.0), min(r1 + pad_r, float(full_h))
    c0, c1 = max(c0 - pad_c, 0.0), min(c1 + pad_c, float(full_w))
    if r1 <= r0 or c1 <= c0:
        return None
    for level in range(choose_level(shapes, full_per_screen_px), len(shapes)):
        height, width = shapes[level]
        if full_h / height >= coarser_than * 0.999:
            return None
        sy, sx = height / full_h, width / full_w
        rows = (int(math.floor(r0 * sy)), min(int(math.ceil(r1 * sy)), height))
        cols = (int(math.floor(c0 * sx)), min(int(math.ceil(c1 * sx)), width))
        if (rows[1] - rows[0]) * (cols[1] - cols[0]) > (max_pixels or DETAIL_PIXELS):
            continue
        data = stack.read_level_region(plane, level, rows, cols)
        return View(data, level, (rows[0] / sy, rows[1] / sy, cols[0] / sx, cols[1] / sx))
    return None


def _reads_parts(stack) -> bool:
    """Whether parts of ``stack``'s planes and levels can be read: memory-mapped pixels
    can; compressed TIFF pages need zarr (the [zarr] extra), which OME-Zarr files have."""
    return stack.is_memory_mapped or importlib.util.find_spec("zarr") is not None
