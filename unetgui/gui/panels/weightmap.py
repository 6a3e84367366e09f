"""Weight-map panel: the paper's w0, sigma and class balance, and the colour bar."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from unetgui.core.weightmap import border_margin


class WeightMapPanel(QtWidgets.QWidget):
    """Parameters of ``w = w_c + w0 exp(-(d1 + d2)^2 / (2 sigma^2))``; emits on change."""

    parametersChanged = QtCore.Signal(dict)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        form = QtWidgets.QFormLayout(self)
        self.w0 = QtWidgets.QDoubleSpinBox()
        self.w0.setRange(0.0, 100.0)
        self.w0.setValue(10.0)
        self.w0.setToolTip("Extra weight on the gaps between touching cells (paper: 10)")
        self.sigma = QtWidgets.QDoubleSpinBox()
        self.sigma.setRange(0.5, 50.0)
        self.sigma.setSingleStep(0.5)
        self.sigma.setValue(5.0)
        self.sigma.setSuffix(" px")
        self.sigma.setToolTip("How far the gap weight reaches from the cells (paper: about 5 px)")
        self.class_balance = QtWidgets.QCheckBox("Balance cell and background pixels")
        self.class_balance.setChecked(True)
        for spin in (self.w0, self.sigma):
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._emit)
        self.class_balance.toggled.connect(self._emit)
        form.addRow("w0", self.w0)
        form.addRow("sigma", self.sigma)
        form.addRow(self.class_balance)
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        form.addRow(self.status)

    def parameters(self) -> dict:
        return {"w0": self.w0.value(), "sigma": self.sigma.value(), "class_balance": self.class_balance.isChecked()}

    def set_parameters(self, values: dict) -> None:
        blockers = [QtCore.QSignalBlocker(w) for w in (self.w0, self.sigma, self.class_balance)]
        self.w0.setValue(float(values.get("w0", 10.0)))
        self.sigma.setValue(float(values.get("sigma", 5.0)))
        self.class_balance.setChecked(bool(values.get("class_balance", True)))
        del blockers
        self._emit()

    def show_range(self, low: float, high: float) -> None:
        params = self.parameters()
        reach = border_margin(params["sigma"], max(params["w0"], 1e-6))
        self.status.setText(f"Weights from {low:.2f} to {high:.2f}; the gap term reaches about {reach} px.")

    def _emit(self) -> None:
        self.parametersChanged.emit(self.parameters())
