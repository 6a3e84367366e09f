"""Weight-map panel: a view of the weight-map parameters (the paper's w0, sigma, class
balance) that :class:`unetgui.gui.weight_map.WeightMapController` owns, and the range of
the map on screen."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from unetgui.gui.panels.widgets import set_quietly, wrapped_label


class WeightMapPanel(QtWidgets.QWidget):
    """Parameters of ``w = w_c + w0 exp(-(d1 + d2)^2 / (2 sigma^2))``; emits on edits."""

    parametersEdited = QtCore.Signal(dict)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        form = QtWidgets.QFormLayout(self)
        self.w0 = QtWidgets.QDoubleSpinBox()
        self.w0.setRange(0.0, 100.0)
        self.w0.setToolTip("Extra weight on the gaps between touching cells (paper: 10)")
        self.sigma = QtWidgets.QDoubleSpinBox()
        self.sigma.setRange(0.5, 50.0)
        self.sigma.setSingleStep(0.5)
        self.sigma.setSuffix(" px")
        self.sigma.setToolTip("How far the gap weight reaches from the cells (paper: about 5 px)")
        self.class_balance = QtWidgets.QCheckBox("Balance cell and background pixels")
        for spin in (self.w0, self.sigma):
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._edited)
        self.class_balance.toggled.connect(self._edited)
        form.addRow("w0", self.w0)
        form.addRow("sigma", self.sigma)
        form.addRow(self.class_balance)
        self.status = wrapped_label()
        form.addRow(self.status)

    def show_parameters(self, values: dict) -> None:
        set_quietly(self.w0, self.w0.setValue, float(values["w0"]))
        set_quietly(self.sigma, self.sigma.setValue, float(values["sigma"]))
        set_quietly(self.class_balance, self.class_balance.setChecked, bool(values["class_balance"]))

    def show_status(self, text: str) -> None:
        self.status.setText(text)

    def _edited(self) -> None:
        self.parametersEdited.emit(
            {"w0": self.w0.value(), "sigma": self.sigma.value(), "class_balance": self.class_balance.isChecked()})
