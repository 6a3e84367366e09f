"""Images panel: the images of the open project, each with a thumbnail and its state, and
the jobs over all of them (predict the project, export the project) with their progress."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from unetgui.gui.panels.widgets import wrapped_label

THUMBNAIL_PX = 64  # shown size of the thumbnails
EXPORT_KINDS = (  # kind, check box text, ticked at first
    ("labels", "Labels (NAME_labels.tif)", True),
    ("mask", "Masks (NAME_mask.tif)", False),
    ("probabilities", "Probabilities of predicted images (NAME_probabilities.tif)", False),
    ("rois", "ImageJ ROIs (NAME_rois.zip)", False),
    ("geojson", "QuPath GeoJSON (NAME_cells.geojson)", False),
    ("measurements", "Measurements (NAME_measurements.csv)", False),
    ("ome-zarr", "Image with labels as OME-Zarr (NAME.ome.zarr)", False),
)


class ImagesPanel(QtWidgets.QWidget):
    imageChosen = QtCore.Signal(int)
    predictRequested = QtCore.Signal(bool)  # True: only the images not annotated
    exportRequested = QtCore.Signal(list)  # kinds
    outputRequested = QtCore.Signal()  # choose the output folder
    cancelRequested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        self.title = wrapped_label("")
        layout.addWidget(self.title)
        self.list = QtWidgets.QListWidget()
        self.list.setIconSize(QtCore.QSize(THUMBNAIL_PX, THUMBNAIL_PX))
        self.list.setUniformItemSizes(True)  # a long list lays out in constant time
        self.list.setSpacing(1)
        self.list.currentRowChanged.connect(self._row_changed)
        layout.addWidget(self.list, 1)

        predict = QtWidgets.QHBoxLayout()
        self.predict_button = QtWidgets.QPushButton("Predict all images")
        self.predict_button.setToolTip("Predict every plane of every image with the active model; the results "
                                       "are kept with each image until you export them")
        self.predict_button.clicked.connect(lambda: self.predictRequested.emit(False))
        self.predict_new_button = QtWidgets.QPushButton("Predict images not annotated")
        self.predict_new_button.setToolTip("Predict only the images without annotated planes")
        self.predict_new_button.clicked.connect(lambda: self.predictRequested.emit(True))
        predict.addWidget(self.predict_button)
        predict.addWidget(self.predict_new_button)
        layout.addLayout(predict)

        self.kinds = {}
        box = QtWidgets.QGroupBox("Export every image")
        box_layout = QtWidgets.QVBoxLayout(box)
        for kind, text, checked in EXPORT_KINDS:
            check = QtWidgets.QCheckBox(text)
            check.setChecked(checked)
            self.kinds[kind] = check
            box_layout.addWidget(check)
        self.output_label = wrapped_label("")
        box_layout.addWidget(self.output_label)
        row = QtWidgets.QHBoxLayout()
        self.output_button = QtWidgets.QPushButton("Output folder...")
        self.output_button.clicked.connect(self.outputRequested)
        self.export_button = QtWidgets.QPushButton("Export all images")
        self.export_button.setToolTip("Your annotation where a plane has one, else the project's prediction")
        self.export_button.clicked.connect(self._export)
        row.addWidget(self.output_button)
        row.addWidget(self.export_button)
        box_layout.addLayout(row)
        layout.addWidget(box)

        job = QtWidgets.QHBoxLayout()
        self.progress = QtWidgets.QProgressBar()
        self.progress.setTextVisible(False)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancelRequested)
        job.addWidget(self.progress, 1)
        job.addWidget(self.cancel_button)
        layout.addLayout(job)
        self.status = wrapped_label("")
        layout.addWidget(self.status)
        self._updating = False
        self.show_job(None)

    # ------------------------------------------------------------------ the list

    def set_images(self, title: str, names: list[str]) -> None:
        """Fill the list at once (names only); thumbnails and states follow."""
        self._updating = True
        self.title.setText(title)
        self.list.clear()
        placeholder = _placeholder()
        for name in names:
            item = QtWidgets.QListWidgetItem(placeholder, f"{name}\n...")
            item.setToolTip(name)
            self.list.addItem(item)
        self._updating = False

    def show_state(self, row: int, name: str, text: str) -> None:
        item = self.list.item(row)
        if item is not None:
            item.setText(f"{name}\n{text}")

    def show_thumbnail(self, row: int, picture: np.ndarray | None) -> None:
        item = self.list.item(row)
        if item is not None and picture is not None:
            item.setIcon(QtGui.QIcon(QtGui.QPixmap.fromImage(_qimage(picture))))

    def set_current(self, row: int) -> None:
        self._updating = True
        self.list.setCurrentRow(row)
        self._updating = False

    def _row_changed(self, row: int) -> None:
        if not self._updating and row >= 0:
            self.imageChosen.emit(row)

    # ------------------------------------------------------------------ jobs

    def set_output(self, folder: str) -> None:
        self.output_label.setText(f"Into: {folder}")

    def _export(self) -> None:
        kinds = [kind for kind, check in self.kinds.items() if check.isChecked()]
        if kinds:
            self.exportRequested.emit(kinds)
        else:
            self.status.setText("Tick at least one kind of file to export.")

    def show_job(self, text: str | None, done: int = 0, total: int = 0) -> None:
        """A job's progress (None: no job runs; the buttons that start one are enabled)."""
        running = text is not None
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        for button in (self.predict_button, self.predict_new_button, self.export_button, self.output_button):
            button.setEnabled(not running)
        if running:
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)
            self.status.setText(text)

    def show_status(self, text: str) -> None:
        self.status.setText(text)


def _qimage(picture: np.ndarray) -> QtGui.QImage:
    """A grey (h, w) or RGB (h, w, 3) uint8 array as a QImage that owns its pixels."""
    picture = np.ascontiguousarray(picture)
    rows, cols = picture.shape[:2]
    if picture.ndim == 2:
        image = QtGui.QImage(picture.data, cols, rows, cols, QtGui.QImage.Format.Format_Grayscale8)
    else:
        picture = np.ascontiguousarray(picture[..., :3])
        image = QtGui.QImage(picture.data, cols, rows, 3 * cols, QtGui.QImage.Format.Format_RGB888)
    return image.copy()


def _placeholder() -> QtGui.QIcon:
    pixmap = QtGui.QPixmap(THUMBNAIL_PX, THUMBNAIL_PX)
    pixmap.fill(QtGui.QColor(40, 40, 40))
    return QtGui.QIcon(pixmap)
