"""The weight map layer: its parameters (w0, sigma, class balance) and computing the map
of the plane on screen in a worker, a moment after the labels stop changing."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from unetgui.core.labels import LabelDocument
from unetgui.core.weightmap import border_margin, weight_map
from unetgui.gui.display import heat_bytes, heat_levels
from unetgui.gui.panels.weightmap import WeightMapPanel
from unetgui.gui.workers import LatestOnly

DEFAULT_PARAMETERS = {"w0": 10.0, "sigma": 5.0, "class_balance": True}  # the paper's
DELAY_MS = 250  # after the last edit: painting is not slowed by recomputing per dab


class WeightMapController(QtCore.QObject):
    parametersChanged = QtCore.Signal(dict)
    ready = QtCore.Signal(int, object, object)  # plane, (Y, X) uint8 steps of the levels, (low, high)

    def __init__(self, panel: WeightMapPanel, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self._parameters = dict(DEFAULT_PARAMETERS)
        self.jobs = LatestOnly(self)
        self.jobs.finished.connect(self._finished)
        self.jobs.failed.connect(lambda _purpose, text: self.panel.show_status(text))
        self._timer = QtCore.QTimer(self, singleShot=True, interval=DELAY_MS)
        self._timer.timeout.connect(self._compute)
        self._target: tuple[LabelDocument, int] | None = None
        panel.parametersEdited.connect(self.set_parameters)
        panel.show_parameters(self._parameters)

    def parameters(self) -> dict:
        """w0, sigma and class_balance, as ``core.weightmap.weight_map`` takes them."""
        return dict(self._parameters)

    def set_parameters(self, values: dict) -> None:
        """New parameters (missing keys keep their value); recomputes the map shown."""
        merged = {**self._parameters, **{k: values[k] for k in DEFAULT_PARAMETERS if k in values}}
        merged = {"w0": float(merged["w0"]), "sigma": float(merged["sigma"]),
                  "class_balance": bool(merged["class_balance"])}
        self.panel.show_parameters(merged)
        if merged != self._parameters:
            self._parameters = merged
            self.parametersChanged.emit(self.parameters())
            if self._target is not None:
                self._timer.start()

    def show(self, document: LabelDocument | None, plane: int) -> None:
        """Compute the map of ``plane`` soon (None: show nothing)."""
        self._target = None if document is None else (document, plane)
        if document is None:
            self._timer.stop()
            self.jobs.cancel("weights")
        else:
            self._timer.start()

    @property
    def busy(self) -> bool:
        """A computation is pending or running (for tests and benchmarks)."""
        return self._timer.isActive() or self.jobs.busy("weights")

    def _compute(self) -> None:
        if self._target is None:
            return
        document, plane = self._target
        # copies: the worker must not read arrays the brush is changing
        labels = np.array(document.labels_of(plane))
        ignore = np.array(document.ignore_of(plane)) if plane in document.allocated_planes("ignore") else None
        self.jobs.submit("weights", _weights_job, plane, labels, ignore, self.parameters())

    def _finished(self, _purpose: str, result) -> None:
        plane, steps, lowest, levels = result
        if self._target is None or plane != self._target[1]:
            return
        reach = border_margin(self._parameters["sigma"], max(self._parameters["w0"], 1e-6))
        self.panel.show_status(f"Weights from {lowest:.2f} to {levels[1]:.2f}; "
                               f"the gap term reaches about {reach} px.")
        self.ready.emit(plane, steps, levels)


def _weights_job(plane: int, labels: np.ndarray, ignore: np.ndarray | None, params: dict):
    """In the worker: the map, and its display form (uint8 steps), so the GUI thread only shows it."""
    weights = weight_map(labels, ignore, **params)
    levels = heat_levels(weights)
    return plane, heat_bytes(weights, levels), float(weights.min()), levels
