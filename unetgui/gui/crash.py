"""When something unexpected breaks: a log file, and a window that says where it is.

An exception nobody caught (in a slot of the GUI thread, or in any thread) is written,
with the versions that matter, to ``DATA_DIR/logs/crash-TIME.log``; the window shows a
dialog naming the file and reminding that the annotations are autosaved. A hard crash
(a segmentation fault in a native library) cannot run Python code, so ``faulthandler``
writes its traceback to ``DATA_DIR/logs/faults.log``.
"""

from __future__ import annotations

import faulthandler
import platform
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6 import QtCore

from unetgui.core.userdata import data_dir

_fault_file = None  # kept open for faulthandler for the life of the process
_messenger = None


def log_folder() -> Path:
    return data_dir() / "logs"


def write_crash_log(exc_type, exc, tb) -> Path | None:
    """Write a crash report; returns its path, or None when even that is impossible.

    Parameters
    ----------
    exc_type, exc, tb : as ``sys.exc_info()`` gives them

    Returns
    -------
    Path or None
    """
    from unetgui import __version__

    try:
        folder = log_folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{datetime.now():%Y%m%d-%H%M%S-%f}.log"
        versions = _versions()
        text = (f"unetgui {__version__} crash report, {datetime.now().isoformat(timespec='seconds')}\n"
                f"{versions}\n\n{''.join(traceback.format_exception(exc_type, exc, tb))}")
        path.write_text(text, encoding="utf-8")
        return path
    except OSError:
        return None


def _versions() -> str:
    parts = [f"Python {platform.python_version()} on {platform.platform()}"]
    for name in ("numpy", "torch", "PySide6", "pyqtgraph", "tifffile", "skimage"):
        module = sys.modules.get(name)
        if module is not None:
            parts.append(f"{name} {getattr(module, '__version__', '?')}")
    return ", ".join(parts)


class _Messenger(QtCore.QObject):
    """Carries the message to the GUI thread: an exception may end any thread."""

    message = QtCore.Signal(str)


def install(show: Callable[[str], None], *, fault_log: bool = True) -> None:
    """Report uncaught exceptions (``show`` gets the message for the user, on the GUI
    thread) and, with ``fault_log``, hard crashes (``faulthandler`` is process-wide: the
    tests leave it to pytest)."""
    global _fault_file, _messenger
    _messenger = _Messenger()
    _messenger.message.connect(show)

    def report(exc_type, exc, tb) -> None:
        traceback.print_exception(exc_type, exc, tb)
        path = write_crash_log(exc_type, exc, tb)
        where = f"A report was written to {path}." if path else "No report could be written."
        _messenger.message.emit(f"Something went wrong inside unetgui: {exc_type.__name__}: {exc}\n\n{where} "
             "Your annotations are saved automatically; save your model if you trained one.")

    sys.excepthook = report
    threading.excepthook = lambda args: report(args.exc_type, args.exc_value, args.exc_traceback)
    if not fault_log:
        return
    try:
        folder = log_folder()
        folder.mkdir(parents=True, exist_ok=True)
        _fault_file = open(folder / "faults.log", "a", encoding="utf-8")  # noqa: SIM115 (lives with the process)
        faulthandler.enable(_fault_file)
    except OSError:
        pass
