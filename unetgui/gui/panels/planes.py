"""Planes panel: every plane with its role (not annotated / training / validation)."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

ROLE_TITLES = {"none": "not annotated", "train": "training", "validation": "validation"}
ROLE_COLOURS = {"none": None, "train": QtGui.QColor(60, 140, 60), "validation": QtGui.QColor(60, 90, 170)}


class PlanesPanel(QtWidgets.QWidget):
    planeChosen = QtCore.Signal(int)
    roleChosen = QtCore.Signal(int, str)  # plane, role

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        self.list = QtWidgets.QListWidget()
        self.list.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.currentRowChanged.connect(self._row_changed)
        layout.addWidget(self.list)
        buttons = QtWidgets.QHBoxLayout()
        for role in ("train", "validation", "none"):
            button = QtWidgets.QPushButton({"train": "Training", "validation": "Validation", "none": "Not annotated"}[role])
            button.setToolTip(f"Mark the selected plane as {ROLE_TITLES[role]}")
            button.clicked.connect(lambda _=False, r=role: self._set_selected(r))
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.summary = QtWidgets.QLabel("")
        layout.addWidget(self.summary)
        self._roles: list[str] = []
        self._updating = False

    def set_planes(self, roles: list[str], axis_name: str) -> None:
        self._updating = True
        self._axis = axis_name
        self._roles = list(roles)
        self.list.clear()
        for plane, role in enumerate(roles):
            item = QtWidgets.QListWidgetItem()
            self.list.addItem(item)
            self._show(plane, role, item)
        self._updating = False
        self._summarise()

    def set_role(self, plane: int, role: str) -> None:
        self._roles[plane] = role
        self._show(plane, role, self.list.item(plane))
        self._summarise()

    def set_current(self, plane: int) -> None:
        self._updating = True
        self.list.setCurrentRow(plane)
        self._updating = False

    def _show(self, plane: int, role: str, item: QtWidgets.QListWidgetItem) -> None:
        item.setText(f"{self._axis} {plane}: {ROLE_TITLES[role]}")
        colour = ROLE_COLOURS[role]
        item.setForeground(colour if colour is not None else self.palette().color(QtGui.QPalette.ColorRole.Text))

    def _summarise(self) -> None:
        n_train = self._roles.count("train")
        n_val = self._roles.count("validation")
        self.summary.setText(f"{n_train} for training, {n_val} for validation, of {len(self._roles)}")

    def _row_changed(self, row: int) -> None:
        if not self._updating and row >= 0:
            self.planeChosen.emit(row)

    def _set_selected(self, role: str) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.roleChosen.emit(row, role)

    def _menu(self, pos: QtCore.QPoint) -> None:
        row = self.list.indexAt(pos).row()
        if row < 0:
            return
        menu = QtWidgets.QMenu(self)
        for role, title in ROLE_TITLES.items():
            action = menu.addAction(f"Mark as {title}")
            action.triggered.connect(lambda _=False, r=role, p=row: self.roleChosen.emit(p, r))
        menu.exec(self.list.viewport().mapToGlobal(pos))
