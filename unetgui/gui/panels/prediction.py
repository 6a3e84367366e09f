"""Prediction panel: live predictions while training, test-time augmentation, the cell
diameter, Predict plane / all, and the ways to accept predicted cells into the labels.

Only widgets and signals; the prediction controller reads :meth:`settings` when it
predicts and reports through :meth:`show_status` and :meth:`show_size`.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from unetgui.gui.panels.widgets import spin, wrapped_label


class PredictionPanel(QtWidgets.QWidget):
    predictPlaneRequested = QtCore.Signal()
    predictStackRequested = QtCore.Signal()
    cancelRequested = QtCore.Signal()
    acceptRequested = QtCore.Signal(str)  # "plane" or "unannotated"
    toolRequested = QtCore.Signal(str)  # "accept_box" or "accept_cell": choose that tool

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        row = QtWidgets.QHBoxLayout()
        self.predict_plane_button = QtWidgets.QPushButton("Predict plane")
        self.predict_plane_button.setToolTip("Predict the plane on screen (Ctrl+P)")
        self.predict_plane_button.clicked.connect(self.predictPlaneRequested)
        self.predict_stack_button = QtWidgets.QPushButton("Predict all")
        self.predict_stack_button.clicked.connect(self.predictStackRequested)
        self.cancel_prediction_button = QtWidgets.QPushButton("Cancel")
        self.cancel_prediction_button.clicked.connect(self.cancelRequested)
        self.cancel_prediction_button.setEnabled(False)
        for button in (self.predict_plane_button, self.predict_stack_button, self.cancel_prediction_button):
            row.addWidget(button)
        layout.addLayout(row)

        accept = QtWidgets.QGridLayout()
        self.accept_button = QtWidgets.QPushButton("Accept plane")
        self.accept_button.setToolTip("Copy the predicted cells of this plane into its labels (one undoable edit)")
        self.accept_button.clicked.connect(lambda: self.acceptRequested.emit("plane"))
        self.accept_rest_button = QtWidgets.QPushButton("Accept unannotated")
        self.accept_rest_button.setToolTip("Accept the predictions of every predicted plane not annotated yet")
        self.accept_rest_button.clicked.connect(lambda: self.acceptRequested.emit("unannotated"))
        self.accept_cell_button = QtWidgets.QPushButton("Click a cell (C)")
        self.accept_cell_button.setToolTip("Tool: a click on a predicted cell copies that one cell into the labels")
        self.accept_cell_button.clicked.connect(lambda: self.toolRequested.emit("accept_cell"))
        self.accept_box_button = QtWidgets.QPushButton("Drag a box (R)")
        self.accept_box_button.setToolTip(
            "Tool: drag a box on the image; the predicted cells lying mostly inside it are copied into the labels")
        self.accept_box_button.clicked.connect(lambda: self.toolRequested.emit("accept_box"))
        accept.addWidget(self.accept_cell_button, 0, 0)
        accept.addWidget(self.accept_box_button, 0, 1)
        accept.addWidget(self.accept_button, 1, 0)
        accept.addWidget(self.accept_rest_button, 1, 1)
        box = QtWidgets.QGroupBox("Accept predicted cells")
        box.setLayout(accept)
        layout.addWidget(box)

        form = QtWidgets.QFormLayout()
        live = QtWidgets.QHBoxLayout()
        self.live = QtWidgets.QCheckBox("while training, every")
        self.live.setChecked(True)
        self.refresh_seconds = spin(1, 600, 5, "Seconds between live predictions", " s")
        live.addWidget(self.live)
        live.addWidget(self.refresh_seconds)
        form.addRow("Live", live)
        self.diameter = spin(0, 5000, 0, "Typical cell diameter in px. Automatic: from your labels, or "
                             "measured on the model's own prediction. Images whose cells the model does not know are "
                             "resized to its cell size.", " px")
        self.diameter.setSpecialValueText("automatic")
        form.addRow("Cell diameter", self.diameter)
        self.tta = QtWidgets.QCheckBox("Average rotations and flips (8x slower)")
        self.tta.setToolTip("Test-time augmentation for Predict plane and Predict all: each tile is "
                            "predicted in its 8 rotations and flips and the results averaged. Live "
                            "predictions during training stay fast.")
        form.addRow(self.tta)
        layout.addLayout(form)
        self.size_status = wrapped_label()
        layout.addWidget(self.size_status)
        self.prediction_status = wrapped_label()
        layout.addWidget(self.prediction_status)
        layout.addStretch(1)

    def settings(self) -> dict:
        """live (bool), refresh_seconds, tta (bool), diameter (px, None: automatic)."""
        return {
            "live": self.live.isChecked(),
            "refresh_seconds": self.refresh_seconds.value(),
            "tta": self.tta.isChecked(),
            "diameter": float(self.diameter.value()) or None,
        }

    def show_status(self, text: str) -> None:
        self.prediction_status.setText(text)

    def show_size(self, text: str) -> None:
        """What the cell size decided: the diameter seen and whether the image was resized."""
        self.size_status.setText(text)

    def set_predicting_stack(self, running: bool) -> None:
        self.cancel_prediction_button.setEnabled(running)
        self.predict_stack_button.setEnabled(not running)
