"""Tools panel: one button per tool, brush size, the label being painted, new cell."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from unetgui.gui.tools import TOOL_TYPES


class ToolsPanel(QtWidgets.QWidget):
    toolChosen = QtCore.Signal(str)
    radiusChanged = QtCore.Signal(float)
    labelChanged = QtCore.Signal(int)
    newCellRequested = QtCore.Signal()
    onlyBackgroundChanged = QtCore.Signal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
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
            button.clicked.connect(lambda _=False, n=tool.name: self.toolChosen.emit(n))
            group.addButton(button)
            grid.addWidget(button, i // 2, i % 2)
            self.buttons[tool.name] = button
        layout.addLayout(grid)

        form = QtWidgets.QFormLayout()
        self.radius = QtWidgets.QSpinBox()
        self.radius.setRange(0, 200)
        self.radius.setValue(4)
        self.radius.setSuffix(" px")
        self.radius.setToolTip("Brush radius ([ and ] change it)")
        self.radius.valueChanged.connect(lambda v: self.radiusChanged.emit(float(v)))
        form.addRow("Brush radius", self.radius)

        label_row = QtWidgets.QHBoxLayout()
        self.label = QtWidgets.QSpinBox()
        self.label.setRange(0, 2**31 - 1)
        self.label.setValue(1)
        self.label.setToolTip("The cell id the brush and fill paint (0 erases)")
        self.label.valueChanged.connect(self.labelChanged)
        new_cell = QtWidgets.QPushButton("New cell")
        new_cell.setToolTip("Next free cell id (M)")
        new_cell.clicked.connect(self.newCellRequested)
        label_row.addWidget(self.label)
        label_row.addWidget(new_cell)
        form.addRow("Label", label_row)
        self.only_background = QtWidgets.QCheckBox("Paint only on background")
        self.only_background.setToolTip("Keep existing cells when painting over them")
        self.only_background.toggled.connect(self.onlyBackgroundChanged)
        form.addRow(self.only_background)
        layout.addLayout(form)
        layout.addStretch(1)

    def set_tool(self, name: str) -> None:
        self.buttons[name].setChecked(True)

    def set_label(self, label: int) -> None:
        self.label.setValue(label)

    def set_radius(self, radius: int) -> None:
        self.radius.setValue(radius)
