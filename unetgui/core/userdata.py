"""The per-user data folder: crash markers, sidecars of read-only images, rescued models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DATA_DIR_ENV = "UNETGUI_DATA_DIR"


def data_dir() -> Path:
    """The per-user data folder: $UNETGUI_DATA_DIR if set, else the platform's usual one.

    Linux and others: $XDG_DATA_HOME/unetgui or ~/.local/share/unetgui; macOS:
    ~/Library/Application Support/unetgui; Windows: %LOCALAPPDATA%\\unetgui. Not created.

    Returns
    -------
    Path
        The folder (it may not exist yet).
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME", "")
        if not os.path.isabs(base):  # the XDG spec says to ignore relative paths
            base = str(Path.home() / ".local" / "share")
    return Path(base) / "unetgui"
