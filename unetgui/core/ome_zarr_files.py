"""OME-Zarr images with their labels, for napari and the cloud, through ome-zarr-py.

Written as OME-NGFF 0.4 (Zarr v2): the version napari-ome-zarr, Fiji (MoBIE, n5-viewer)
and QuPath read today. ``ome-zarr-models`` accepts what is written here as an image, a
labels group and an image-label (the tests check it). One image is
``NAME.zarr/`` holding:

* the image as a multiscale pyramid (``s0`` full size, then halves down to ~256 px),
  axes ``tcyx`` for a time-lapse, ``czyx`` for a z-stack, ``cyx`` for one plane, the
  pixel size in micrometres as the scale of y and x when it is known;
* ``labels/cells``: the cell ids, same axes with one channel, a nearest-neighbour
  pyramid, and ``image-label`` colours (one per cell, stable across exports).

Reading takes the first image of an OME-Zarr (any NGFF version ome-zarr-py reads) lazily,
one plane at a time, and the labels of its ``labels/`` group.

zarr and ome-zarr are an optional part (``pip install "unetgui[zarr]"``): without them,
these functions raise an error that says how to install them.
"""

from __future__ import annotations

import colorsys
import contextlib
import inspect
import logging
import os
import secrets
import shutil
import warnings
from pathlib import Path

import numpy as np

from unetgui.core.errors import ImageFileError, InvalidInputError

ZARR_SUFFIX = ".zarr"
LABELS_NAME = "cells"
MIN_LEVEL_PX = 256  # the pyramid halves the image while its smaller level stays above this
MAX_LEVELS = 5
INSTALL_HINT = "Install the OME-Zarr support with: pip install \"unetgui[zarr]\""
_AXES = {"T": "tcyx", "Z": "czyx", "": "cyx"}  # NGFF's order: t, c, z, y, x
_MARK = "unetgui"  # a root attribute naming the writer: what may be replaced without --overwrite


def is_zarr(path: str | os.PathLike) -> bool:
    """Whether ``path`` names an OME-Zarr (a folder ending in .zarr)."""
    return str(path).rstrip("/\\").lower().endswith(ZARR_SUFFIX)


def _libraries():
    """(zarr, ome_zarr.io, ome_zarr.reader, ome_zarr.writer, ome_zarr.format), or a clear error."""
    try:
        import zarr

        with warnings.catch_warnings():  # its own deprecations, at import: not the user's business
            warnings.simplefilter("ignore", DeprecationWarning)
            from ome_zarr import format as ome_format
            from ome_zarr import io as ome_io
            from ome_zarr import reader, writer
    except ImportError as error:
        raise ImageFileError(f"OME-Zarr files need the zarr and ome-zarr packages, which are not installed. "
                             f"{INSTALL_HINT}") from error
    logging.getLogger("ome_zarr").setLevel(logging.ERROR)  # version notes on every read
    return zarr, ome_io, reader, writer, ome_format


# ------------------------------------------------------------------ writing


def write_ome_zarr(path: str | os.PathLike, image: np.ndarray, labels: np.ndarray | None = None, *,
                   plane_axis: str = "Z", pixel_size: tuple[float, float] | None = None,
                   n_cells: int | None = None) -> Path:
    """Write an image and its labels as one OME-Zarr; returns its path.

    The folder is built beside ``path`` under a temporary name and moved into place when
    complete; an earlier one at ``path`` is replaced only then.

    Parameters
    ----------
    path : a folder name ending in .zarr
    image : (P, C, Y, X) pixels: a numpy array, or a Dask array for an image larger than
        memory (written chunk by chunk, its pyramid too)
    labels : (P, Y, X) cell ids (numpy or Dask), or None for the image alone
    plane_axis : "T" (time) or "Z" (depth): what the planes are
    pixel_size : (row, column) micrometres, or None when unknown
    n_cells : the cells are numbered 1..n_cells (Dask labels: saves reading them all to
        find their ids for the colours)

    Raises
    ------
    ImageFileError
        The libraries are missing, or the folder cannot be written.
    """
    zarr, ome_io, _, writer, ome_format = _libraries()
    path = Path(path)
    lazy = _is_dask(image)
    image = image if lazy else np.asarray(image)
    if image.ndim != 4 or (labels is not None and np.shape(labels) != (image.shape[0], *image.shape[2:])):
        raise InvalidInputError(f"Cannot write an OME-Zarr of an image {image.shape} with labels "
                                f"{None if labels is None else np.shape(labels)}.")
    key = plane_axis if image.shape[0] > 1 else ""
    factors = _scale_factors(image.shape[2:])
    options = {"axes": _axes(key, pixel_size is not None), "scale_factors": factors, "fmt": ome_format.FormatV04()}
    if pixel_size is not None and "scale" in inspect.signature(writer.write_image).parameters:
        # ome-zarr >= 0.12 builds each level's scale itself from these (and ignores ours)
        scale = {name: 1.0 for name in _AXES[key]} | {"y": float(pixel_size[0]), "x": float(pixel_size[1])}
        options |= {"scale": scale, "axes_units": {"y": "micrometer", "x": "micrometer"}}
    else:
        options["coordinate_transformations"] = _transformations(key, factors, pixel_size)
    temporary = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        root = zarr.group(store=ome_io.parse_url(str(temporary), mode="w", fmt=options["fmt"]).store,
                          zarr_format=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            writer.write_image(_ordered(image, key), root, **options)
            if labels is not None:
                if n_cells is None:
                    labels = np.asarray(labels)
                    ids = np.unique(labels)
                    ids = ids[ids > 0]
                else:
                    ids = np.arange(1, n_cells + 1)
                cells = labels.astype(np.uint32 if ids.max(initial=0) > 65535 else np.uint16)
                writer.write_labels(_ordered(cells[:, None], key), root, name=LABELS_NAME, scaler=None,
                                    label_metadata={"colors": _colours(ids)}, **options)
        root.attrs[_MARK] = {"written_by": "unetgui"}
        _replace(temporary, path)
    except OSError as error:
        raise ImageFileError(f"Cannot write '{path.name}' in '{path.parent}': {error.strerror or error}.") from error
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return path


def _ordered(array: np.ndarray, key: str) -> np.ndarray:
    """(P, C, Y, X) in NGFF's axis order: t c y x, c z y x, or c y x for one plane."""
    if key == "T":
        return array
    if key == "Z":
        return array.transpose(1, 0, 2, 3)
    return array[0]


def _axes(key: str, calibrated: bool) -> list[dict]:
    kinds = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}
    axes = [{"name": name, "type": kinds[name]} for name in _AXES[key]]
    for axis in axes:
        if calibrated and axis["name"] in "yx":
            axis["unit"] = "micrometer"
    return axes


def _transformations(key: str, factors: tuple[int, ...], pixel_size) -> list[list[dict]]:
    """The scale of each pyramid level: the pixel size (1 when unknown) times the factor."""
    size_y, size_x = pixel_size if pixel_size is not None else (1.0, 1.0)
    out = []
    for factor in (1, *factors):
        scale = [1.0] * (len(_AXES[key]) - 2) + [float(size_y) * factor, float(size_x) * factor]
        out.append([{"type": "scale", "scale": scale}])
    return out


def _scale_factors(shape: tuple[int, int]) -> tuple[int, ...]:
    """2, 4, 8... while the smaller side of the level stays >= MIN_LEVEL_PX."""
    levels = 0
    while levels + 1 < MAX_LEVELS and min(shape) / 2 ** (levels + 1) >= MIN_LEVEL_PX:
        levels += 1
    return tuple(2 ** (k + 1) for k in range(levels))


def _is_dask(array) -> bool:
    return type(array).__module__.startswith("dask.")


def _colours(ids: np.ndarray) -> list[dict]:
    """One bright colour per cell id, the same for an id in every export (golden-ratio hues)."""
    out = []
    for value in np.asarray(ids).tolist():
        red, green, blue = colorsys.hsv_to_rgb((value * 0.618033988749895) % 1.0, 0.75, 1.0)
        out.append({"label-value": int(value), "rgba": [int(red * 255), int(green * 255), int(blue * 255), 255]})
    return out


def _replace(new: Path, path: Path) -> None:
    """Move the finished folder onto ``path`` (an old one goes aside first, then away)."""
    old = path.with_name(f".{path.name}.old-{secrets.token_hex(4)}")
    had_old = path.exists()
    if had_old:
        os.replace(path, old)
    try:
        os.replace(new, path)
    except OSError:
        if had_old:
            os.replace(old, path)
        raise
    if had_old:
        shutil.rmtree(old, ignore_errors=True)


def written_by_unetgui(path: str | os.PathLike) -> bool:
    """Whether the OME-Zarr at ``path`` was written by unetgui (so it may be replaced)."""
    import json

    with contextlib.suppress(OSError, ValueError):
        return _MARK in json.loads((Path(path) / ".zattrs").read_text(encoding="utf-8"))
    return False


# ------------------------------------------------------------------ reading


class _ZarrSource:
    """The full-size level of an OME-Zarr image (a dask array), read a plane at a time."""

    def __init__(self, array) -> None:
        self.array = array

    def block(self, fixed: dict[int, int]) -> np.ndarray:
        return np.asarray(self.array[tuple(fixed.get(i, slice(None)) for i in range(self.array.ndim))])


def open_ome_zarr(path: str | os.PathLike):
    """The first image of an OME-Zarr as an :class:`~unetgui.core.io.ImageStack`.

    Raises
    ------
    ImageFileError
        Not an OME-Zarr image, unsupported axes, or the libraries are missing.
    """
    from unetgui.core.io import ImageStack, micrometres

    path = Path(path)
    node = _image_node(path)
    array = node.data[0]
    names = [axis["name"] if isinstance(axis, dict) else str(axis) for axis in node.metadata.get("axes", [])]
    if not names:  # NGFF 0.1-0.3 wrote no axes: always 5D tczyx
        names = list("tczyx"[5 - array.ndim:])
    if len(names) != array.ndim or "y" not in names or "x" not in names:
        raise ImageFileError(f"Cannot read '{path.name}': its axes ({', '.join(names)}) are not an image's.")
    letters = _axis_letters(names)
    pixel_size = None
    with contextlib.suppress(KeyError, IndexError, TypeError, ValueError):
        scale = next(t["scale"] for t in node.metadata["coordinateTransformations"][0] if t["type"] == "scale")
        units = {a["name"]: a.get("unit") for a in node.metadata["axes"]}
        sizes = tuple(micrometres(float(scale[names.index(a)]), units.get(a)) for a in "yx")
        pixel_size = sizes if None not in sizes else None
    levels = tuple((_ZarrSource(level), tuple(level.shape)) for level in node.data[1:]
                   if level.ndim == array.ndim and 0 not in level.shape)
    return ImageStack(path, _ZarrSource(array), source_axes=letters, source_shape=tuple(array.shape),
                      dtype=array.dtype, is_rgb=False, pixel_size=pixel_size, levels=levels)


def _axis_letters(names: list[str]) -> str:
    """NGFF axis names as ImageStack's axis letters (tczyx -> TCZYX, others unknown: Q)."""
    return "".join({"t": "T", "c": "C", "z": "Z", "y": "Y", "x": "X"}.get(n.lower(), "Q") for n in names)


def _image_node(path: Path):
    _, ome_io, reader, _, _ = _libraries()
    try:
        location = ome_io.parse_url(str(path), mode="r")
        nodes = list(reader.Reader(location)()) if location is not None else []
    except Exception as error:  # whatever zarr raises on a damaged store
        raise ImageFileError(f"Cannot read '{path.name}': it is not a readable OME-Zarr ({error}).") from error
    for node in nodes:
        if any(type(spec).__name__ == "Multiscales" for spec in node.specs) and \
                not any(type(spec).__name__ == "Label" for spec in node.specs) and node.data:
            return node
    raise ImageFileError(f"Cannot read '{path.name}': it holds no OME-Zarr image.")


def open_ome_zarr_labels(path: str | os.PathLike, shape: tuple[int, int, int]):
    """The first labels image of an OME-Zarr as a lazy (P, 1, Y, X) ImageStack with its
    pyramid, for viewing an image too large to read whole; None when it has none, or
    when they do not fit an image of ``shape`` (P, Y, X)."""
    from unetgui.core.io import ImageStack

    _, ome_io, reader, _, _ = _libraries()
    path = Path(path)
    try:
        nodes = list(reader.Reader(ome_io.parse_url(str(path), mode="r"))())
    except Exception:  # noqa: BLE001 (no labels to show is not an error of the image)
        return None
    for node in nodes:
        if any(type(spec).__name__ == "Label" for spec in node.specs) and node.data:
            array = node.data[0]
            names = [a["name"] for a in node.metadata.get("axes", [])] or list("tczyx"[5 - array.ndim:])
            letters = _axis_letters(names)
            if array.dtype.kind not in "ui" or "Y" not in letters or "X" not in letters:
                return None
            stack = ImageStack(path, _ZarrSource(array), source_axes=letters, source_shape=tuple(array.shape),
                               dtype=array.dtype, is_rgb=False,
                               levels=tuple((_ZarrSource(level), tuple(level.shape)) for level in node.data[1:]
                                            if level.ndim == array.ndim))
            if (stack.n_planes, stack.height, stack.width) != tuple(shape) or stack.n_channels != 1:
                return None
            return stack
    return None


def read_ome_zarr_labels(path: str | os.PathLike, shape: tuple[int, int, int]) -> np.ndarray:
    """The cell ids of an OME-Zarr's first labels image, as (P, Y, X) uint32 for an image
    of ``shape`` planes (refused, with the sizes, when they do not match)."""
    _, ome_io, reader, _, _ = _libraries()
    path = Path(path)
    try:
        nodes = list(reader.Reader(ome_io.parse_url(str(path), mode="r"))())
    except Exception as error:
        raise ImageFileError(f"Cannot read '{path.name}': it is not a readable OME-Zarr ({error}).") from error
    for node in nodes:
        if any(type(spec).__name__ == "Label" for spec in node.specs) and node.data:
            labels = np.asarray(node.data[0])
            names = [a["name"] for a in node.metadata.get("axes", [])] or list("tczyx"[5 - labels.ndim:])
            order = [i for i, n in enumerate(names) if n not in ("y", "x")] + [names.index("y"), names.index("x")]
            labels = labels.transpose(order).reshape(-1, labels.shape[names.index("y")],
                                                     labels.shape[names.index("x")])
            if labels.shape != tuple(shape):
                raise ImageFileError(f"The labels in '{path.name}' have {labels.shape[0]} plane(s) of "
                                     f"{labels.shape[2]} x {labels.shape[1]} pixels; the image has {shape[0]} of "
                                     f"{shape[2]} x {shape[1]}.")
            if labels.dtype.kind not in "ui" or (labels.size and labels.min() < 0):
                raise ImageFileError(f"The labels in '{path.name}' are not cell ids ({labels.dtype}).")
            return labels.astype(np.uint32)
    raise ImageFileError(f"'{path.name}' holds no labels (an OME-Zarr 'labels' group).")
