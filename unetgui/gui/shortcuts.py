"""The keyboard shortcuts, in napari's spirit, and a dialog that lists them."""

from __future__ import annotations

from PySide6 import QtWidgets

SHORTCUTS = (
    ("1", "Erase"),
    ("2", "Paint"),
    ("3", "Fill"),
    ("4", "Pick a label from the image"),
    ("Del", "Delete a cell with one click"),
    ("G", "Merge two cells (click the one to keep, then the other)"),
    ("I / Shift+I", "Mark / unmark pixels to ignore in training"),
    ("Space", "Pan and zoom tool"),
    ("R", "Accept prediction in a box (drag it on the image)"),
    ("M", "New cell (next free label)"),
    ("[  ]", "Smaller / larger brush"),
    ("Ctrl+Z", "Undo (per plane)"),
    ("Ctrl+Shift+Z", "Redo"),
    ("Left / Right, PageUp / PageDown", "Previous / next plane"),
    ("Mouse wheel", "Zoom"),
    ("Right or middle drag", "Pan"),
    ("F", "Fit the image to the window"),
    ("Ctrl+1", "Actual size (1:1)"),
    ("A", "Auto-contrast"),
    ("W", "Show / hide the weight map"),
    ("L", "Show / hide the labels"),
    ("Ctrl+S", "Save annotations now (they also save automatically)"),
    ("F1", "This list"),
)


class ShortcutsDialog(QtWidgets.QDialog):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        layout = QtWidgets.QVBoxLayout(self)
        table = QtWidgets.QTableWidget(len(SHORTCUTS), 2)
        table.setHorizontalHeaderLabels(["Keys", "What it does"])
        table.verticalHeader().hide()
        table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        for row, (keys, text) in enumerate(SHORTCUTS):
            table.setItem(row, 0, QtWidgets.QTableWidgetItem(keys))
            table.setItem(row, 1, QtWidgets.QTableWidgetItem(text))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(table)
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)
        self.resize(520, 560)
