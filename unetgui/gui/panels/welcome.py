"""What the window shows before any image is open: how to start, in two buttons."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets


class WelcomePanel(QtWidgets.QWidget):
    openRequested = QtCore.Signal()
    sampleRequested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addStretch(2)
        title = QtWidgets.QLabel("<h2>Segment cells with a U-Net you teach</h2>")
        title.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        text = QtWidgets.QLabel(
            "Open a microscopy image (TIFF, PNG, JPEG; stacks welcome) or drop it here. The starter "
            "model predicts the cells; correct them with the brush, press Fine-tune, and export "
            "for Fiji, QuPath or napari.")
        text.setWordWrap(True)
        text.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        text.setMinimumWidth(420)
        text.setMaximumWidth(560)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        self.open_button = QtWidgets.QPushButton("Open image... (Ctrl+O)")
        self.open_button.clicked.connect(self.openRequested)
        self.sample_button = QtWidgets.QPushButton("Try the sample")
        self.sample_button.setToolTip("A small fluorescence time-lapse of nuclei that ships with unetgui")
        self.sample_button.clicked.connect(self.sampleRequested)
        for button in (self.open_button, self.sample_button):
            button.setMinimumHeight(34)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addWidget(title)
        row = QtWidgets.QHBoxLayout()
        row.addStretch(1)
        row.addWidget(text)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addSpacing(12)
        layout.addLayout(buttons)
        layout.addStretch(3)
