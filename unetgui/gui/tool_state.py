"""The painting tools' state: the active tool, brush radius, the label being painted.

A QObject with signals, so the Tools panel, the canvas's brush outline and the tools
themselves all mirror one value. The tools (:mod:`unetgui.gui.tools`, Qt-free) call the
plain methods at the bottom to report what they did or need: a message, a box to show,
a box or a cell of the prediction to accept.
"""

from __future__ import annotations

from PySide6 import QtCore

from unetgui.core.labels import Box, LabelDocument

DEFAULT_RADIUS = 4


class ToolState(QtCore.QObject):
    toolChanged = QtCore.Signal(str)
    radiusChanged = QtCore.Signal(int)
    labelChanged = QtCore.Signal(int)
    onlyBackgroundChanged = QtCore.Signal(bool)
    message = QtCore.Signal(str)
    boxShown = QtCore.Signal(object)  # Box being dragged, or None
    acceptBoxRequested = QtCore.Signal(object)  # Box: accept the prediction's cells inside
    acceptCellRequested = QtCore.Signal(int, int)  # row, col: accept the predicted cell there

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.document: LabelDocument | None = None
        self.plane = 0
        self.tool = "paint"
        self.radius = DEFAULT_RADIUS
        self.label = 1
        self.only_background = False

    def set_tool(self, name: str) -> None:
        if name != self.tool:
            self.tool = name
            self.toolChanged.emit(name)

    def set_radius(self, radius: int) -> None:
        radius = max(0, int(radius))
        if radius != self.radius:
            self.radius = radius
            self.radiusChanged.emit(radius)

    def set_label(self, label: int) -> None:
        label = max(0, int(label))
        if label != self.label:
            self.label = label
            self.labelChanged.emit(label)

    def set_only_background(self, on: bool) -> None:
        if on != self.only_background:
            self.only_background = on
            self.onlyBackgroundChanged.emit(on)

    # ------------------------------------------------------------------ called by tools

    def picked(self, label: int) -> None:
        self.set_label(label)
        self.message.emit(f"Painting with label {label}.")

    def show_message(self, text: str) -> None:
        self.message.emit(text)

    def show_box(self, box: Box | None) -> None:
        self.boxShown.emit(box)

    def accept_box(self, box: Box) -> None:
        self.acceptBoxRequested.emit(box)

    def accept_cell(self, row: int, col: int) -> None:
        self.acceptCellRequested.emit(row, col)
