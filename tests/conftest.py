"""Shared test set-up: Qt offscreen, torch on few threads, no GPU surprises."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
