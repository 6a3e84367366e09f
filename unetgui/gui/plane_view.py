"""Keeps the canvas showing the plane the view state names: its image at the chosen
channel and contrast, its labels (redrawn box by box as they change), its weight map and
its prediction, and reports the pixel under the mouse.

A plane too large to hold (``ImageSession.large``) is shown for viewing only: an overview
of it, and the part in view at the level that fits the screen (gui/large_plane.py)."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from unetgui.core.errors import UnetguiError
from unetgui.core.multiscale import View
from unetgui.gui import display
from unetgui.gui.canvas import Canvas
from unetgui.gui.image_session import ImageSession
from unetgui.gui.large_plane import SETTLE_MS, LevelReader
from unetgui.gui.view_state import ViewState
from unetgui.gui.weight_map import WeightMapController


class PlaneView(QtCore.QObject):
    planeShown = QtCore.Signal(int)  # the canvas shows this plane now
    readout = QtCore.Signal(str)  # "x 30  y 20   value 812   label 5", or "" off the image
    error = QtCore.Signal(str, str)  # title, text

    def __init__(self, canvas: Canvas, view: ViewState, session: ImageSession, weights: WeightMapController,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas, self.view, self.session, self.weights = canvas, view, session, weights
        self._data: np.ndarray | None = None  # (C, Y, X) of the plane shown (a large plane's overview)
        self._overview: View | None = None  # a large plane's overview, and its part in view
        self._detail: View | None = None
        self._labels_shown: list[View | None] = [None, None]  # a large OME-Zarr's labels: detail, overview
        self.reader = LevelReader(self)
        self.reader.overviewRead.connect(self._overview_read)
        self.reader.detailRead.connect(self._detail_read)
        self.reader.failed.connect(lambda text: self.error.emit("Cannot read this plane", text))
        self._settle = QtCore.QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settle.timeout.connect(self._read_detail)
        canvas.rangeChanged.connect(lambda: self._overview is not None and self._settle.start())
        view.planeChanged.connect(self.show_plane)
        view.channelChanged.connect(lambda _c: self._show_image())
        view.levelsChanged.connect(self._show_image)
        view.visibilityChanged.connect(self._visibility)
        view.opacityChanged.connect(canvas.set_layer_opacity)
        view.outlinesChanged.connect(canvas.set_outlines)
        for name, visible in view.visible.items():
            canvas.set_layer_visible(name, visible)
        view.imageReset.connect(self._opened)  # the window resets the view for each image
        session.closed.connect(self._closed)
        session.labelsChanged.connect(self._labels_changed)
        weights.ready.connect(self._weights_ready)
        canvas.cursorMoved.connect(self._cursor_moved)

    def _opened(self) -> None:
        self.canvas.reset_view()
        self.show_plane(self.view.plane)

    def _closed(self) -> None:
        self._data = self._overview = self._detail = None
        self.reader.cancel()
        self.weights.show(None, 0)
        self.canvas.set_weights(None)
        self.canvas.set_prediction(None)

    def show_plane(self, plane: int) -> None:
        stack, document = self.session.stack, self.session.document
        if stack is None:
            return
        if self.session.large:
            self._show_large(plane)
            return
        self._overview = self._detail = None
        try:
            self._data = stack.read_plane(plane)
        except UnetguiError as error:
            self.error.emit("Cannot read this plane", str(error))
            return
        self._show_image()
        self.canvas.set_labels(document.labels_of(plane), document.ignore_of(plane))
        self.canvas.set_weights(None)
        self._show_weights()
        self.planeShown.emit(plane)

    def _show_large(self, plane: int) -> None:
        """Start reading a large plane's overview; until it arrives the last one stays."""
        self._detail = None
        self.canvas.clear_labels()
        self.canvas.set_weights(None)
        self.reader.read_overview(self.session.stack, self.session.stored_labels, plane)
        self.planeShown.emit(plane)

    def _overview_read(self, plane: int, overview: View, labels: View | None) -> None:
        if plane != self.view.plane or self.session.stack is None:
            return
        self._overview, self._data, self._detail = overview, overview.data, None
        self._labels_shown = [None, labels]  # the stored labels' detail and overview
        self._show_image()
        if labels is not None:
            self.canvas.set_viewed_labels(labels.data[0], labels.box)
        self._read_detail()

    def _read_detail(self) -> None:
        box, stack = self.canvas.visible_box(), self.session.stack
        if self._overview is None or box is None or stack is None:
            return
        self.reader.read_detail(stack, self.session.stored_labels, self.view.plane, box,
                                self.canvas.full_per_screen_px(), self._overview.step)

    def _detail_read(self, plane: int, detail: View | None, labels: View | None) -> None:
        if plane != self.view.plane or self._overview is None:
            return
        self._detail = detail
        self._labels_shown[0] = labels
        if detail is None:
            self.canvas.set_detail(None)
        else:
            self.canvas.set_detail(*self._render(detail.data), box=detail.box)
        self.canvas.set_viewed_labels(None if labels is None else labels.data[0],
                                      None if labels is None else labels.box, detail=True)

    def _render(self, data: np.ndarray) -> tuple[np.ndarray, tuple[float, float] | None]:
        """(C, Y, X) pixels as the canvas shows them: the channel chosen with its levels,
        or the composite."""
        view = self.view
        if view.channel == display.COMPOSITE:
            return display.composite(data, view.levels), None
        return data[view.channel], view.levels[view.channel]

    def _show_image(self) -> None:
        data, view = self._data, self.view
        if data is None:
            return
        unset = [c for c in view.shown_channels if view.levels[c] is None]
        if unset:  # first look at a channel: auto-contrast once (the levels signal redraws)
            view.set_channel_levels({c: display.auto_levels(data[c]) for c in unset})
            return
        if self._overview is None:
            self.canvas.set_image(*self._render(data))
            return
        stack = self.session.stack
        self.canvas.set_image(*self._render(data), box=self._overview.box, plane_shape=(stack.height, stack.width))
        if self._detail is not None:
            self.canvas.set_detail(*self._render(self._detail.data), box=self._detail.box)

    def auto_contrast(self) -> None:
        """Percentile contrast of the channels shown (the A key)."""
        if self._data is not None:
            self.view.set_channel_levels({c: display.auto_levels(self._data[c]) for c in self.view.shown_channels})

    def show_prediction(self, plane: int, probability) -> None:
        """A finished prediction (uint8, or None to clear); the layer turns on to show it."""
        if plane != self.view.plane:
            return
        self.canvas.set_prediction(probability)
        if probability is not None:
            self.view.set_visible("prediction", True)

    def _labels_changed(self, event) -> None:
        if event.plane != self.view.plane:
            return
        document = self.session.document
        if event.layer == "labels":
            self.canvas.labels_changed(event.box, document.labels_of(event.plane))
        else:
            self.canvas.ignore_changed(event.box, document.ignore_of(event.plane))
        self._show_weights()

    def _visibility(self, name: str, visible: bool) -> None:
        self.canvas.set_layer_visible(name, visible)
        if name == "weights":
            self._show_weights()

    def _show_weights(self) -> None:
        shown = self.view.visible["weights"] and self.session.document is not None and not self.session.large
        self.weights.show(self.session.document if shown else None, self.view.plane)

    def _weights_ready(self, plane: int, weights, levels) -> None:
        if plane == self.view.plane and self.view.visible["weights"]:
            self.canvas.set_weights(weights, levels)

    def _cursor_moved(self, row: int, col: int) -> None:
        stack = self.session.stack
        if self._data is None or not (0 <= row < stack.height and 0 <= col < stack.width):
            self.readout.emit("")
            return
        if self._overview is not None:
            text = _large_readout((self._detail, self._overview), row, col) or f"x {col}  y {row}"
            label = _large_readout(self._labels_shown, row, col, label=True)
            self.readout.emit(text + label)
            return
        value = ", ".join(f"{v:g}" for v in self._data[:, row, col].tolist())
        label = self.session.document.pick(self.view.plane, row, col)
        self.readout.emit(f"x {col}  y {row}   value {value}   label {label}")


def _large_readout(views, row: int, col: int, label: bool = False) -> str:
    """The value (or with ``label`` the cell id) under the mouse from the finest of
    ``views`` that covers it; "(1:4)" when its pixels are a coarser level's."""
    for shown in views:
        if shown is None:
            continue
        r0, r1, c0, c1 = shown.box
        if r0 <= row < r1 and c0 <= col < c1:
            step = shown.step
            r = min(int((row - r0) / step), shown.data.shape[1] - 1)
            c = min(int((col - c0) * shown.data.shape[2] / (c1 - c0)), shown.data.shape[2] - 1)
            values = shown.data[:, r, c].tolist()
            scale = f" (1:{step:.3g})" if step > 1.001 else ""
            if label:
                return f"   label {values[0]}{scale}"
            return f"x {col}  y {row}   value {', '.join(f'{v:g}' for v in values)}{scale}"
    return ""
