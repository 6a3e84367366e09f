"""Layers panel: a view of the view state (:class:`unetgui.gui.view_state.ViewState`).

Each widget sets the state when the user changes it, and shows the state when it changes
from elsewhere (a shortcut, a new image), as napari's layer controls mirror the layer.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from unetgui.gui.display import COMPOSITE
from unetgui.gui.panels.widgets import set_quietly
from unetgui.gui.view_state import LAYER_TITLES, ViewState


class LayersPanel(QtWidgets.QWidget):
    autoContrastRequested = QtCore.Signal()

    def __init__(self, view: ViewState, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.visible: dict[str, QtWidgets.QCheckBox] = {}
        self.opacity: dict[str, QtWidgets.QSlider] = {}
        for row, (name, title) in enumerate(LAYER_TITLES.items()):
            box = QtWidgets.QCheckBox(title)
            box.setChecked(view.visible[name])
            box.toggled.connect(lambda on, n=name: view.set_visible(n, on))
            slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.setValue(round(view.opacity[name] * 100))
            slider.setToolTip(f"Opacity of the {title.lower()}")
            slider.valueChanged.connect(lambda v, n=name: view.set_opacity(n, v / 100))
            layout.addWidget(box, row, 0)
            layout.addWidget(slider, row, 1)
            self.visible[name], self.opacity[name] = box, slider
        row = len(LAYER_TITLES)
        self.outlines = QtWidgets.QCheckBox("Label outlines only")
        self.outlines.setToolTip("Draw the cells' outlines instead of filling them (always so while the "
                                 "weight map is shown, so the map stays visible)")
        self.outlines.toggled.connect(view.set_outlines)
        layout.addWidget(self.outlines, row, 0, 1, 2)

        layout.addWidget(QtWidgets.QLabel("Channel"), row + 1, 0)
        self.channel = QtWidgets.QComboBox()
        self.channel.currentIndexChanged.connect(self._channel_chosen)
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

        view.imageReset.connect(self._show_channels)
        view.channelChanged.connect(self._show_channel)
        view.levelsChanged.connect(self._show_levels)
        view.visibilityChanged.connect(lambda n, on: set_quietly(self.visible[n], self.visible[n].setChecked, on))
        view.opacityChanged.connect(
            lambda n, o: set_quietly(self.opacity[n], self.opacity[n].setValue, round(o * 100)))
        view.outlinesChanged.connect(self._show_outlines)

    def _show_channels(self) -> None:
        """Offer each channel, plus a composite when there are several."""
        view = self.view
        blocker = QtCore.QSignalBlocker(self.channel)
        self.channel.clear()
        if view.n_channels > 1:
            self.channel.addItem("Composite (all channels)", COMPOSITE)
        for c in range(view.n_channels):
            name = ("Red", "Green", "Blue")[c] if view.is_rgb and c < 3 else f"Channel {c + 1}"
            self.channel.addItem(name, c)
        self.channel.setEnabled(view.n_channels > 1)
        del blocker
        self._show_channel(view.channel)

    def _show_channel(self, channel: int) -> None:
        set_quietly(self.channel, self.channel.setCurrentIndex, max(self.channel.findData(channel), 0))
        self._show_levels()

    def _show_levels(self) -> None:
        levels = self.view.shown_levels()
        if levels is not None:
            set_quietly(self.low, self.low.setValue, levels[0])
            set_quietly(self.high, self.high.setValue, levels[1])

    def _show_outlines(self, _drawn: bool) -> None:
        set_quietly(self.outlines, self.outlines.setChecked, self.view.outlines_chosen)

    def _channel_chosen(self, index: int) -> None:
        if index >= 0:
            self.view.set_channel(self.channel.itemData(index))

    def _levels_edited(self) -> None:
        self.view.set_levels(self.low.value(), self.high.value())
