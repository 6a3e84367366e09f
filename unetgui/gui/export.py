"""File > Export: label masks of one plane or the whole stack, as TIFF for Fiji and napari."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtGui, QtWidgets

from unetgui.core.errors import UnetguiError
from unetgui.core.io import plane_axis_for, write_image, write_labels, write_probabilities
from unetgui.gui.prediction import from_uint8

TIFF_FILTER = "TIFF (*.tif *.tiff)"


def stack_labels(document, planes: list[int]) -> np.ndarray:
    """(len(planes), Y, X) labels of the document's ``planes`` (zeros where never drawn)."""
    return np.stack([np.asarray(document.labels_of(p)) for p in planes])


class ExportController:
    """Owns the export actions; asks the window for the document and paths only."""

    def __init__(self, window) -> None:
        self.window = window

    def add_actions(self, menu: QtWidgets.QMenu) -> list[QtGui.QAction]:
        export = menu.addMenu("&Export")
        actions = []
        for text, slot in (
            ("Labels of this plane...", lambda: self.export_dialog("labels", whole_stack=False)),
            ("Labels of all planes...", lambda: self.export_dialog("labels", whole_stack=True)),
            ("Binary masks of this plane...", lambda: self.export_dialog("mask", whole_stack=False)),
            ("Binary masks of all planes...", lambda: self.export_dialog("mask", whole_stack=True)),
            ("Cell probabilities of predicted planes...", lambda: self.export_dialog("probabilities", whole_stack=True)),
        ):
            action = export.addAction(text)
            action.triggered.connect(lambda _=False, s=slot: s())
            actions.append(action)
        return actions

    def export_dialog(self, kind: str, *, whole_stack: bool) -> None:
        window = self.window
        if window.image_path is None:
            return
        stem = window.image_path.name.split(".")[0]
        suffix = {"labels": "_labels", "mask": "_mask", "probabilities": "_probabilities"}[kind]
        default = window.image_path.with_name(f"{stem}{suffix}{'' if whole_stack else f'_{window.plane}'}.tif")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(window, "Export", str(default), TIFF_FILTER)
        if path:
            self.export(path, kind, whole_stack=whole_stack)

    def export(self, path: str | Path, kind: str, *, whole_stack: bool) -> Path | None:
        """Write labels ("labels"), 0/255 masks ("mask") or the predicted cell probability
        ("probabilities", float32, 0 on planes not predicted); returns the path or None."""
        window = self.window
        planes = list(range(window.document.n_planes)) if whole_stack else [window.plane]
        if kind == "probabilities":
            return self._export_probabilities(path, planes)
        labels = stack_labels(window.document, planes)
        plane_axis = plane_axis_for(window.stack.plane_axes)
        try:
            if kind == "labels":
                written = write_labels(path, labels if whole_stack else labels[0], plane_axis=plane_axis)
            else:
                masks = np.where(labels > 0, 255, 0).astype(np.uint8)
                axes = f"{plane_axis}YX" if whole_stack else "YX"
                written = write_image(path, masks if whole_stack else masks[0], axes=axes)
        except UnetguiError as error:
            window.show_error("Export failed", str(error))
            return None
        window.statusBar().showMessage(f"Exported {kind} of {len(planes)} plane(s) to {written}", 8000)
        return Path(written)

    def _export_probabilities(self, path, planes: list[int]) -> Path | None:
        window = self.window
        predictions = window.model_controller.predictions
        if not any(p in predictions for p in planes):
            window.show_error("Nothing to export", "Predict the plane or the stack first.")
            return None
        shape = (window.stack.height, window.stack.width)
        stack = np.stack([from_uint8(predictions[p]) if p in predictions else np.zeros(shape, np.float32)
                          for p in planes])
        plane_axis = plane_axis_for(window.stack.plane_axes)
        try:
            written = write_probabilities(path, stack if len(planes) > 1 else stack[0], plane_axis=plane_axis)
        except UnetguiError as error:
            window.show_error("Export failed", str(error))
            return None
        window.statusBar().showMessage(
            f"Exported the cell probability of {sum(p in predictions for p in planes)} predicted plane(s) to {written}", 8000
        )
        return Path(written)
