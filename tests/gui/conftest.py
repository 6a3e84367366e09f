"""Fixtures for driving the real main window offscreen."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import tifffile
from PySide6 import QtCore, QtGui, QtTest, QtWidgets

from unetgui.core.synthetic import SyntheticConfig, synthetic_stack

# What the first optimiser imports (torch._dynamo, ~800 modules), imported now, as the app
# does at start-up (runtime.preload_training_modules). Left to the first training worker,
# that import competes for the GIL with pytest-qt's waitUntil polling the event loop on
# the test's thread, and once took minutes (a test hit the 5-minute timeout).
import torch._dynamo  # noqa: E402, F401


@pytest.fixture(autouse=True)
def qt_garbage_collected_here():
    """After each test (and after pytest-qt closed its windows), collect the garbage on
    this, the GUI thread. Left to the collector, a closed window's Qt objects were once
    freed on a worker thread of a later test (one loading the model) while this thread
    deleted others: PySide6 deadlocked on a QObject mutex and the GIL."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def isolated_user_data(tmp_path, monkeypatch):
    """Session markers and fallback sidecars go to a temporary folder, not ~/.local."""
    monkeypatch.setenv("UNETGUI_DATA_DIR", str(tmp_path / "user-data"))


@pytest.fixture
def settings(tmp_path):
    return QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)


@pytest.fixture
def stack_file(tmp_path):
    """A 3-plane time-lapse of synthetic touching cells, 96 x 128, uint16, ImageJ TIFF."""
    image, labels = synthetic_stack(3, SyntheticConfig(shape=(96, 128), n_cells=12), np.random.default_rng(0))
    path = tmp_path / "cells.tif"
    tifffile.imwrite(path, image, imagej=True, metadata={"axes": "TYX"})
    return path, image, labels


def add_window(qtbot, settings):
    """A MainWindow that pytest-qt closes after the test without asking about unsaved
    changes (pytest-qt closes widgets in its own teardown, before fixtures finish)."""
    from unetgui.gui.main_window import MainWindow

    def quiet(win):
        win.session.autosaver.detach()
        win.models.dirty = False
        win.shutdown()

    win = MainWindow(settings=settings)
    qtbot.addWidget(win, before_close_func=quiet)
    return win


@pytest.fixture
def window(qtbot, settings):
    win = add_window(qtbot, settings)
    win.resize(1400, 900)  # the window's default size
    win.show()
    qtbot.waitExposed(win)
    return win


def viewport_point(canvas, row: float, col: float) -> QtCore.QPoint:
    """Where pixel (row, col)'s centre is on the canvas viewport."""
    scene = canvas.view.mapViewToScene(QtCore.QPointF(col + 0.5, row + 0.5))
    return canvas.mapFromScene(scene)


def _send(widget, kind, point, button, buttons):
    event = QtGui.QMouseEvent(
        kind,
        QtCore.QPointF(point),
        QtCore.QPointF(widget.mapToGlobal(point)),
        button,
        buttons,
        QtCore.Qt.KeyboardModifier.NoModifier,
    )
    QtWidgets.QApplication.sendEvent(widget, event)


def drag(canvas, points: list[tuple[float, float]]) -> None:
    """Press the left button at the first (row, col), move through the rest, release."""
    left = QtCore.Qt.MouseButton.LeftButton
    none = QtCore.Qt.MouseButton.NoButton
    viewport = canvas.viewport()
    pixels = [viewport_point(canvas, r, c) for r, c in points]
    _send(viewport, QtCore.QEvent.Type.MouseMove, pixels[0], none, none)
    _send(viewport, QtCore.QEvent.Type.MouseButtonPress, pixels[0], left, left)
    for p in pixels[1:]:
        QtTest.QTest.qWait(12)  # pyqtgraph drops moves faster than its mouseRateLimit (100/s)
        _send(viewport, QtCore.QEvent.Type.MouseMove, p, none, left)
    _send(viewport, QtCore.QEvent.Type.MouseButtonRelease, pixels[-1], left, none)


def click(canvas, row: float, col: float) -> None:
    left = QtCore.Qt.MouseButton.LeftButton
    none = QtCore.Qt.MouseButton.NoButton
    viewport = canvas.viewport()
    p = viewport_point(canvas, row, col)
    _send(viewport, QtCore.QEvent.Type.MouseMove, p, none, none)
    _send(viewport, QtCore.QEvent.Type.MouseButtonPress, p, left, left)
    _send(viewport, QtCore.QEvent.Type.MouseButtonRelease, p, left, none)
