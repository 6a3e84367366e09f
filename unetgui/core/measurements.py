"""Per-cell measurements as a CSV table, made by ``skimage.measure.regionprops_table``
(``solidity``: regionprops' value, its convex hull counted faster, :func:`convex_area`).

One row per cell and plane. Columns, in order:

- ``label``, ``plane`` (0-based);
- ``area`` (pixels), ``centroid_y``, ``centroid_x`` (pixels, row and column);
- ``bbox_min_y``, ``bbox_min_x``, ``bbox_max_y``, ``bbox_max_x`` (half-open, pixels);
- ``eccentricity``, ``solidity``;
- with an image: ``mean_intensity_cN``, ``min_intensity_cN``, ``max_intensity_cN`` for
  each channel N (0-based), in the image's own units.

Plain comma-separated values with a header row: pandas, CellProfiler and spreadsheets
open them.
"""

from __future__ import annotations

import csv
import os

import numpy as np
from skimage.measure import regionprops, regionprops_table

from unetgui.core.errors import InvalidInputError
from unetgui.core.io import atomic_write
from unetgui.core.outlines import as_label_stack

SHAPE_PROPERTIES = ("label", "area", "centroid", "bbox", "eccentricity", "solidity")
INTENSITY_PROPERTIES = ("intensity_mean", "intensity_min", "intensity_max")
_RENAME = {"centroid-0": "centroid_y", "centroid-1": "centroid_x", "bbox-0": "bbox_min_y", "bbox-1": "bbox_min_x",
           "bbox-2": "bbox_max_y", "bbox-3": "bbox_max_x"}
_INTENSITY_NAMES = {"intensity_mean": "mean_intensity", "intensity_min": "min_intensity",
                    "intensity_max": "max_intensity"}


def measure_cells(labels: np.ndarray, read_plane=None) -> dict[str, np.ndarray]:
    """Measure every cell of every plane.

    Parameters
    ----------
    labels : (Y, X) or (P, Y, X) integer cell ids
    read_plane : optional plane index -> (C, Y, X) image plane, for the intensity columns
        (e.g. ``ImageStack.read_plane``); planes are read one at a time

    Returns
    -------
    dict
        Column name -> 1-D array, one entry per cell and plane (see the module docstring).
    """
    stack = as_label_stack(labels)
    columns: dict[str, list[np.ndarray]] = {}
    for plane, plane_labels in enumerate(stack):
        properties = SHAPE_PROPERTIES
        intensity = None
        if read_plane is not None:
            image = np.asarray(read_plane(plane))
            if image.ndim != 3 or image.shape[1:] != plane_labels.shape:
                raise InvalidInputError(f"The image plane {image.shape} does not match the labels "
                                        f"{plane_labels.shape}.")
            intensity = np.moveaxis(image, 0, -1)  # (Y, X, C), as regionprops takes channels
            properties = SHAPE_PROPERTIES + INTENSITY_PROPERTIES
        table = regionprops_table(plane_labels, intensity_image=intensity,
                                  properties=[name for name in properties if name != "solidity"])
        table = {_column_name(name): values for name, values in table.items()}
        table = _with_solidity(table, plane_labels)
        table = {"label": table.pop("label"), "plane": np.full(len(table["area"]), plane), **table}
        for name, values in table.items():
            columns.setdefault(name, []).append(np.asarray(values))
    return {name: np.concatenate(parts) for name, parts in columns.items()}


def _with_solidity(table: dict, labels: np.ndarray) -> dict:
    """``table`` with the ``solidity`` column after ``eccentricity``: regionprops' value
    (area over the area of ``convex_hull_image``), with the hull's pixels counted row by
    row (:func:`convex_area`) rather than drawn point by point, 10-20x faster on large
    cells."""
    convex = np.array([convex_area(region.image) for region in regionprops(labels)], dtype=np.float64)
    out = {}
    for name, values in table.items():
        out[name] = values
        if name == "eccentricity":
            out["solidity"] = np.asarray(table["area"], dtype=np.float64) / convex
    return out


_DIAMOND = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])  # a pixel's edge midpoints, in half pixels


def convex_area(image: np.ndarray) -> int:
    """Pixels of ``skimage.morphology.convex_hull_image(image)``, counted without drawing it.

    The same hull: each pixel's four edge midpoints (``offset_coordinates``), of the first
    and last pixel of each row (the others lie inside), through scipy's ConvexHull. Then
    per row, the pixel centres between the hull's left and right edges, borders included
    (``include_borders``), instead of a point-in-polygon test for every pixel of the box.
    Coordinates are doubled to integers, so a centre on an edge is recognised exactly.

    Parameters
    ----------
    image : (h, w) bool, one cell in its bounding box (``RegionProperties.image``)

    Returns
    -------
    int
        The convex hull's area in pixels (``RegionProperties.area_convex``).
    """
    from scipy.spatial import ConvexHull

    height, width = image.shape
    rows = np.flatnonzero(image.any(axis=1))
    inside = image[rows]
    first = inside.argmax(axis=1)
    last = width - 1 - inside[:, ::-1].argmax(axis=1)
    ends = np.concatenate([np.stack([rows, first], 1), np.stack([rows, last], 1)]) * 2
    points = (ends[:, None, :] + _DIAMOND).reshape(-1, 2)
    stride = 2 * width + 3  # each point once (as skimage does): one number per point, then unique
    key = np.unique((points[:, 0] + 1) * stride + points[:, 1] + 1)
    points = np.stack([key // stride - 1, key % stride - 1], axis=1)
    corners = points[ConvexHull(points).vertices]
    y0, x0 = corners[:, 0], corners[:, 1]
    y1, x1 = np.roll(y0, -1), np.roll(x0, -1)
    centre = 2 * np.arange(height)[:, None]
    crosses = (centre >= np.minimum(y0, y1)) & (centre <= np.maximum(y0, y1))
    flat = y0 == y1
    x = np.where(flat, x0, x0 + (x1 - x0) * (centre - y0) / np.where(flat, 1, y1 - y0))
    left = np.where(crosses, np.where(flat, np.minimum(x0, x1), x), np.inf).min(axis=1)
    right = np.where(crosses, np.where(flat, np.maximum(x0, x1), x), -np.inf).max(axis=1)
    hit = np.isfinite(left)
    # half-pixel rationals with small denominators: 1e-9 only absorbs rounding at an edge
    first_col = np.maximum(np.ceil(left[hit] / 2 - 1e-9), 0)
    last_col = np.minimum(np.floor(right[hit] / 2 + 1e-9), width - 1)
    return int(np.maximum(last_col - first_col + 1, 0).sum())


def _column_name(name: str) -> str:
    if name in _RENAME:
        return _RENAME[name]
    base, _, channel = name.partition("-")
    if base in _INTENSITY_NAMES:
        return f"{_INTENSITY_NAMES[base]}_c{channel or 0}"
    return name


def write_measurements(path: str | os.PathLike, columns: dict[str, np.ndarray]) -> int:
    """Write measured columns as CSV (atomically). Returns the number of rows."""
    names = list(columns)
    n_rows = len(columns[names[0]]) if names else 0
    if n_rows == 0:
        raise InvalidInputError("There are no cells to measure: the labels are empty.")
    with atomic_write(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for row in zip(*(columns[name].tolist() for name in names)):
            writer.writerow(row)
    return n_rows
