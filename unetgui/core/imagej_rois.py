"""Cells as ImageJ ROI sets (the ``.zip`` Fiji's ROI Manager opens), through ``roifile``.

One traced polygon ROI per cell, on the pixel edges (:mod:`unetgui.core.outlines`), named
by its label id and placed on its plane: as a time frame (``t``) or z-slice (``z``) for
stacks whose planes are time or z, else as the stack position. In a stack the name starts
with the plane (``t3-12``: cell 12 of time point 3; ROI names in a set are unique). A
polygon ROI cannot hold a hole, so a cell with holes is exported filled (the count is
reported); a cell in several pieces becomes one ROI per piece, ``12-2``, ``12-3`` ...
"""

from __future__ import annotations

import os
import zipfile

import numpy as np
import roifile

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


def write_imagej_rois(path: str | os.PathLike, labels: np.ndarray, *, plane_axis: str | None = None) -> ExportCount:
    """Write every cell of a label plane or stack as an ImageJ ROI set.

    Parameters
    ----------
    path : the ``.zip`` to write (atomically)
    labels : (Y, X) or (P, Y, X) integer cell ids
    plane_axis : "T" or "Z": what the planes of a stack are (None: stack positions)

    Returns
    -------
    ExportCount
    """
    stack = as_label_stack(labels)
    rois, cells, holes = [], 0, 0
    prefix = {"T": "t", "Z": "z"}.get(plane_axis or "", "p")
    for plane, plane_labels in enumerate(stack):
        for cell, pieces in cell_outlines(plane_labels).items():
            cells += 1
            holes += any(piece.holes for piece in pieces)
            for k, piece in enumerate(pieces, start=1):
                name = f"{cell}" if k == 1 else f"{cell}-{k}"
                if len(stack) > 1:
                    name = f"{prefix}{plane}-{name}"
                rois.append(_roi(piece, name, plane, len(stack), plane_axis))
    if not rois:
        raise InvalidInputError("There are no cells to export: the labels are empty.")
    with atomic_write(path) as tmp:
        roifile.roiwrite(tmp, rois, mode="w")
    return ExportCount(cells, len(rois), holes)


def _roi(piece: Outline, name: str, plane: int, n_planes: int, plane_axis: str | None) -> roifile.ImagejRoi:
    where = {}
    if n_planes > 1:
        where = {"t": plane} if plane_axis == "T" else {"z": plane} if plane_axis == "Z" else {"position": plane}
    roi = roifile.ImagejRoi.frompoints(piece.exterior, name=name, **where)
    roi.roitype = roifile.ROI_TYPE.TRACED  # what Fiji's wand makes: a polygon on the pixel edges
    return roi


def read_imagej_rois(path: str | os.PathLike, shape: tuple[int, int, int]) -> np.ndarray:
    """Labels from an ImageJ ROI set (a ``.zip`` or a single ``.roi``).

    A ROI named by a whole number keeps it as its label id (its pieces ``ID-2`` ... join
    it); others get the next free ids. A ROI's plane comes from its t, z or stack
    position; later ROIs cover earlier ones where they overlap.

    Parameters
    ----------
    path : the ROI file
    shape : (P, Y, X) of the image the labels are for

    Returns
    -------
    (P, Y, X) uint32 labels
    """
    try:
        found = roifile.roiread(path)
    except FileNotFoundError:
        raise ImageFileError(f"'{os.fspath(path)}' does not exist.") from None
    except OSError as error:
        raise ImageFileError(f"Cannot read '{os.fspath(path)}': {describe_os_error(error)}") from None
    except (ValueError, KeyError, IndexError, zipfile.BadZipFile, EOFError) as error:
        raise ImageFileError(f"'{os.path.basename(path)}' is not a readable ImageJ ROI file ({error}).") from None
    rois = found if isinstance(found, list) else [found]
    cells = [ImportedCell(f"ROI '{roi.name}'", _plane_of(roi, shape[0]), _id_from_name(roi.name), _outlines(roi))
             for roi in rois]
    return paint_cells(cells, shape, f"'{os.path.basename(path)}' holds no area ROI (polygon, freehand, traced) "
                                     f"on a plane of this image.")


def _outlines(roi: roifile.ImagejRoi) -> list[Outline]:
    """The ROI's polygon, or nothing for a ROI without an area (a line, a point)."""
    try:
        points = np.asarray(roi.coordinates(), dtype=np.float64)
    except (ValueError, TypeError, IndexError):
        return []
    return [Outline(points)] if points.ndim == 2 and len(points) >= 3 else []


def _id_from_name(name: str) -> int | None:
    """The cell id in a name this module wrote ("12", "12-2", "t3-12", "t3-12-2"), else None."""
    parts = (name or "").split("-")
    if parts and parts[0][:1] in ("t", "z", "p") and parts[0][1:].isdigit():
        parts = parts[1:]
    head = parts[0] if parts else ""
    return int(head) if head.isdigit() and int(head) > 0 else None


def _plane_of(roi: roifile.ImagejRoi, n_planes: int) -> int | None:
    """0-based plane from the ROI's t, z or stack position (1-based; 0 = all/unset)."""
    for position in (roi.t_position, roi.z_position, roi.position):
        if position:
            return position - 1 if position <= n_planes else None
    return 0 if n_planes >= 1 else None
