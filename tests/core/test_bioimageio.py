"""bioimage.io model packages: bioimageio.core's own test passes, the TorchScript, ONNX and
state-dict networks give what unetgui's prediction gives, and the package opens again."""

import gc
import warnings
import zipfile

import numpy as np
import pytest
import torch

from unetgui.cli import main
from unetgui.core.bioimageio_export import (
    ARCHITECTURE_FILE,
    PackageInfo,
    export_package,
    import_package,
    input_sizes,
)
from unetgui.core.errors import InvalidInputError, ModelFileError
from unetgui.core.model import load_model, new_model, save_model
from unetgui.core.predict import predict
from unetgui.core.synthetic import SyntheticConfig, synthetic_cells
from unetgui.core.unet import UNetConfig

TINY = UNetConfig(in_channels=1, base_channels=4, depth=2, dropout=0.0)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bioimageio")
    model = new_model(TINY, seed=3, info={"name": "tiny"})
    model.history.append({"steps": 5, "ended": "finished", "init": "new network", "image": "cells.tif",
                          "training_planes": ["plane 0"]})
    path = export_package(model, folder / "tiny.zip", PackageInfo(name="tiny cells", authors=("A. Biologist",),
                                                                   license="MIT"))
    return model, path


def test_bioimageio_cores_own_test_passes(package):
    from bioimageio.core import test_model

    _, path = package
    with warnings.catch_warnings():  # bioimageio.core leaves files open: closed below, quietly
        warnings.simplefilter("ignore")
        summary = test_model(str(path))
        gc.collect()
    failed = [(d.name, [e.msg for e in d.errors]) for d in summary.details if d.status == "failed"]
    assert summary.status == "passed", failed


def test_the_package_holds_the_metadata_and_the_architecture(package):
    import yaml

    _, path = package
    with zipfile.ZipFile(path) as archive:
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
        names = archive.namelist()
    assert rdf["format_version"].startswith("0.5") and rdf["license"] == "MIT"
    assert rdf["authors"][0]["name"] == "A. Biologist"
    assert rdf["config"]["unetgui"]["history"][0]["steps"] == 5
    assert {"weights.pt", "weights_torchscript.pt", "weights.onnx", ARCHITECTURE_FILE, "README.md"} <= set(names)
    output_y = rdf["outputs"][0]["axes"][2]
    assert output_y["halo"] == 20  # the valid-convolution margin of a depth-2 network
    assert "scale_range" in [step["id"] for step in rdf["inputs"][0]["preprocessing"]]


@pytest.mark.parametrize("weights", ["torchscript", "onnx", "state dict"])
def test_the_exported_network_gives_unetguis_probabilities(package, tmp_path, weights):
    model, path = package
    low, step = input_sizes(model)
    size = low + 10 * step
    image, _ = synthetic_cells(SyntheticConfig(shape=(size, size + step)), np.random.default_rng(1))
    plane = np.asarray(image, np.float32)[None]
    expected = predict(model, plane)[1]  # unetgui's overlap-tile prediction: cell probability
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path)
    normalised = torch.from_numpy(model.normalization.apply(plane))[None]
    if weights == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(tmp_path / "weights.onnx"), providers=["CPUExecutionProvider"])
        got = session.run(None, {"raw": normalised.numpy()})[0][0, 1]
    else:
        if weights == "torchscript":
            with warnings.catch_warnings():  # deprecated in torch, still what deepImageJ reads
                warnings.simplefilter("ignore", DeprecationWarning)
                network = torch.jit.load(str(tmp_path / "weights_torchscript.pt"))
        else:
            network = _from_package(tmp_path)
        with torch.no_grad():
            got = network(normalised)[0, 1].numpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-4


def _from_package(folder):
    """The state-dict network as a consumer builds it: the package's architecture file and kwargs."""
    import importlib.util

    import yaml

    rdf = yaml.safe_load((folder / "rdf.yaml").read_text())
    weights = rdf["weights"]["pytorch_state_dict"]
    spec = importlib.util.spec_from_file_location("arch", folder / weights["architecture"]["source"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    network = getattr(module, weights["architecture"]["callable"])(**weights["architecture"]["kwargs"])
    network.load_state_dict(torch.load(folder / weights["source"], weights_only=True))
    return network.eval()


def test_an_exported_package_opens_again_with_the_same_weights(package):
    model, path = package
    again = import_package(path)
    assert again.config == model.config and again.normalization == model.normalization
    for key, value in model.net.state_dict().items():
        assert torch.equal(value, again.net.state_dict()[key]), key
    assert again.history[0]["steps"] == 5


def test_a_package_of_another_network_is_refused_with_the_reason(tmp_path):
    import yaml

    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("rdf.yaml", yaml.safe_dump({"weights": {"pytorch_state_dict": {
            "source": "w.pt", "architecture": {"callable": "StarDist2D"}}}}))
    with pytest.raises(ModelFileError, match="'StarDist2D' network, not a unetgui U-Net"):
        import_package(path)
    with zipfile.ZipFile(tmp_path / "broken.zip", "w") as archive:
        archive.writestr("rdf.yaml", "weights: [unclosed")
    with pytest.raises(ModelFileError, match="cannot be read"):
        import_package(tmp_path / "broken.zip")
    (tmp_path / "not.zip").write_bytes(b"PK not a zip")
    with pytest.raises(ModelFileError, match="cannot be read"):
        import_package(tmp_path / "not.zip")


def test_unetgui_export_model_on_the_command_line(tmp_path, capsys):
    model_file = save_model(new_model(TINY, seed=1), tmp_path / "m.unet")
    out = tmp_path / "m.zip"
    assert main(["export-model", str(model_file), "-o", str(out), "--name", "my nuclei",
                 "--author", "A. Biologist", "--author", "B. Student", "--license", "CC0-1.0"]) == 0
    assert "bioimage.io" in capsys.readouterr().err
    again = import_package(out)
    assert again.config == load_model(model_file).config
    assert main(["export-model", str(model_file), "-o", str(tmp_path / "m.txt")]) == 2


def test_bad_metadata_gets_a_plain_message(tmp_path):
    model = new_model(TINY, seed=1)
    with pytest.raises(InvalidInputError, match="at least 5 characters"):
        export_package(model, tmp_path / "a.zip", PackageInfo(name="abc"))
    with pytest.raises(ModelFileError, match="license"):
        export_package(model, tmp_path / "b.zip", PackageInfo(name="my model", license="not a licence"))
