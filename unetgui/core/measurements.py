"""Per-cell measurements as a CSV table, made by ``skimage.measure.regionprops_table``.

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
from skimage.measure import regionprops_table

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
        table = regionprops_table(plane_labels, intensity_image=intensity, properties=properties)
        table = {_column_name(name): values for name, values in table.items()}
        table = {"label": table.pop("label"), "plane": np.full(len(table["area"]), plane), **table}
        for name, values in table.items():
            columns.setdefault(name, []).append(np.asarray(values))
    return {name: np.concatenate(parts) for name, parts in columns.items()}


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
