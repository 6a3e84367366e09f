"""Tools panel: a view of the tool state (:class:`unetgui.gui.tool_state.ToolState`):
one button per tool, brush radius, the label being painted, New cell."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from unetgui.gui.panels.widgets import set_quietly
from unetgui.gui.tool_state import ToolState
from unetgui.gui.tools import TOOL_TYPES


class ToolsPanel(QtWidgets.QWidget):
    newCellRequested = QtCore.Signal()

    def __init__(self, state: ToolState, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        grid = QtWidgets.QGridLayout()
        self.buttons: dict[str, QtWidgets.QToolButton] = {}
        group = QtWidgets.QButtonGroup(self)
        group.setExclusive(True)
        for i, tool in enumerate(TOOL_TYPES):
            button = QtWidgets.QToolButton()
            button.setText(tool.title)
            button.setToolTip(f"{tool.title} ({tool.key})")
            button.setCheckable(True)
            button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _=False, n=tool.name: state.set_tool(n))
            group.addButton(button)
            grid.addWidget(button, i // 2, i % 2)
            self.buttons[tool.name] = button
        layout.addLayout(grid)

        form = QtWidgets.QFormLayout()
        self.radius = QtWidgets.QSpinBox()
        self.radius.setRange(0, 200)
        self.radius.setValue(state.radius)
        self.radius.setSuffix(" px")
        self.radius.setToolTip("Brush radius ([ and ] change it)")
        self.radius.valueChanged.connect(state.set_radius)
        form.addRow("Brush radius", self.radius)

        label_row = QtWidgets.QHBoxLayout()
        self.label = QtWidgets.QSpinBox()
        self.label.setRange(0, 2**31 - 1)
        self.label.setValue(state.label)
        self.label.setToolTip("The cell id the brush and fill paint (0 erases)")
        self.label.valueChanged.connect(state.set_label)
        new_cell = QtWidgets.QPushButton("New cell")
        new_cell.setToolTip("Next free cell id (M)")
        new_cell.clicked.connect(self.newCellRequested)
        label_row.addWidget(self.label)
        label_row.addWidget(new_cell)
        form.addRow("Label", label_row)
        self.only_background = QtWidgets.QCheckBox("Paint only on background")
        self.only_background.setToolTip("Keep existing cells when painting over them")
        self.only_background.toggled.connect(state.set_only_background)
        form.addRow(self.only_background)
        layout.addLayout(form)

        state.toolChanged.connect(lambda name: self.buttons[name].setChecked(True))
        state.radiusChanged.connect(lambda r: set_quietly(self.radius, self.radius.setValue, r))
        state.labelChanged.connect(lambda v: set_quietly(self.label, self.label.setValue, v))
        state.onlyBackgroundChanged.connect(
            lambda on: set_quietly(self.only_background, self.only_background.setChecked, on))
        self.buttons[state.tool].setChecked(True)
