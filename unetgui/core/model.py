"""A trained U-Net as one object and one file.

The file is safetensors: raw tensors plus a JSON header, so loading it never executes
code (no pickle), whatever file a user hands us. The header's metadata holds the network
config, the input normalisation, the training history and free-form info (name, recipe),
tagged with a format name and version so that a file from another program is recognised
and refused with a clear message.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from unetgui.core.errors import ImageFileError, InvalidInputError, ModelFileError
from unetgui.core.io import atomic_write
from unetgui.core.normalize import Normalization
from unetgui.core.outputs import MODEL_SUFFIX
from unetgui.core.unet import UNet, UNetConfig

FORMAT_NAME = "unetgui-model"
FORMAT_VERSION = 1
CHECKSUM_KEY = "weights_sha256"  # absent in files written before it existed: not checked
MAX_METADATA_CHARS = 16 * 2**20


@dataclass
class UNetModel:
    """A network with everything needed to use it on a new image."""

    net: UNet
    normalization: Normalization = field(default_factory=Normalization)
    history: list[dict] = field(default_factory=list)  # one entry per training run
    info: dict = field(default_factory=dict)  # name, description, recipe, ...

    @property
    def config(self) -> UNetConfig:
        """The network's shape.

        Returns
        -------
        UNetConfig
            ``self.net.config``.
        """
        return self.net.config

    @property
    def device(self) -> torch.device:
        """Where the network's weights are.

        Returns
        -------
        torch.device
            The device of its first parameter.
        """
        return next(self.net.parameters()).device

    def snapshot(self) -> UNetModel:
        """An independent copy on the CPU, e.g. for predicting while training goes on.

        Returns
        -------
        UNetModel
            A copy in eval mode, with its own weights, history and info.
        """
        weights = {k: v.detach().to("cpu", copy=True) for k, v in self.net.state_dict().items()}
        net = _net_with_weights(self.config, weights)
        net.eval()
        return UNetModel(net, self.normalization, copy.deepcopy(self.history), copy.deepcopy(self.info))

    def check_channels(self, n_channels: int) -> None:
        """Raise ModelFileError if the image's channel count does not fit the network.

        Parameters
        ----------
        n_channels : int
            Channels C of the image to predict or train on.

        Returns
        -------
        None
        """
        if n_channels != self.config.in_channels:
            raise ModelFileError(
                f"The model expects images with {self.config.in_channels} channel(s), but the "
                f"image has {n_channels}. Choose a channel, or train a model for this image type."
            )


def model_cell_size(model: UNetModel):
    """The cell diameters ``model`` was trained on (core.cellsize.CellSize), or None.

    Parameters
    ----------
    model : UNetModel
        Any model; older files have no record.

    Returns
    -------
    CellSize or None
        From ``model.info["cell_size"]``.
    """
    from unetgui.core.cellsize import CellSize

    values = model.info.get("cell_size")
    return None if values is None else CellSize.from_dict(values)


def new_model(
    config: UNetConfig | None = None,
    normalization: Normalization | None = None,
    *,
    seed: int | None = None,
    info: dict | None = None,
) -> UNetModel:
    """A freshly initialised network (He initialisation; seeded if ``seed`` is given).

    Parameters
    ----------
    config : UNetConfig or None
        The network's shape; None: the paper's (:class:`UNetConfig` defaults).
    normalization : Normalization or None
        Input normalisation; None: the default percentiles.
    seed : int or None
        Seed for the initial weights (the global torch random state is left as it was).
    info : dict or None
        Free-form information (name, recipe, ...), copied.

    Returns
    -------
    UNetModel
        On the CPU, with an empty training history.
    """
    config = config or UNetConfig()
    if seed is None:
        net = UNet(config)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = UNet(config)
    return UNetModel(net, normalization or Normalization(), [], dict(info or {}))


def save_model(model: UNetModel, path: str | Path) -> Path:
    """Write ``model`` to ``path`` atomically (a crash never leaves half a model).

    The header holds a SHA-256 of the weights, so that a damaged file is refused on
    load instead of predicting garbage. Raises ImageFileError (with a plain reason: disk
    full, permission denied, read-only disk) when the file cannot be written.

    Parameters
    ----------
    model : UNetModel
        The model to save; its weights are copied to the CPU.
    path : str or Path
        The file to write (replaced if it exists).

    Returns
    -------
    Path
        ``path``.
    """
    data = model_file_bytes(model)  # writing the bytes below gives OSError, not safetensors'
    with atomic_write(Path(path)) as tmp:  # own error, on a full disk
        with open(tmp, "wb") as handle:
            handle.write(data)
    return Path(path)


def model_file_bytes(model: UNetModel) -> bytes:
    """The contents of ``model``'s file (:func:`save_model`): what a cluster's workers get.

    Parameters
    ----------
    model : UNetModel
        The model; its weights are copied to the CPU.

    Returns
    -------
    bytes
        A safetensors file with the settings and the weights' checksum in its header.
    """
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.net.state_dict().items()}
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(model.config.to_dict()),
        "normalization": json.dumps(model.normalization.to_dict()),
        "history": json.dumps(model.history),
        "info": json.dumps(model.info),
        CHECKSUM_KEY: weights_checksum(tensors),
    }
    return save(tensors, metadata=metadata)


def weights_checksum(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the tensors' names, dtypes, shapes and bytes, in name order.

    Parameters
    ----------
    tensors : dict of str to torch.Tensor
        A state dict, on any device.

    Returns
    -------
    str
        The hex digest.
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def rescue_model(model: UNetModel, name: str) -> Path:
    """Save ``model`` where it can be written when its own path failed: the data folder's
    ``rescued/``, else the temporary folder. Returns the path; raises ImageFileError only
    if neither can be written.

    Parameters
    ----------
    model : UNetModel
        The model to save.
    name : str
        The file name that failed; its stem, with a date and time, names the rescued file.

    Returns
    -------
    Path
        Where the model was saved.
    """
    from datetime import datetime

    from unetgui.core.userdata import data_dir

    file_name = f"{Path(name).stem or 'model'}-{datetime.now():%Y%m%d-%H%M%S}{MODEL_SUFFIX}"
    try:
        return save_model(model, data_dir() / "rescued" / file_name)
    except ImageFileError:
        return save_model(model, Path(tempfile.gettempdir()) / file_name)


def is_model_file(path: str | Path) -> bool:
    """Whether ``path`` is a safetensors file tagged as a unetgui model (header only).

    Parameters
    ----------
    path : str or Path
        Any file.

    Returns
    -------
    bool
        False for anything unreadable or foreign.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return (handle.metadata() or {}).get("format") == FORMAT_NAME
    except Exception:  # any unreadable or foreign file: not ours
        return False


def load_model(path: str | Path, device: torch.device | str = "cpu") -> UNetModel:
    """Read a model file written by :func:`save_model`; never executes code from the file.

    Raises ModelFileError when the file is missing, is not a unetgui model (another
    program's file, a pickle, an image), is damaged (settings that are not what we write,
    weights whose checksum does not match) or was written by a newer unetgui. Files
    written before checksums existed load without the check.

    Parameters
    ----------
    path : str or Path
        The model file.
    device : torch.device or str
        Where to put the weights.

    Returns
    -------
    UNetModel
        The model, in eval mode on ``device``.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"Cannot open model '{path}': there is no such file.")
    if not os.access(path, os.R_OK):
        raise ModelFileError(f"Cannot open model '{path.name}': permission denied.")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("format") != FORMAT_NAME:
                raise ModelFileError(
                    f"'{path.name}' is a tensor file from another program, not a unetgui model."
                )
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except ModelFileError:
        raise
    except MemoryError:
        raise ModelFileError(f"'{path.name}' is too large to load into memory.") from None
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as error:
        raise ModelFileError(
            f"'{path.name}' is not a unetgui model file, or it is damaged ({_first_line(error)})."
        ) from None

    try:
        version = int(metadata.get("format_version", "0"))
    except ValueError:
        version = 0
    if version > FORMAT_VERSION:
        raise ModelFileError(f"'{path.name}' was written by a newer unetgui; please update unetgui.")
    stored = metadata.get(CHECKSUM_KEY)
    if stored is not None and stored != weights_checksum(tensors):
        raise ModelFileError(f"The weights in '{path.name}' are damaged (their checksum does not "
                             "match); the file cannot be used. Use a backup copy of the model.")
    try:
        config = UNetConfig.from_dict(_json_field(metadata, "config", dict))
        normalization = Normalization.from_dict(_json_field(metadata, "normalization", dict))
        history = _json_field(metadata, "history", list, "[]")
        info = _json_field(metadata, "info", dict, "{}")
        if not all(isinstance(entry, dict) for entry in history):
            raise ValueError("each training history entry must be a JSON object")
        if "cell_size" in info:
            from unetgui.core.cellsize import CellSize

            CellSize.from_dict(info["cell_size"])
    except (KeyError, ValueError, TypeError, RecursionError, InvalidInputError) as error:
        raise ModelFileError(f"The settings stored in '{path.name}' are damaged ({_first_line(error)}).") from None

    try:
        net = _net_with_weights(config, tensors)
    except RuntimeError:
        raise ModelFileError(
            f"The weights in '{path.name}' do not match its network settings; the file is damaged."
        ) from None
    net.to(device).eval()
    return UNetModel(net, normalization, list(history), dict(info))


def load_model_bytes(data: bytes, device: torch.device | str = "cpu") -> UNetModel:
    """:func:`load_model` for a model file's contents (as :func:`model_file_bytes` gives
    them), with the same checks; never executes code.

    Parameters
    ----------
    data : bytes
        The file's contents.
    device : torch.device or str
        Where to put the weights.

    Returns
    -------
    UNetModel
        The model, in eval mode on ``device``.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="unetgui-model-") as folder:
        path = Path(folder) / "model.unet"
        path.write_bytes(data)
        return load_model(path, device)


def _json_field(metadata: dict, key: str, kind: type, default: str | None = None):
    """``metadata[key]`` parsed as JSON of type ``kind`` (ValueError/RecursionError if not)."""
    text = metadata[key] if default is None else metadata.get(key, default)
    if len(text) > MAX_METADATA_CHARS:
        raise ValueError(f"'{key}' is implausibly large ({len(text)} characters)")
    value = json.loads(text)
    if not isinstance(value, kind):
        raise ValueError(f"'{key}' must be a JSON {'object' if kind is dict else 'list'}")
    return value


def _net_with_weights(config: UNetConfig, weights: dict[str, torch.Tensor]) -> UNet:
    """A UNet holding ``weights`` (taken over, not copied). Built on the meta device, so
    no random initialisation is computed only to be overwritten (a cost that would be paid
    per live-prediction snapshot). Raises RuntimeError if the weights do not fit."""
    with torch.device("meta"):
        net = UNet(config)
    net.load_state_dict(weights, strict=True, assign=True)
    return net


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
