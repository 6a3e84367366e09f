"""Layers panel: visibility and opacity of each layer, label outlines, channel, contrast."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

LAYER_TITLES = {
    "image": "Image",
    "labels": "Labels",
    "ignore": "Ignore mask",
    "prediction": "Prediction",
    "weights": "Weight map",
}
DEFAULT_OPACITY = {"image": 1.0, "labels": 0.5, "ignore": 1.0, "prediction": 0.5, "weights": 0.7}
DEFAULT_VISIBLE = {"image": True, "labels": True, "ignore": True, "prediction": False, "weights": False}


class LayersPanel(QtWidgets.QWidget):
    visibilityChanged = QtCore.Signal(str, bool)
    opacityChanged = QtCore.Signal(str, float)
    outlinesChanged = QtCore.Signal(bool)
    channelChanged = QtCore.Signal(int)  # channel index, or -1 for the colour composite
    levelsChanged = QtCore.Signal(float, float)
    autoContrastRequested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QGridLayout(self)
        self.visible: dict[str, QtWidgets.QCheckBox] = {}
        self.opacity: dict[str, QtWidgets.QSlider] = {}
        for row, (name, title) in enumerate(LAYER_TITLES.items()):
            box = QtWidgets.QCheckBox(title)
            box.setChecked(DEFAULT_VISIBLE[name])
            box.toggled.connect(lambda on, n=name: self.visibilityChanged.emit(n, on))
            slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.setValue(int(DEFAULT_OPACITY[name] * 100))
            slider.setToolTip(f"Opacity of the {title.lower()}")
            slider.valueChanged.connect(lambda v, n=name: self.opacityChanged.emit(n, v / 100))
            layout.addWidget(box, row, 0)
            layout.addWidget(slider, row, 1)
            self.visible[name], self.opacity[name] = box, slider
        row = len(LAYER_TITLES)
        self.outlines = QtWidgets.QCheckBox("Label outlines only")
        self.outlines.toggled.connect(self.outlinesChanged)
        layout.addWidget(self.outlines, row, 0, 1, 2)

        layout.addWidget(QtWidgets.QLabel("Channel"), row + 1, 0)
        self.channel = QtWidgets.QComboBox()
        self.channel.currentIndexChanged.connect(self._channel_index_changed)
        layout.addWidget(self.channel, row + 1, 1)

        layout.addWidget(QtWidgets.QLabel("Contrast"), row + 2, 0)
        levels = QtWidgets.QHBoxLayout()
        self.low = QtWidgets.QDoubleSpinBox()
        self.high = QtWidgets.QDoubleSpinBox()
        for spin, tip in ((self.low, "Shown as black"), (self.high, "Shown as white")):
            spin.setDecimals(3)
            spin.setRange(-1e12, 1e12)
            spin.setToolTip(tip)
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._levels_edited)
            levels.addWidget(spin)
        auto = QtWidgets.QPushButton("Auto")
        auto.setToolTip("Auto-contrast from the 0.5 and 99.8 percentiles (shortcut A)")
        auto.clicked.connect(self.autoContrastRequested)
        levels.addWidget(auto)
        layout.addLayout(levels, row + 2, 1)
        layout.setRowStretch(row + 3, 1)
        self._updating = False

    def set_channels(self, n_channels: int, is_rgb: bool) -> None:
        """Offer each channel, plus a composite when there are several."""
        self._updating = True
        self.channel.clear()
        if n_channels > 1:
            self.channel.addItem("Composite (all channels)", -1)
        for c in range(n_channels):
            name = ("Red", "Green", "Blue")[c] if is_rgb and c < 3 else f"Channel {c + 1}"
            self.channel.addItem(name, c)
        self.channel.setEnabled(n_channels > 1)
        self._updating = False

    def set_levels(self, low: float, high: float) -> None:
        self._updating = True
        self.low.setValue(low)
        self.high.setValue(high)
        self._updating = False

    def set_layer_visible(self, name: str, visible: bool) -> None:
        self.visible[name].setChecked(visible)

    def _channel_index_changed(self, index: int) -> None:
        if not self._updating and index >= 0:
            self.channelChanged.emit(self.channel.itemData(index))

    def _levels_edited(self) -> None:
        if not self._updating:
            self.levelsChanged.emit(self.low.value(), self.high.value())
