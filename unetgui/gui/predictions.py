"""Predictions: the live prediction of the plane on screen, Predict all, and accepting
predicted cells into the labels (a plane, the planes not annotated, a box, one cell).

Predictions are kept per plane as uint8 foreground probabilities
(``core.postprocess.encode_probability``) for the active model; a new model clears them.
While training runs, the plane on screen is predicted with snapshots of the weights the
training worker hands out (:meth:`PredictionController.show_snapshot`); when one is
needed at once, :attr:`snapshotWanted` asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore

from unetgui.core.accept import paste_cell, paste_cells
from unetgui.core.cellsize import typical_diameter
from unetgui.core.errors import UnetguiError
from unetgui.core.labels import Box
from unetgui.core.postprocess import (
    decode_probability,
    encode_probability,
    probabilities_to_labels,
)
from unetgui.core.runtime import CpuShare
from unetgui.core.stored_prediction import load_prediction
from unetgui.gui.image_session import ImageSession
from unetgui.gui.model_controller import ModelController
from unetgui.gui.panels.prediction import PredictionPanel
from unetgui.gui.workers import GeneratorWorker, LivePredictor, PredictionRequest

if TYPE_CHECKING:  # the model modules need torch, loaded once the window is open (model_controller)
    from unetgui.core.model import UNetModel


class PredictionController(QtCore.QObject):
    tile = QtCore.Signal(int, object, object)  # plane, box, uint8 patch
    ready = QtCore.Signal(int, object)  # plane, (Y, X) uint8 foreground, or None to clear
    snapshotWanted = QtCore.Signal()  # training: hand out a copy of the weights now
    message = QtCore.Signal(str)
    error = QtCore.Signal(str, str)  # title, text

    def __init__(self, panel: PredictionPanel, models: ModelController, session: ImageSession,
                 channel: Callable[[], int | None], focus: Callable[[], tuple[float, float] | None],
                 cpu_share: CpuShare, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self._models = models
        self._session = session
        self._channel = channel  # the channel a one-channel model reads
        self._focus = focus  # (row, col) the user looks at: predicted first
        self.plane = 0
        self.predictions: dict[int, np.ndarray] = {}  # plane -> uint8 foreground, active model
        self._training = False
        self._snapshots_on_request = False  # the training run hands out snapshots only when asked
        self._live_model: UNetModel | None = None  # the latest snapshot while training
        self._stack_worker: GeneratorWorker | None = None
        self._measured: float | None = None  # the cell diameter a prediction of this image measured
        self.live = LivePredictor(cpu_share, self)
        self.live.tile.connect(self._tile)
        self.live.done.connect(self._done)
        self.live.sized.connect(self._show_size)
        self.live.failed.connect(lambda text: self.error.emit("Prediction failed", text))
        panel.predictPlaneRequested.connect(self.predict_plane)
        panel.predictStackRequested.connect(self.predict_stack)
        panel.cancelRequested.connect(self.cancel)
        panel.acceptRequested.connect(self.accept)
        models.modelChanged.connect(self._model_changed)
        session.opened.connect(self._image_changed)
        session.closed.connect(self._image_changed)

    def live_interval(self) -> float:
        """Seconds between live predictions while training (0: only when asked)."""
        settings = self.panel.settings()
        return float(settings["refresh_seconds"]) if settings["live"] else 0.0

    # ------------------------------------------------------------------ following the window

    def set_plane(self, plane: int) -> None:
        self.plane = plane
        self.ready.emit(plane, self.predictions.get(plane))
        if self._training:  # follow the user: predict the new plane with the latest weights
            self._predict_while_training()

    def set_training(self, running: bool, on_request_only: bool = False) -> None:
        self._training, self._snapshots_on_request = running, on_request_only
        if running:
            self._live_model = None  # the worker hands out the first snapshot after step 1

    def show_snapshot(self, model: UNetModel) -> None:
        """A copy of the training weights: predict the plane on screen with it."""
        self._live_model = model
        self._request_live(model)

    def _model_changed(self, _model) -> None:
        self.predictions.clear()
        self._measured = None
        self.ready.emit(self.plane, None)
        if self._session.stack is not None and not self._training and self._models.dirty:
            self.predict_plane()  # a run just ended: show what the new weights do

    def _image_changed(self) -> None:
        self.cancel()
        self.predictions.clear()
        self._measured = None
        self.plane = 0
        self.load_stored()
        self.ready.emit(self.plane, self.predictions.get(self.plane))

    def load_stored(self) -> bool:
        """Show the prediction a project job kept for the open image (core/stored_prediction.py),
        if there is one for its size; True when there was."""
        stack, path = self._session.stack, self._session.path
        if stack is None:
            return False
        stored = load_prediction(path, (stack.n_planes, stack.height, stack.width))
        if stored is None:
            return False
        self.predictions = {p: stored.probability[p] for p in range(stack.n_planes)}
        self.panel.show_status(f"Showing the project's prediction ({stored.model}); accept it where it is good.")
        self.ready.emit(self.plane, self.predictions.get(self.plane))
        return True

    # ------------------------------------------------------------------ predicting

    def predict_plane(self) -> None:
        if self._session.stack is None:
            return
        if self._training:
            self._predict_while_training(fresh=True)
        else:  # a snapshot: the predictor must never share a module with a training run
            self._request_live(self._models.model.snapshot())
        self.panel.show_status(f"Predicting plane {self.plane}...")

    def _predict_while_training(self, fresh: bool = False) -> None:
        """With the latest snapshot, or a new one (after the step running now, or at once
        when paused): before the first one, and for ``fresh`` when live predictions are
        off. Copying weights here could catch them mid-update."""
        if self._live_model is None or (fresh and self._snapshots_on_request):
            self.snapshotWanted.emit()  # the snapshot brings the prediction (show_snapshot)
        else:
            self._request_live(self._live_model)

    def _request_live(self, model: UNetModel) -> None:
        from unetgui.core.predict import model_input

        stack = self._session.stack
        if stack is None:
            return
        try:
            image = model_input(stack.read_plane(self.plane), model, self._channel())
        except UnetguiError as error:
            self.error.emit("Cannot predict", str(error))
            return
        settings = self.panel.settings()
        # on the training device: on a GPU a snapshot predicts there, beside training; live
        # predictions during training stay fast (no test-time augmentation)
        tta = settings["tta"] and not self._training
        self.live.request(PredictionRequest(self.plane, image, model, self._focus(), self._models.device, tta,
                                            self.cell_diameter()))

    def cell_diameter(self) -> float | None:
        """The user's setting, else the median diameter of the cells in the labels, else
        what a prediction of this image measured (one experiment, one cell size: the
        other planes are not measured again), else None (the predictor measures it)."""
        return self._given_or_labelled() or self._measured

    def _given_or_labelled(self) -> float | None:
        given = self.panel.settings()["diameter"]
        document = self._session.document
        if given or document is None:
            return given or None
        annotated = document.annotated_planes()
        # a few planes, this one first: a bincount per plane on the GUI thread, kept short
        planes = ([self.plane] if self.plane in annotated else []) + [p for p in annotated if p != self.plane]
        return typical_diameter(document.labels_of(p) for p in planes[:3])

    def _show_size(self, _plane: int, diameter, scale: float) -> None:
        from unetgui.core.model import model_cell_size

        size = model_cell_size(self._models.model)
        if diameter is None or size is None:
            self.panel.show_size("")
            return
        if self._given_or_labelled() is None:
            self._measured = diameter
        action = "image at its own size" if scale == 1.0 else f"image resized by {scale:.2f}"
        self.panel.show_size(f"Cells ~{diameter:.0f} px (model: {size.low:.0f}-{size.high:.0f} px): {action}.")

    def _tile(self, plane: int, box, patch) -> None:
        if plane == self.plane:
            self.tile.emit(plane, box, patch)

    def _done(self, plane: int, probability: np.ndarray) -> None:
        # kept during training too: Accept takes what the user sees (training's end
        # clears them and predicts again with the final weights)
        self.predictions[plane] = probability
        self.ready.emit(plane, probability)
        self.panel.show_status(f"Predicted plane {plane}.")

    def predict_stack(self) -> None:
        stack = self._session.stack
        if stack is None or self._training or (self._stack_worker and self._stack_worker.isRunning()):
            return
        from unetgui.core.predict import iter_predict_planes

        planes = list(range(stack.n_planes))
        model = self._models.model.snapshot()
        model.net.to(self._models.device)
        options = {"channel": self._channel(), "diameter": self.cell_diameter(), "tta": self.panel.settings()["tta"]}
        self._stack_worker = GeneratorWorker(lambda: _encoded(iter_predict_planes(model, stack.read_plane, planes,
                                                                                  **options)), self)
        self._stack_worker.item.connect(self._stack_item)
        self._stack_worker.failed.connect(lambda text: self.error.emit("Prediction failed", text))
        self._stack_worker.finished.connect(self._stack_finished)
        self.panel.set_predicting_stack(True)
        self.panel.show_status(f"Predicting {len(planes)} planes...")
        self._stack_worker.start()

    def _stack_item(self, item) -> None:
        plane, probability, done, total = item
        self.predictions[plane] = probability
        if plane == self.plane:
            self.ready.emit(plane, probability)
        self.panel.show_status(f"Predicted {done} of {total} planes.")

    def _stack_finished(self) -> None:
        self.panel.set_predicting_stack(False)
        if self._stack_worker is not None and self._stack_worker.stopping:
            self.panel.show_status(f"Cancelled; {len(self.predictions)} plane(s) predicted.")

    def cancel(self) -> None:
        self.live.cancel()
        if self._stack_worker is not None and self._stack_worker.isRunning():
            self._stack_worker.stop()

    # ------------------------------------------------------------------ accepting

    def accept(self, which: str) -> int:
        """Copy predicted cells into the labels: of this plane ("plane") or of every
        predicted plane not annotated ("unannotated"); one undoable edit per plane.
        Returns the planes changed."""
        document = self._session.document
        if document is None:
            return 0
        if which == "plane":
            planes = [self.plane]
        else:
            planes = [p for p in sorted(self.predictions) if document.role(p) == "none"]
        if any(p not in self.predictions for p in planes):
            self.error.emit("No prediction yet", "Predict this plane first (Predict plane), then accept it.")
            return 0
        for plane in planes:
            document.set_plane_labels(plane, self._predicted_cells(plane))
        self.message.emit(f"Accepted the prediction of {len(planes)} plane(s); Ctrl+Z undoes it per plane.")
        return len(planes)

    def accept_box(self, box: Box) -> int:
        """Copy the predicted cells lying mostly inside ``box`` (r0, r1, c0, c1) of the
        plane on screen into its labels, with new ids, as one undoable edit. Returns cells copied."""
        return self._paste("drag a box to accept", lambda labels, cells, new_id: paste_cells(
            labels, cells, box, first_id=new_id), "in the box", "No predicted cell lies mostly inside that box.")

    def accept_cell(self, row: int, col: int) -> int:
        """Copy the predicted cell at (row, col) into the labels with a new id, as one
        undoable edit. Returns 1, or 0 when no predicted cell is there."""
        return self._paste("click a cell to accept it", lambda labels, cells, new_id: paste_cell(
            labels, cells, row, col, new_id=new_id), "", "No predicted cell there.")

    def _paste(self, how: str, paste, where: str, nothing: str) -> int:
        document = self._session.document
        if document is None:
            return 0
        if self.plane not in self.predictions:
            self.error.emit("No prediction yet", f"Predict this plane first (Predict plane), then {how}.")
            return 0
        try:
            labels, count = paste(document.labels_of(self.plane), self._predicted_cells(self.plane),
                                  document.next_free_id())
            if count:
                document.set_plane_labels(self.plane, labels)
        except (UnetguiError, MemoryError) as error:  # e.g. every cell id taken
            self.error.emit("Cannot accept the prediction", str(error) or "Not enough memory.")
            return 0
        where = f" {where}" if where else ""
        self.message.emit(f"Accepted {count} predicted cell(s){where}; Ctrl+Z undoes it." if count else nothing)
        return count

    def _predicted_cells(self, plane: int) -> np.ndarray:
        """The plane's stored prediction as cell labels (what Accept copies)."""
        return probabilities_to_labels(decode_probability(self.predictions[plane]))

    def shutdown(self) -> None:
        """Stop every prediction worker (closing the window)."""
        if self._stack_worker is not None:
            self._stack_worker.stop()
            self._stack_worker.wait()
        if self.live.isRunning():
            self.live.shutdown()


def _encoded(results):
    """Whole-stack results as the window keeps them: (plane, uint8 foreground, done, total)."""
    for result in results:
        yield result.plane, encode_probability(result.foreground), result.done, result.total
