"""File > Export: labels, binary masks or cell probabilities as TIFF for Fiji and napari.

Functions of what they export (the document, the stack, the predictions), not of the
window; they raise :class:`UnetguiError` with a message for the dialog.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unetgui.core.errors import InvalidInputError
from unetgui.core.io import (
    ImageStack,
    plane_axis_for,
    write_image,
    write_labels,
    write_probabilities,
)
from unetgui.core.labels import LabelDocument
from unetgui.core.postprocess import decode_probability

TIFF_FILTER = "TIFF (*.tif *.tiff)"
SUFFIXES = {"labels": "_labels", "mask": "_mask", "probabilities": "_probabilities"}


def default_path(image_path: Path, kind: str, plane: int | None) -> Path:
    """Where an export goes unless the user says otherwise: ``NAME_labels.tif`` beside the
    image for a stack, ``NAME_labels_3.tif`` for plane 3."""
    stem = image_path.name.split(".")[0]
    return image_path.with_name(f"{stem}{SUFFIXES[kind]}{'' if plane is None else f'_{plane}'}.tif")


def export_labels(path: str | Path, kind: str, document: LabelDocument, stack: ImageStack,
                  planes: list[int]) -> Path:
    """Write the labels ("labels", uint32 ids) or 0/255 masks ("mask") of ``planes``; one
    plane is written as a 2D image. Returns the path written."""
    labels = np.stack([np.asarray(document.labels_of(p)) for p in planes])
    plane_axis = plane_axis_for(stack.plane_axes)
    single = len(planes) == 1
    if kind == "labels":
        return Path(write_labels(path, labels[0] if single else labels, plane_axis=plane_axis))
    masks = np.where(labels > 0, 255, 0).astype(np.uint8)
    return Path(write_image(path, masks[0] if single else masks, axes="YX" if single else f"{plane_axis}YX"))


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
    return Path(write_probabilities(path, values if len(planes) > 1 else values[0], plane_axis=plane_axis))
