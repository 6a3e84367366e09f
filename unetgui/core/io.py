"""Read microscopy images as (plane, channel, row, column) stacks; write masks safely.

Every image reaches the rest of the program as an :class:`ImageStack` of shape
``(P, C, Y, X)``: all axes that are neither rows, columns nor channels (time T, depth Z,
and the rest of tifffile's letters) are flattened into planes in file order; channels are
the C axis or the colour samples S. Stacks are read lazily: uncompressed contiguous TIFF
data is memory-mapped, anything else is read one plane (the pages holding it) at a time.

Axis rules, because a file cannot always tell us what its axes mean:

* C and S both larger than 1 (e.g. an ImageJ composite of RGB images) is refused.
* Two or more unknown axes ``Q`` larger than 1 (what tifffile reports for an array saved
  without axis metadata, e.g. 'QQYX' or 'QQQYX') are refused: time, depth and channel
  cannot be told apart. One unknown axis (a plain 'QYX' stack) is read as planes.

Writers go through :func:`atomic_write`, so a crash never leaves half a file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile

from . import memory
from .errors import ImageFileError, InvalidInputError

TIFF_SUFFIXES = (".tif", ".tiff", ".btf")
OTHER_SUFFIXES = (".png", ".jpg", ".jpeg")
CHANNEL_AXES = "CS"
#: The TIFF Software tag of every file we write: how ``written_by_unetgui`` knows ours.
SOFTWARE = "unetgui"
#: tifffile's axis letters that are stacked into planes (Q: unknown, see module notes).
PLANE_AXES = "TZIQAPRHELVMJK"
# On damaged files tifffile and the codecs raise almost anything (ValueError, OSError,
# ZeroDivisionError, AssertionError, TypeError ...), so code that parses file content
# catches Exception and reports the file; the original error stays chained for debugging.
_READ_ERRORS = Exception


class ImageStack:
    """Read-only view of one image file as ``(P, C, Y, X)``; create it with :func:`open_image`.

    ``read_plane`` returns new arrays in the file's pixel type (native byte order), so the
    caller may change them without touching the file or other readers. Reads are locked:
    one stack may be shared between threads. Close it (or use ``with``) to free the file.
    """

    def __init__(self, path: Path, source, *, source_axes: str, source_shape: tuple[int, ...],
                 dtype: np.dtype, is_rgb: bool, tiff: tifffile.TiffFile | None = None,
                 pixel_size: tuple[float, float] | None = None, levels: tuple = ()) -> None:
        self.path = path
        # (row, column) size of a pixel in micrometres, when the file says it; every output
        # of this image carries it, so measurements in Fiji stay calibrated
        self.pixel_size = pixel_size
        self.source_axes = source_axes
        self.dtype = np.dtype(dtype).newbyteorder("=")
        self.is_rgb = is_rgb
        self._source = source
        # a pyramid's reduced levels, finest first: (source, shape) with the same axes
        self._levels = [(source, tuple(source_shape)), *levels]
        self._tiff = tiff
        self._lock = threading.Lock()
        self._plane_pos = [i for i, a in enumerate(source_axes) if a in PLANE_AXES]
        channel = [i for i, a in enumerate(source_axes) if a in CHANNEL_AXES]
        self._rest_axes = "".join(a for i, a in enumerate(source_axes) if i not in self._plane_pos)
        self.plane_axes = "".join(source_axes[i] for i in self._plane_pos)
        self.plane_shape = tuple(source_shape[i] for i in self._plane_pos)
        self.shape = (int(np.prod(self.plane_shape, dtype=np.int64)),
                      source_shape[channel[0]] if channel else 1,
                      source_shape[source_axes.index("Y")], source_shape[source_axes.index("X")])

    n_planes = property(lambda self: self.shape[0], doc="Number of planes P (1 for one image).")
    n_channels = property(lambda self: self.shape[1], doc="Number of channels C (3 for RGB).")
    height = property(lambda self: self.shape[2], doc="Rows Y per plane.")
    width = property(lambda self: self.shape[3], doc="Columns X per plane.")

    @property
    def plane_nbytes(self) -> int:
        """Bytes one plane takes in memory once read (``read_plane``'s result).

        Returns
        -------
        int
            C * Y * X * itemsize.
        """
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    @property
    def level_shapes(self) -> tuple[tuple[int, int], ...]:
        """(Y, X) of each resolution level the file holds, full size first: one entry for
        a file without a pyramid (OME-Zarr multiscales, pyramidal TIFF levels).

        Returns
        -------
        tuple of (int, int)
        """
        y, x = self.source_axes.index("Y"), self.source_axes.index("X")
        return tuple((shape[y], shape[x]) for _, shape in self._levels)

    def read_level_region(self, index: int, level: int, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
        """:meth:`read_region` on resolution level ``level`` (see :attr:`level_shapes`),
        in that level's pixels: what a viewer reads to show a large plane zoomed out.

        Returns
        -------
        ndarray
            (C, h, w) of :attr:`dtype`, owned by the caller.
        """
        height, width = self.level_shapes[level]
        if not (0 <= rows[0] < rows[1] <= height and 0 <= cols[0] < cols[1] <= width):
            raise IndexError(f"region {rows} x {cols} outside level {level} ({height} x {width})")
        region = self._plane_view(int(index), (slice(*rows), slice(*cols)), level=level)
        return np.array(region, dtype=self.dtype, order="C", copy=True)

    @property
    def is_memory_mapped(self) -> bool:
        """True when pixels come straight from a memory map of the file (no decoding).

        Returns
        -------
        bool
        """
        return isinstance(getattr(self._source, "array", None), np.memmap)

    def read_plane(self, index: int) -> np.ndarray:
        """Return plane ``index`` as a new ``(C, Y, X)`` array of :attr:`dtype`.

        Memory is checked first: a plane that cannot fit raises ImageFileError.

        Parameters
        ----------
        index : int
            Plane number, 0 .. P-1; negative numbers count from the end.

        Returns
        -------
        ndarray
            (C, Y, X) of the file's pixel type in native byte order, C-contiguous, owned by the caller.
        """
        index = int(index)
        if index < 0:
            index += self.n_planes
        if not 0 <= index < self.n_planes:
            raise IndexError(f"plane {index} out of range for {self.n_planes} planes")
        memory.require(self.plane_nbytes, f"Reading one plane of '{self.path.name}' "
                       f"({self.width} x {self.height} pixels)", error=ImageFileError,
                       advice="Images this large are segmented block by block from the command line: unetgui "
                              "predict MODEL IMAGE -o IMAGE.ome.zarr (the README's 'Large data and clusters').")
        try:
            return np.array(self._plane_view(index), dtype=self.dtype, order="C", copy=True)
        except MemoryError as error:
            raise memory.out_of_memory(f"Reading plane {index + 1} of '{self.path.name}'",
                                       self.plane_nbytes, error=ImageFileError) from error

    @property
    def region_read_nbytes(self) -> int:
        """Bytes the smallest read of a region decodes at once: a TIFF tile or strip (a
        whole page for files stored as one piece), 0 where regions are read as such
        (memory maps, OME-Zarr chunks).

        Returns
        -------
        int
        """
        page = self._tiff.series[0].keyframe if isinstance(self._source, _PageSource) else None
        if page is None:
            return 0
        samples = page.samplesperpixel if page.planarconfig == 1 else 1
        if page.is_tiled:
            return page.tilewidth * page.tilelength * samples * page.dtype.itemsize
        rows = min(page.rowsperstrip or page.imagelength, page.imagelength)
        return rows * page.imagewidth * samples * page.dtype.itemsize

    def read_region(self, index: int, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
        """Return rows ``rows`` x cols ``cols`` of plane ``index`` as a new ``(C, h, w)`` array.

        Reads only what the region needs where the file allows it (memory-mapped pixels,
        tiled or striped TIFF through tifffile's zarr interface, OME-Zarr chunks), so a
        plane larger than memory can be processed block by block.

        Parameters
        ----------
        index : int
            Plane number, 0 .. P-1.
        rows, cols : tuple of int
            [start, stop) within the plane.

        Returns
        -------
        ndarray
            (C, h, w) of :attr:`dtype`, owned by the caller.
        """
        if not (0 <= rows[0] < rows[1] <= self.height and 0 <= cols[0] < cols[1] <= self.width):
            raise IndexError(f"region {rows} x {cols} outside the {self.height} x {self.width} plane")
        region = self._plane_view(int(index), (slice(*rows), slice(*cols)))
        return np.array(region, dtype=self.dtype, order="C", copy=True)

    def read_all(self) -> np.ndarray:
        """Return the whole stack as a new ``(P, C, Y, X)`` array of :attr:`dtype`.

        Memory is checked first: a stack that cannot fit raises ImageFileError.

        Returns
        -------
        ndarray
            (P, C, Y, X) of the file's pixel type in native byte order.
        """
        nbytes = self.plane_nbytes * self.n_planes
        what = f"Loading all of '{self.path.name}' at once"
        memory.require(nbytes, what, error=ImageFileError)
        try:
            out = np.empty(self.shape, dtype=self.dtype)
            for index in range(self.n_planes):
                out[index] = self._plane_view(index)
        except MemoryError as error:
            raise memory.out_of_memory(what, nbytes, error=ImageFileError) from error
        return out

    def _plane_view(self, index: int, region: tuple[slice, slice] | None = None, level: int = 0) -> np.ndarray:
        """Plane ``index`` (or its (rows, cols) ``region``) of resolution ``level`` as
        (C, Y, X), possibly a view into the file's memory map."""
        if self._source is None:
            raise ValueError(f"the image stack for {self.path} is closed")
        coords = np.unravel_index(index, self.plane_shape) if self.plane_shape else ()
        fixed = {pos: int(c) for pos, c in zip(self._plane_pos, coords)}
        if region is not None:
            fixed |= {self.source_axes.index("Y"): region[0], self.source_axes.index("X"): region[1]}
        try:
            with self._lock:
                block = self._levels[level][0].block(fixed)  # remaining axes, in file order
        except MemoryError:
            raise  # not damage: the callers say how much memory it needed
        except _READ_ERRORS as error:
            raise ImageFileError(
                f"Cannot read plane {index + 1} of '{self.path.name}': the file may be "
                "damaged or incomplete.") from error
        rest = self._rest_axes
        channel = [i for i, a in enumerate(rest) if a in CHANNEL_AXES]
        block = block.transpose(channel + [rest.index("Y"), rest.index("X")])
        return block if block.ndim == 3 else block[np.newaxis]

    def close(self) -> None:
        """Release the file; reading afterwards raises ``ValueError``.

        Returns
        -------
        None
        """
        self._source = None
        self._levels = []
        if self._tiff is not None:
            self._tiff.close()
            self._tiff = None

    def __enter__(self) -> ImageStack:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __len__(self) -> int:
        return self.n_planes

    def __repr__(self) -> str:
        return (f"ImageStack('{self.path.name}', shape={self.shape}, dtype={self.dtype}, "
                f"source_axes='{self.source_axes}', plane_axes='{self.plane_axes}')")


class _ArraySource:
    """Pixels in an array with the file's axes: a memory map, or decoded PNG/JPEG data."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def block(self, fixed: dict[int, int]) -> np.ndarray:
        return self.array[tuple(fixed.get(i, slice(None)) for i in range(self.array.ndim))]


class _PageSource:
    """Decodes only the TIFF pages that hold the requested plane (compressed files)."""

    def __init__(self, tiff: tifffile.TiffFile, series: tifffile.TiffPageSeries, n_lead: int, level: int = 0):
        self._tiff, self._series, self._level = tiff, series, level
        self._lead_shape = tuple(series.shape[:n_lead])
        self._page_shape = tuple(series.keyframe.shape)
        self._zarr = None

    def block(self, fixed: dict[int, int | slice]) -> np.ndarray:
        if self._level or any(isinstance(where, slice) for where in fixed.values()):
            return self._region(fixed)
        free = [i for i in range(len(self._lead_shape)) if i not in fixed]
        free_shape = tuple(self._lead_shape[i] for i in free)
        keys = []
        for free_index in np.ndindex(*free_shape):
            where = {**fixed, **dict(zip(free, free_index))}
            multi = [where[i] for i in range(len(self._lead_shape))]
            keys.append(int(np.ravel_multi_index(multi, self._lead_shape)) if multi else 0)
        pages = self._tiff.asarray(series=self._series, key=keys)
        return pages.reshape(*free_shape, *self._page_shape)

    def _region(self, fixed: dict[int, int | slice]) -> np.ndarray:
        """Part of a page: decodes only the tiles or strips it touches (tifffile's zarr store)."""
        if self._zarr is None:
            try:
                import zarr
            except ImportError as error:
                raise ImageFileError("Reading part of a compressed TIFF needs the zarr package. Install it with: "
                                     'pip install "unetgui[zarr]"') from error
            # one level: a pyramidal series' own store is a group of all its levels
            self._zarr = zarr.open(self._series.aszarr(level=self._level), mode="r")
        return np.asarray(self._zarr[_unsqueezed(self._series.levels[self._level].get_shape(True), self._zarr.shape,
                                                 fixed)])


def _unsqueezed(shape: tuple[int, ...], store_shape: tuple[int, ...], fixed: dict[int, int | slice]) -> tuple:
    """A selection by the series' axes as we use them (``shape``: length-1 axes squeezed
    out, e.g. YX) made for its zarr store, which may keep them (1, Y, X): 0 on those."""
    selection, j = [], 0
    for size in store_shape:
        if j < len(shape) and shape[j] == size:
            selection.append(fixed.get(j, slice(None)))
            j += 1
        else:
            selection.append(0)  # a length-1 axis the squeezed shape leaves out
    return tuple(selection)


class _LazySeriesSource(_ArraySource):
    """Rare layouts whose planes do not map onto pages: decode the series on first use."""

    def __init__(self, series: tifffile.TiffPageSeries) -> None:
        self._series = series
        self.array = None

    def block(self, fixed: dict[int, int]) -> np.ndarray:
        if self.array is None:
            self.array = self._series.asarray().reshape(self._series.shape)
        return super().block(fixed)


def open_image(path: str | os.PathLike) -> ImageStack:
    """Open a TIFF, PNG, JPEG or OME-Zarr as an :class:`ImageStack` without reading its pixels.

    PNG and JPEG hold one small plane and are decoded at once. Raises
    :class:`ImageFileError` for missing, unreadable, damaged or unsupported files.

    Parameters
    ----------
    path : str or os.PathLike
        A .tif, .tiff, .btf, .png, .jpg or .jpeg file.

    Returns
    -------
    ImageStack
        The open stack, (P, C, Y, X); close it (or use ``with``) when done.
    """
    path = Path(path)
    if path.suffix.lower() == ".zarr" and path.is_dir():
        from unetgui.core.ome_zarr_files import open_ome_zarr

        return open_ome_zarr(path)
    _check_file(path)
    if path.suffix.lower() in OTHER_SUFFIXES:
        return _open_png_jpeg(path)
    tiff = None
    try:
        tiff = tifffile.TiffFile(path)
        return _open_tiff(path, tiff)
    except BaseException as error:
        if tiff is not None:
            tiff.close()
        if isinstance(error, ImageFileError) or not isinstance(error, _READ_ERRORS):
            raise
        if isinstance(error, PermissionError):
            raise _permission_denied(path) from error
        if isinstance(error, MemoryError):
            raise ImageFileError(f"Cannot open '{path.name}': its header alone needs more memory "
                                 "than this computer has free.") from error
        raise _not_valid(path, "TIFF") from error


def _not_valid(path: Path, kind: str) -> ImageFileError:
    return ImageFileError(f"Cannot read '{path.name}': it is not a valid {kind} file "
                          "(it may be damaged or not an image).")


def _check_file(path: Path) -> None:
    """Raise ImageFileError with a plain reason when ``path`` cannot be an image file."""
    if not path.exists():
        raise ImageFileError(f"Cannot open '{path}': the file does not exist.")
    if path.is_dir():
        raise ImageFileError(f"Cannot open '{path.name}': it is a folder, not an image file.")
    if path.suffix.lower() not in TIFF_SUFFIXES + OTHER_SUFFIXES:
        raise ImageFileError(
            f"Cannot open '{path.name}': unetgui reads TIFF (.tif, .tiff), PNG, JPEG and OME-Zarr "
            "(.zarr) images. Save the image as TIFF, for example with Fiji (File > Save As > Tiff...).")
    if path.stat().st_size == 0:
        raise ImageFileError(f"Cannot read '{path.name}': the file is empty.")
    if not os.access(path, os.R_OK):
        raise _permission_denied(path)


def _permission_denied(path: Path) -> ImageFileError:
    return ImageFileError(f"Cannot read '{path.name}': permission denied. Ask the file's owner "
                          "for read access, or copy it to a folder of your own.")


def _open_png_jpeg(path: Path) -> ImageStack:
    """Decode a PNG or JPEG (one plane; grey, RGB or RGBA) into memory."""
    is_png = path.suffix.lower() == ".png"
    try:
        data = path.read_bytes()
        array = imagecodecs.png_decode(data) if is_png else imagecodecs.jpeg8_decode(data)
    except PermissionError as error:
        raise _permission_denied(path) from error
    except MemoryError as error:
        raise ImageFileError(f"Cannot open '{path.name}': decoding it needs more memory than "
                             "this computer has free.") from error
    except _READ_ERRORS as error:
        raise _not_valid(path, "PNG" if is_png else "JPEG") from error
    if array.size == 0:
        raise ImageFileError(f"Cannot read '{path.name}': the image has no pixels.")
    axes = "YX" if array.ndim == 2 else "YXS"
    return ImageStack(path, _ArraySource(array), source_axes=axes, source_shape=array.shape,
                      dtype=array.dtype, is_rgb=array.ndim == 3 and array.shape[2] in (3, 4))


def _open_tiff(path: Path, tiff: tifffile.TiffFile) -> ImageStack:
    """Check the first image series' axes and pick the cheapest way to read its planes."""
    series = tiff.series[0]
    shape, axes, keyframe = series.get_shape(True), series.get_axes(True), series.keyframe
    promised = (tiff.imagej_metadata or {}).get("images", 1) if tiff.is_imagej else 1
    if series.kind != "imagej" and int(promised) > len(series):  # pages cut off the end
        raise ImageFileError(f"Cannot read '{path.name}': the file is incomplete or damaged "
                             f"(it should hold {promised} images but holds {len(series)}).")
    _check_axes(path, axes, shape, series.dtype)
    if 0 in shape:
        raise ImageFileError(f"Cannot read '{path.name}': the image has no pixels (its size is "
                             f"{' x '.join(map(str, shape))}).")
    is_rgb = (axes.count("S") == 1 and shape[axes.index("S")] in (3, 4)
              and keyframe.photometric in (tifffile.PHOTOMETRIC.RGB, tifffile.PHOTOMETRIC.YCBCR))
    stack = dict(source_axes=axes, source_shape=shape, dtype=series.dtype, is_rgb=is_rgb,
                 tiff=tiff, pixel_size=tiff_pixel_size(tiff), levels=_tiff_levels(tiff, series, axes))
    n_lead = len(axes) - len(keyframe.shape)
    if series.transform is None and series.dataoffset is not None and keyframe.is_memmappable:
        try:
            full = np.memmap(path, dtype=np.dtype(tiff.byteorder + series.dtype.char), mode="r",
                             offset=series.dataoffset, shape=series.get_shape(False))
        except _READ_ERRORS as error:  # data run past the end of the file
            raise ImageFileError(f"Cannot read '{path.name}': the file is incomplete or "
                                 "damaged (its image data is cut short).") from error
        return ImageStack(path, _ArraySource(full.reshape(shape)), **stack)
    plane_axes_in_pages = any(a in PLANE_AXES for a in axes[n_lead:])
    if (series.transform is None and not series.is_truncated and n_lead >= 0
            and axes[n_lead:] == keyframe.axes and not plane_axes_in_pages
            and int(np.prod(shape[:n_lead], dtype=np.int64)) == len(series)):
        return ImageStack(path, _PageSource(tiff, series, n_lead), **stack)
    return ImageStack(path, _LazySeriesSource(series), **stack)


def _tiff_levels(tiff: tifffile.TiffFile, series: tifffile.TiffPageSeries, axes: str) -> tuple:
    """A pyramidal TIFF's reduced levels (SubIFDs or OME-TIFF pyramids) as region sources;
    levels whose axes differ from the full size's are left out."""
    levels = []
    for number, level in enumerate(series.levels[1:], start=1):
        level_axes, level_shape = level.get_axes(True), level.get_shape(True)
        if level_axes != axes or 0 in level_shape:
            break
        levels.append((_PageSource(tiff, series, len(axes) - len(series.keyframe.shape), level=number), level_shape))
    return tuple(levels)


_MICROMETRES = {"micron": 1.0, "microns": 1.0, "um": 1.0, "\u00b5m": 1.0, "\u03bcm": 1.0, "micrometer": 1.0,
                "micrometre": 1.0, "nm": 1e-3, "nanometer": 1e-3, "mm": 1e3, "millimeter": 1e3, "cm": 1e4}


def micrometres(value: float, unit: str | None) -> float | None:
    """``value`` in ``unit`` as micrometres; None for a unit that is no length we know."""
    factor = _MICROMETRES.get((unit or "").strip().lower())
    return None if factor is None or not np.isfinite(value) or value <= 0 else value * factor


def tiff_pixel_size(tiff: tifffile.TiffFile) -> tuple[float, float] | None:
    """(row, column) pixel size in micrometres from OME-XML or ImageJ's calibration, or
    None when the file does not say (a bare resolution in dots per inch is not a size)."""
    with contextlib.suppress(*_PARSE_ERRORS):
        if tiff.is_ome and tiff.ome_metadata:
            import xml.etree.ElementTree as ElementTree

            for element in ElementTree.fromstring(tiff.ome_metadata).iter():
                if element.tag.endswith("}Pixels") or element.tag == "Pixels":
                    sizes = [micrometres(float(element.get(f"PhysicalSize{a}")), element.get(f"PhysicalSize{a}Unit", "\u00b5m"))
                             if element.get(f"PhysicalSize{a}") else None for a in "YX"]
                    return tuple(sizes) if None not in sizes else None
        if tiff.is_imagej:
            unit = (tiff.imagej_metadata or {}).get("unit")
            tags = tiff.pages.first.tags
            sizes = []
            for name in ("YResolution", "XResolution"):
                numerator, denominator = tags[name].value
                sizes.append(micrometres(denominator / numerator, unit) if numerator else None)
            return tuple(sizes) if None not in sizes else None
        tags = tiff.pages.first.tags
        if tags["Software"].value == SOFTWARE and tags["ResolutionUnit"].value == tifffile.RESUNIT.CENTIMETER:
            # our own labels above 65535 cells (not ImageJ): pixels per centimetre
            return tuple(1e4 * tags[n].value[1] / tags[n].value[0] for n in ("YResolution", "XResolution"))
    return None


_PARSE_ERRORS = (KeyError, ValueError, TypeError, AttributeError, ZeroDivisionError, SyntaxError)


def _check_axes(path: Path, axes: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Raise ImageFileError unless ``axes`` can be read as planes x channels x Y x X."""
    supported = ("unetgui supports rows (Y), columns (X), at most one channel axis (C, or the "
                 "colour samples S of an RGB image) and any other axes (T, Z, ...) as planes.")
    found = f"Cannot read '{path.name}': it has axes {axes} of sizes {' x '.join(map(str, shape))}."
    if axes.count("Y") != 1 or axes.count("X") != 1:
        raise ImageFileError(f"{found} It has no clear rows (Y) and columns (X). {supported}")
    unknown = sorted(set(axes) - set(PLANE_AXES + CHANNEL_AXES + "YX"))
    if unknown:
        raise ImageFileError(f"{found} unetgui does not know the axis {', '.join(unknown)}. "
                             f"{supported}")
    if sum(a in CHANNEL_AXES for a in axes) > 1:
        raise ImageFileError(f"{found} It has more than one channel axis. {supported}")
    if sum(a == "Q" and n > 1 for a, n in zip(axes, shape)) > 1:
        raise ImageFileError(
            f"{found} Q means the file does not say which axis is time, depth or channel. "
            "Save it as an ImageJ hyperstack or OME-TIFF (for example in Fiji) so the axes "
            "are named.")
    if dtype.kind not in "biuf":
        raise ImageFileError(f"Cannot read '{path.name}': unetgui cannot use its pixel type "
                             f"({dtype}); use 8, 16 or 32-bit integer or float images.")


def check_finite(array: np.ndarray, what: str) -> None:
    """Raise InvalidInputError if a float ``array`` holds NaN or +-inf; ``what`` names it.

    Not done at open, since the viewer can show such images; training and prediction can't
    use them.

    Parameters
    ----------
    array : ndarray
        Any array; integer and bool arrays always pass.
    what : str
        Starts the message, e.g. "The image 'cells.tif'".

    Returns
    -------
    None
    """
    array = np.asarray(array)
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        raise InvalidInputError(
            f"{what} contains NaN or infinite pixel values, which cannot be used for training "
            "or prediction. Replace them first (for example in Fiji: Process > Math > "
            "Remove NaNs).")


def read_labels(path: str | os.PathLike, *,
                expected_shape: tuple[int, int, int] | None = None,
                cells_needed_for: str | None = None) -> np.ndarray:
    """Read a label file as a new ``(P, Y, X)`` unsigned integer array (0 = background).

    Unsigned files keep their type (uint64 becomes uint32); signed ones without negatives
    become the unsigned type of the same size; bool becomes uint8; floats that are all
    whole numbers >= 0 become uint16 (uint32 if needed). Anything else, ids above 2**32 - 1,
    or a shape other than ``expected_shape`` raises :class:`ImageFileError`.

    Parameters
    ----------
    path : str or os.PathLike
        A one-channel image file of cell ids.
    expected_shape : tuple of int or None
        The image's (planes, rows, columns) the labels must match; None: not checked.
    cells_needed_for : str or None
        What the labels are for (e.g. "train on"): states the one rule for labels used as
        annotations, that a file without a single cell is refused.

    Returns
    -------
    ndarray
        (P, Y, X) uint8, uint16 or uint32.
    """
    path = Path(path)
    with open_image(path) as stack:
        if stack.n_channels != 1:
            raise ImageFileError(
                f"Cannot use '{path.name}' as labels: it has {stack.n_channels} channels, but a "
                "label image has one number per pixel (0 for background, 1, 2, ... for cells).")
        labels = stack.read_all()[:, 0]
    if expected_shape is not None and labels.shape != tuple(expected_shape):
        raise ImageFileError(f"The labels in '{path.name}' have {_describe(labels.shape)} but the "
                             f"image has {_describe(expected_shape)} (width x height).")
    labels = _as_label_dtype(labels, path.name)
    if cells_needed_for is not None and not labels.any():
        raise ImageFileError(f"The labels in '{path.name}' contain no cells (every pixel is 0); "
                             f"there is nothing to {cells_needed_for}.")
    return labels


def _describe(shape: tuple[int, int, int]) -> str:
    """(3, 256, 300) -> '3 planes of 300 x 256 pixels' (width x height, as Fiji shows it)."""
    planes, height, width = shape
    return f"{planes} plane{'s' if planes != 1 else ''} of {width} x {height} pixels"


def _as_label_dtype(labels: np.ndarray, name: str) -> np.ndarray:
    """Labels as unsigned integers, or ImageFileError if they cannot be labels."""
    hint = "Labels must be 0 for background and whole numbers 1, 2, ... for the cells."
    if labels.dtype == bool:
        return labels.astype(np.uint8)
    too_large = f"Cannot use '{name}' as labels: it has cell ids above 4294967295. {hint}"
    if labels.dtype.kind in "ui" and labels.dtype.itemsize > 4 and labels.size \
            and labels.max() > np.iinfo(np.uint32).max:
        raise ImageFileError(too_large)
    if labels.dtype.kind == "u":
        return labels if labels.dtype.itemsize <= 4 else labels.astype(np.uint32)
    if labels.size and labels.min() < 0:
        raise ImageFileError(f"Cannot use '{name}' as labels: it contains negative values. {hint}")
    if labels.dtype.kind == "i":
        return labels.astype(f"u{min(labels.dtype.itemsize, 4)}")
    if labels.dtype.kind == "f":
        if not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
            raise ImageFileError(f"Cannot use '{name}' as labels: it contains fractional, NaN or "
                                 f"infinite values (is it a probability map?). {hint}")
        if labels.size and labels.max() > np.iinfo(np.uint32).max:
            raise ImageFileError(too_large)
        big = labels.size and labels.max() > np.iinfo(np.uint16).max
        return labels.astype(np.uint32 if big else np.uint16)
    raise ImageFileError(f"Cannot use '{name}' as labels: its pixel type is {labels.dtype}. {hint}")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path`` at once.

    The temporary file is '.<name>.tmp-<random><suffix>' in the same folder (same suffix,
    so writers pick the format; same file system, so ``os.replace`` is atomic). It is
    flushed to disk before the move. If the body raises, it is removed and an existing
    ``path`` is untouched; ``OSError`` (disk full, no permission, read-only disk) becomes
    ImageFileError with a plain reason. A missing folder is created. Temporary files of
    the same ``path`` left by a killed earlier save are removed first.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    durable : bool
        Flush to disk before the move (the default). False for small files whose loss in
        a power cut costs nothing (a crash marker): an fsync on a busy disk can block for
        tens of milliseconds, too long for the window's thread.

    Yields
    ------
    Path
        The temporary file (created empty) for the body to write.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # umask applies
        mode = tmp.stat().st_mode
        yield tmp
        if durable:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        else:  # some writers (safetensors) replace the file with a private 0600 one
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as error:
        with contextlib.suppress(OSError):  # on a read-only disk even this fails
            tmp.unlink(missing_ok=True)
        raise ImageFileError(f"Cannot save '{path.name}' in '{path.parent}': "
                             f"{describe_os_error(error, path.parent)}.") from error
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def remove_stale_temporaries(path: Path) -> None:
    """Delete '.<name>.tmp-<8 hex><suffix>' files of ``path``: what a killed save leaves.

    Errors are ignored (a file that cannot be removed stays).

    Parameters
    ----------
    path : Path
        The file whose leftover temporaries are removed.

    Returns
    -------
    None
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.tmp-[0-9a-f]{{8}}{re.escape(path.suffix)}")
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")  # numpy's tofile on a full disk


def describe_os_error(error: OSError, folder: Path | None = None) -> str:
    """A plain reason for a failed write: 'the disk is full (12 MiB free)', 'permission
    denied', 'the disk is read-only', else the system's own words.

    Parameters
    ----------
    error : OSError
        The failure.
    folder : Path or None
        Where the write went, to tell how much space is free on a full disk.

    Returns
    -------
    str
        A lower-case clause, to follow "Cannot save ...: ".
    """
    code = error.errno
    if code in (errno.ENOSPC, errno.EDQUOT) or _SHORT_WRITE.search(str(error)):
        free = None
        if folder is not None:
            with contextlib.suppress(OSError):
                free = shutil.disk_usage(existing_ancestor(folder)).free
        left = f" ({memory.describe_bytes(free)} free)" if free is not None else ""
        return f"the disk is full{left}; free some space or choose another disk"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied; choose a folder you can write to"
    if code == errno.EROFS:
        return "the disk is read-only; choose another folder"
    return error.strerror or str(error)


def existing_ancestor(folder: Path) -> Path:
    """``folder`` if it exists, else its nearest existing parent (writers create the rest).

    Parameters
    ----------
    folder : Path
        Any folder path.

    Returns
    -------
    Path
        ``folder`` or its nearest existing ancestor (the root at the latest).
    """
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def plane_axis_for(plane_axes: str) -> str:
    """The plane axis letter to write for an image whose planes came from ``plane_axes``
    (ImageStack.plane_axes): T for a time-lapse, else Z.

    Parameters
    ----------
    plane_axes : str
        The source's plane axes, e.g. "T", "Z", "TZ" or "".

    Returns
    -------
    str
        "T" or "Z".
    """
    return "T" if plane_axes == "T" else "Z"


def write_labels(path: str | os.PathLike, labels: np.ndarray, *, plane_axis: str = "Z",
                 pixel_size: tuple[float, float] | None = None) -> Path:
    """Save ``(Y, X)`` or ``(P, Y, X)`` integer labels as TIFF; returns the path.

    Stored as uint16 if the largest label is <= 65535, as an uncompressed ImageJ file
    (axes 'YX' or 'ZYX'/'TYX') that Fiji and napari open with the right axes. ImageJ cannot
    hold uint32, so larger labels are stored uint32 in a plain deflate-compressed TIFF with
    tifffile's axes metadata (napari and tifffile read it; Fiji via Bio-Formats).
    Why uncompressed for ImageJ: tifffile documents that ImageJ hyperstacks do not support
    compression, and ImageJ's own reader treats a stack as one contiguous block.

    Parameters
    ----------
    path : str or os.PathLike
        The TIFF to write (atomically, see :func:`atomic_write`).
    labels : ndarray
        (Y, X) or (P, Y, X) bool or integer cell ids from 0 to 2**32 - 1.
    plane_axis : str
        "Z" (depth) or "T" (time) for the P axis.
    pixel_size : (row, column) micrometres, stored as the file's calibration, or None

    Returns
    -------
    Path
        ``path``.
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "biu":
        raise InvalidInputError(f"Labels must be whole numbers, not {labels.dtype} values.")
    _check_array(labels, "labels", (2, 3))
    if labels.min() < 0:
        raise InvalidInputError("Labels cannot be negative: use 0 for background and 1, 2, ... "
                                "for cells.")
    if labels.max() > np.iinfo(np.uint32).max:
        raise InvalidInputError("Labels above 4294967295 cannot be saved.")
    axes = _plane_axes(plane_axis, labels.ndim == 3) + "YX"
    if is_ome_tiff_name(path):  # OME-TIFF holds uint32 too
        return _write_ome(path, labels.astype(np.uint16 if labels.max() <= 65535 else np.uint32), axes, pixel_size)
    if labels.max() <= np.iinfo(np.uint16).max:
        return _write_imagej(path, labels.astype(np.uint16), axes, pixel_size)
    calibration = {} if pixel_size is None else {  # pixels per centimetre
        "resolution": (1e4 / pixel_size[1], 1e4 / pixel_size[0]), "resolutionunit": "CENTIMETER"}
    with atomic_write(path) as tmp:
        tifffile.imwrite(tmp, labels.astype(np.uint32), photometric="minisblack", ome=False,
                         compression="zlib", metadata={"axes": axes}, software=SOFTWARE, **calibration)
    return Path(path)


def write_probabilities(path: str | os.PathLike, probabilities: np.ndarray, *,
                        plane_axis: str = "Z", pixel_size: tuple[float, float] | None = None) -> Path:
    """Save float probabilities ``(Y, X)``, ``(P, Y, X)`` or ``(P, C, Y, X)`` as a float32
    ImageJ hyperstack (axes 'YX', 'ZYX', 'ZCYX'; T instead of Z if asked); returns the path.

    Parameters
    ----------
    path : str or os.PathLike
        The TIFF to write (atomically).
    probabilities : ndarray
        (Y, X), (P, Y, X) or (P, C, Y, X) finite numbers.
    plane_axis : str
        "Z" or "T" for the P axis.
    pixel_size : (row, column) micrometres, stored as the file's calibration, or None

    Returns
    -------
    Path
        ``path``.
    """
    probabilities = np.asarray(probabilities)
    if probabilities.dtype.kind not in "uif":
        raise InvalidInputError(f"Probabilities must be numbers, not {probabilities.dtype} values.")
    _check_array(probabilities, "probabilities", (2, 3, 4))
    check_finite(probabilities, "The probability map")
    ndim = probabilities.ndim
    axes = _plane_axes(plane_axis, ndim > 2) + ("C" if ndim == 4 else "") + "YX"
    return _write_imagej(path, probabilities.astype(np.float32), axes, pixel_size)


def write_image(path: str | os.PathLike, image: np.ndarray, *, axes: str,
                pixel_size: tuple[float, float] | None = None) -> Path:
    """Save an image as an ImageJ TIFF with ``axes`` (in TZCYX order, ending in 'YX').

    uint8, uint16 and float32 are kept; bool becomes uint8, other floats float32 (ImageJ has
    no other types). Used e.g. for float32 weight maps ('YX' or 'ZYX').

    Parameters
    ----------
    path : str or os.PathLike
        The TIFF to write (atomically).
    image : ndarray
        2 to 5 dimensions, bool, uint8, uint16 or float.
    axes : str
        One letter per dimension from TZCYX, in that order, ending in "YX".
    pixel_size : (row, column) micrometres, stored as the file's calibration, or None

    Returns
    -------
    Path
        ``path``.
    """
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8)
    elif image.dtype.kind == "f":
        image = image.astype(np.float32)
    if image.dtype.char not in "BHf":  # uint8, uint16, float32 in any byte order
        raise InvalidInputError(f"Images of type {image.dtype} cannot be saved; use uint8, "
                                "uint16 or float32.")
    _check_array(image, "an image", (2, 3, 4, 5))
    order = "TZCYX"
    if (len(axes) != image.ndim or not axes.endswith("YX") or len(set(axes)) != len(axes)
            or any(a not in order for a in axes) or sorted(axes, key=order.index) != list(axes)):
        raise InvalidInputError(f"Axes '{axes}' do not fit an image with {image.ndim} dimensions; "
                                "use letters from TZCYX in that order, ending in YX.")
    return _write_imagej(path, image, axes, pixel_size)


def is_ome_tiff_name(path: str | os.PathLike) -> bool:
    """Whether the user named an OME-TIFF output ('cells_labels.ome.tif')."""
    return Path(path).name.lower().endswith((".ome.tif", ".ome.tiff"))


def _write_ome(path: str | os.PathLike, data: np.ndarray, axes: str,
               pixel_size: tuple[float, float] | None = None) -> Path:
    """Write ``data`` as an OME-TIFF (deflate), atomically: tifffile writes the OME-XML with
    the axes and, when known, PhysicalSizeX/Y in micrometres (Bio-Formats, QuPath, OMERO)."""
    metadata: dict = {"axes": axes}
    if pixel_size is not None:
        metadata |= {"PhysicalSizeY": float(pixel_size[0]), "PhysicalSizeYUnit": "\u00b5m",
                     "PhysicalSizeX": float(pixel_size[1]), "PhysicalSizeXUnit": "\u00b5m"}
    with atomic_write(path) as tmp:
        tifffile.imwrite(tmp, data, ome=True, photometric="minisblack", metadata=metadata, software=SOFTWARE,
                         compression="zlib")
    return Path(path)


def _write_imagej(path: str | os.PathLike, data: np.ndarray, axes: str,
                  pixel_size: tuple[float, float] | None = None) -> Path:
    """Write ``data`` (uint8/uint16/float32) as an uncompressed ImageJ TIFF, atomically,
    calibrated in micrometres when ``pixel_size`` is known (Fiji's Image > Properties);
    as an OME-TIFF when the name ends in .ome.tif."""
    if is_ome_tiff_name(path):
        return _write_ome(path, data, axes, pixel_size)
    metadata, calibration = {"axes": axes}, {}
    if pixel_size is not None:
        metadata["unit"] = "um"
        calibration["resolution"] = (1.0 / pixel_size[1], 1.0 / pixel_size[0])
    with atomic_write(path) as tmp:
        tifffile.imwrite(tmp, data, imagej=True, photometric="minisblack", metadata=metadata,
                         software=SOFTWARE, **calibration)
    return Path(path)


def _check_array(array: np.ndarray, what: str, ndims) -> None:
    """Raise InvalidInputError unless ``array`` is non-empty with a dimension count in ``ndims``."""
    if array.ndim not in ndims:
        expected = ", ".join(map(str, ndims[:-1])) + f" or {ndims[-1]}"
        raise InvalidInputError(f"Cannot save {what} with {array.ndim} dimensions (shape "
                                f"{array.shape}); expected {expected} dimensions.")
    if array.size == 0:
        raise InvalidInputError(f"Cannot save {what} without pixels (shape {array.shape}).")


def _plane_axes(plane_axis: str, has_planes: bool) -> str:
    """The plane axis letter ('Z' or 'T') if the array has a plane dimension, else ''."""
    if plane_axis not in ("Z", "T"):
        raise InvalidInputError(f"The plane axis must be 'Z' (depth) or 'T' (time), "
                                f"not '{plane_axis}'.")
    return plane_axis if has_planes else ""
