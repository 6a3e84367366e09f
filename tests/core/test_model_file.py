"""Model files round-trip exactly, load without executing code, and refuse foreign files."""

import json
import pickle
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from unetgui.core.errors import ModelFileError
from unetgui.core.model import load_model, new_model, save_model
from unetgui.core.normalize import Normalization
from unetgui.core.predict import predict
from unetgui.core.unet import UNetConfig


@pytest.fixture
def small_model():
    model = new_model(
        UNetConfig(depth=2, base_channels=4, batch_norm=True, n_classes=3),
        Normalization(2.0, 99.0),
        seed=5,
        info={"name": "test model"},
    )
    model.history.append({"steps": 10, "final_loss": 0.5})
    return model


def test_round_trip_keeps_weights_settings_and_history(tmp_path, small_model):
    path = save_model(small_model, tmp_path / "model.unet")
    loaded = load_model(path)
    assert loaded.config == small_model.config
    assert loaded.normalization == Normalization(2.0, 99.0)
    assert loaded.history == [{"steps": 10, "final_loss": 0.5}]
    assert loaded.info == {"name": "test model"}
    for key, value in small_model.net.state_dict().items():
        assert torch.equal(value, loaded.net.state_dict()[key])
    plane = np.random.default_rng(0).normal(size=(1, 64, 64)).astype(np.float32)
    np.testing.assert_array_equal(predict(small_model, plane), predict(loaded, plane))
    assert not list(tmp_path.glob(".*tmp*"))


def test_seeded_models_are_identical():
    a = new_model(UNetConfig(depth=2, base_channels=4), seed=1)
    b = new_model(UNetConfig(depth=2, base_channels=4), seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a.net.parameters(), b.net.parameters()))


def test_snapshot_is_independent(small_model):
    snap = small_model.snapshot()
    with torch.no_grad():
        next(small_model.net.parameters()).add_(1.0)
    assert not torch.equal(next(snap.net.parameters()), next(small_model.net.parameters()))


def test_a_pickle_is_refused_without_being_unpickled(tmp_path):
    class Boom:
        def __reduce__(self):
            return (open, (str(tmp_path / "executed"), "w"))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ModelFileError, match="not a unetgui model"):
        load_model(path)
    assert not (tmp_path / "executed").exists()


def test_a_torch_checkpoint_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(3)}, path)
    assert zipfile.is_zipfile(path)
    with pytest.raises(ModelFileError, match="not a unetgui model"):
        load_model(path)


def test_another_programs_safetensors_is_refused(tmp_path):
    path = tmp_path / "llm.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "pt"})
    with pytest.raises(ModelFileError, match="another program"):
        load_model(path)


def test_damaged_files_are_refused(tmp_path, small_model):
    good = save_model(small_model, tmp_path / "model.unet").read_bytes()
    truncated = tmp_path / "truncated.unet"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelFileError):
        load_model(truncated)
    text = tmp_path / "notes.unet"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="not a unetgui model"):
        load_model(text)
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "missing.unet")


def test_weights_that_do_not_match_the_config_are_refused(tmp_path, small_model):
    path = tmp_path / "m.unet"
    tensors = {k: v.contiguous() for k, v in small_model.net.state_dict().items()}
    metadata = {
        "format": "unetgui-model",
        "format_version": "1",
        "config": json.dumps(UNetConfig(depth=3, base_channels=4).to_dict()),
        "normalization": json.dumps(Normalization().to_dict()),
    }
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(ModelFileError, match="do not match"):
        load_model(path)


def test_newer_format_is_refused(tmp_path, small_model):
    path = tmp_path / "m.unet"
    tensors = {k: v.contiguous() for k, v in small_model.net.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": "unetgui-model", "format_version": "99"})
    with pytest.raises(ModelFileError, match="newer"):
        load_model(path)


def test_a_saved_model_gets_ordinary_file_permissions(tmp_path, small_model):
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = save_model(small_model, tmp_path / "shared.unet")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_flipped_weight_bytes_are_refused_by_the_checksum(tmp_path, small_model):
    from tests.hostile_files import flipped_weights

    with pytest.raises(ModelFileError, match="checksum"):
        load_model(flipped_weights(tmp_path / "m.unet"))


def test_a_file_from_before_checksums_still_loads(tmp_path, small_model):
    from safetensors import safe_open
    from safetensors.torch import load_file

    from unetgui.core.model import CHECKSUM_KEY

    path = save_model(small_model, tmp_path / "m.unet")
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
    del metadata[CHECKSUM_KEY]
    save_file(load_file(str(path)), str(tmp_path / "old.unet"), metadata=metadata)
    old = load_model(tmp_path / "old.unet")
    for key, value in small_model.net.state_dict().items():
        assert torch.equal(value, old.net.state_dict()[key])


@pytest.mark.parametrize("field,value,words", [
    ("config", "[" * 100_000 + "]" * 100_000, "damaged"),
    ("config", json.dumps({"depth": 2.5}), "whole number"),
    ("config", json.dumps({"depth": 2, "base_channels": "8"}), "whole number"),
    ("config", json.dumps({"depth": 2, "batch_norm": "yes"}), "true or false"),
    ("config", json.dumps({"depth": 2, "base_channels": 10**9}), "not supported"),
    ("config", json.dumps({"depth": 2, "extra": 1}), "Unknown network settings"),
    ("normalization", json.dumps({"low_percentile": "1"}), "numbers"),
    ("normalization", json.dumps({"low_percentile": 1, "bogus": 2}), "Unknown normalisation"),
    ("info", "[1]", "JSON object"),
    ("history", '"finished"', "JSON list"),
    ("history", "[1, 2]", "JSON object"),
])
def test_metadata_that_we_never_write_is_refused_with_a_reason(tmp_path, field, value, words):
    from tests.hostile_files import model_with_metadata

    path = model_with_metadata(tmp_path / "m.unet", **{field: value})
    with pytest.raises(ModelFileError, match=words):
        load_model(path)
