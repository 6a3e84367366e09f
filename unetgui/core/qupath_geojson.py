"""Cells as GeoJSON for QuPath (File > Import objects), and back.

A FeatureCollection with one feature per cell: a Polygon (MultiPolygon for a cell in
pieces) whose rings run along the pixel edges (:mod:`unetgui.core.outlines`), holes
kept. ``properties`` carry QuPath's ``objectType`` ("detection" by default, or
"annotation"), the cell's ``label`` id and its 0-based ``plane``; in a stack the geometry
also carries QuPath's ``plane`` ({"c": -1, "z": .., "t": ..}). GeoJSON is JSON: written
with the standard library, atomically.
"""

from __future__ import annotations

import json
import os

import numpy as np

from unetgui.core.errors import ImageFileError, InvalidInputError
from unetgui.core.io import atomic_write, describe_os_error
from unetgui.core.outlines import (
    ExportCount,
    ImportedCell,
    Outline,
    as_label_stack,
    cell_outlines,
    paint_cells,
)

OBJECT_TYPES = ("detection", "annotation")


def labels_to_geojson(labels: np.ndarray, *, plane_axis: str | None = None,
                      object_type: str = "detection") -> tuple[dict, ExportCount]:
    """The cells of a label plane or stack as a GeoJSON FeatureCollection.

    Parameters
    ----------
    labels : (Y, X) or (P, Y, X) integer cell ids
    plane_axis : "T" or "Z": what the planes of a stack are (None: z)
    object_type : "detection" or "annotation", as QuPath names them

    Returns
    -------
    collection : dict, ready for ``json.dump``
    count : ExportCount (no holes are lost: GeoJSON keeps them)
    """
    if object_type not in OBJECT_TYPES:
        raise InvalidInputError(f"QuPath objects are {' or '.join(OBJECT_TYPES)}, not {object_type!r}.")
    stack = as_label_stack(labels)
    features, pieces = [], 0
    for plane, plane_labels in enumerate(stack):
        for cell, outlines in cell_outlines(plane_labels).items():
            pieces += len(outlines)
            rings = [[_closed(o.exterior), *(_closed(h) for h in o.holes)] for o in outlines]
            geometry = ({"type": "Polygon", "coordinates": rings[0]} if len(rings) == 1
                        else {"type": "MultiPolygon", "coordinates": rings})
            if len(stack) > 1:
                geometry["plane"] = {"c": -1, "z": plane if plane_axis != "T" else 0,
                                     "t": plane if plane_axis == "T" else 0}
            features.append({"type": "Feature", "geometry": geometry,
                             "properties": {"objectType": object_type, "label": int(cell), "plane": plane}})
    if not features:
        raise InvalidInputError("There are no cells to export: the labels are empty.")
    return {"type": "FeatureCollection", "features": features}, ExportCount(len(features), pieces)


def write_geojson(path: str | os.PathLike, labels: np.ndarray, **options) -> ExportCount:
    """Write :func:`labels_to_geojson` to ``path`` (atomically). Returns what it wrote."""
    collection, count = labels_to_geojson(labels, **options)
    text = json.dumps(collection, separators=(",", ":"))  # the C encoder: json.dump streams in Python
    with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    return count


def read_geojson(path: str | os.PathLike, shape: tuple[int, int, int]) -> np.ndarray:
    """Labels from GeoJSON polygons (this module's, QuPath's or another tool's).

    A feature with a whole-number ``label`` property keeps it as its id; others get the
    next free ids. The plane comes from the ``plane`` property, else QuPath's geometry
    plane, else plane 0. Features that are not polygons are skipped.

    Parameters
    ----------
    path : the .geojson / .json file
    shape : (P, Y, X) of the image the labels are for

    Returns
    -------
    (P, Y, X) uint32 labels
    """
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise ImageFileError(f"'{os.fspath(path)}' does not exist.") from None
    except OSError as error:
        raise ImageFileError(f"Cannot read '{os.fspath(path)}': {describe_os_error(error)}") from None
    except (ValueError, RecursionError) as error:
        raise ImageFileError(f"'{os.path.basename(path)}' is not valid JSON ({error}).") from None
    cells = [ImportedCell("A feature", _plane_of(f), _label_of(f),
                          [Outline(rings[0], rings[1:]) for rings in _polygons(f)]) for f in _features(document)]
    return paint_cells(cells, shape, f"'{os.path.basename(path)}' holds no polygon on a plane of this image.")


def _closed(ring: np.ndarray) -> list[list[int]]:
    points = ring.tolist()
    return points + points[:1]


def _features(document) -> list[dict]:
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        features = document.get("features")
    elif isinstance(document, dict) and document.get("type") == "Feature":
        features = [document]
    elif isinstance(document, list):  # QuPath also writes a bare list of features
        features = document
    else:
        features = None
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        raise ImageFileError("This JSON is not GeoJSON: expected a FeatureCollection, a Feature or a list of "
                             "features.")
    return features


def _label_of(feature: dict) -> int | None:
    value = (feature.get("properties") or {}).get("label")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _plane_of(feature: dict) -> int | None:
    value = (feature.get("properties") or {}).get("plane")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    plane = (feature.get("geometry") or {}).get("plane")
    if isinstance(plane, dict):
        z, t = plane.get("z", 0), plane.get("t", 0)
        if isinstance(z, int) and isinstance(t, int):
            return max(z, t)
        return None
    return 0


def _polygons(feature: dict) -> list[list[np.ndarray]]:
    """Rings of each polygon of a feature, as (N, 2) float arrays; [] if not polygons."""
    geometry = feature.get("geometry") or {}
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    polygons = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else []
    out = []
    try:
        for polygon in polygons or []:
            rings = [np.asarray(ring, dtype=np.float64)[:, :2] for ring in polygon]
            if rings and all(len(r) >= 3 for r in rings):
                out.append(rings)
    except (TypeError, ValueError, IndexError):
        raise ImageFileError("A GeoJSON polygon has malformed coordinates.") from None
    return out
