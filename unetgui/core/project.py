"""A project: a folder of images worked on together, and the small file that remembers it.

An experiment is a folder of images (days, wells, fields of view, often of different
sizes). The folder is the project: its images are the image files directly inside it
(TIFF, OME-TIFF, PNG, JPEG, and OME-Zarr folders; not in other subfolders, so outputs and
sidecars never count as images), in natural order (``well2`` before ``well10``). Each image keeps its own
annotations in its own sidecar (core/annotations.py), exactly as when it is opened alone.

``unetgui-project.json`` in the folder remembers what the folder cannot tell: the order of
the images, a summary of each image's plane roles (the sidecars hold the truth; the
summary lets a list of hundreds of images show its state at once), the model in use and
the output folder. It is written atomically (core/io.py ``atomic_write``).

Opening never loses anything, and says what it found:

* a folder without a project file is a new project;
* images listed but gone are named (their annotations stay in their sidecars); images
  that appeared are added at the end;
* a moved folder is found by its images' names (paths are stored relative);
* a file from an older unetgui is read and copied to ``unetgui-project.vN.json`` before it
  is first rewritten; one from a newer unetgui is refused and left as it is; a damaged one
  is moved aside to ``unetgui-project.damaged-<time>.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from unetgui.core.errors import ImageFileError
from unetgui.core.io import OTHER_SUFFIXES, TIFF_SUFFIXES, atomic_write

PROJECT_FILE = "unetgui-project.json"
FORMAT = "unetgui-project"
VERSION = 1
DEFAULT_OUTPUT = "unetgui-output"
IMAGE_SUFFIXES = (*TIFF_SUFFIXES, *OTHER_SUFFIXES, ".zarr")
STARTER = "starter"  # the bundled starter model, where a model path is stored


@dataclass
class Project:
    """A folder of images, in the order the user works through them."""

    folder: Path
    images: list[str] = field(default_factory=list)  # file names inside ``folder``
    roles: dict[str, dict[int, str]] = field(default_factory=dict)  # name -> plane -> role (a summary)
    model: str | None = None  # model file (relative to the folder when inside it), "starter" or None
    output: str = DEFAULT_OUTPUT  # output folder, relative to the project folder or absolute

    @property
    def file(self) -> Path:
        return self.folder / PROJECT_FILE

    @property
    def output_folder(self) -> Path:
        return self.folder / self.output  # an absolute ``output`` replaces the folder

    def path_of(self, name: str) -> Path:
        return self.folder / name

    def model_path(self) -> Path | str | None:
        """The model in use: a Path, ``"starter"``, or None (none chosen yet)."""
        if self.model in (None, STARTER):
            return self.model
        return self.folder / self.model

    def set_model(self, model: Path | str | None) -> None:
        """Remember the model in use; a file inside the folder is stored relative, so the
        project can move."""
        if model is None or model == STARTER:
            self.model = model
            return
        path = Path(model).resolve()
        with contextlib.suppress(ValueError):
            path = path.relative_to(self.folder.resolve())
        self.model = str(path)

    def annotated(self, name: str) -> int:
        """Planes of ``name`` that are annotated (role train or validation), per the summary."""
        return len(self.roles.get(name, {}))


@dataclass(frozen=True)
class OpenedProject:
    project: Project
    notes: tuple[str, ...] = ()  # what the user should know (moved, missing images, older file...)


def find_images(folder: str | os.PathLike) -> list[str]:
    """Names of the image files directly inside ``folder``, in natural order.

    Hidden files, the temporaries of interrupted saves and folders are skipped.

    Parameters
    ----------
    folder : the project folder

    Returns
    -------
    list of str
        File names (not paths), e.g. ``["well2.tif", "well10.tif"]``.
    """
    folder = Path(folder)
    try:
        entries = list(os.scandir(folder))
    except OSError as error:
        raise ImageFileError(f"Cannot read the folder '{folder}': {error.strerror or error}.") from error
    names = [e.name for e in entries
             if not e.name.startswith(".") and e.name.lower().endswith(IMAGE_SUFFIXES) and _is_file(e)]
    return sorted(names, key=natural_key)


def _is_file(entry: os.DirEntry) -> bool:
    """A file, or an OME-Zarr (a folder ending in .zarr)."""
    try:
        return entry.is_dir() if entry.name.lower().endswith(".zarr") else entry.is_file()
    except OSError:
        return False


def natural_key(name: str) -> tuple:
    """Sort key that puts 'well2' before 'well10' and ignores case."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def image_stem(name: str) -> str:
    """The name without its image extension: 'cells.ome.tif' -> 'cells', 'a.b.png' -> 'a.b'."""
    lower = name.lower()
    for suffix in (".ome.tiff", ".ome.tif", ".ome.zarr", *IMAGE_SUFFIXES):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


LABEL_ENDINGS = ("", "_labels", "_label", "_masks", "_mask", "_cp_masks")  # Cellpose writes _masks / _cp_masks


def label_pairs(images: str | os.PathLike, labels: str | os.PathLike) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Images and their label files, matched by name: ``cells.tif`` with ``cells.tif``,
    ``cells_labels.tif``, ``cells_masks.tif`` (Cellpose) ... in the labels folder.

    Parameters
    ----------
    images, labels : the two folders (they may be the same folder)

    Returns
    -------
    (pairs, unmatched)
        (image, labels) paths in natural order, and the names of images without labels.
    """
    images, labels = Path(images), Path(labels)
    label_files = {image_stem(name).lower(): name for name in find_images(labels)}
    pairs, unmatched = [], []
    for name in find_images(images):
        stem = image_stem(name).lower()
        if stem.endswith(LABEL_ENDINGS[1:]) and images.resolve() == labels.resolve():
            continue  # a label file beside its image
        match = next((label_files[stem + ending] for ending in LABEL_ENDINGS if stem + ending in label_files
                      and (labels / label_files[stem + ending]).resolve() != (images / name).resolve()), None)
        if match is None:
            unmatched.append(name)
        else:
            pairs.append((images / name, labels / match))
    return pairs, unmatched


# ------------------------------------------------------------------ open and save


def open_project(folder: str | os.PathLike) -> OpenedProject:
    """The project of ``folder``: its file, reconciled with the images now in the folder.

    Parameters
    ----------
    folder : str or PathLike
        Any folder; one without a project file is a new project (nothing is written yet).

    Returns
    -------
    OpenedProject
        The project and notes for the user (images gone or new, a moved folder, a file of
        an older version or a damaged one set aside).

    Raises
    ------
    ImageFileError
        The folder cannot be read, or its project file comes from a newer unetgui (it is
        left untouched).
    """
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise ImageFileError(f"'{folder}' is not a folder.")
    found = find_images(folder)
    notes: list[str] = []
    stored = _read_project_file(folder, notes)
    project = Project(folder)
    if stored is not None:
        project.model = stored.get("model")
        project.output = stored.get("output") or DEFAULT_OUTPUT
        listed = [name for name in stored["images"] if isinstance(name, str)]
        present = set(found)
        gone = [name for name in listed if name not in present]
        project.images = [name for name in listed if name in present]
        project.images += [name for name in found if name not in set(listed)]
        project.roles = {name: roles for name, roles in _read_roles(stored).items() if name in present}
        if gone:
            notes.append(f"{_count(len(gone), 'image')} of this project {'is' if len(gone) == 1 else 'are'} no longer "
                         f"in the folder: {_names(gone)}. Their annotations, if any, stay in their "
                         "'.unetgui' folders; put the images back to use them again.")
        added = len(project.images) - (len(listed) - len(gone))
        if added:
            notes.append(f"{_count(added, 'new image')} found in the folder and added at the end.")
        previous = stored.get("folder")
        if isinstance(previous, str) and Path(previous) != folder and project.images:
            notes.append(f"The project was moved from '{previous}'; its images were found here by their names.")
    else:
        project.images = found
    if not project.images:
        notes.append(f"There are no images in '{folder}' (TIFF, PNG or JPEG files directly inside it).")
    return OpenedProject(project, tuple(notes))


def save_project(project: Project) -> Path:
    """Write the project file atomically; returns its path.

    Raises
    ------
    ImageFileError
        The folder cannot be written (the message says why).
    """
    document = {
        "format": FORMAT,
        "version": VERSION,
        "folder": str(project.folder),
        "images": list(project.images),
        "roles": {name: {str(p): r for p, r in sorted(roles.items())} for name, roles in project.roles.items() if roles},
        "model": project.model,
        "output": project.output,
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    with atomic_write(project.file) as tmp:
        tmp.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return project.file


def _read_project_file(folder: Path, notes: list[str]) -> dict | None:
    """The stored project, checked; None for none (or a damaged one, set aside)."""
    path = folder / PROJECT_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        notes.append(_set_aside(path, f"it cannot be read ({error})"))
        return None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        notes.append(_set_aside(path, "it is not valid JSON"))
        return None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        notes.append(_set_aside(path, "it is not a unetgui project file"))
        return None
    version = document.get("version")
    if isinstance(version, int) and version > VERSION:
        raise ImageFileError(f"The project in '{folder}' was saved by a newer version of unetgui (format "
                             f"version {version}); update unetgui to open it. The file was left as it is.")
    if not isinstance(version, int) or not isinstance(document.get("images"), list) \
            or not isinstance(document.get("model"), (str, type(None))) \
            or not isinstance(document.get("output"), (str, type(None))):
        notes.append(_set_aside(path, "its content is incomplete or wrong"))
        return None
    if version < VERSION:
        backup = path.with_name(f"unetgui-project.v{version}.json")
        try:
            shutil.copy2(path, backup)
        except OSError as error:
            raise ImageFileError(f"The project in '{folder}' was saved by an older version of unetgui, and "
                                 f"a copy of it could not be kept before updating it ({error.strerror}). "
                                 "It was left as it is.") from error
        notes.append(f"The project file was saved by an older version of unetgui; it will be updated, and "
                     f"the old one is kept as '{backup.name}'.")
    return document


def _read_roles(document: dict) -> dict[str, dict[int, str]]:
    """The roles summary, keeping only well-formed entries (it is only a summary)."""
    roles = document.get("roles")
    out: dict[str, dict[int, str]] = {}
    if not isinstance(roles, dict):
        return out
    for name, planes in roles.items():
        if isinstance(planes, dict):
            with contextlib.suppress(ValueError, TypeError):
                out[name] = {int(p): r for p, r in planes.items() if r in ("train", "validation")}
    return out


def _set_aside(path: Path, why: str) -> str:
    """Move a project file we cannot use out of the way; a note that says where."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    kept = path.with_name(f"unetgui-project.damaged-{stamp}.json")
    try:
        os.replace(path, kept)
    except OSError as error:
        raise ImageFileError(f"The project file '{path}' cannot be used ({why}), and it could not be moved "
                             f"aside ({error.strerror}). Move or delete it, then open the folder again.") from error
    return f"The project file could not be used ({why}); it was moved to '{kept.name}', and the project starts again from the folder's images."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _names(names: list[str], at_most: int = 5) -> str:
    shown = ", ".join(names[:at_most])
    return shown + (f" and {len(names) - at_most} more" if len(names) > at_most else "")
