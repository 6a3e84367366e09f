"""Background workers for the model: live prediction, whole-stack prediction, training.

:class:`LivePredictor` keeps one request at a time: a newer request makes the running one
stale, and it is abandoned between tiles (never shown). It reports each finished tile so
the prediction layer fills in where the user is looking first. :class:`TrainingWorker`
runs the core training generator and, between steps (or while paused), hands out CPU
snapshots of the weights for live predictions: the only moments the weights are not
being changed.
:class:`CpuShare` lets the two share the cores.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import traceback
from dataclasses import dataclass

import numpy as np
import torch
from PySide6 import QtCore

from unetgui.core import runtime
from unetgui.core.cellsize import estimate_diameter
from unetgui.core.model import UNetModel, model_cell_size
from unetgui.core.postprocess import foreground_probability
from unetgui.core.predict import iter_predict_sized
from unetgui.gui.workers import GeneratorWorker, describe_error


def model_input(plane: np.ndarray, model: UNetModel, channel: int | None) -> np.ndarray:
    """The (C, Y, X) plane as the model takes it: a one-channel model on a multi-channel
    image gets the channel on screen (or the channels' mean on a composite)."""
    wanted = model.config.in_channels
    if plane.shape[0] == wanted:
        return plane
    if wanted == 1:
        if channel is not None and 0 <= channel < plane.shape[0]:
            return plane[channel : channel + 1]
        return plane.astype(np.float32).mean(axis=0, keepdims=True)
    model.check_channels(plane.shape[0])  # raises with a clear message
    return plane


def to_uint8(probability: np.ndarray) -> np.ndarray:
    """Probability 0..1 -> uint8 0..255: a quarter of the memory, cheap to display."""
    return np.clip(np.rint(probability * 255.0), 0, 255).astype(np.uint8)


def from_uint8(probability: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_uint8`: uint8 0..255 -> float32 probability 0..1."""
    return probability.astype(np.float32) / 255.0


class CpuShare:
    """Splits the cores between training and live predictions, so that together they
    never ask for more threads than there are cores.

    Two torch (OpenMP) thread teams that together want more threads than there are cores
    stall at each other's barriers. So training takes every core while it computes alone
    and one fewer while a prediction runs or is about to (a snapshot was just handed
    out); a prediction takes what training leaves (every core when nothing trains).
    torch's thread count belongs to the thread that sets it, so each worker sets its own:
    training between steps (it follows a prediction within one step), the predictor
    before each pass.
    """

    PENDING_S = 1.0  # a snapshot just handed out: its prediction starts within this time

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._predicting = 0
        self._training = 0
        self._pending_until = 0.0

    @contextlib.contextmanager
    def computing(self):
        """Wrap a prediction pass that may run beside training."""
        with self._lock:
            self._predicting += 1
            self._pending_until = 0.0
        try:
            yield
        finally:
            with self._lock:
                self._predicting -= 1

    @contextlib.contextmanager
    def training(self):
        """Wrap a training run."""
        with self._lock:
            self._training += 1
        try:
            yield
        finally:
            with self._lock:
                self._training -= 1

    def prediction_expected(self) -> None:
        """A snapshot was handed out: its prediction pass is about to start."""
        with self._lock:
            self._pending_until = time.monotonic() + self.PENDING_S

    def training_threads(self) -> int:
        with self._lock:
            alone = self._predicting == 0 and time.monotonic() >= self._pending_until
        return runtime.training_threads(alone=alone)

    def prediction_threads(self) -> int:
        """The core training leaves while it runs (it takes all but one); else every core."""
        with self._lock:
            training = self._training > 0
        return 1 if training else runtime.usable_cores()


def _use_threads(threads: int) -> None:
    """Set the calling thread's torch thread count (torch's count is per thread)."""
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class PredictionRequest:
    plane: int
    image: np.ndarray  # (C, Y, X), already what the model takes
    model: UNetModel  # a snapshot the predictor may move to ``device``
    focus: tuple[float, float] | None = None
    device: torch.device | None = None  # None: where the model is
    tta: bool = False  # average the 8 rotations and flips of each tile
    diameter: float | None = None  # the cells' diameter in px; None: estimated from the image


class LivePredictor(QtCore.QThread):
    """Predicts the newest requested plane; stale requests are dropped between tiles."""

    tile = QtCore.Signal(int, object, object)  # plane, box, uint8 patch of the foreground
    done = QtCore.Signal(int, object)  # plane, (Y, X) uint8 foreground probability
    sized = QtCore.Signal(int, object, float)  # plane, cell diameter (px or None), scale used
    failed = QtCore.Signal(str)

    def __init__(self, share: CpuShare, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._share = share
        self._mutex = QtCore.QMutex()
        self._wake = QtCore.QWaitCondition()
        self._pending: PredictionRequest | None = None
        self._quit = False

    def request(self, request: PredictionRequest) -> None:
        with QtCore.QMutexLocker(self._mutex):
            self._pending = request
            self._wake.wakeAll()
        if not self.isRunning():
            self.start()

    def cancel(self) -> None:
        with QtCore.QMutexLocker(self._mutex):
            self._pending = None

    def shutdown(self) -> None:
        with QtCore.QMutexLocker(self._mutex):
            self._quit = True
            self._pending = None
            self._wake.wakeAll()
        self.wait()

    def _take(self) -> PredictionRequest | None:
        with QtCore.QMutexLocker(self._mutex):
            while self._pending is None and not self._quit:
                self._wake.wait(self._mutex)
            request, self._pending = self._pending, None
            return None if self._quit else request

    def _superseded(self) -> bool:
        with QtCore.QMutexLocker(self._mutex):
            return self._pending is not None or self._quit

    def run(self) -> None:
        while (request := self._take()) is not None:
            try:
                with self._share.computing():
                    self._predict(request)
            except Exception as error:  # shown to the user; the thread keeps serving
                traceback.print_exc()
                self.failed.emit(describe_error(error))

    def _predict(self, request: PredictionRequest) -> None:
        _use_threads(self._share.prediction_threads())
        if request.device is not None:  # here, not on the GUI thread (a copy to the GPU)
            request.model.net.to(request.device)
        for progress in iter_predict_sized(request.model, request.image, diameter=request.diameter,
                                           focus=request.focus, tta=request.tta):
            if self._superseded():
                return  # a newer request came: this result would be stale
            for r0, r1, c0, c1 in progress.boxes:
                patch = foreground_probability(progress.partial[:, r0:r1, c0:c1])
                self.tile.emit(request.plane, (r0, r1, c0, c1), to_uint8(patch))
            if progress.probabilities is not None:
                self.sized.emit(request.plane, progress.diameter, progress.scale)
                self.done.emit(request.plane, to_uint8(foreground_probability(progress.probabilities)))


def predict_planes(model: UNetModel, stack, planes: list[int], channel: int | None, tta: bool = False,
                   diameter: float | None = None):
    """Generator for whole-stack prediction: yields (plane, uint8 foreground, done, total).
    Without ``diameter``, the cell diameter is estimated once, from the first plane."""
    estimated = False
    for done, plane in enumerate(planes, start=1):
        image = model_input(stack.read_plane(plane), model, channel)
        if diameter is None and model_cell_size(model) is not None:
            diameter, estimated = estimate_diameter(image), True
        probability = None
        for progress in iter_predict_sized(model, image, diameter=diameter, estimated=estimated, tta=tta):
            probability = progress.probabilities
        yield plane, to_uint8(foreground_probability(probability)), done, len(planes)


class TrainingWorker(GeneratorWorker):
    """Runs ``train(...)``; emits progress per step, and a weight snapshot after step 1,
    then every ``snapshot_every`` seconds (0: only when asked, :meth:`request_snapshot`).

    Between steps it sets its torch thread count from ``share`` (every core, or one fewer
    while a live prediction runs). Setting it also sets the default that threads started
    later begin with, so the count from before is put back at the end.
    """

    snapshot = QtCore.Signal(object)  # UNetModel on the CPU

    def __init__(self, run, model: UNetModel, snapshot_every: float, share: CpuShare,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(lambda: run, parent)
        self._model = model
        self._share = share
        self.snapshot_every = snapshot_every
        self._last_snapshot = -math.inf  # the first after step 1: live predictions start at once
        self._snapshot_wanted = False

    def run(self) -> None:
        previous = torch.get_num_threads()
        with self._share.training():
            self._set_threads()
            try:
                super().run()
            finally:
                torch.set_num_threads(previous)

    def _set_threads(self) -> None:
        _use_threads(self._share.training_threads())

    def request_snapshot(self) -> None:
        """Hand out a snapshot after the step running now, or at once when paused (any thread)."""
        self._snapshot_wanted = True
        self.wake()

    def after_item(self, value) -> None:
        if getattr(value, "step", 1) == 0:  # the score before training: no new weights yet
            return
        due = self.snapshot_every > 0 and time.perf_counter() - self._last_snapshot >= self.snapshot_every
        if due or self._snapshot_wanted:
            self._hand_out_snapshot()
        self._set_threads()

    def while_paused(self) -> None:
        if self._snapshot_wanted:  # paused between steps: the weights are not changing
            self._hand_out_snapshot()

    def _hand_out_snapshot(self) -> None:
        self._snapshot_wanted = False
        self._last_snapshot = time.perf_counter()
        self._share.prediction_expected()  # so the next step already leaves it a core
        self.snapshot.emit(self._model.snapshot())

