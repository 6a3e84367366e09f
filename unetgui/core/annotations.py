"""Your work is never lost: a user's annotations saved beside the image, and crash markers.

The annotations of ``cells.tif`` live in the folder ``cells.tif.unetgui/`` beside it:

* ``arrays-<time>-<random>.npz``: compressed arrays ``labels_0007`` ((Y, X) uint32 cell
  ids of plane 7) and ``ignore_0007`` ((Y, X) bool), only for planes that have them;
* ``annotations.json``: format tag, version, the image's (P, C, Y, X) shape (so they are
  never put onto another image), plane roles, settings, save time, the planes stored,
  and the name of the npz file that belongs to it.

Why two files and a fresh npz name each time: every file is written through
:func:`~unetgui.core.io.atomic_write` (a temporary file moved into place), the npz
first, the json last. Until the json is replaced, it still names the previous npz, which
is untouched; so a crash at any moment leaves either the old or the new save, never a
new json with an old npz or the reverse. Superseded npz files are deleted afterwards.
Arrays are read with ``allow_pickle=False``: a saved file can never run code.

A save that cannot be loaded (damaged, for an image of another size, from a newer
unetgui) is never overwritten or deleted: :func:`set_aside` moves it into
``refused-<time>/`` inside the sidecar folder, and a save only ever deletes arrays that
this process loaded or wrote itself; anything else found in its way is set aside first.

If the image's folder cannot be written (read-only media), the folder goes to the user's
data folder instead (:func:`data_dir` ``/sidecars/<sha1 of the image's absolute path>``);
loading looks in both places and takes the newer save. One process saves one image at a
time (saves are serialised by a lock); two programs saving the same image are not.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from unetgui.core.errors import ImageFileError, InvalidInputError
from unetgui.core.io import atomic_write, describe_os_error
from unetgui.core.labels import ROLES, LabelDocument, LabelSnapshot
from unetgui.core.userdata import DATA_DIR_ENV, data_dir  # noqa: F401 (part of this API)

FORMAT = "unetgui-annotations"
VERSION = 1
SIDECAR_SUFFIX = ".unetgui"
JSON_NAME = "annotations.json"
SESSION_NAME = "session.json"
STORED_ROLES = tuple(r for r in ROLES if r != "none")  # a plane not annotated is not stored

_ARRAYS_NAME = re.compile(r"arrays-[0-9A-Za-z_-]+\.npz")
_TEMP_NAME = re.compile(r"\..+\.tmp-[0-9a-f]+.*")  # what atomic_write leaves after a kill
_SAVE_LOCK = threading.Lock()
# sidecar folder -> the arrays file its json named when this process last loaded or wrote
# it: only such a save may be superseded (and its arrays deleted) by a new one.
_trusted: dict[str, str] = {}
REFUSED_PREFIX = "refused-"
_own_session: str | None = None  # token of the session marker this process wrote


@dataclass
class AnnotationState:
    """Everything a user made for one image, as saved by :func:`save_annotations`."""

    image_shape: tuple[int, int, int, int]  # (P, C, Y, X) of the image they belong to
    labels: dict[int, np.ndarray] = field(default_factory=dict)  # plane -> (Y, X) uint32
    ignore: dict[int, np.ndarray] = field(default_factory=dict)  # plane -> (Y, X) bool
    roles: dict[int, str] = field(default_factory=dict)  # plane -> 'train' | 'validation'
    settings: dict = field(default_factory=dict)  # JSON-able (tuples come back as lists)


def state_from_snapshot(snapshot: LabelSnapshot, image_shape: tuple[int, int, int, int],
                        settings: dict) -> AnnotationState:
    """What a label document holds, as the state :func:`save_annotations` writes.

    Parameters
    ----------
    snapshot : the document's arrays (``LabelDocument.to_arrays()``)
    image_shape : (P, C, Y, X) of the image the labels belong to
    settings : JSON-able settings saved with them (e.g. the weight-map parameters)

    Returns
    -------
    AnnotationState without empty ignore masks and without "none" roles
    """
    roles = {p: r for p, r in enumerate(snapshot.roles or ()) if r != "none"}
    ignore = {p: m for p, m in snapshot.ignore.items() if m.any()}
    return AnnotationState(tuple(image_shape), dict(snapshot.labels), ignore, roles, dict(settings))


def document_from_state(state: AnnotationState) -> LabelDocument:
    """A label document holding a loaded state (the inverse of :func:`state_from_snapshot`).

    Parameters
    ----------
    state : as :func:`load_annotations` returns it

    Returns
    -------
    LabelDocument with the state's planes, ignore masks and roles, and an empty history
    """
    n_planes, _, rows, cols = state.image_shape
    roles = ["none"] * n_planes
    for plane, role in state.roles.items():
        roles[plane] = role
    return LabelDocument.from_arrays(LabelSnapshot(n_planes, (rows, cols), state.labels, state.ignore, roles))


# ------------------------------------------------------------------ where things live


def sidecar_path(image_path: str | os.PathLike) -> Path:
    """The folder where the annotations of ``image_path`` are saved (not created here).

    ``<image folder>/<image file name>.unetgui`` when that folder exists and can be
    written or can be created; otherwise ``data_dir()/sidecars/<sha1 of the path>``.

    Parameters
    ----------
    image_path : str or PathLike
        The image file.

    Returns
    -------
    Path
        The sidecar folder (it may not exist yet).
    """
    beside = _beside(image_path)
    if beside.is_dir():
        writable = _can_write_in(beside)
    else:  # a file of that name: use the data folder
        writable = not beside.exists() and _can_write_in(beside.parent)
    return beside if writable else _fallback(image_path)


def sidecar_folders(image_path: str | os.PathLike) -> tuple[Path, Path]:
    """Both places a sidecar of ``image_path`` may be: beside it, and in the data folder."""
    return _beside(image_path), _fallback(image_path)


def _beside(image_path: str | os.PathLike) -> Path:
    image = Path(image_path)
    return image.with_name(image.name + SIDECAR_SUFFIX)


def _fallback(image_path: str | os.PathLike) -> Path:
    digest = hashlib.sha1(str(_absolute(image_path)).encode("utf-8")).hexdigest()
    return data_dir() / "sidecars" / digest


def _absolute(image_path: str | os.PathLike) -> Path:
    return Path(image_path).expanduser().resolve()


def _can_write_in(folder: Path) -> bool:
    """Whether files can be created in the existing ``folder`` (EROFS counts as no)."""
    return os.access(folder, os.W_OK | os.X_OK)


# ------------------------------------------------------------------ save


def save_annotations(image_path: str | os.PathLike, state: AnnotationState) -> Path:
    """Save ``state`` for the image at ``image_path``; returns the folder it went to.

    Atomic (see the module notes). If the folder beside the image cannot be written, the
    data folder is used.

    Parameters
    ----------
    image_path : str or PathLike
        The image file the annotations belong to.
    state : AnnotationState
        Labels (Y, X) whole numbers in uint32's range and ignore masks (Y, X) bool, for
        planes of ``state.image_shape``; JSON-able settings.

    Returns
    -------
    Path
        The sidecar folder the save went to.

    Raises
    ------
    InvalidInputError
        For a state that does not fit its image shape, or settings that are not JSON-able.
    ImageFileError
        If nothing can be written at all.
    """
    shape = _check_shape(state.image_shape)
    arrays = _arrays_to_save(state, shape)
    _check_roles(state.roles, shape[0])
    try:
        json.dumps(state.settings, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"The annotation settings cannot be saved: {error}.") from error
    document = {
        "format": FORMAT,
        "version": VERSION,
        "image": str(_absolute(image_path)),
        "image_shape": list(shape),
        "arrays": None,  # set per attempt
        "planes": {"labels": sorted(int(p) for p in state.labels),
                   "ignore": sorted(int(p) for p in state.ignore)},
        "roles": {str(int(p)): r for p, r in sorted(state.roles.items()) if r != "none"},
        "settings": state.settings,
        "saved_at": None,
    }
    with _SAVE_LOCK:
        folder = sidecar_path(image_path)
        try:
            _save_in(folder, arrays, document)
        except ImageFileError:
            fallback = _fallback(image_path)
            if folder == fallback:
                raise
            folder = fallback  # e.g. the check said writable but the disk is full
            _save_in(folder, arrays, document)
    return folder


def _save_in(folder: Path, arrays: dict[str, np.ndarray], document: dict) -> None:
    """Write the npz, then the json naming it, then delete what they supersede."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ImageFileError(f"Cannot create the folder '{folder}' for the annotations: "
                             f"{describe_os_error(error, folder)}.") from error
    if not _supersedable(folder):
        set_aside(folder)  # a save we never loaded: keep it, out of the way
    now = datetime.now(timezone.utc)
    name = f"arrays-{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.npz"
    with atomic_write(folder / name) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    try:
        document = {**document, "arrays": name, "saved_at": now.isoformat(timespec="milliseconds")}
        with atomic_write(folder / JSON_NAME) as tmp:
            tmp.write_text(json.dumps(document, indent=1, allow_nan=False), encoding="utf-8")
    except BaseException:
        (folder / name).unlink(missing_ok=True)  # nothing refers to it
        raise
    _trusted[str(folder)] = name
    for path in folder.iterdir():  # superseded arrays and leftovers of killed saves
        stale = _ARRAYS_NAME.fullmatch(path.name) or _TEMP_NAME.fullmatch(path.name)
        if stale and path.name != name:
            with contextlib.suppress(OSError):
                path.unlink()


def _arrays_to_save(state: AnnotationState, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The npz content: 'labels_0007' (Y, X) uint32 and 'ignore_0007' (Y, X) bool."""
    n_planes, _, rows, cols = shape
    arrays = {}
    for kind, planes in (("labels", state.labels), ("ignore", state.ignore)):
        for plane, array in planes.items():
            array = np.asarray(array)
            if not (isinstance(plane, (int, np.integer)) and 0 <= plane < n_planes):
                raise InvalidInputError(f"Cannot save {kind} of plane {plane}: the image has "
                                        f"{n_planes} plane(s).")
            if array.shape != (rows, cols):
                raise InvalidInputError(f"Cannot save {kind} of plane {plane}: shape "
                                        f"{array.shape} is not the image's ({rows}, {cols}).")
            arrays[f"{kind}_{int(plane):04d}"] = (_as_uint32(array, plane) if kind == "labels"
                                                  else _as_bool(array, plane))
    return arrays


def _as_uint32(array: np.ndarray, plane: int) -> np.ndarray:
    if array.dtype.kind not in "biu":
        raise InvalidInputError(
            f"Labels of plane {plane} must be whole numbers, not {array.dtype}.")
    if array.size and (array.min() < 0 or array.max() > np.iinfo(np.uint32).max):
        raise InvalidInputError(f"Labels of plane {plane} must be between 0 and 4294967295.")
    return array.astype(np.uint32, copy=False)


def _as_bool(array: np.ndarray, plane: int) -> np.ndarray:
    if array.dtype != bool:
        raise InvalidInputError(
            f"The ignore mask of plane {plane} must be bool, not {array.dtype}.")
    return array


def _check_roles(roles: dict, n_planes: int) -> None:
    for plane, role in roles.items():
        if not (isinstance(plane, (int, np.integer)) and 0 <= plane < n_planes):
            raise InvalidInputError(f"Cannot save the role of plane {plane}: the image has "
                                    f"{n_planes} plane(s).")
        if role not in ROLES:
            raise InvalidInputError(f"Plane {plane} has the role {role!r}; use 'train', "
                                    "'validation' or 'none'.")


def _check_shape(shape) -> tuple[int, int, int, int]:
    try:
        values = tuple(int(n) for n in shape)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"An image shape must be (P, C, Y, X), not {shape!r}.") from error
    if len(values) != 4 or min(values) < 1:
        raise InvalidInputError(f"An image shape must be (P, C, Y, X) >= 1, not {shape!r}.")
    return values


def _supersedable(folder: Path) -> bool:
    """Whether the save in ``folder`` (if any) is one this process loaded or wrote."""
    try:
        text = (folder / JSON_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    except (OSError, UnicodeDecodeError):
        return False
    try:
        named = json.loads(text).get("arrays")
    except (ValueError, AttributeError, RecursionError):
        return False
    return named is not None and _trusted.get(str(folder)) == named


def set_aside(folder: str | os.PathLike) -> Path:
    """Move the save in ``folder`` (its json and every arrays file) into a new
    ``refused-<time>`` folder inside it, where nothing of unetgui ever deletes it.

    Parameters
    ----------
    folder : str or PathLike
        The sidecar folder holding the save.

    Returns
    -------
    Path
        The new ``refused-<time>`` folder.

    Raises
    ------
    ImageFileError
        If the files cannot be moved.
    """
    folder = Path(folder)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = folder / f"{REFUSED_PREFIX}{stamp}"
    try:
        for n in range(1, 1000):
            if not target.exists():
                break
            target = folder / f"{REFUSED_PREFIX}{stamp}-{n}"
        target.mkdir()
        for path in folder.iterdir():
            if path.name == JSON_NAME or _ARRAYS_NAME.fullmatch(path.name):
                os.replace(path, target / path.name)
    except OSError as error:
        raise ImageFileError(f"Cannot move the saved annotations in '{folder}' aside: "
                             f"{describe_os_error(error, folder)}.") from error
    _trusted.pop(str(folder), None)
    return target


class RefusedAnnotationsError(ImageFileError):
    """Saved annotations exist but cannot be used; ``folder`` holds them (see set_aside)."""

    def __init__(self, message: str, folder: Path) -> None:
        super().__init__(message)
        self.folder = folder


# ------------------------------------------------------------------ load


def load_annotations(image_path: str | os.PathLike,
                     image_shape: tuple[int, int, int, int]) -> AnnotationState | None:
    """The annotations saved for ``image_path``, or None if there are none.

    Annotations saved for an image of another shape are refused, as are damaged files
    (the message says which).

    Parameters
    ----------
    image_path : str or PathLike
        The image file.
    image_shape : tuple of int
        (P, C, Y, X) of the image now open.

    Returns
    -------
    AnnotationState or None
        With new arrays: labels (Y, X) uint32 and ignore (Y, X) bool per plane; None when
        nothing is saved.

    Raises
    ------
    RefusedAnnotationsError
        An :class:`ImageFileError` for a save that cannot be used; its ``folder`` holds it.
    InvalidInputError
        When ``image_shape`` is not four sizes >= 1.
    """
    shape = _check_shape(image_shape)
    folder = _saved_folder(image_path)
    if folder is None:
        return None
    try:
        document = _read_json(folder)
        saved = tuple(document["image_shape"])
        if saved != shape:
            show_channels = saved[1] != shape[1]
            raise ImageFileError(
                f"The saved annotations are for an image of {_describe(saved, show_channels)}, "
                f"but this image has {_describe(shape, show_channels)}; they were not loaded.")
        labels, ignore = _read_arrays(folder, document, shape)
        roles = {int(plane): role for plane, role in document["roles"].items()}
        if any(plane >= shape[0] for plane in roles):
            raise _damaged(folder / JSON_NAME, "it gives roles to planes the image does not have")
    except ImageFileError as error:
        raise RefusedAnnotationsError(str(error), folder) from error
    with _SAVE_LOCK:
        _trusted[str(folder)] = document["arrays"]
    return AnnotationState(shape, labels, ignore, roles, document["settings"])


def saved_roles(image_path: str | os.PathLike) -> dict[int, str] | None:
    """The plane roles saved for ``image_path``, read from the json alone (the arrays are
    not opened): what a project's image list shows. None when nothing is saved or the
    save cannot be read (opening the image says why)."""
    folder = _saved_folder(image_path)
    if folder is None:
        return None
    try:
        document = _read_json(folder)
    except ImageFileError:
        return None
    return {int(plane): role for plane, role in document["roles"].items()}


def _saved_folder(image_path: str | os.PathLike) -> Path | None:
    """The sidecar folder holding a save (beside or in the data folder; the newer one)."""
    found = []
    for folder in (_beside(image_path), _fallback(image_path)):
        with contextlib.suppress(OSError):
            found.append(((folder / JSON_NAME).stat().st_mtime_ns, folder))
    return max(found)[1] if found else None


def _read_json(folder: Path) -> dict:
    """Parse and check ``annotations.json``; ImageFileError says what is wrong."""
    path = folder / JSON_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _damaged(path, "it cannot be read") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _damaged(path, "it is not a unetgui annotation file")
    version = document.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ImageFileError(f"The annotations in '{folder}' were saved by a newer version of "
                             f"unetgui (format version {version}); update unetgui to open them.")
    try:
        _check_shape(document["image_shape"])
        planes = document["planes"]
        assert all(isinstance(p, int) for p in planes["labels"] + planes["ignore"])
        assert _ARRAYS_NAME.fullmatch(document["arrays"])  # a plain name in this folder
        assert all(role in STORED_ROLES and int(p) >= 0 for p, role in document["roles"].items())
        assert isinstance(document["settings"], dict)
        datetime.fromisoformat(document["saved_at"])
    except (KeyError, TypeError, ValueError, AssertionError, InvalidInputError,
            AttributeError, RecursionError) as error:
        raise _damaged(path, "its content is incomplete or wrong") from error
    return document


def _read_arrays(folder: Path, document: dict, shape: tuple[int, ...]):
    """-> (labels, ignore) dicts from the npz the json names; never unpickles."""
    path = folder / document["arrays"]
    n_planes, _, rows, cols = shape
    out = {"labels": {}, "ignore": {}}
    try:
        # Our own handle: np.load leaks the file it opened when the zip is damaged.
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as npz:
            for kind in out:
                for plane in document["planes"][kind]:
                    array = npz[f"{kind}_{plane:04d}"]
                    kind_ok = array.dtype == np.uint32 if kind == "labels" else array.dtype == bool
                    if not (kind_ok and array.shape == (rows, cols) and 0 <= plane < n_planes):
                        raise ValueError(f"{kind} of plane {plane}: {array.dtype} {array.shape}")
                    out[kind][plane] = array
    except Exception as error:  # zip, zlib, format and pickle refusals: all mean damaged
        raise _damaged(path, "its arrays cannot be read") from error
    return out["labels"], out["ignore"]


def _damaged(path: Path, why: str) -> ImageFileError:
    return ImageFileError(f"The saved annotations '{path}' are damaged ({why}); they were not "
                          "loaded.")


def _describe(shape: tuple[int, ...], channels: bool) -> str:
    """(10, 2, 512, 600) -> '10 planes of 600 x 512 pixels' (+ ' with 2 channels')."""
    n_planes, n_channels, rows, cols = shape
    text = f"{n_planes} plane{'s' if n_planes != 1 else ''} of {cols} x {rows} pixels"
    if channels:
        text += f" with {n_channels} channel{'s' if n_channels != 1 else ''}"
    return text


# ------------------------------------------------------------------ crash recovery


def mark_session_open(image_path: str | os.PathLike) -> None:
    """Note that this process is working on ``image_path`` (``data_dir()/session.json``).

    Best effort: if the data folder cannot be written there is just no crash recovery,
    which is no reason to stop the user from working, so nothing is raised.

    Parameters
    ----------
    image_path : str or PathLike
        The image now open.
    """
    global _own_session
    token = secrets.token_hex(8)
    marker = {"image": str(_absolute(image_path)), "pid": os.getpid(), "token": token,
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    try:
        data_dir().mkdir(parents=True, exist_ok=True)
        with atomic_write(data_dir() / SESSION_NAME, durable=False) as tmp:  # a hint; the window waits on it
            tmp.write_text(json.dumps(marker), encoding="utf-8")
    except (OSError, ImageFileError):
        return
    _own_session = token


def mark_session_closed() -> None:
    """Remove the session marker: ours, or a crashed session's (not another running one's)."""
    global _own_session
    marker = _read_marker()
    if marker is _DAMAGED:
        _set_marker_aside()
    elif marker is None or marker.get("token") == _own_session or not _session_alive(marker):
        with contextlib.suppress(OSError):
            (data_dir() / SESSION_NAME).unlink()
    _own_session = None


def unclean_session() -> Path | None:
    """The image of a session that ended without :func:`mark_session_closed`, else None.

    None too when the marker belongs to this process or to another unetgui still running.
    A damaged marker names no image to recover: it is moved aside to
    ``session-damaged-<time>.json`` and ImageFileError says so (the caller shows it and
    carries on; the next call returns None).

    Returns
    -------
    Path or None
        The absolute path of the image that session had open.

    Raises
    ------
    ImageFileError
        When the marker was damaged (and has been moved aside).
    """
    marker = _read_marker()
    if marker is _DAMAGED:
        raise ImageFileError(_set_marker_aside())
    if marker is None or marker.get("token") == _own_session or _session_alive(marker):
        return None
    return Path(marker["image"])


_DAMAGED = {"damaged": True}  # what _read_marker returns for a marker it cannot use
_MAX_PID = 2**31 - 1


def _read_marker() -> dict | None:
    """The session marker, None if there is none, or _DAMAGED."""
    try:
        text = (data_dir() / SESSION_NAME).read_text(encoding="utf-8")
    except OSError:  # none, or none that can be read: nothing to recover
        return None
    except UnicodeDecodeError:
        return _DAMAGED
    try:
        marker = json.loads(text)
    except (ValueError, RecursionError):
        return _DAMAGED
    ok = (isinstance(marker, dict) and isinstance(marker.get("image"), str)
          and isinstance(marker.get("pid"), int) and not isinstance(marker.get("pid"), bool)
          and 0 < marker["pid"] <= _MAX_PID)
    return marker if ok else _DAMAGED


def _set_marker_aside() -> str:
    """Move a damaged session marker aside; the message to show."""
    source = data_dir() / SESSION_NAME
    target = data_dir() / f"session-damaged-{datetime.now():%Y%m%d-%H%M%S}.json"
    try:
        os.replace(source, target)
    except OSError:
        with contextlib.suppress(OSError):
            source.unlink()
        return (f"The crash-recovery marker '{source}' was damaged and has been removed; "
                "your saved annotations are not affected.")
    return (f"The crash-recovery marker '{source}' was damaged; it was moved to '{target}'. "
            "Your saved annotations are not affected.")


def _session_alive(marker: dict) -> bool:
    """Whether the process that wrote ``marker`` still runs (our own pid: only if ours)."""
    pid = marker["pid"]
    if pid == os.getpid():  # the pid of a crashed run, reused by us
        return marker.get("token") == _own_session
    return _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (POSIX: signal 0; Windows: its exit code)."""
    if not 0 < pid <= _MAX_PID:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # access denied: it exists
        try:
            code = ctypes.c_ulong()
            found = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return bool(found) and code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
