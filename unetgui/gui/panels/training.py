"""Fine-tune panel: the button, advanced settings, progress, and the loss curve.

Only widgets and signals; the training controller reads :meth:`settings` when a run
starts and reports through :meth:`show_progress`, :meth:`show_status` and
:meth:`show_curves`. The loss curve draws every step faintly and a smoothed line over it,
so the trend reads at a glance.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from unetgui.gui.display import smoothed
from unetgui.gui.panels.widgets import set_quietly, spin, wrapped_label

RAW_PEN = pg.mkPen((80, 160, 255, 70), width=1)
SMOOTH_PEN = pg.mkPen((80, 160, 255), width=2)


class TrainingPanel(QtWidgets.QWidget):
    fineTuneRequested = QtCore.Signal()
    pauseToggled = QtCore.Signal(bool)
    stopRequested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.fine_tune_button = QtWidgets.QPushButton("Fine-tune")
        self.fine_tune_button.setToolTip("Train the model on the planes marked for training (Ctrl+T)")
        self.fine_tune_button.setMinimumHeight(32)
        self.fine_tune_button.clicked.connect(self.fineTuneRequested)
        layout.addWidget(self.fine_tune_button)
        layout.addWidget(self._advanced_settings())

        self.progress = QtWidgets.QProgressBar()
        self.progress.setTextVisible(True)
        row = QtWidgets.QHBoxLayout()
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step; the run ends as a finished one does (best weights "
                                    "so far, blended with the start as set)")
        self.stop_button.clicked.connect(self.stopRequested)
        row.addWidget(self.pause_button)
        row.addWidget(self.stop_button)
        layout.addWidget(self.progress)
        layout.addLayout(row)
        self.training_status = wrapped_label()
        layout.addWidget(self.training_status)
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setMinimumHeight(110)
        self.loss_plot.setLabel("bottom", "step")
        for axis in ("left", "bottom"):  # plain numbers: not "loss (x0.001)" with 700 for 0.7
            self.loss_plot.getAxis(axis).enableAutoSIPrefix(False)
        self.loss_plot.showGrid(x=True, y=True, alpha=0.3)
        self.loss_plot.addLegend(offset=(-5, 5))
        self.raw_loss_curve = self.loss_plot.plot([], [], pen=RAW_PEN)
        self.loss_curve = self.loss_plot.plot([], [], pen=SMOOTH_PEN, name="loss (smoothed)")
        self.validation_curve = self.loss_plot.plot(
            [], [], pen=None, symbol="o", symbolSize=6, symbolBrush=(255, 170, 0), name="validation AP@0.5"
        )
        layout.addWidget(self.loss_plot, 1)
        self.set_training(False)
        self.show_progress(0, 0, "idle")

    def _advanced_settings(self) -> QtWidgets.QWidget:
        holder = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        self.advanced_toggle = QtWidgets.QToolButton()
        self.advanced_toggle.setText("Advanced settings")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(QtCore.Qt.ArrowType.RightArrow)
        self.advanced_toggle.toggled.connect(self._toggle_advanced)
        layout.addWidget(self.advanced_toggle)
        self.advanced = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout(self.advanced)
        self.steps = spin(1, 1_000_000, 500, "Training steps (one tile each)")
        self.minutes = spin(0, 10_000, 0, "Stop after this many minutes (0: no limit)", " min")
        self.learning_rate = QtWidgets.QDoubleSpinBox()
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(0.0, 1.0)
        self.learning_rate.setSingleStep(0.0001)
        self.learning_rate.setSpecialValueText("automatic")
        self.optimizer = QtWidgets.QComboBox()  # the recipe's choice: see show_recipe
        self.optimizer.addItem("Adam", "adam")
        self.optimizer.addItem("SGD, momentum 0.99 (paper)", "sgd")
        self.tile_size = spin(0, 2048, 0, "Input tile size in px (0: automatic)")
        self.tile_size.setSpecialValueText("automatic")
        self.batch_size = spin(1, 64, 1, "Tiles per step")
        self.augmentation = spin(0, 300, 100, "Strength of the random deformations and gray-value changes", " %")
        self.validation_every = spin(1, 100_000, 50, "Score the validation planes every N steps")
        self.start_share = spin(0, 90, 50, "When fine-tuning: how much of the model you started from the "
                                "trained model keeps (its weights averaged in), so that it does not forget "
                                "images unlike the ones you annotated. 0: the trained weights alone", " %")
        for title, widget in (
            ("Steps", self.steps),
            ("Time limit", self.minutes),
            ("Learning rate", self.learning_rate),
            ("Optimiser", self.optimizer),
            ("Tile size", self.tile_size),
            ("Batch size", self.batch_size),
            ("Augmentation", self.augmentation),
            ("Validate every", self.validation_every),
            ("Blend with start", self.start_share),
        ):
            form.addRow(title, widget)
        self.advanced.setVisible(False)
        layout.addWidget(self.advanced)
        return holder

    # ------------------------------------------------------------------ read by the controller

    def settings(self) -> dict:
        """The choices a run starts with (0 or None: the recipe's value)."""
        return {
            "steps": self.steps.value(),
            "max_seconds": self.minutes.value() * 60 or None,
            "optimizer": self.optimizer.currentData(),
            "learning_rate": self.learning_rate.value() or None,
            "tile_size": self.tile_size.value() or None,
            "batch_size": self.batch_size.value(),
            "augmentation": self.augmentation.value() / 100,
            "validation_every": self.validation_every.value(),
            "start_share": self.start_share.value() / 100 if self.start_share.isEnabled() else None,
        }

    # ------------------------------------------------------------------ shown by the controller

    def show_recipe(self, recipe) -> None:
        """Show a recipe's steps, optimiser and share of the start (core.recipes); the
        learning rate stays 'automatic', which means the recipe's rate for that optimiser."""
        self.steps.setValue(recipe.steps)
        self.optimizer.setCurrentIndex(self.optimizer.findData(recipe.optimizer))
        self.learning_rate.setValue(0.0)
        self.start_share.setValue(round(recipe.start_share * 100))
        self.start_share.setEnabled(recipe.start_share > 0)  # a new network has nothing worth keeping

    def set_training(self, training: bool) -> None:
        """Enable what makes sense while training (or not)."""
        self.fine_tune_button.setEnabled(not training)
        self.advanced.setEnabled(not training)
        self.pause_button.setEnabled(training)
        self.stop_button.setEnabled(training)
        if not training:
            set_quietly(self.pause_button, self.pause_button.setChecked, False)
            self.pause_button.setText("Pause")

    def show_progress(self, step: int, total: int, text: str) -> None:
        """The progress bar: ``step`` of ``total`` (0 of 0: idle), with ``text`` on it."""
        self.progress.setRange(0, max(total, 1) if total else 1)
        self.progress.setValue(min(step, total) if total else 0)
        self.progress.setFormat(text)

    def show_status(self, text: str) -> None:
        self.training_status.setText(text)

    def show_curves(self, steps, losses, validation_steps, validation_scores) -> None:
        """Every step's loss faintly, its smoothed trend, and the validation scores."""
        self.raw_loss_curve.setData(steps, losses)
        self.loss_curve.setData(steps, smoothed(losses))
        self.validation_curve.setData(validation_steps, validation_scores)

    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(QtCore.Qt.ArrowType.DownArrow if shown else QtCore.Qt.ArrowType.RightArrow)

    def _pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pauseToggled.emit(paused)
