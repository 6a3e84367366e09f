"""The image view: one pyqtgraph ViewBox with the image and its overlay layers.

Layers, bottom to top: the image (one channel with a grey map, or an RGB composite),
the weight map (heat map), the prediction (probability heat map), the labels (uint8
colour indices through a 256-entry lookup table, as performance-notes recommends: real
ids stay in the label document), and the ignore mask (a tint). Label edits redraw only
the changed box; the canvas never owns label data, it mirrors the document.

Every layer has the plane's pixel grid: item coordinates are pixels, pixel (r, c) covering
[c, c+1) x [r, r+1), so no layer needs a transform.

Mouse: left drags and clicks go to the active tool (a callable the window sets); the
right or middle button pans, the wheel zooms, as in napari and Fiji.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from unetgui.core.labels import Box
from unetgui.gui.colors import label_lookup_table, overlay_lookup_table
from unetgui.gui.tools import pixel_under
from unetgui.gui.view_state import DEFAULT_OPACITY


class _ToolImageItem(pg.ImageItem):
    """The top image item: passes left-button drags and clicks to the active tool."""

    def __init__(self, canvas: Canvas) -> None:
        super().__init__()
        self._canvas = canvas

    def mouseDragEvent(self, ev) -> None:
        tool = self._canvas.tool
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or tool is None or not tool.wants_drag:
            ev.ignore()
            return
        ev.accept()
        row, col = _row_col(ev.pos())
        if ev.isStart():
            start_row, start_col = _row_col(ev.buttonDownPos())
            tool.press(start_row, start_col)
        tool.move(row, col)
        if ev.isFinish():
            tool.release(row, col)

    def mouseClickEvent(self, ev) -> None:
        tool = self._canvas.tool
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or tool is None:
            ev.ignore()
            return
        ev.accept()
        row, col = _row_col(ev.pos())
        tool.click(row, col)

    def hoverEvent(self, ev) -> None:
        if ev.isExit():
            self._canvas.hover(None)
            return
        self._canvas.hover(_row_col(ev.pos()))


def _row_col(pos: QtCore.QPointF) -> tuple[float, float]:
    """Item coordinates (x = col, y = row; pixel (r, c) spans [c, c+1) x [r, r+1))."""
    return pos.y() - 0.5, pos.x() - 0.5


class Canvas(pg.GraphicsLayoutWidget):
    """What the user looks at and paints on."""

    cursorMoved = QtCore.Signal(int, int)  # the pixel under the mouse, tools' rule (-1, -1: left the image)
    rangeChanged = QtCore.Signal()  # panned or zoomed

    LAYERS = ("image", "weights", "prediction", "labels", "ignore")

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("k")
        self.view = self.addViewBox(row=0, col=0, lockAspect=True, invertY=True, enableMenu=False)
        self.view.setMouseMode(pg.ViewBox.PanMode)
        self.tool = None  # a gui.tools.Tool, set by the window

        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.detail_item = pg.ImageItem(axisOrder="row-major")  # a large plane's part in view
        self.labels_detail_item = pg.ImageItem(axisOrder="row-major")  # ... and of its stored labels
        self.weights_item = pg.ImageItem(axisOrder="row-major")
        self.prediction_item = pg.ImageItem(axisOrder="row-major")
        self.labels_item = pg.ImageItem(axisOrder="row-major")
        self.ignore_item = _ToolImageItem(self)
        self.ignore_item.axisOrder = "row-major"
        self.layers = {
            "image": self.image_item,
            "weights": self.weights_item,
            "prediction": self.prediction_item,
            "labels": self.labels_item,
            "ignore": self.ignore_item,
        }
        for z, name in enumerate(self.LAYERS):
            item = self.layers[name]
            item.setZValue(z)
            self.view.addItem(item)
        self.detail_item.setZValue(0.5)  # over the overview, under every overlay
        self.view.addItem(self.detail_item)
        self.labels_detail_item.setZValue(self.LAYERS.index("labels") + 0.5)
        self.labels_detail_item.setLookupTable(label_lookup_table())
        self.labels_detail_item.setOpacity(DEFAULT_OPACITY["labels"])
        self.view.addItem(self.labels_detail_item)
        self.view.sigRangeChanged.connect(lambda *_: self.rangeChanged.emit())

        self.labels_item.setLookupTable(label_lookup_table())
        self.ignore_item.setLookupTable(overlay_lookup_table((255, 200, 0), alpha=110))
        self.prediction_colormap = pg.colormap.get("magma")
        self.weights_colormap = pg.colormap.get("inferno")
        self.prediction_item.setLookupTable(self.prediction_colormap.getLookupTable(nPts=256, alpha=False))
        # the weight map arrives as uint8 steps of its range (display.heat_bytes): a lookup
        # table renders it without float work; the bar alone shows the range in weights
        self.weights_item.setLookupTable(self.weights_colormap.getLookupTable(nPts=256, alpha=False))
        self.weights_bar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=self.weights_colormap, interactive=False, width=14, label="weight"
        )
        self.addItem(self.weights_bar, row=0, col=1)
        self.weights_bar.setVisible(False)
        for name, item in self.layers.items():
            item.setOpacity(DEFAULT_OPACITY[name])

        self._prediction: np.ndarray | None = None  # uint8 foreground probability shown
        self._labels: np.ndarray | None = None  # the document's labels of the shown plane
        self._label_display: np.ndarray | None = None  # uint8 colour index per pixel
        self._ignore_display: np.ndarray | None = None
        self._outlines = False
        self._shape: tuple[int, int] | None = None
        self._brush_cursor = QtWidgets.QGraphicsEllipseItem()
        self._brush_cursor.setPen(pg.mkPen((255, 255, 255, 200), width=1, cosmetic=True))
        self._brush_cursor.setZValue(100)
        self._brush_cursor.setVisible(False)
        self.view.addItem(self._brush_cursor, ignoreBounds=True)
        self._brush_radius: float | None = None  # None: no brush outline
        self._box = QtWidgets.QGraphicsRectItem()  # a box being dragged (accept prediction)
        self._box.setPen(pg.mkPen((255, 255, 0, 230), width=1.5, cosmetic=True, style=QtCore.Qt.PenStyle.DashLine))
        self._box.setZValue(101)
        self._box.setVisible(False)
        self.view.addItem(self._box, ignoreBounds=True)

    # ------------------------------------------------------------------ image

    def set_image(self, display: np.ndarray, levels: tuple[float, float] | None, *,
                  box: tuple[float, float, float, float] | None = None,
                  plane_shape: tuple[int, int] | None = None) -> None:
        """Show a (Y, X) plane with contrast ``levels`` or a (Y, X, 3) uint8 composite.

        A large plane's overview covers ``box`` (row0, row1, col0, col1) of a plane of
        ``plane_shape`` full-size pixels: the item is stretched over it, so every layer
        and tool keeps full-size pixel coordinates.
        """
        _set_display(self.image_item, display, levels, box)
        first = self._shape is None
        self._shape = plane_shape or display.shape[:2]
        if box is None:  # an ordinary plane: drop what a large one stretched over the canvas
            self.set_detail(None)
            self.labels_detail_item.clear()
            self.labels_item.resetTransform()
        if first:
            self.fit()

    def set_detail(self, display: np.ndarray | None, levels: tuple[float, float] | None = None,
                   box: tuple[float, float, float, float] | None = None) -> None:
        """Over a large plane's overview, the part in view at a finer level (as
        :meth:`set_image`, covering ``box``); None removes it."""
        if display is None:
            self.detail_item.clear()
            return
        _set_display(self.detail_item, display, levels, box)

    def full_per_screen_px(self) -> float:
        """Plane pixels one screen pixel spans at the present zoom."""
        width = self.view.width() * self.devicePixelRatioF()
        return self.view.viewRect().width() / width if width > 0 else 1.0

    def clear_labels(self) -> None:
        """No labels layer (a plane shown for viewing only)."""
        self._labels = self._label_display = self._ignore_display = None
        self.labels_item.clear()
        self.labels_detail_item.clear()
        self.ignore_item.clear()

    def set_viewed_labels(self, ids: np.ndarray | None, box, *, detail: bool = False) -> None:
        """A large plane's stored cell ids (Y, X), read at some level, over ``box`` of the
        plane (as :meth:`set_image`): the overview, or with ``detail`` the part in view.
        None removes the detail."""
        item = self.labels_detail_item if detail else self.labels_item
        if ids is None:
            item.clear()
            return
        _set_display(item, _label_colours(ids), (0, 255), box)

    # ------------------------------------------------------------------ labels

    def set_labels(self, labels: np.ndarray, ignore: np.ndarray) -> None:
        """Mirror a new plane of the document: (Y, X) labels and ignore mask."""
        self._labels = labels
        self._label_display = np.zeros(labels.shape, dtype=np.uint8)
        self._ignore_display = np.zeros(labels.shape, dtype=np.uint8)
        full = (0, labels.shape[0], 0, labels.shape[1])
        if _never_drawn(labels):  # nothing to convert on a plane never painted
            _show(self.labels_item, self._label_display, None)
        else:
            self._redraw_labels(full)
        if not _never_drawn(ignore):
            self._ignore_display[...] = ignore
        _show(self.ignore_item, self._ignore_display, None)

    def labels_changed(self, box: Box, labels: np.ndarray) -> None:
        """Redraw only ``box`` of the labels layer (labels: the plane's current labels)."""
        self._labels = labels
        self._redraw_labels(box)

    def ignore_changed(self, box: Box, ignore: np.ndarray) -> None:
        r0, r1, c0, c1 = box
        self._ignore_display[r0:r1, c0:c1] = ignore[r0:r1, c0:c1]
        _show(self.ignore_item, self._ignore_display, box)

    def set_outlines(self, outlines: bool) -> None:
        """Draw the labels as outlines (True) or filled."""
        if outlines == self._outlines:
            return
        self._outlines = outlines
        if self._labels is None:
            return
        full = (0, self._labels.shape[0], 0, self._labels.shape[1])
        if outlines and not _never_drawn(self._labels):  # the fills are shown: keep only their edges
            np.multiply(self._label_display, _outline_mask(self._labels, full), out=self._label_display)
            _show(self.labels_item, self._label_display, full)
        else:
            self._redraw_labels(full)

    def _redraw_labels(self, box: Box) -> None:
        r0, r1, c0, c1 = box
        if self._outlines:  # outlines depend on neighbours: redraw a 1-px wider box
            r0, c0 = max(r0 - 1, 0), max(c0 - 1, 0)
            r1, c1 = min(r1 + 1, self._labels.shape[0]), min(c1 + 1, self._labels.shape[1])
        region = self._labels[r0:r1, c0:c1]
        colour = _label_colours(region)
        if self._outlines:
            colour[~_outline_mask(self._labels, (r0, r1, c0, c1))] = 0
        self._label_display[r0:r1, c0:c1] = colour
        _show(self.labels_item, self._label_display, (r0, r1, c0, c1))

    # ------------------------------------------------------------------ heat maps

    def set_weights(self, steps: np.ndarray | None, levels: tuple[float, float] = (0.0, 1.0)) -> None:
        """Show a weight map as (Y, X) uint8 steps of ``levels`` (display.heat_bytes); None clears."""
        if steps is None:
            self.weights_item.clear()
            return
        self.weights_item.setImage(steps, autoLevels=False, levels=(0, 255))
        self.weights_bar.setLevels(levels)

    def set_prediction(self, probability: np.ndarray | None) -> None:
        """Foreground probability (Y, X) as uint8 0..255; None clears the layer."""
        if probability is None:
            self._prediction = None
            self.prediction_item.clear()
            return
        self._prediction = np.array(probability, dtype=np.uint8)
        self.prediction_item.setImage(self._prediction, autoLevels=False, levels=(0, 255))

    def set_prediction_tile(self, box: Box, patch: np.ndarray) -> None:
        """Show one freshly predicted tile (uint8) in place, as it arrives."""
        if self._shape is None:
            return
        if self._prediction is None or self._prediction.shape != self._shape:
            self._prediction = np.zeros(self._shape, dtype=np.uint8)
        r0, r1, c0, c1 = box
        self._prediction[r0:r1, c0:c1] = patch
        _show(self.prediction_item, self._prediction, box)

    # ------------------------------------------------------------------ layers and view

    def set_layer_visible(self, name: str, visible: bool) -> None:
        self.layers[name].setVisible(visible)
        if name == "weights":
            self.weights_bar.setVisible(visible)
        if name == "labels":
            self.labels_detail_item.setVisible(visible)

    def set_layer_opacity(self, name: str, opacity: float) -> None:
        self.layers[name].setOpacity(opacity)
        if name == "labels":
            self.labels_detail_item.setOpacity(opacity)

    def reset_view(self) -> None:
        """Forget the last image's size, so the next one is fitted to the window."""
        self._shape = None

    def fit(self) -> None:
        """Zoom so the whole plane is in view."""
        if self._shape is not None:
            self.view.setRange(QtCore.QRectF(0, 0, self._shape[1], self._shape[0]), padding=0.02)

    def actual_size(self) -> None:
        """1:1: one image pixel per screen pixel, keeping the centre."""
        center = self.view.viewRect().center()
        width, height = self.view.width(), self.view.height()
        if width <= 0 or height <= 0:
            return
        self.view.setRange(
            QtCore.QRectF(center.x() - width / 2, center.y() - height / 2, width, height), padding=0
        )

    def visible_box(self) -> Box | None:
        """The part of the plane on screen (row0, row1, col0, col1), for predicting it first."""
        if self._shape is None:
            return None
        rect = self.view.viewRect()
        r0 = int(np.clip(np.floor(rect.top()), 0, self._shape[0]))
        r1 = int(np.clip(np.ceil(rect.bottom()), 0, self._shape[0]))
        c0 = int(np.clip(np.floor(rect.left()), 0, self._shape[1]))
        c1 = int(np.clip(np.ceil(rect.right()), 0, self._shape[1]))
        return r0, r1, c0, c1

    def set_brush_radius(self, radius: float | None) -> None:
        """Show a circle of the brush size under the mouse (None hides it)."""
        self._brush_radius = radius
        if radius is None:
            self._brush_cursor.setVisible(False)

    def show_box(self, box: Box | None) -> None:
        """Outline a box of pixels (r0, r1, c0, c1); None hides it."""
        if box is not None:
            r0, r1, c0, c1 = box
            self._box.setRect(QtCore.QRectF(c0, r0, c1 - c0, r1 - r0))
        self._box.setVisible(box is not None)

    def hover(self, point: tuple[float, float] | None) -> None:
        """The mouse is at image coordinate ``point`` (None: it left the image): report the
        pixel under it, by the tools' rule, and move the brush outline there."""
        if point is None:
            self._brush_cursor.setVisible(False)
            self.cursorMoved.emit(-1, -1)
            return
        row, col = point
        if self._brush_radius is not None:
            # the brush paints pixel centres within its radius of the point itself
            r = self._brush_radius + 0.5
            self._brush_cursor.setRect(QtCore.QRectF(col + 0.5 - r, row + 0.5 - r, 2 * r, 2 * r))
            self._brush_cursor.setVisible(True)
        self.cursorMoved.emit(*pixel_under(row, col))


def _set_display(item: pg.ImageItem, display: np.ndarray, levels, box) -> None:
    """Grey (Y, X) with ``levels`` or a (Y, X, 3) uint8 composite, one item pixel per
    plane pixel, or stretched over ``box`` (row0, row1, col0, col1) of the plane."""
    item.setImage(display, autoLevels=False, levels=levels if display.ndim == 2 else (0, 255))
    if box is None:
        item.resetTransform()
    else:
        r0, r1, c0, c1 = box
        item.setRect(QtCore.QRectF(c0, r0, c1 - c0, r1 - r0))


def _show(item: pg.ImageItem, buffer: np.ndarray, box: Box | None) -> None:
    """Show ``buffer`` (uint8, LUT) in ``item``; if the item already shows this very array,
    repaint only ``box``: pyqtgraph wraps a uint8 + lookup-table image without copying it,
    so an in-place edit plus a box update is all a brush needs (no full-canvas repaint)."""
    if box is not None and item.image is buffer:
        r0, r1, c0, c1 = box
        item.update(QtCore.QRectF(c0, r0, c1 - c0, r1 - r0))
    else:
        item.setImage(buffer, autoLevels=False, levels=(0, 255))


def _never_drawn(plane: np.ndarray) -> bool:
    """The label document hands out a zero-stride view of zeros for untouched planes."""
    return plane.strides == (0, 0)


def _label_colours(labels: np.ndarray) -> np.ndarray:
    """Cell id -> lookup-table index: 0 stays 0 (transparent), id k shows as k % 255 + 1."""
    colour = (labels % np.uint32(255)).astype(np.uint8)
    colour += 1
    colour[labels == 0] = 0
    return colour


def _outline_mask(labels: np.ndarray, box: Box) -> np.ndarray:
    """Pixels of ``labels[box]`` whose 4-neighbour (inside the plane) has another value.
    In place on a box one pixel wider: no padded copy of the plane."""
    r0, r1, c0, c1 = box
    pr0, pr1 = max(r0 - 1, 0), min(r1 + 1, labels.shape[0])
    pc0, pc1 = max(c0 - 1, 0), min(c1 + 1, labels.shape[1])
    region = labels[pr0:pr1, pc0:pc1]
    edge = np.zeros(region.shape, dtype=bool)
    differs = region[:-1] != region[1:]
    edge[:-1] |= differs
    edge[1:] |= differs
    differs = region[:, :-1] != region[:, 1:]
    edge[:, :-1] |= differs
    edge[:, 1:] |= differs
    return edge[r0 - pr0 : r0 - pr0 + (r1 - r0), c0 - pc0 : c0 - pc0 + (c1 - c0)]