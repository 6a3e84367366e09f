"""Where a command may write: never over its own input, never over a stranger's file.

A mistyped ``-o`` must not destroy data: ``predict MODEL cells.tif -o cells.tif`` would
replace the image with labels. Before any work starts, each output is checked here:

* it does not resolve to any input (hard links and symbolic links included);
* its suffix fits what is written (``.unet`` for models, ``.tif``/``.tiff`` for TIFF);
* an existing file is replaced only if unetgui wrote it (a ``.unet`` of ours, or a TIFF
  whose Software tag is ours), or the user said ``--overwrite``;
* its folder can be written now, so an unwritable folder is found before minutes of
  training rather than after.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from unetgui.core.errors import InvalidInputError
from unetgui.core.io import (
    SOFTWARE,
    TIFF_SUFFIXES,
    describe_os_error,
    existing_ancestor,
)

MODEL_SUFFIX = ".unet"  # the one definition; core.model imports it
_KINDS = {"model": (MODEL_SUFFIX,), "tiff": (".tif", ".tiff"), "rois": (".zip",), "geojson": (".geojson", ".json"),
          "csv": (".csv",), "zarr": (".zarr",)}
_WHAT = {"model": "a model file", "tiff": "a TIFF file", "rois": "an ImageJ ROI set", "geojson": "a GeoJSON file",
         "csv": "a CSV table", "zarr": "an OME-Zarr folder"}


# The naming rule of exports: NAME_labels.tif, NAME_rois.zip... (NAME: the image's name
# without its image extension, core.project.image_stem).
OUTPUT_KINDS = {"labels": "_labels.tif", "mask": "_mask.tif", "probabilities": "_probabilities.tif",
                "rois": "_rois.zip", "geojson": "_cells.geojson", "measurements": "_measurements.csv",
                "ome-zarr": ".ome.zarr"}
CELL_KINDS = ("rois", "geojson", "measurements")  # written by core.cell_files.write_cells


def output_name(image_name: str, kind: str, plane: int | None = None) -> str:
    """The file name an export of ``kind`` gets: 'cells.ome.tif' -> 'cells_labels.tif', or
    'cells_labels_3.tif' for plane 3 alone."""
    from unetgui.core.project import image_stem

    ending = OUTPUT_KINDS[kind]
    if plane is not None:
        stem, dot, extension = ending.rpartition(".")
        ending = f"{stem}_{plane}{dot}{extension}"
    return image_stem(image_name) + ending


def check_output(path: str | os.PathLike, *, kind: str, inputs: Iterable[str | os.PathLike] = (),
                 overwrite: bool = False) -> Path:
    """Raise InvalidInputError unless ``path`` is a safe place to write; returns it.

    Parameters
    ----------
    path : str or os.PathLike
        The output file the user named.
    kind : str
        ``"model"``, ``"tiff"``, ``"rois"``, ``"geojson"`` or ``"csv"``: decides the
        suffixes allowed.
    inputs : iterable of str or os.PathLike
        Every file the command reads (image, labels, model).
    overwrite : bool
        The user allows replacing an existing file that unetgui did not write.

    Returns
    -------
    Path
        ``path``, checked.
    """
    path = Path(path)
    suffixes = _KINDS[kind]
    if path.suffix.lower() not in suffixes:
        raise InvalidInputError(f"The output '{path.name}' must be {_WHAT[kind]} ending in "
                                f"{' or '.join(suffixes)}.")
    for source in inputs:
        if _same_file(path, Path(source)):
            raise InvalidInputError(f"The output '{path}' is also an input of this command; "
                                    "writing it would destroy the input. Choose another name.")
    if path.is_dir() and kind != "zarr":
        raise InvalidInputError(f"The output '{path}' is a folder; give a file name.")
    if path.exists() and not overwrite and not written_by_unetgui(path):
        raise InvalidInputError(f"'{path}' exists and was not written by unetgui; add "
                                "--overwrite to replace it, or choose another name.")
    _check_writable(path.parent)
    return path


def check_distinct(paths: Iterable[str | os.PathLike | None]) -> None:
    """Raise InvalidInputError if two outputs of one command are the same file.

    Parameters
    ----------
    paths : iterable of str, os.PathLike or None
        The command's outputs; None entries (outputs not asked for) are skipped.

    Returns
    -------
    None
    """
    seen: list[Path] = []
    for path in (Path(p) for p in paths if p is not None):
        if any(_same_file(path, other) for other in seen):
            raise InvalidInputError(f"Two outputs of this command are the same file, '{path}'.")
        seen.append(path)


def written_by_unetgui(path: str | os.PathLike) -> bool:
    """Whether the existing file at ``path`` is a model or TIFF that unetgui wrote.

    Parameters
    ----------
    path : str or os.PathLike
        An existing file.

    Returns
    -------
    bool
        True for a ``.unet`` tagged as a unetgui model, or a TIFF whose Software tag is
        ours; False for anything else, including unreadable or damaged files.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    with contextlib.suppress(Exception):  # unreadable or damaged: not provably ours
        if suffix == MODEL_SUFFIX:
            from unetgui.core.model import is_model_file

            return is_model_file(path)
        if suffix == ".zarr":
            from unetgui.core.ome_zarr_files import written_by_unetgui as zarr_by_us

            return zarr_by_us(path)
        if suffix in TIFF_SUFFIXES:
            import tifffile

            with tifffile.TiffFile(path) as tiff:
                return (tiff.pages[0].software or "").startswith(SOFTWARE)
    return False


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        with contextlib.suppress(OSError):
            return os.path.samefile(a, b)
    return a.expanduser().resolve() == b.expanduser().resolve()


def _check_writable(folder: Path) -> None:
    """Create and remove a probe file in ``folder`` (or its nearest existing parent, since
    writers create missing folders): the only test that also catches read-only disks."""
    existing = existing_ancestor(folder)
    if not existing.is_dir():
        raise InvalidInputError(f"Cannot write into '{folder}': '{existing}' is not a folder.")
    probe = existing / f".unetgui-probe-{secrets.token_hex(4)}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as error:
        raise InvalidInputError(f"Cannot write into '{folder}': "
                                f"{describe_os_error(error, existing)}.") from None
    with contextlib.suppress(OSError):
        probe.unlink()
