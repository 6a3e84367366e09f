"""A first segmentation without a model: smooth, threshold, split touching cells.

So a user can start by correcting cells instead of drawing every one, and so the quality
benchmark has a classical baseline to beat. One plane at a time:

1. Intensity: each channel is normalised as for the network (1st percentile -> 0, 99.8th
   -> 1, see :class:`~unetgui.core.normalize.Normalization`) and clipped to [0, 1], so a
   hot pixel cannot pass for a cell and 8-bit, 16-bit and float images behave alike. One
   channel is picked, or the normalised channels are averaged; dark objects are inverted.
2. Gaussian smoothing, then a threshold: Otsu's, or a fixed value in those units.
3. Specks below ``min_size`` are dropped.
4. Touching cells are split by a watershed of the distance to the background, from one
   seed per distance maximum (the distance is smoothed a little first, and seeds closer
   than ``min_distance`` are merged, so a bumpy outline does not cut a cell in pieces;
   holes smaller than a typical cell are closed meanwhile, see
   :func:`split_touching_cells`).
5. Pieces below ``min_size`` are dropped; holes enclosed by one cell are filled (not the
   space inside a ring of touching cells); the cells are renumbered 1..N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.segmentation import relabel_sequential, watershed

from unetgui.core.errors import InvalidInputError
from unetgui.core.normalize import Normalization
from unetgui.core.postprocess import fill_holes_per_cell, remove_small_cells

# 4-connected cells, as in postprocess: cells touching only at a corner stay apart.
_CROSS = ndimage.generate_binary_structure(2, 1)
_SEED_SPACING = 0.4  # default min_distance, as a fraction of the typical cell radius


@dataclass(frozen=True)
class AutoSegmentConfig:
    """Settings of :func:`auto_segment`; the defaults suit fluorescent cells 5-50 px across.

    ``threshold``: None for Otsu's threshold on the smoothed plane; otherwise a fixed value
    in normalised units, where 0 is the image's 1st and 1 its 99.8th intensity percentile
    (for ``dark_objects`` the inverted intensity, 1 - value, is compared).
    ``min_distance``: least distance in px between the seeds of two cells (Chebyshev);
    None derives it as 0.4 x the typical cell radius, the median over the thresholded
    objects of their largest distance to the background (the radius of the biggest
    inscribed circle, which unlike an area-based radius hardly grows when cells touch).
    """

    smoothing: float = 1.0  # Gaussian sigma in px before thresholding (0 = none)
    threshold: float | None = None  # None = Otsu; else in [0, 1], see above
    min_size: int = 20  # px; smaller objects and split-off pieces are removed
    split_touching: bool = True  # distance-transform watershed
    min_distance: int | None = None  # px between seeds; None = from the cell size
    fill_holes: bool = True  # holes enclosed by one cell become part of it
    dark_objects: bool = False  # cells darker than the background (e.g. brightfield)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.smoothing) and self.smoothing >= 0):
            raise InvalidInputError(
                f"The smoothing must be 0 or more pixels, not {self.smoothing}.")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise InvalidInputError(
                f"The threshold must be between 0 and 1 (normalised intensity), not "
                f"{self.threshold}; leave it empty for an automatic (Otsu) threshold.")
        if self.min_size < 0:
            raise InvalidInputError(f"The minimum cell size cannot be negative ({self.min_size}).")
        if self.min_distance is not None and self.min_distance < 1:
            raise InvalidInputError(
                f"The distance between cell centres must be at least 1 pixel, not "
                f"{self.min_distance}.")


def auto_segment(plane: np.ndarray, config: AutoSegmentConfig = AutoSegmentConfig(), *,
                 channel: int | None = None) -> np.ndarray:
    """(Y, X) or (C, Y, X) image of any real dtype -> (Y, X) int32 labels 0..N, consecutive.

    NaN or infinite pixels raise :class:`InvalidInputError`; an image without contrast
    gives no cells (all zeros). The input is not modified.

    Parameters
    ----------
    plane : ndarray
        (Y, X) or (C, Y, X) image plane, any real dtype.
    config : AutoSegmentConfig
        Smoothing, threshold, size and splitting settings.
    channel : int or None
        Picks one channel of a (C, Y, X) plane; None averages the normalised channels.

    Returns
    -------
    ndarray
        (Y, X) int32 labels, 0 = background, cells 1..N.
    """
    intensity = plane_intensity(plane, channel=channel, dark_objects=config.dark_objects)
    if config.smoothing > 0:
        intensity = ndimage.gaussian_filter(intensity, config.smoothing)
    if not intensity.size or intensity.max() - intensity.min() < 1e-6:
        return np.zeros(intensity.shape, dtype=np.int32)  # flat: nothing to separate
    threshold = config.threshold
    if threshold is None:
        threshold = threshold_otsu(intensity)
    cells, _ = ndimage.label(intensity > threshold, structure=_CROSS)
    cells = remove_small_cells(cells, config.min_size)
    if config.split_touching:
        cells = remove_small_cells(split_touching_cells(cells > 0, config.min_distance),
                                   config.min_size)
    if config.fill_holes:
        cells = fill_holes_per_cell(cells)
    return relabel_sequential(cells)[0].astype(np.int32, copy=False)


def plane_intensity(plane: np.ndarray, *, channel: int | None = None,
                    dark_objects: bool = False) -> np.ndarray:
    """(Y, X) or (C, Y, X) any real dtype -> (Y, X) float32 normalised intensity in [0, 1].

    Each channel: 1st percentile -> 0, 99.8th -> 1, clipped (a flat channel is all 0).

    Parameters
    ----------
    plane : ndarray
        (Y, X) or (C, Y, X) image plane, boolean, integer or float.
    channel : int or None
        Picks one channel; None averages the channels.
    dark_objects : bool
        Return 1 - value, so that dark cells come out bright.

    Returns
    -------
    ndarray
        (Y, X) float32 in [0, 1].
    """
    plane = np.asarray(plane)
    if plane.ndim not in (2, 3):
        raise InvalidInputError(
            f"Expected one image plane shaped (rows, cols) or (channels, rows, cols), got "
            f"shape {plane.shape}.")
    if plane.dtype.kind not in "biuf":
        raise InvalidInputError(f"Cannot segment an image of type {plane.dtype}.")
    if plane.ndim == 2:
        plane = plane[np.newaxis]
    if channel is not None:
        if not 0 <= channel < plane.shape[0]:
            raise InvalidInputError(
                f"The image has {plane.shape[0]} channel{'s' if plane.shape[0] != 1 else ''}; "
                f"channel {channel} does not exist (channels are numbered from 0).")
        plane = plane[channel : channel + 1]
    normalised = np.clip(Normalization().apply(plane), 0.0, 1.0)
    intensity = normalised[0] if len(normalised) == 1 else normalised.mean(axis=0)
    return 1.0 - intensity if dark_objects else intensity


def split_touching_cells(mask: np.ndarray, min_distance: int | None = None) -> np.ndarray:
    """(Y, X) bool foreground -> (Y, X) int32 labels, touching round cells split apart.

    Seeds are the maxima of the distance to the background (smoothed by sigma 1 px; the
    image edge counts as background), seeds closer than ``min_distance`` px (Chebyshev)
    being merged into one. Objects (4-connected, as in postprocess) with two or more
    seeds are divided by a watershed of the smoothed distance; the others stay whole.
    Holes smaller than a typical cell (pi r**2, r the typical radius) are closed while
    seeds are sought, since a hole would put a ring of maxima around it and cut its cell
    in pieces; a larger one, such as the space inside a ring of cells, is left open.

    Parameters
    ----------
    mask : ndarray
        (Y, X) foreground, bool or anything convertible to it.
    min_distance : int or None
        Least distance between the seeds of two cells in px; None: 0.4 x the typical
        cell radius (the median largest inscribed radius of the objects).

    Returns
    -------
    ndarray
        (Y, X) int32 labels; only ``mask`` pixels are labelled, ids unique but not consecutive.
    """
    mask = np.asarray(mask, dtype=bool)
    objects, n = ndimage.label(mask, structure=_CROSS)
    if n == 0:
        return objects.astype(np.int32)
    distance = _distance(mask)
    radius = _typical_radius(distance, objects, n)
    closed = _fill_small_holes(mask, np.pi * radius**2)
    if closed is not mask:
        objects, n = ndimage.label(closed, structure=_CROSS)
        distance = _distance(closed)
    if min_distance is None:
        min_distance = max(1, int(round(_SEED_SPACING * radius)))
    smooth = ndimage.gaussian_filter(distance, 1.0)
    seeds, seed_object = _seeds(smooth, objects, min_distance)
    several = np.bincount(seed_object, minlength=n + 1) >= 2
    split_mask = several[objects]
    if split_mask.any():  # only objects holding two or more seeds go through the watershed
        basins = watershed(-smooth, np.where(split_mask, seeds, 0), mask=split_mask)
        objects = np.where(split_mask, basins + n, objects)
    return np.where(mask, objects, 0).astype(np.int32)


def _distance(mask: np.ndarray) -> np.ndarray:
    """(Y, X) bool -> (Y, X) float32 distance to the nearest background pixel or the edge."""
    return ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1].astype(np.float32)


def _typical_radius(distance: np.ndarray, objects: np.ndarray, n: int) -> float:
    """Median over objects of their largest distance to the background, in px.

    That is the radius of each object's largest inscribed circle, which (unlike a radius
    from the area) hardly grows when cells touch: a cluster counts like its biggest cell.
    """
    inside = objects > 0
    radius = np.zeros(n + 1, dtype=np.float32)
    np.maximum.at(radius, objects[inside], distance[inside])
    return float(np.median(radius[1:]))


def _fill_small_holes(mask: np.ndarray, max_area: float) -> np.ndarray:
    """(Y, X) bool -> ``mask`` itself if it has no hole of <= ``max_area`` px, else a new
    mask with those holes filled. A hole is an 8-connected background region not touching
    the image edge (the dual of 4-connected cells, as in postprocess.fill_holes_per_cell).
    """
    regions, n = ndimage.label(~mask, structure=np.ones((3, 3), bool))
    fill = np.bincount(regions.ravel(), minlength=n + 1) <= max_area
    fill[0] = False
    fill[np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]])] = False
    return mask | fill[regions] if fill.any() else mask


def _seeds(smooth: np.ndarray, objects: np.ndarray,
           min_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed distance, (Y, X) object ids -> (seeds (Y, X) int32, object of each seed id).

    A pixel is a maximum if nothing within ``min_distance`` (a square window) is higher;
    maxima of one object closer than ``min_distance`` to each other (ties, plateaus)
    form one seed. Seed ids are 1..S; ``seed_object[k - 1]`` is the object of seed k.
    """
    size = 2 * min_distance + 1
    peaks = (objects > 0) & (smooth > 0) & (smooth == ndimage.maximum_filter(smooth, size=size))
    near, n_near = ndimage.label(ndimage.maximum_filter(peaks, size=min_distance + 1),
                                 structure=np.ones((3, 3), bool))
    rows, cols = np.nonzero(peaks)
    key = objects[rows, cols].astype(np.int64) * (n_near + 1) + near[rows, cols]
    unique, index = np.unique(key, return_inverse=True)
    seeds = np.zeros(objects.shape, dtype=np.int32)
    seeds[rows, cols] = index.ravel() + 1
    return seeds, unique // (n_near + 1)

