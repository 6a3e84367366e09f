"""Hostile inputs through the command line, as a user would hit them.

Every file here is generated in code: truncated and absurd-header TIFFs, decompression
bombs, hostile model files, outputs that are inputs. Each case must end with exit code 2,
exactly one line on stderr, no traceback, and no file in the folder changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from tests.hostile_files import (
    bomb_tiff,
    flipped_weights,
    model_with_metadata,
    raw_tiff,
    simulate_read_only_disk,
)
from unetgui.cli import main
from unetgui.core import memory
from unetgui.core.io import write_labels
from unetgui.core.model import new_model, save_model
from unetgui.core.synthetic import SyntheticConfig, synthetic_stack
from unetgui.core.unet import UNetConfig

GIB = 2**30


# ------------------------------------------------------------------ files made in code


class Trap:
    """Unpickling this creates ``flag``: proof that code from the file ran."""

    def __init__(self, flag):
        self.flag = str(flag)

    def __reduce__(self):
        return (open, (self.flag, "w"))


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A small image, its labels and a tiny model: the valid parts of each command."""
    folder = tmp_path_factory.mktemp("good")
    image, labels = synthetic_stack(2, SyntheticConfig(shape=(64, 72), n_cells=6, radius_range=(5, 8)),
                                    np.random.default_rng(0))
    tifffile.imwrite(folder / "image.tif", image, imagej=True, metadata={"axes": "TYX"})
    write_labels(folder / "labels.tif", labels, plane_axis="T")
    save_model(new_model(UNetConfig(depth=2, base_channels=2), seed=0), folder / "tiny.unet")
    return folder


def make_case(folder: Path, good: Path, name: str) -> list[str]:
    """Write the files of case ``name`` into ``folder``; returns the command's arguments."""
    img, lab, tiny = str(good / "image.tif"), str(good / "labels.tif"), str(good / "tiny.unet")
    f = lambda n: str(folder / n)  # noqa: E731
    write = lambda n, data: (folder / n).write_bytes(data)  # noqa: E731
    predict = lambda image, *more: ["predict", tiny, image, "-o", f("out.tif"), *more]  # noqa: E731
    train = lambda *more: ["train", img, lab, "-o", f("out.unet"), "--steps", "1", "--depth", "2",  # noqa: E731
                           "--base-channels", "2", *more]
    # --- damaged and absurd images
    if name.startswith("truncated-"):
        whole = (good / "image.tif").read_bytes()
        cut = {"truncated-8": 8, "truncated-100": 100, "truncated-half": len(whole) // 2}[name]
        write("cut.tif", whole[:cut])
        return predict(f("cut.tif"))
    if name == "empty-file":
        write("empty.tif", b"")
        return predict(f("empty.tif"))
    if name == "text-as-tiff":
        write("notes.tif", b"these are my notes, not an image\n" * 20)
        return predict(f("notes.tif"))
    if name == "garbage-png":
        write("x.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
        return predict(f("x.png"))
    if name == "garbage-jpeg":
        write("x.jpg", b"\xff\xd8\xff\xe0" + bytes(300))
        return predict(f("x.jpg"))
    if name == "folder-as-image":
        (folder / "dir.tif").mkdir()
        return predict(f("dir.tif"))
    if name == "unsupported-suffix":
        write("x.czi", b"ZISRAWFILE" + bytes(100))
        return predict(f("x.czi"))
    if name == "missing-image":
        return predict(f("nothere.tif"))
    if name == "zero-size-tiff":
        write("zero.tif", raw_tiff(0, 0))
        return predict(f("zero.tif"))
    if name == "absurd-header-raw":  # 100000 x 100000 declared, 200 bytes present
        write("huge.tif", raw_tiff(100_000, 100_000))
        return predict(f("huge.tif"))
    if name == "absurd-header-compressed":  # decodes to 37 GiB of uint32 results
        write("huge.tif", raw_tiff(100_000, 100_000, compression=8, data=zlib.compress(b"\0" * 100)))
        return predict(f("huge.tif"))
    if name == "decompression-bomb":  # 128 MiB from ~130 kB, more than the (simulated) free memory
        write("bomb.tif", bomb_tiff(8192, 8192))
        return predict(f("bomb.tif"))
    if name == "nan-image":
        data = np.ones((40, 40), np.float32)
        data[3, 3] = np.nan
        tifffile.imwrite(folder / "nan.tif", data)
        return predict(f("nan.tif"))
    if name == "rgb-image-channel-missing":
        tifffile.imwrite(folder / "rgb.tif", np.zeros((40, 40, 3), np.uint8), photometric="rgb")
        return [*predict(f("rgb.tif")), "--channel", "3"]
    # --- labels
    if name == "labels-above-2^32":
        data = np.zeros((2, 64, 72), np.uint64)
        data[:, 5:10, 5:10] = 2**40
        tifffile.imwrite(folder / "big.tif", data)
        return ["train", img, f("big.tif"), "-o", f("out.unet")]
    if name in ("empty-labels-train", "empty-labels-weights", "empty-labels-evaluate"):
        write_labels(folder / "empty_labels.tif", np.zeros((2, 64, 72), np.uint16))
        return {"empty-labels-train": ["train", img, f("empty_labels.tif"), "-o", f("out.unet")],
                "empty-labels-weights": ["weights", f("empty_labels.tif"), "-o", f("w.tif")],
                "empty-labels-evaluate": ["evaluate", f("empty_labels.tif"), f("empty_labels.tif")]}[name]
    if name == "labels-wrong-shape":
        write_labels(folder / "small.tif", np.ones((2, 30, 30), np.uint16))
        return ["train", img, f("small.tif"), "-o", f("out.unet")]
    if name == "labels-fractional":
        tifffile.imwrite(folder / "prob.tif", np.full((2, 64, 72), 0.5, np.float32))
        return ["weights", f("prob.tif"), "-o", f("w.tif")]
    if name == "labels-negative":
        tifffile.imwrite(folder / "neg.tif", np.full((2, 64, 72), -1, np.int16))
        return ["weights", f("neg.tif"), "-o", f("w.tif")]
    if name == "labels-rgb":
        tifffile.imwrite(folder / "rgb.tif", np.zeros((64, 72, 3), np.uint8), photometric="rgb")
        return ["weights", f("rgb.tif"), "-o", f("w.tif")]
    # --- hostile and damaged model files
    if name == "model-nested-json":
        model_with_metadata(folder / "m.unet", config="[" * 100_000 + "]" * 100_000)
        return ["predict", f("m.unet"), img, "-o", f("out.tif")]
    if name in ("model-depth-2.5", "model-info-list", "model-history-string", "model-config-list",
                "model-normalization-extra", "model-huge-width", "model-depth-bool", "model-no-config"):
        config = UNetConfig(depth=1, base_channels=2).to_dict()
        changes = {
            "model-depth-2.5": {"config": json.dumps({**config, "depth": 2.5})},
            "model-depth-bool": {"config": json.dumps({**config, "depth": True})},
            "model-huge-width": {"config": json.dumps({**config, "base_channels": 10**9})},
            "model-config-list": {"config": "[1, 2]"},
            "model-info-list": {"info": "[1]"},
            "model-history-string": {"history": '"finished"'},
            "model-normalization-extra": {"normalization": '{"low_percentile": 1, "high_percentile": 99, "x": 1}'},
            "model-no-config": {"config": "not json"},
        }[name]
        model_with_metadata(folder / "m.unet", **changes)
        return ["predict", f("m.unet"), img, "-o", f("out.tif")]
    if name == "model-flipped-weights":
        flipped_weights(folder / "m.unet")
        return ["predict", f("m.unet"), img, "-o", f("out.tif")]
    if name == "model-pickle":
        torch.save({"trap": Trap(folder / "pickle-ran")}, folder / "m.unet")
        return ["predict", f("m.unet"), img, "-o", f("out.tif")]
    if name == "model-truncated":
        whole = (good / "tiny.unet").read_bytes()
        write("m.unet", whole[: len(whole) // 2])
        return ["predict", f("m.unet"), img, "-o", f("out.tif")]
    if name == "model-empty":
        write("m.unet", b"")
        return ["predict", f("m.unet"), img, "-o", f("out.tif")]
    if name == "model-foreign-safetensors":
        from safetensors.torch import save_file

        save_file({"w": torch.zeros(3)}, str(folder / "m.unet"), metadata={"format": "pt"})
        return ["predict", f("m.unet"), img, "-o", f("out.tif")]
    if name == "model-header-length-absurd":
        write("m.unet", struct.pack("<Q", 2**62) + b"{}")
        return ["predict", f("m.unet"), img, "-o", f("out.tif")]
    if name == "model-fine-tune-foreign":
        write("m.unet", b"PK\x03\x04" + bytes(64))
        return train("--init", f("m.unet"))
    # --- outputs that would destroy something
    if name == "output-is-the-image":
        (folder / "mine.tif").write_bytes((good / "image.tif").read_bytes())
        return ["predict", tiny, f("mine.tif"), "-o", f("mine.tif")]
    if name == "output-is-the-labels-weights":
        (folder / "mine.tif").write_bytes((good / "labels.tif").read_bytes())
        return ["weights", f("mine.tif"), "-o", f("mine.tif")]
    if name == "train-output-is-the-image":
        (folder / "mine.tif").write_bytes((good / "image.tif").read_bytes())
        return ["train", f("mine.tif"), lab, "-o", f("mine.tif")]
    if name == "train-output-is-the-init-model":
        (folder / "m.unet").write_bytes((good / "tiny.unet").read_bytes())
        return train("--init", f("m.unet"), "-o", f("m.unet"))
    if name == "output-is-a-hard-link-to-the-image":
        (folder / "mine.tif").write_bytes((good / "image.tif").read_bytes())
        os.link(folder / "mine.tif", folder / "link.tif")
        return ["predict", tiny, f("mine.tif"), "-o", f("link.tif")]
    if name == "output-is-a-symlink-to-the-image":
        (folder / "mine.tif").write_bytes((good / "image.tif").read_bytes())
        os.symlink(folder / "mine.tif", folder / "link.tif")
        return ["predict", tiny, f("mine.tif"), "-o", f("link.tif")]
    if name == "probabilities-same-as-labels":
        return predict(img, "--probabilities", f("out.tif"))
    if name == "output-a-strangers-tiff":
        tifffile.imwrite(folder / "theirs.tif", np.arange(100, dtype=np.uint16).reshape(10, 10))
        return ["predict", tiny, img, "-o", f("theirs.tif")]
    if name == "output-a-strangers-model-name":
        write("theirs.unet", b"my thesis draft, saved with the wrong name")
        return train("-o", f("theirs.unet"))
    if name == "output-wrong-suffix-model":
        return train("-o", f("model.tif"))
    if name == "output-wrong-suffix-labels":
        return ["predict", tiny, img, "-o", f("labels.unet")]
    if name == "output-under-a-file":
        write("a-file", b"x")
        return ["predict", tiny, img, "-o", f("a-file/out.tif")]
    if name == "train-output-under-a-file":  # found before training, not after it
        write("a-file", b"x")
        return train("-o", f("a-file/model.unet"))
    if name == "output-is-a-folder":
        (folder / "out.tif").mkdir()
        return ["predict", tiny, img, "-o", f("out.tif")]
    # --- numbers
    numbers = {
        "minutes-negative": train("--minutes", "-1"), "minutes-nan": train("--minutes", "nan"),
        "lr-zero": train("--lr", "0"), "steps-zero": train("--steps", "0"),
        "steps-huge": train("--steps", "1e30"), "tile-zero": predict(img, "--tile-size", "0"),
        "tile-text": predict(img, "--tile-size", "big"), "threshold-two": predict(img, "--threshold", "2"),
        "threshold-inf": predict(img, "--threshold", "inf"), "min-size-negative": predict(img, "--min-size", "-1"),
        "relative-area-one": predict(img, "--min-relative-area", "1"),
        "sigma-zero": ["weights", lab, "-o", f("w.tif"), "--sigma", "0"],
        "w0-negative": ["weights", lab, "-o", f("w.tif"), "--w0", "-1"],
        "seed-negative": train("--seed", "-1"), "planes-negative": train("--planes", "-1"),
        "planes-missing": train("--planes", "9"), "tile-invalid": train("--tile-size", "101"),
        "depth-zero": train("--depth", "0"), "device-bogus": predict(img, "--device", "tpu"),
    }
    if name in numbers:
        return numbers[name]
    # --- the command word
    if name == "unknown-command":
        return ["convert-model", tiny, f("x.zip")]
    if name == "typo-command":
        return ["trian", img, lab]
    if name == "no-arguments-for-command":
        return ["predict"]
    raise KeyError(name)


CASES = [
    "truncated-8", "truncated-100", "truncated-half", "empty-file", "text-as-tiff", "garbage-png",
    "garbage-jpeg", "folder-as-image", "unsupported-suffix", "missing-image", "zero-size-tiff",
    "absurd-header-raw", "absurd-header-compressed", "decompression-bomb", "nan-image", "rgb-image-channel-missing",
    "labels-above-2^32", "empty-labels-train", "empty-labels-weights", "empty-labels-evaluate",
    "labels-wrong-shape", "labels-fractional", "labels-negative", "labels-rgb",
    "model-nested-json", "model-depth-2.5", "model-depth-bool", "model-huge-width", "model-config-list",
    "model-info-list", "model-history-string", "model-normalization-extra", "model-no-config",
    "model-flipped-weights", "model-pickle", "model-truncated", "model-empty", "model-foreign-safetensors",
    "model-header-length-absurd", "model-fine-tune-foreign",
    "output-is-the-image", "output-is-the-labels-weights", "train-output-is-the-image",
    "train-output-is-the-init-model", "output-is-a-hard-link-to-the-image",
    "output-is-a-symlink-to-the-image", "probabilities-same-as-labels", "output-a-strangers-tiff",
    "output-a-strangers-model-name", "output-wrong-suffix-model", "output-wrong-suffix-labels",
    "output-under-a-file", "train-output-under-a-file", "output-is-a-folder",
    "minutes-negative", "minutes-nan", "lr-zero", "steps-zero", "steps-huge", "tile-zero", "tile-text",
    "threshold-two", "threshold-inf", "min-size-negative", "relative-area-one", "sigma-zero", "w0-negative", "seed-negative",
    "planes-negative", "planes-missing", "tile-invalid", "depth-zero", "device-bogus",
    "unknown-command", "typo-command", "no-arguments-for-command",
]

# what the one line must say, where the wording matters to the user
EXPECTED = {
    "absurd-header-compressed": "memory", "decompression-bomb": "memory",
    "zero-size-tiff": "no pixels", "labels-above-2^32": "above 4294967295",
    "empty-labels-train": "no cells", "empty-labels-weights": "no cells", "empty-labels-evaluate": "no cells",
    "model-flipped-weights": "checksum", "model-depth-2.5": "whole number", "model-info-list": "damaged",
    "model-nested-json": "damaged", "output-is-the-image": "also an input",
    "output-is-the-labels-weights": "also an input", "train-output-is-the-image": "must be a model file",
    "train-output-is-the-init-model": "also an input", "output-is-a-hard-link-to-the-image": "also an input",
    "output-is-a-symlink-to-the-image": "also an input", "output-a-strangers-tiff": "--overwrite",
    "output-a-strangers-model-name": "--overwrite", "unknown-command": "unknown command",
    "typo-command": "Did you mean train", "minutes-negative": "above 0",
    "relative-area-one": "not including, 1",
}


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (links as links) with a hash of its content."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            found[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[rel] = "dir"
    return found


@pytest.mark.parametrize("case", CASES)
def test_hostile_input_ends_in_one_clear_line(case, good, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "work"
    folder.mkdir()
    argv = make_case(folder, good, case)
    # a machine with 4 GiB free: the memory refusals do not depend on where the tests run
    monkeypatch.setattr(memory, "available_bytes", lambda: 4 * GIB if case != "decompression-bomb" else 100 * 2**20)
    monkeypatch.setenv("UNETGUI_DATA_DIR", str(tmp_path / "user-data"))
    before, good_before = snapshot(folder), snapshot(good)
    capsys.readouterr()
    with pytest.raises(SystemExit) if case in ARGPARSE_CASES else _no_exit() as exited:
        code = main(argv)
    if exited is not None:
        code = exited.value.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err and "Error:" not in err.split("error:")[0]
    assert lines[0].startswith("unetgui"), err
    if case in EXPECTED:
        assert EXPECTED[case] in lines[0], err
    assert snapshot(folder) == before, "a file changed that the user did not ask to change"
    assert snapshot(good) == good_before
    assert not (folder / "pickle-ran").exists()


# argparse reports these itself (exit 2 through SystemExit, one line by unetgui's parser)
ARGPARSE_CASES = {"minutes-negative", "minutes-nan", "lr-zero", "steps-zero", "steps-huge", "tile-zero",
                  "tile-text", "threshold-two", "threshold-inf", "min-size-negative", "relative-area-one", "sigma-zero",
                  "w0-negative", "seed-negative", "planes-negative", "depth-zero", "device-bogus",
                  "no-arguments-for-command"}


class _no_exit:  # noqa: N801 (a context manager standing in for pytest.raises)
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_every_case_is_counted():
    assert len(CASES) == len(set(CASES)) >= 70


def test_overwrite_replaces_a_strangers_file_when_asked(good, tmp_path):
    theirs = tmp_path / "theirs.tif"
    tifffile.imwrite(theirs, np.arange(100, dtype=np.uint16).reshape(10, 10))
    argv = ["predict", str(good / "tiny.unet"), str(good / "image.tif"), "-o", str(theirs)]
    assert main([*argv, "--overwrite"]) == 0
    assert tifffile.imread(theirs).shape == (2, 64, 72)
    assert main(argv) == 0  # now it is ours: replacing it needs no --overwrite


def test_a_tile_larger_than_the_image_needs_is_clamped(good, tmp_path):
    out = tmp_path / "out.tif"
    assert main(["predict", str(good / "tiny.unet"), str(good / "image.tif"), "-o", str(out),
                 "--tile-size", "99996"]) == 0
    assert tifffile.imread(out).shape == (2, 64, 72)


def test_a_tile_too_large_for_memory_is_refused_with_the_numbers(good, tmp_path, capsys, monkeypatch):
    big = tmp_path / "big.tif"
    tifffile.imwrite(big, np.zeros((3000, 3000), np.uint8))
    monkeypatch.setattr(memory, "available_bytes", lambda: 1 * GIB)
    code = main(["predict", "starter", str(big), "-o", str(tmp_path / "o.tif"), "--tile-size", "2844"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "tiles of 2844 px" in err and "GiB" in err and "smaller tile" in err


def test_a_failed_save_at_the_end_keeps_the_trained_model(good, tmp_path, capsys, monkeypatch):
    """Minutes of training are never lost: a disk that fills up during training."""
    import unetgui.core.model as model_module

    monkeypatch.setenv("UNETGUI_DATA_DIR", str(tmp_path / "user-data"))
    real_save = model_module.save_model
    target = tmp_path / "out.unet"

    def full_disk(model, path):
        if Path(path) == target:
            from unetgui.core.errors import ImageFileError

            raise ImageFileError(f"Cannot save '{target.name}': the disk is full (0 bytes free).")
        return real_save(model, path)

    monkeypatch.setattr(model_module, "save_model", full_disk)
    code = main(["train", str(good / "image.tif"), str(good / "labels.tif"), "-o", str(target),
                 "--steps", "2", "--depth", "2", "--base-channels", "2"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and "disk is full" in err and "kept in" in err
    (rescued,) = (tmp_path / "user-data" / "rescued").glob("out-*.unet")
    from unetgui.core.model import load_model

    assert load_model(rescued).history[-1]["steps"] == 2
    assert not target.exists()


def test_a_real_full_disk_write_says_the_disk_is_full(tmp_path, monkeypatch):
    """numpy's own words on a full disk ('N requested and M written') become plain ones."""
    from unetgui.core.errors import ImageFileError

    def short_write(*args, **kwargs):
        raise OSError("262144 requested and 32600 written")

    monkeypatch.setattr(tifffile, "imwrite", short_write)
    with pytest.raises(ImageFileError, match="the disk is full"):
        write_labels(tmp_path / "x.tif", np.ones((4, 4), np.uint16))
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_disk_gives_a_clear_message_not_a_traceback(good, tmp_path, capsys, monkeypatch):
    """On a read-only file system even the clean-up unlink fails; that used to escape."""
    simulate_read_only_disk(monkeypatch)
    code = main(["weights", str(good / "labels.tif"), "-o", str(tmp_path / "w.tif")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "read-only" in err


def test_stale_temporary_files_of_a_killed_save_are_removed(good, tmp_path):
    stale = tmp_path / ".model.unet.tmp-0badc0de.unet"
    stale.write_bytes(b"half a model" * 1000)
    other = tmp_path / ".other.unet.tmp-0badc0de.unet"  # another file's: not ours to remove
    other.write_bytes(b"x")
    from unetgui.core.model import load_model

    save_model(load_model(good / "tiny.unet"), tmp_path / "model.unet")
    assert not stale.exists() and other.exists()


def test_ctrl_c_during_training_is_recorded_as_stopped(good, tmp_path, monkeypatch):
    import unetgui.core.train as train_module
    from unetgui.core.model import load_model

    calls = {"n": 0}
    real_step = train_module._step

    def interrupted_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "_step", interrupted_step)
    out = tmp_path / "m.unet"
    code = main(["train", str(good / "image.tif"), str(good / "labels.tif"), "-o", str(out),
                 "--steps", "5", "--depth", "2", "--base-channels", "2"])
    assert code == 130
    assert load_model(out).history[-1]["ended"] == "stopped"


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unetgui", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_a_real_process_reports_an_unknown_command_without_opening_a_window():
    result = run_cli("convert-model", "model.unet")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown command 'convert-model'" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a display is always there elsewhere")
def test_no_display_is_said_plainly():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "unetgui"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2
    assert "no display" in result.stderr and "predict" in result.stderr
    assert result.stderr.count("\n") == 1
