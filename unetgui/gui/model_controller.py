"""The active model: which network, from which file, on which device, saved or not.

Every change of weights (a model opened, a new network, the starter, a finished
fine-tune) is announced by :attr:`ModelController.modelChanged`; training and
predictions listen to it. Only the Model panel is written to here.

The first model (the starter) is loaded in a thread, with torch itself: importing torch
takes longer than everything else the window needs, so the window is shown first and
the model arrives a moment later (:attr:`ModelController.loaded`). Whatever asks for
the model before then waits for that thread (:meth:`ModelController.wait_until_loaded`).
"""

from __future__ import annotations

import dataclasses
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from unetgui.core.errors import ModelFileError, UnetguiError
from unetgui.core.outputs import MODEL_SUFFIX
from unetgui.gui.panels.model import ModelPanel
from unetgui.gui.panels.share import ShareDialog
from unetgui.gui.workers import GeneratorWorker

if TYPE_CHECKING:
    import torch

    from unetgui.core.model import UNetModel

MODEL_FILTER = (f"Models (*{MODEL_SUFFIX} *.zip);;unetgui models (*{MODEL_SUFFIX});;"
                "bioimage.io packages exported by unetgui (*.zip);;All files (*)")


STARTER_ORIGIN = "starter model"


def starter_or_new() -> tuple[UNetModel, str]:
    """The bundled starter model, or a new 16-channel network if it is not installed."""
    from unetgui.core import recipes
    from unetgui.core.model import new_model

    try:
        from unetgui.core.starter import load_starter_model

        return load_starter_model(), STARTER_ORIGIN
    except (ImportError, ModelFileError):
        return new_model(recipes.SCRATCH_NETWORK, seed=0, info={"name": "new network"}), "new network"


def _load_first_model() -> tuple[torch.device, UNetModel, str]:
    """torch, the automatic device and the starter model on it (in the loading thread)."""
    from unetgui.core.device import resolve_device

    device = resolve_device("auto")
    model, origin = starter_or_new()
    model.net.to(device)
    return device, model, origin


class _FirstModel(threading.Thread):
    """Loads the first model; its result (or error) is read after ``join``."""

    def __init__(self, done: Callable[[], None]) -> None:
        super().__init__(name="unetgui-model", daemon=True)
        self._done = done
        self.result: tuple | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = _load_first_model()
        except BaseException as error:  # noqa: BLE001 - handed to the GUI thread, which says it
            traceback.print_exc()
            self.error = error
        self._done()


class ModelController(QtCore.QObject):
    modelChanged = QtCore.Signal(object)  # the UNetModel now active (new weights)
    loaded = QtCore.Signal(object)  # the first model, once it is there (not a change of weights)
    fileChanged = QtCore.Signal(object)  # the active model's file (a Path), or "starter"
    message = QtCore.Signal(str)
    error = QtCore.Signal(str, str)  # title, text
    _arrived = QtCore.Signal()  # from the loading thread to the GUI thread

    def __init__(self, panel: ModelPanel, input_channels: Callable[[], int],
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self._input_channels = input_channels  # what a new network reads: the image's channels, or 1
        self._device: torch.device | None = None
        self._model: UNetModel | None = None
        self.origin = "starter model"  # in plain words, for a training history's "init"
        self.path: Path | None = None
        self.dirty = False
        self._arrived.connect(self._arrival, QtCore.Qt.ConnectionType.QueuedConnection)
        self._loader: _FirstModel | None = _FirstModel(self._arrived.emit)
        panel.show_model("<b>Loading the starter model...</b>")
        panel.newRequested.connect(self.new_network)
        panel.openRequested.connect(self.open_dialog)
        panel.saveRequested.connect(self.save_dialog)
        panel.starterRequested.connect(self.use_starter)
        panel.shareRequested.connect(self.share_dialog)
        self._share_worker: GeneratorWorker | None = None
        panel.deviceChosen.connect(self.choose_device)
        self._loader.start()

    @property
    def ready(self) -> bool:
        """The first model is there (reading :attr:`model` will not wait)."""
        return self._loader is None

    @property
    def model(self) -> UNetModel:
        """The active model; the first time, perhaps after waiting for it to load."""
        self.wait_until_loaded()
        return self._model

    @property
    def device(self) -> torch.device:
        self.wait_until_loaded()
        return self._device

    def _arrival(self) -> None:
        try:
            self.wait_until_loaded()
        except ModelFileError as error:
            self.panel.show_model("<b>No model</b>: it could not be loaded.")
            self.error.emit("Cannot load the model", str(error))

    def wait_until_loaded(self) -> None:
        """Make the first model active, waiting for its thread if it is still loading
        (a second or two after start-up, at most). GUI thread only."""
        loader, self._loader = self._loader, None
        if loader is None:
            return
        loader.join()
        if loader.error is not None:  # a broken installation: nothing can be predicted or trained
            self._loader = loader  # asked again, it says so again
            raise ModelFileError(f"The model could not be loaded ({type(loader.error).__name__}: "
                                 f"{loader.error}). Reinstalling unetgui may help.") from loader.error
        from unetgui.core.device import describe_device

        self._device, self._model, self.origin = loader.result
        self._describe()
        self.panel.show_device("auto", describe_device(self._device))
        self.loaded.emit(self._model)

    @property
    def name(self) -> str:
        """The model's name in plain words."""
        return str(self.model.info.get("name", self.origin))

    def set_model(self, model: UNetModel, origin: str, path: Path | None = None) -> None:
        self.wait_until_loaded()  # a model still loading must not replace this one later
        self._model, self.origin, self.path, self.dirty = model, origin, path, False
        self.model.net.to(self.device)
        self._describe()
        self.modelChanged.emit(model)
        if path is not None or origin == STARTER_ORIGIN:
            self.fileChanged.emit(path or "starter")

    def trained(self) -> None:
        """The active model's weights were changed by training (and are not saved)."""
        self.dirty = True
        self.origin = "fine-tuned model"
        self._describe()
        self.modelChanged.emit(self.model)

    def new_network(self, base_channels: int) -> None:
        from unetgui.core import recipes
        from unetgui.core.model import new_model

        config = dataclasses.replace(recipes.SCRATCH_NETWORK, in_channels=self._input_channels(),
                                     base_channels=base_channels)
        self.set_model(new_model(config, seed=0, info={"name": f"new network ({base_channels} channels)"}),
                       "new network")

    def use_starter(self) -> None:
        self.set_model(*starter_or_new())

    def use_remembered(self, model: Path | str | None) -> None:
        """Make a remembered model active (a project's: a file, or "starter"), unless a
        fine-tuned model is not saved yet: that one is never replaced unasked."""
        if self.dirty or model is None:
            return
        if model == "starter":
            if self.origin != STARTER_ORIGIN:
                self.use_starter()
        elif Path(model) != self.path:
            if Path(model).is_file():
                self.open_model(model)
            else:
                self.message.emit(f"The project's model '{model}' is not there any more; the active model stays "
                                  f"{self.name}.")

    def open_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.panel, "Open model", "", MODEL_FILTER)
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path) -> bool:
        """Open a .unet model, or a bioimage.io package that unetgui exported."""
        from unetgui.core.model import load_model

        path = Path(path)
        try:
            if path.suffix.lower() == ".zip":
                from unetgui.core.bioimageio_export import import_package

                self.set_model(import_package(path), path.name)  # saved as .unet with Save...
                self.message.emit(f"Opened the bioimage.io package {path.name}; Save... keeps it as a .unet file.")
                return True
            model = load_model(path)
        except UnetguiError as error:
            self.error.emit("Cannot open model", str(error))
            return False
        self.set_model(model, path.name, path)
        self.message.emit(f"Opened model {Path(path).name}.")
        return True

    def save_dialog(self) -> bool:
        start = str(self.path or f"model{MODEL_SUFFIX}")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.panel, "Save model", start, MODEL_FILTER)
        return bool(path) and self.save_model(path)

    def save_model(self, path: str | Path) -> bool:
        from unetgui.core.model import save_model

        path = Path(path)
        if path.suffix == "":
            path = path.with_suffix(MODEL_SUFFIX)
        try:
            save_model(self.model, path)
        except (UnetguiError, OSError) as error:
            self.error.emit("Cannot save model", str(error))
            return False
        self.path, self.dirty, self.origin = path, False, path.name
        self._describe()
        self.message.emit(f"Saved model to {path}")
        self.fileChanged.emit(path)
        return True

    def share_dialog(self) -> bool:
        """Ask for the package's name, authors and licence, then where to write it."""
        dialog = ShareDialog(self.name, self.panel)
        if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return False
        start = str((self.path or Path(f"{self.name}")).with_suffix(".zip"))
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.panel, "Share as a bioimage.io package", start,
                                                        "bioimage.io package (*.zip)")
        return bool(path) and self.share(path, dialog.info())

    def share(self, path: str | Path, info) -> bool:
        """Write the active model as a bioimage.io package in a worker (it takes seconds:
        the package is traced and checked); the status bar says when it is done."""
        if self._share_worker is not None and self._share_worker.isRunning():
            return False
        from unetgui.core.bioimageio_export import export_package

        path = Path(path).with_suffix(".zip")
        model = self.model.snapshot()
        self._share_worker = GeneratorWorker(lambda: iter([export_package(model, path, info)]), self)
        self._share_worker.item.connect(lambda written: self.message.emit(f"Wrote the bioimage.io package {written}"))
        self._share_worker.failed.connect(lambda text: self.error.emit("Cannot share the model", text))
        self.message.emit(f"Writing the bioimage.io package {path.name}...")
        self._share_worker.start()
        return True

    def shutdown(self) -> None:
        if self._share_worker is not None:
            self._share_worker.wait()

    def choose_device(self, name: str) -> None:
        from unetgui.core.device import describe_device, resolve_device

        self.wait_until_loaded()
        try:
            self._device = resolve_device(name)
        except UnetguiError as error:
            self.error.emit("Device not available", str(error))
            name, self._device = "auto", resolve_device("auto")
        self.model.net.to(self.device)
        self.panel.show_device(name, describe_device(self.device))

    def _describe(self) -> None:
        from unetgui.core.unet import parameter_count

        config = self.model.config
        steps = sum(int(entry.get("steps", 0)) for entry in self.model.history)
        unsaved = " (not saved)" if self.dirty else ""
        self.panel.show_model(
            f"<b>{self.name}</b>{unsaved}<br>U-Net, {config.base_channels} base channels, depth {config.depth}, "
            f"{parameter_count(self.model.net) / 1e6:.1f} M parameters, {config.in_channels} input channel(s); "
            f"trained {steps} steps in {len(self.model.history)} run(s)"
        )
