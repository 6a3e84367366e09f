"""The cells of a label stack to and from the exchange files, chosen by kind or suffix:
label TIFFs, masks and OME-Zarr (write_label_image),
ImageJ ROI sets, GeoJSON, the measurements CSV. The window's File > Export / Import
labels and ``unetgui export`` both come here."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from unetgui.core.imagej_rois import read_imagej_rois, write_imagej_rois
from unetgui.core.io import plane_axis_for, read_labels, write_image, write_labels
from unetgui.core.measurements import measure_cells, write_measurements
from unetgui.core.qupath_geojson import read_geojson, write_geojson

KINDS = ("rois", "geojson", "measurements")
IMAGE_KINDS = ("labels", "mask", "ome-zarr")  # written by write_label_image


def write_label_image(path: str | os.PathLike, kind: str, labels: np.ndarray, stack) -> Path:
    """Write (P, Y, X) labels of ``stack``'s image as one of :data:`IMAGE_KINDS`: a label
    TIFF (cell ids), 0/255 masks, or the image with its labels as OME-Zarr; with the
    image's plane axis and pixel size. One plane is written as a 2D image.

    Returns
    -------
    Path
        ``path``.
    """
    plane_axis = plane_axis_for(stack.plane_axes)
    single = labels.shape[0] == 1
    if kind == "labels":
        return Path(write_labels(path, labels[0] if single else labels, plane_axis=plane_axis,
                                 pixel_size=stack.pixel_size))
    if kind == "mask":
        masks = np.where(labels > 0, 255, 0).astype(np.uint8)
        return Path(write_image(path, masks[0] if single else masks, axes="YX" if single else f"{plane_axis}YX",
                                pixel_size=stack.pixel_size))
    if kind == "ome-zarr":
        from unetgui.core.ome_zarr_files import write_ome_zarr

        return write_ome_zarr(path, stack.read_all(), labels, plane_axis=plane_axis, pixel_size=stack.pixel_size)
    raise ValueError(f"unknown kind of label image {kind!r}; one of {IMAGE_KINDS}")


def write_cells(path: str | os.PathLike, kind: str, labels: np.ndarray, *, plane_axis: str | None = None,
                read_plane: Callable[[int], np.ndarray] | None = None, object_type: str = "detection") -> str:
    """Write the cells of a label plane or stack as one of :data:`KINDS`.

    Parameters
    ----------
    path : the file to write (atomically)
    kind : "rois" (ImageJ ROI set), "geojson" (QuPath) or "measurements" (CSV)
    labels : (Y, X) or (P, Y, X) integer cell ids
    plane_axis : "T" or "Z" for a stack of time points or z-slices
    read_plane : plane -> (C, Y, X) image, for the intensity columns of the measurements
    object_type : QuPath's "detection" or "annotation", for GeoJSON

    Returns
    -------
    str
        What was written, in words ("40 ROI(s) of 40 cell(s)"), for a status line.
    """
    if kind == "rois":
        count = write_imagej_rois(path, labels, plane_axis=plane_axis)
        filled = f" ({count.holes_filled} cell(s) with holes exported filled)" if count.holes_filled else ""
        return f"{count.pieces} ROI(s) of {count.cells} cell(s){filled}"
    if kind == "geojson":
        return f"{write_geojson(path, labels, plane_axis=plane_axis, object_type=object_type).cells} cell(s)"
    if kind == "measurements":
        return f"{write_measurements(path, measure_cells(labels, read_plane))} row(s) of measurements"
    raise ValueError(f"unknown kind of cell file {kind!r}; one of {KINDS}")


def read_cells(path: str | os.PathLike, shape: tuple[int, int, int]) -> np.ndarray:
    """(P, Y, X) labels from a label TIFF, an ImageJ ROI set, GeoJSON or an OME-Zarr's labels
    group, by the file's suffix.

    Parameters
    ----------
    path : the file
    shape : (P, Y, X) of the image the labels are for

    Returns
    -------
    (P, Y, X) unsigned integer labels
    """
    suffix = Path(path).suffix.lower()
    if suffix in (".zip", ".roi"):
        return read_imagej_rois(path, shape)
    if suffix in (".geojson", ".json"):
        return read_geojson(path, shape)
    if suffix == ".zarr":
        from unetgui.core.ome_zarr_files import read_ome_zarr_labels

        return read_ome_zarr_labels(path, shape)
    return read_labels(path, expected_shape=shape)
