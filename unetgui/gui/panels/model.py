"""Model panel: the active network, the device, Fine-tune with its progress, and (in
``prediction_panel``, docked apart) predicting and accepting predictions.

Only widgets and signals: the model controller fills it in and reacts to it.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

DEVICES = (("Automatic", "auto"), ("CPU", "cpu"), ("CUDA GPU", "cuda"), ("Apple GPU (MPS)", "mps"))
WIDTHS = (16, 32, 64)


class ModelPanel(QtWidgets.QWidget):
    newRequested = QtCore.Signal(int)  # base channels
    openRequested = QtCore.Signal()
    saveRequested = QtCore.Signal()
    starterRequested = QtCore.Signal()
    deviceChosen = QtCore.Signal(str)
    fineTuneRequested = QtCore.Signal()
    pauseToggled = QtCore.Signal(bool)
    stopRequested = QtCore.Signal()
    predictPlaneRequested = QtCore.Signal()
    predictStackRequested = QtCore.Signal()
    cancelPredictionRequested = QtCore.Signal()
    acceptRequested = QtCore.Signal(str)  # "plane" or "unannotated"
    acceptBoxRequested = QtCore.Signal()  # choose the box tool

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self._model_box())
        layout.addWidget(self._training_box())
        layout.addStretch(1)
        # Predicting and accepting sit in a widget of their own, which the window docks
        # apart: the model, Fine-tune and its loss curve then fit a laptop screen's height.
        self.prediction_panel = QtWidgets.QWidget()
        prediction_layout = QtWidgets.QVBoxLayout(self.prediction_panel)
        prediction_layout.addWidget(self._prediction_box())
        prediction_layout.addStretch(1)

    # ------------------------------------------------------------------ building

    def _model_box(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Model")
        form = QtWidgets.QFormLayout(box)
        self.model_name = QtWidgets.QLabel("-")
        self.model_name.setWordWrap(True)
        self.model_name.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.model_name)
        row = QtWidgets.QHBoxLayout()
        self.open_button = QtWidgets.QPushButton("Open...")
        self.open_button.clicked.connect(self.openRequested)
        self.save_button = QtWidgets.QPushButton("Save...")
        self.save_button.clicked.connect(self.saveRequested)
        self.starter_button = QtWidgets.QPushButton("Starter")
        self.starter_button.setToolTip("Go back to the bundled starter model")
        self.starter_button.clicked.connect(self.starterRequested)
        for button in (self.open_button, self.save_button, self.starter_button):
            row.addWidget(button)
        form.addRow(row)
        new_row = QtWidgets.QHBoxLayout()
        self.width = QtWidgets.QComboBox()
        for width in WIDTHS:
            note = {16: "laptop", 32: "balanced", 64: "paper, needs a GPU"}[width]
            self.width.addItem(f"{width} channels ({note})", width)
        self.new_button = QtWidgets.QPushButton("New network")
        self.new_button.setToolTip("Start from an untrained U-Net of this width")
        self.new_button.clicked.connect(lambda: self.newRequested.emit(self.width.currentData()))
        new_row.addWidget(self.width, 1)
        new_row.addWidget(self.new_button)
        form.addRow(new_row)
        self.device = QtWidgets.QComboBox()
        for title, name in DEVICES:
            self.device.addItem(title, name)
        self.device.currentIndexChanged.connect(lambda i: self.deviceChosen.emit(self.device.itemData(i)))
        self.device_label = QtWidgets.QLabel("")
        self.device_label.setWordWrap(True)
        form.addRow("Device", self.device)
        form.addRow(self.device_label)
        return box

    def _training_box(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Fine-tune")
        layout = QtWidgets.QVBoxLayout(box)
        self.fine_tune_button = QtWidgets.QPushButton("Fine-tune")
        self.fine_tune_button.setToolTip("Train the model on the planes marked for training (Ctrl+T)")
        self.fine_tune_button.setMinimumHeight(34)
        self.fine_tune_button.clicked.connect(self.fineTuneRequested)
        layout.addWidget(self.fine_tune_button)

        self.advanced_toggle = QtWidgets.QToolButton()
        self.advanced_toggle.setText("Advanced settings")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(QtCore.Qt.ArrowType.RightArrow)
        self.advanced_toggle.toggled.connect(self._toggle_advanced)
        layout.addWidget(self.advanced_toggle)
        self.advanced = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout(self.advanced)
        self.steps = _spin(1, 1_000_000, 500, "Training steps (one tile each)")
        self.minutes = _spin(0, 10_000, 0, "Stop after this many minutes (0: no limit)", " min")
        self.learning_rate = QtWidgets.QDoubleSpinBox()
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(0.0, 1.0)
        self.learning_rate.setSingleStep(0.0001)
        self.learning_rate.setSpecialValueText("automatic")
        self.optimizer = QtWidgets.QComboBox()  # the recipe's choice: see show_recipe
        self.optimizer.addItem("Adam", "adam")
        self.optimizer.addItem("SGD, momentum 0.99 (paper)", "sgd")
        self.tile_size = _spin(0, 2048, 0, "Input tile size in px (0: automatic)")
        self.tile_size.setSpecialValueText("automatic")
        self.batch_size = _spin(1, 64, 1, "Tiles per step")
        self.augmentation = _spin(0, 300, 100, "Strength of the random deformations and gray-value changes", " %")
        self.validation_every = _spin(1, 100_000, 50, "Score the validation planes every N steps")
        for title, widget in (
            ("Steps", self.steps),
            ("Time limit", self.minutes),
            ("Learning rate", self.learning_rate),
            ("Optimiser", self.optimizer),
            ("Tile size", self.tile_size),
            ("Batch size", self.batch_size),
            ("Augmentation", self.augmentation),
            ("Validate every", self.validation_every),
        ):
            form.addRow(title, widget)
        self.advanced.setVisible(False)
        layout.addWidget(self.advanced)

        self.progress = QtWidgets.QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        layout.addWidget(self.progress)
        row = QtWidgets.QHBoxLayout()
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step; the best model so far stays active")
        self.stop_button.clicked.connect(self.stopRequested)
        row.addWidget(self.pause_button)
        row.addWidget(self.stop_button)
        layout.addLayout(row)
        self.training_status = QtWidgets.QLabel("")
        self.training_status.setWordWrap(True)
        layout.addWidget(self.training_status)
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setMinimumHeight(150)
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setLabel("left", "loss")
        for axis in ("left", "bottom"):  # plain numbers: not "loss (x0.001)" with 700 for 0.7
            self.loss_plot.getAxis(axis).enableAutoSIPrefix(False)
        self.loss_plot.showGrid(x=True, y=True, alpha=0.3)
        self.loss_plot.addLegend(offset=(-5, 5))
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen((80, 160, 255), width=1), name="training loss")
        self.validation_curve = self.loss_plot.plot(
            [], [], pen=None, symbol="o", symbolSize=6, symbolBrush=(255, 170, 0), name="validation AP@0.5"
        )
        layout.addWidget(self.loss_plot)
        self.set_training(False)
        return box

    def _prediction_box(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox()  # docked under the title "Prediction"
        layout = QtWidgets.QVBoxLayout(box)
        live = QtWidgets.QHBoxLayout()
        self.live = QtWidgets.QCheckBox("Live while training, every")
        self.live.setChecked(True)
        self.refresh_seconds = _spin(1, 600, 5, "Seconds between live predictions", " s")
        live.addWidget(self.live)
        live.addWidget(self.refresh_seconds)
        layout.addLayout(live)
        self.tta = QtWidgets.QCheckBox("Average rotations and flips (8x slower)")
        self.tta.setToolTip("Test-time augmentation for Predict plane and Predict all: each tile is "
                            "predicted in its 8 rotations and flips and the results averaged. Live "
                            "predictions during training stay fast.")
        layout.addWidget(self.tta)
        size_row = QtWidgets.QHBoxLayout()
        size_row.addWidget(QtWidgets.QLabel("Cell diameter"))
        self.diameter = _spin(0, 5000, 0, "Typical cell diameter in px. Automatic: from your labels, or "
                              "estimated from the image. Images whose cells the model does not know are "
                              "resized to its cell size.", " px")
        self.diameter.setSpecialValueText("automatic")
        size_row.addWidget(self.diameter)
        layout.addLayout(size_row)
        self.size_status = QtWidgets.QLabel("")
        self.size_status.setWordWrap(True)
        layout.addWidget(self.size_status)
        row = QtWidgets.QHBoxLayout()
        self.predict_plane_button = QtWidgets.QPushButton("Predict plane")
        self.predict_plane_button.clicked.connect(self.predictPlaneRequested)
        self.predict_stack_button = QtWidgets.QPushButton("Predict all")
        self.predict_stack_button.clicked.connect(self.predictStackRequested)
        self.cancel_prediction_button = QtWidgets.QPushButton("Cancel")
        self.cancel_prediction_button.clicked.connect(self.cancelPredictionRequested)
        self.cancel_prediction_button.setEnabled(False)
        for button in (self.predict_plane_button, self.predict_stack_button, self.cancel_prediction_button):
            row.addWidget(button)
        layout.addLayout(row)
        self.accept_button = QtWidgets.QPushButton("Accept prediction for this plane")
        self.accept_button.setToolTip("Copy the predicted cells into the labels (one undoable edit)")
        self.accept_button.clicked.connect(lambda: self.acceptRequested.emit("plane"))
        self.accept_rest_button = QtWidgets.QPushButton("Accept for planes not annotated")
        self.accept_rest_button.clicked.connect(lambda: self.acceptRequested.emit("unannotated"))
        self.accept_box_button = QtWidgets.QPushButton("Accept in a box... (R)")
        self.accept_box_button.setToolTip(
            "Drag a box on the image: the predicted cells lying mostly inside it are copied into the labels")
        self.accept_box_button.clicked.connect(self.acceptBoxRequested.emit)
        layout.addWidget(self.accept_button)
        layout.addWidget(self.accept_box_button)
        layout.addWidget(self.accept_rest_button)
        self.prediction_status = QtWidgets.QLabel("")
        self.prediction_status.setWordWrap(True)
        layout.addWidget(self.prediction_status)
        return box

    # ------------------------------------------------------------------ state

    def set_model_description(self, text: str) -> None:
        self.model_name.setText(text)

    def set_training(self, training: bool) -> None:
        """Enable what makes sense while training (or not)."""
        for widget in (self.fine_tune_button, self.open_button, self.new_button, self.starter_button,
                       self.device, self.advanced, self.save_button):
            widget.setEnabled(not training)
        self.pause_button.setEnabled(training)
        self.stop_button.setEnabled(training)
        if not training:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)

    def show_recipe(self, recipe) -> None:
        """Show a recipe's steps and optimiser (core.recipes); the learning rate stays
        'automatic', which means the recipe's rate for that optimiser."""
        self.steps.setValue(recipe.steps)
        self.optimizer.setCurrentIndex(self.optimizer.findData(recipe.optimizer))
        self.learning_rate.setValue(0.0)

    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(QtCore.Qt.ArrowType.DownArrow if shown else QtCore.Qt.ArrowType.RightArrow)

    def _pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pauseToggled.emit(paused)


def _spin(low: int, high: int, value: int, tip: str, suffix: str = "") -> QtWidgets.QSpinBox:
    spin = QtWidgets.QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setSuffix(suffix)
    return spin
