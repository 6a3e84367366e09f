"""A unetgui model as a bioimage.io model package (format 0.5), through bioimageio.spec.

The package works in deepImageJ, ilastik, QuPath, napari and ``bioimageio.core``:

* input ``raw``: (batch, channel, y, x) float32 raw pixels. Preprocessing is the model's
  own percentile normalisation (``scale_range``, per sample and channel). y and x take
  any size ``min + k * step`` that keeps the valid convolutions whole;
* output ``probabilities``: (batch, class, y, x), the softmax of background and cell, the
  same size as the input. The network mirrors the input's border by its valid-convolution
  margin first, as unetgui's overlap-tile prediction does at the image border. The output
  halo is that margin, so a tiling consumer crops it where tiles meet. On an image of a
  valid size the package gives what ``unetgui predict --probabilities`` gives;
* weights: a PyTorch state dict with its architecture (``unetgui_unet.py``: the network
  modules of ``core/unet.py``, copied from their source, and a small wrapper), and the
  same network as TorchScript and as ONNX (opset 17, any batch and tile size);
* test input and output, a README with the training history, and the authors, licence
  and citations given.

bioimageio.spec is an optional part (``pip install "unetgui[bioimageio]"``).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from unetgui.core import unet
from unetgui.core.errors import InvalidInputError, ModelFileError
from unetgui.core.model import UNetModel
from unetgui.core.unet import margin, valid_input_sizes

ONNX_OPSET = 17  # read by onnxruntime >= 1.11, ilastik and QuPath's ONNX support
ARCHITECTURE_FILE = "unetgui_unet.py"
ARCHITECTURE_CALLABLE = "UnetguiUNet"
INSTALL_HINT = 'Install the bioimage.io support with: pip install "unetgui[bioimageio]"'
UNET_PAPER_DOI = "10.1007/978-3-319-24574-4_28"
TEST_SIZE = 256  # px, about: the test tensors' side (the nearest valid size at least this)

_WRAPPER = '''

class _Settings:
    """The network settings UNet reads (unetgui's UNetConfig, without its checks)."""

    def __init__(self, **settings):
        self.__dict__.update(settings)


class UnetguiUNet(nn.Module):
    """Cell probabilities of a unetgui U-Net: (N, C, H, W) normalised pixels in,
    (N, classes, H, W) softmax out. The border is mirrored by the network's margin first
    (unetgui's overlap-tile prediction at the image border), so the output has the
    input's size; H + 2 * margin and W + 2 * margin must be valid input sizes."""

    def __init__(self, in_channels, n_classes, depth, base_channels, batch_norm, dropout, margin):
        super().__init__()
        self.margin = margin
        self.net = UNet(_Settings(in_channels=in_channels, n_classes=n_classes, depth=depth,
                                  base_channels=base_channels, batch_norm=batch_norm, dropout=dropout))

    def forward(self, x):
        m = self.margin
        return torch.softmax(self.net(F.pad(x, (m, m, m, m), mode="reflect")), dim=1)
'''


@dataclass(frozen=True)
class PackageInfo:
    """What the package says about the model: who made it, under which licence, citing what."""

    name: str
    description: str = ""
    authors: tuple[str, ...] = ("unetgui user",)
    license: str = "CC-BY-4.0"
    cite: tuple[tuple[str, str], ...] = ()  # (text, DOI) beyond the U-Net paper
    tags: tuple[str, ...] = field(default=("unet", "segmentation", "instance-segmentation", "2d", "cells"))


def _spec():
    try:
        import bioimageio.spec  # noqa: F401
        from bioimageio.spec.model import v0_5
    except ImportError as error:
        raise ModelFileError(f"Exporting bioimage.io packages needs the bioimageio.spec package, which is not "
                             f"installed. {INSTALL_HINT}") from error
    return v0_5


def architecture_source() -> str:
    """The standalone architecture file: core/unet.py's network modules (from their own
    source, so the package always holds the code that trained) and the wrapper."""
    header = ('"""A unetgui U-Net (valid convolutions, Ronneberger et al. 2015), for bioimage.io."""\n\n'
              "from __future__ import annotations\n\nimport math\n\nimport torch\nfrom torch import nn\n"
              "from torch.nn import functional as F\n\n\n")
    try:
        parts = [inspect.getsource(part) for part in (unet._DoubleConv, unet._center_crop, unet.UNet)]
    except OSError as error:  # an installation without .py files
        raise ModelFileError("This installation of unetgui lacks the source of its network (core/unet.py), which "
                             "a bioimage.io package carries; reinstall unetgui.") from error
    return header + "\n\n".join(parts) + _WRAPPER


def wrapped_network(model: UNetModel, folder: Path) -> torch.nn.Module:
    """The model's network inside the package's wrapper (built from the written file, so
    what is tested is what is shipped), weights copied, in eval mode on the CPU."""
    path = folder / ARCHITECTURE_FILE
    path.write_text(architecture_source(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("unetgui_unet_package", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    wrapper = getattr(module, ARCHITECTURE_CALLABLE)(**_kwargs(model))
    wrapper.net.load_state_dict({k: v.detach().cpu() for k, v in model.net.state_dict().items()})
    return wrapper.eval()


def _kwargs(model: UNetModel) -> dict:
    config = model.config
    return {"in_channels": config.in_channels, "n_classes": config.n_classes, "depth": config.depth,
            "base_channels": config.base_channels, "batch_norm": config.batch_norm, "dropout": config.dropout,
            "margin": margin(config)}


def input_sizes(model: UNetModel) -> tuple[int, int]:
    """(min, step) of the package's input y and x: sizes whose mirrored padding gives a
    valid network input, larger than twice the margin (what is left once a tiling
    consumer crops the halo on both sides)."""
    m = margin(model.config)
    sizes = [s - 2 * m for s in valid_input_sizes(model.config, 1, 8192) if s - 2 * m > 2 * m]
    return sizes[0], sizes[1] - sizes[0]


def export_package(model: UNetModel, path: str | os.PathLike, info: PackageInfo,
                   test_image: np.ndarray | None = None) -> Path:
    """Write ``model`` as a bioimage.io package (.zip); returns its path.

    Parameters
    ----------
    model : the model (any device; it is not changed)
    path : the .zip to write
    info : name, description, authors, licence, citations
    test_image : (C, Y, X) raw pixels for the test tensors (a crop of a valid size is
        taken); default: synthetic cells

    Raises
    ------
    ModelFileError
        bioimageio.spec is missing, or the description does not validate (its message).
    """
    v = _spec()
    from bioimageio.spec import save_bioimageio_package

    if len(info.name.strip()) < 5:
        raise InvalidInputError(f"The package's name '{info.name}' is too short: bioimage.io wants at least 5 "
                                "characters.")
    if model.config.n_classes != 2:
        raise InvalidInputError("Only two-class models (background, cell) can be exported as bioimage.io packages.")
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="unetgui-bioimageio-") as tmp:
        folder = Path(tmp)
        wrapper = wrapped_network(model, folder)
        raw = _test_input(model, test_image)
        with torch.no_grad():
            probabilities = wrapper(torch.from_numpy(model.normalization.apply(raw[0]))[None]).numpy()
        np.save(folder / "test_input.npy", raw)
        np.save(folder / "test_output.npy", probabilities.astype(np.float32))
        torch.save(wrapper.state_dict(), folder / "weights.pt")
        with warnings.catch_warnings():  # the tracer's notes on shape arithmetic
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(wrapper, torch.from_numpy(model.normalization.apply(raw[0]))[None])
        traced.save(str(folder / "weights_torchscript.pt"))
        _export_onnx(wrapper, torch.from_numpy(model.normalization.apply(raw[0]))[None], folder / "weights.onnx")
        (folder / "README.md").write_text(_readme(model, info), encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                descr = _description(v, model, info, folder)
                save_bioimageio_package(descr, output_path=path)
            except ValueError as error:  # pydantic's ValidationError: the fields the user gave
                raise ModelFileError(f"The package cannot be made: {_first_problem(error)}") from error
            except OSError as error:  # a full disk, or an installation missing its own files
                raise ModelFileError(f"The package cannot be written: {error}") from error
    return path


def _export_onnx(wrapper: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """The network as ONNX (ilastik, QuPath, onnxruntime), any batch and tile size, with
    torch's TorchScript-based exporter, which keeps the shape arithmetic of the mirrored
    border symbolic. It needs the onnx package (the ``[bioimageio]`` extra brings it);
    without it the package has the other two weight formats."""
    if importlib.util.find_spec("onnx") is None:
        return
    axes = {0: "batch", 2: "y", 3: "x"}
    with warnings.catch_warnings():  # its notes on tracing and on the exporter's future
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (example,), str(path), input_names=["raw"], output_names=["probabilities"],
                          dynamic_axes={"raw": axes, "probabilities": axes}, opset_version=ONNX_OPSET, dynamo=False)


def _first_problem(error: ValueError) -> str:
    """The first complaint of a validation error, in one line ('license: ...')."""
    errors = getattr(error, "errors", None)
    if callable(errors) and errors():
        first = errors()[0]
        return f"{'.'.join(map(str, first.get('loc', ())))}: {first.get('msg', '')}"
    return " ".join(str(error).split())[:300]


def _test_input(model: UNetModel, image: np.ndarray | None) -> np.ndarray:
    """(1, C, S, S) float32 raw pixels, S a valid package size near TEST_SIZE."""
    low, step = input_sizes(model)
    size = low + step * max(0, -(-(TEST_SIZE - low) // step))
    channels = model.config.in_channels
    if image is None or min(image.shape[1:]) < size or image.shape[0] != channels:
        from unetgui.core.synthetic import SyntheticConfig, synthetic_cells

        cells, _ = synthetic_cells(SyntheticConfig(shape=(size, size)), np.random.default_rng(0))
        image = np.repeat(np.asarray(cells, np.float32)[None], channels, axis=0)
    return np.ascontiguousarray(image[None, :, :size, :size], dtype=np.float32)


def _description(v, model: UNetModel, info: PackageInfo, folder: Path):
    low, step = input_sizes(model)
    m = margin(model.config)
    raw, probabilities = v.TensorId("raw"), v.TensorId("probabilities")
    channels = [v.Identifier(f"channel{i}") for i in range(model.config.in_channels)]
    inputs = [v.InputTensorDescr(
        id=raw,
        axes=[v.BatchAxis(), v.ChannelAxis(channel_names=channels),
              v.SpaceInputAxis(id=v.AxisId("y"), size=v.ParameterizedSize(min=low, step=step)),
              v.SpaceInputAxis(id=v.AxisId("x"), size=v.ParameterizedSize(min=low, step=step))],
        test_tensor=v.FileDescr(source=folder / "test_input.npy"),
        data=v.IntervalOrRatioDataDescr(type="float32"),
        preprocessing=[v.ScaleRangeDescr(kwargs=v.ScaleRangeKwargs(
            axes=[v.AxisId("y"), v.AxisId("x")], min_percentile=model.normalization.low_percentile,
            max_percentile=model.normalization.high_percentile))])]
    outputs = [v.OutputTensorDescr(
        id=probabilities,
        description="softmax of background (channel 0) and cell (channel 1)",
        axes=[v.BatchAxis(), v.ChannelAxis(channel_names=[v.Identifier("background"), v.Identifier("cell")]),
              v.SpaceOutputAxisWithHalo(id=v.AxisId("y"), halo=m,
                                        size=v.SizeReference(tensor_id=raw, axis_id=v.AxisId("y"))),
              v.SpaceOutputAxisWithHalo(id=v.AxisId("x"), halo=m,
                                        size=v.SizeReference(tensor_id=raw, axis_id=v.AxisId("x")))],
        test_tensor=v.FileDescr(source=folder / "test_output.npy"),
        data=v.IntervalOrRatioDataDescr(type="float32", range=(0.0, 1.0)))]
    version = v.Version(torch.__version__.split("+")[0])
    weights = v.WeightsDescr(
        pytorch_state_dict=v.PytorchStateDictWeightsDescr(
            source=folder / "weights.pt", pytorch_version=version,
            architecture=v.ArchitectureFromFileDescr(source=folder / ARCHITECTURE_FILE,
                                                     callable=v.Identifier(ARCHITECTURE_CALLABLE),
                                                     kwargs=_kwargs(model))),
        torchscript=v.TorchscriptWeightsDescr(source=folder / "weights_torchscript.pt", pytorch_version=version,
                                              parent="pytorch_state_dict"),
        onnx=v.OnnxWeightsDescr(source=folder / "weights.onnx", opset_version=ONNX_OPSET, parent="pytorch_state_dict")
        if (folder / "weights.onnx").exists() else None)
    cite = [v.CiteEntry(text="Ronneberger, Fischer & Brox: U-Net: Convolutional Networks for Biomedical Image "
                             "Segmentation (MICCAI 2015)", doi=v.Doi(UNET_PAPER_DOI))]
    cite += [v.CiteEntry(text=text, doi=v.Doi(doi)) for text, doi in info.cite]
    return v.ModelDescr(
        name=info.name, description=info.description or f"A U-Net for cell segmentation, made with unetgui: {info.name}",
        authors=[v.Author(name=name) for name in info.authors], cite=cite, license=v.LicenseId(info.license),
        tags=list(info.tags), documentation=v.FileDescr(source=folder / "README.md"), inputs=inputs, outputs=outputs, weights=weights,
        config={"unetgui": {"history": json.loads(json.dumps(model.history, default=str)),
                            "info": json.loads(json.dumps(model.info, default=str)),
                            "normalization": model.normalization.to_dict(), "network": model.config.to_dict()}})


def _readme(model: UNetModel, info: PackageInfo) -> str:
    """The package's documentation: what the model is, how it was trained, on what."""
    lines = [f"# {info.name}", "", info.description or "A U-Net for cell segmentation, made with unetgui.", "",
             "## Network", "",
             f"U-Net with valid convolutions (Ronneberger et al. 2015), depth {model.config.depth}, "
             f"{model.config.base_channels} base channels, {model.config.in_channels} input channel(s). "
             "Input: raw pixels, normalised per channel between the "
             f"{model.normalization.low_percentile} and {model.normalization.high_percentile} percentiles. "
             "Output: the probability of background and of cell per pixel; threshold the cell "
             "probability at 0.5 and label connected components to get cells.", "", "## Training", ""]
    if not model.history:
        lines.append("No training is recorded in the model.")
    for entry in model.history:
        data = ", ".join(f"{k}: {entry[k]}" for k in ("image", "project", "labels", "images") if k in entry)
        planes = len(entry.get("training_planes", []))
        lines.append(f"- {entry.get('ended', 'run')} after {entry.get('steps', '?')} steps "
                     f"({entry.get('init', '')}); {planes} training plane(s){'; ' + data if data else ''}.")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ import


def import_package(path: str | os.PathLike) -> UNetModel:
    """A unetgui model from a bioimage.io package that holds a unetgui U-Net state dict.

    Only the state dict is read (``torch.load(weights_only=True)``: tensors, never code);
    the architecture file in the package is not run. Packages of other networks get a
    message that says why they cannot be used.
    """
    import zipfile

    from unetgui.core.model import new_model
    from unetgui.core.normalize import Normalization
    from unetgui.core.unet import UNetConfig

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            rdf_name = next((n for n in names if n.endswith(("rdf.yaml", "bioimageio.yaml"))), None)
            if rdf_name is None:
                raise ModelFileError(f"'{path.name}' is not a bioimage.io package (it has no rdf.yaml).")
            from ruyaml import YAML  # bioimageio.spec's own YAML reader

            try:
                rdf = YAML(typ="safe").load(archive.read(rdf_name))
            except Exception as error:  # ruyaml's errors share no base with ValueError
                raise ValueError(f"its rdf.yaml cannot be read: {error}") from error
            if not isinstance(rdf, dict):
                raise ValueError("its rdf.yaml is not a description")
            state = rdf.get("weights", {}).get("pytorch_state_dict") or {}
            architecture = state.get("architecture") or {}
            unetgui_config = (rdf.get("config") or {}).get("unetgui")
            if architecture.get("callable") != ARCHITECTURE_CALLABLE or not unetgui_config:
                raise ModelFileError(
                    f"'{path.name}' holds a '{architecture.get('callable', 'unknown')}' network, not a unetgui "
                    "U-Net; unetgui can only open packages it exported (their networks and weights fit its own).")
            weights_name = Path(str(state["source"])).name
            with tempfile.TemporaryDirectory() as tmp:
                archive.extract(next(n for n in names if Path(n).name == weights_name), tmp)
                tensors = torch.load(next(Path(tmp).rglob(weights_name)), map_location="cpu", weights_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, StopIteration, ValueError, TypeError, AttributeError) as error:
        raise ModelFileError(f"'{path.name}' cannot be read as a bioimage.io package ({error}).") from error
    except ImportError as error:
        raise ModelFileError(f"Opening bioimage.io packages needs bioimageio.spec. {INSTALL_HINT}") from error
    config = UNetConfig.from_dict(unetgui_config["network"])
    model = new_model(config, normalization=Normalization.from_dict(unetgui_config["normalization"]),
                      info={**unetgui_config.get("info", {}), "source": path.name})
    model.history = list(unetgui_config.get("history", []))
    prefix = "net."
    model.net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    return model
