"""Model panel: the active network (open, save, share, starter, new), and the device it runs on.

Only widgets and signals; the model controller fills it in through :meth:`show_model`
and :meth:`show_device`.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from unetgui.gui.panels.widgets import set_quietly, wrapped_label

DEVICES = (("Automatic", "auto"), ("CPU", "cpu"), ("CUDA GPU", "cuda"), ("Apple GPU (MPS)", "mps"))
WIDTHS = {16: "laptop", 32: "balanced", 64: "paper, needs a GPU"}


class ModelPanel(QtWidgets.QWidget):
    newRequested = QtCore.Signal(int)  # base channels
    openRequested = QtCore.Signal()
    saveRequested = QtCore.Signal()
    starterRequested = QtCore.Signal()
    shareRequested = QtCore.Signal()
    deviceChosen = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        form = QtWidgets.QFormLayout(self)
        self.model_name = wrapped_label("-")
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
        self.share_button = QtWidgets.QPushButton("Share as a bioimage.io package...")
        self.share_button.setToolTip("A .zip that deepImageJ, ilastik, QuPath and bioimage.io open, with the "
                                     "model's training history, authors and licence")
        self.share_button.clicked.connect(self.shareRequested)
        form.addRow(self.share_button)
        new_row = QtWidgets.QHBoxLayout()
        self.width = QtWidgets.QComboBox()
        # the list's long entries must not widen the dock beyond its width (text was cut off)
        self.width.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.width.setMinimumContentsLength(12)
        for width, note in WIDTHS.items():
            self.width.addItem(f"{width} channels ({note})", width)
        self.new_button = QtWidgets.QPushButton("New network")
        self.new_button.setToolTip("Start from an untrained U-Net of this width")
        self.new_button.clicked.connect(lambda: self.newRequested.emit(self.width.currentData()))
        new_row.addWidget(self.width, 1)
        new_row.addWidget(self.new_button)
        form.addRow(new_row)
        self.device = QtWidgets.QComboBox()
        self.device.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device.setMinimumContentsLength(12)
        for title, name in DEVICES:
            self.device.addItem(title, name)
        self.device.currentIndexChanged.connect(lambda i: self.deviceChosen.emit(self.device.itemData(i)))
        self.device_label = wrapped_label()
        form.addRow("Device", self.device)
        form.addRow(self.device_label)

    def show_model(self, description: str) -> None:
        """The active model in rich text: name, size, how much it was trained."""
        self.model_name.setText(description)

    def show_device(self, choice: str, description: str) -> None:
        """The device chosen ("auto", "cpu", ...) and what it is."""
        set_quietly(self.device, self.device.setCurrentIndex, max(self.device.findData(choice), 0))
        self.device_label.setText(f"Using {description}")

    def set_busy(self, busy: bool) -> None:
        """While training runs, the model cannot be replaced, saved or moved."""
        for widget in (self.open_button, self.save_button, self.starter_button, self.new_button, self.device,
                       self.share_button):
            widget.setEnabled(not busy)
