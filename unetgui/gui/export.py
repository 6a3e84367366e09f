"""File > Export: labels, binary masks or cell probabilities as TIFF for Fiji and napari;
cells as ImageJ ROIs (Fiji), GeoJSON (QuPath) or a measurements table (CSV); the image
with its labels as OME-Zarr (napari).

Functions of what they export (the document, the stack, the predictions), not of the
window; they raise :class:`UnetguiError` with a message for the dialog.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unetgui.core.cell_files import write_cells, write_label_image
from unetgui.core.errors import InvalidInputError
from unetgui.core.io import (
    ImageStack,
    plane_axis_for,
    write_probabilities,
)
from unetgui.core.labels import LabelDocument
from unetgui.core.outputs import output_name
from unetgui.core.postprocess import decode_probability

TIFF_FILTER = "TIFF (*.tif *.tiff)"
FILTERS = {"rois": "ImageJ ROI set (*.zip)", "geojson": "GeoJSON (*.geojson *.json)", "measurements": "CSV (*.csv)",
           "ome-zarr": "OME-Zarr (*.zarr)"}


def default_path(image_path: Path, kind: str, plane: int | None) -> Path:
    """Where an export goes unless the user says otherwise: ``NAME_labels.tif`` beside the
    image for a stack, ``NAME_labels_3.tif`` for plane 3."""
    return image_path.with_name(output_name(image_path.name, kind, plane))


def export_labels(path: str | Path, kind: str, document: LabelDocument, stack: ImageStack,
                  planes: list[int]) -> Path:
    """Write the labels ("labels", uint32 ids) or 0/255 masks ("mask") of ``planes``; one
    plane is written as a 2D image. Returns the path written."""
    return write_label_image(path, kind, _labels_of(document, planes), stack)


def export_probabilities(path: str | Path, predictions: dict[int, np.ndarray], stack: ImageStack,
                         planes: list[int]) -> Path:
    """Write the cell probability (float32, 0 on planes not predicted) of ``planes``.
    Returns the path written; raises when none of them is predicted."""
    if not any(p in predictions for p in planes):
        raise InvalidInputError("Nothing to export: predict the plane or the stack first.")
    shape = (stack.height, stack.width)
    values = np.stack([decode_probability(predictions[p]) if p in predictions else np.zeros(shape, np.float32)
                       for p in planes])
    plane_axis = plane_axis_for(stack.plane_axes)
    return Path(write_probabilities(path, values if len(planes) > 1 else values[0], plane_axis=plane_axis,
                                    pixel_size=stack.pixel_size))


def export_cells(path: str | Path, kind: str, document: LabelDocument, stack: ImageStack) -> str:
    """Write the cells of every plane as "rois", "geojson" or "measurements" (with the
    image's intensities). Returns what was written, in words, for the status bar."""
    plane_axis = plane_axis_for(stack.plane_axes) if stack.n_planes > 1 else None
    return write_cells(path, kind, _labels_of(document, range(stack.n_planes)), plane_axis=plane_axis,
                       read_plane=stack.read_plane)


def export_ome_zarr(path: str | Path, document: LabelDocument, stack: ImageStack) -> Path:
    """Write the image with its labels as an OME-Zarr (napari, the cloud), with the pixel size."""
    return write_label_image(path, "ome-zarr", _labels_of(document, range(stack.n_planes)), stack)


def _labels_of(document: LabelDocument, planes) -> np.ndarray:
    """(len(planes), Y, X) copy of the document's labels of ``planes``."""
    return np.stack([np.asarray(document.labels_of(p)) for p in planes])
