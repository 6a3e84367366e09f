"""The bar under the image: which plane is shown, and a slider to move through them.
A view of the view state's plane."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from unetgui.gui.panels.widgets import set_quietly
from unetgui.gui.view_state import ViewState


class PlaneBar(QtWidgets.QWidget):
    def __init__(self, view: ViewState, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(6, 0, 6, 2)
        self.label = QtWidgets.QLabel("")
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(view.set_plane)
        row.addWidget(self.label)
        row.addWidget(self.slider, 1)
        view.imageReset.connect(self._reset)
        view.planeChanged.connect(self._show)

    def _reset(self) -> None:
        set_quietly(self.slider, lambda n: self.slider.setRange(0, n), max(self.view.n_planes - 1, 0))
        self.slider.setEnabled(self.view.n_planes > 1)
        self._show(self.view.plane)

    def _show(self, plane: int) -> None:
        set_quietly(self.slider, self.slider.setValue, plane)
        # 0-based like napari and the command line's --planes; the range says so
        self.label.setText(f"{self.view.axis_name} {plane} (0-{self.view.n_planes - 1})")
