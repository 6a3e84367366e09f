"""The command line on real files: train, predict, weights, evaluate, and bad input."""

import subprocess
import sys

import numpy as np
import pytest
import tifffile

from unetgui.cli import main
from unetgui.core.io import read_labels, write_labels
from unetgui.core.model import load_model, new_model, save_model
from unetgui.core.synthetic import SyntheticConfig, synthetic_stack
from unetgui.core.unet import UNetConfig


@pytest.fixture(scope="module")
def stack_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    config = SyntheticConfig(shape=(96, 110), n_cells=10, radius_range=(6, 10))
    image, labels = synthetic_stack(3, config, np.random.default_rng(0))
    tifffile.imwrite(folder / "image.tif", image, imagej=True, metadata={"axes": "TYX"})
    write_labels(folder / "labels.tif", labels, plane_axis="T")
    return folder, image, labels


@pytest.fixture(scope="module")
def trained_model(stack_files):
    folder, _, _ = stack_files
    out = folder / "model.unet"
    code = main(
        ["train", str(folder / "image.tif"), str(folder / "labels.tif"), "-o", str(out),
         "--planes", "0,2", "--steps", "3", "--base-channels", "4", "--depth", "2", "--seed", "1",
         "--device", "cpu"]
    )
    assert code == 0
    return out


def test_train_writes_a_model_with_its_history(trained_model):
    model = load_model(trained_model)
    assert model.config.base_channels == 4 and model.config.depth == 2
    (entry,) = model.history
    assert entry["steps"] == 3 and entry["ended"] == "finished"
    assert entry["training_planes"] == ["plane 0", "plane 2"]
    assert entry["init"] == "trained from scratch"


def test_train_is_reproducible_with_a_seed(stack_files, trained_model, tmp_path):
    folder, _, _ = stack_files
    again = tmp_path / "again.unet"
    main(["train", str(folder / "image.tif"), str(folder / "labels.tif"), "-o", str(again), "--planes", "0,2",
          "--steps", "3", "--base-channels", "4", "--depth", "2", "--seed", "1", "--device", "cpu"])
    a, b = load_model(trained_model), load_model(again)
    for key, value in a.net.state_dict().items():
        assert np.array_equal(value.numpy(), b.net.state_dict()[key].numpy()), key


def test_train_takes_the_memory_layout_asked_for_and_records_it(stack_files, trained_model, tmp_path):
    folder, _, _ = stack_files
    out = tmp_path / "layout.unet"
    assert main(["train", str(folder / "image.tif"), str(folder / "labels.tif"), "-o", str(out), "--steps", "1",
                 "--base-channels", "4", "--depth", "2", "--memory-layout", "contiguous"]) == 0
    assert load_model(out).history[-1]["memory_layout"] == "contiguous"
    assert load_model(trained_model).history[-1]["memory_layout"] in ("channels_last", "contiguous")  # auto


def test_fine_tune_from_a_model(stack_files, trained_model, tmp_path):
    folder, _, _ = stack_files
    out = tmp_path / "tuned.unet"
    code = main(["train", str(folder / "image.tif"), str(folder / "labels.tif"), "-o", str(out),
                 "--init", str(trained_model), "--steps", "2", "--validation-planes", "1", "--planes", "0"])
    assert code == 0
    history = load_model(out).history
    assert len(history) == 2 and history[1]["init"] == "fine-tuned from model.unet"
    assert history[1]["best_validation"] is not None


def test_predict_writes_labels_and_probabilities(stack_files, trained_model, tmp_path):
    folder, image, _ = stack_files
    labels_out, probs_out = tmp_path / "pred.tif", tmp_path / "probs.tif"
    code = main(["predict", str(trained_model), str(folder / "image.tif"), "-o", str(labels_out),
                 "--probabilities", str(probs_out)])
    assert code == 0
    with tifffile.TiffFile(labels_out) as tif:
        assert tif.is_imagej and tif.series[0].axes == "TYX"
        predicted = tif.asarray()
    assert predicted.shape == image.shape and predicted.dtype == np.uint16
    probs = tifffile.imread(probs_out)
    assert probs.shape == image.shape and probs.dtype == np.float32
    assert 0.0 <= probs.min() and probs.max() <= 1.0


def test_predict_drops_fragments_as_asked(stack_files, tmp_path):
    """--min-relative-area reaches post-processing: the labels are the written probabilities'
    cells at that share, and 0 keeps fragments the default drops."""
    from unetgui.core.postprocess import MIN_RELATIVE_AREA, probabilities_to_labels

    folder, image, _ = stack_files
    found = {}
    for share in (MIN_RELATIVE_AREA, 0.0, 0.9):
        labels_out, probs_out = tmp_path / f"pred{share}.tif", tmp_path / f"probs{share}.tif"
        assert main(["predict", "starter", str(folder / "image.tif"), "-o", str(labels_out), "--probabilities",
                     str(probs_out), "--min-relative-area", str(share)]) == 0
        labels, probs = read_labels(labels_out), tifffile.imread(probs_out)
        for plane in range(image.shape[0]):
            expected = probabilities_to_labels(probs[plane], min_relative_area=share)
            assert np.array_equal(labels[plane], expected)
        found[share] = sum(int(plane.max()) for plane in labels)
    assert found[0.0] >= found[MIN_RELATIVE_AREA] > found[0.9] > 0


def test_weights_and_evaluate(stack_files, tmp_path, capsys):
    folder, _, labels = stack_files
    out = tmp_path / "weights.tif"
    assert main(["weights", str(folder / "labels.tif"), "-o", str(out), "--w0", "5", "--sigma", "3"]) == 0
    weights = tifffile.imread(out)
    assert weights.shape == labels.shape and weights.dtype == np.float32
    assert weights.max() > 1.0  # the border term lifts the gaps between touching cells

    assert main(["evaluate", str(folder / "labels.tif"), str(folder / "labels.tif")]) == 0
    printed = capsys.readouterr().out
    assert "foreground IoU: 1.0000" in printed
    assert "AP@0.50: 1.0000" in printed and "AP@0.75: 1.0000" in printed

    shifted = np.roll(labels, 3, axis=2)
    write_labels(tmp_path / "shifted.tif", shifted)
    assert main(["evaluate", str(folder / "labels.tif"), str(tmp_path / "shifted.tif")]) == 0
    printed = capsys.readouterr().out
    iou = float(printed.split("foreground IoU: ")[1].split()[0])
    assert 0.3 < iou < 1.0


def error_of(capsys, argv):
    """Run a failing command; its reason is one line (after any progress bar), no traceback."""
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err
    reason = err.splitlines()[-1]
    assert reason.startswith(f"unetgui {argv[0]}: error: ")
    return reason


def test_bad_input_gives_one_line_and_writes_nothing(stack_files, trained_model, tmp_path, capsys):
    folder, _, labels = stack_files
    image = str(folder / "image.tif")
    out = tmp_path / "out.unet"

    text = tmp_path / "notes.tif"
    text.write_text("this is not an image")
    assert "notes.tif" in error_of(capsys, ["train", str(text), str(folder / "labels.tif"), "-o", str(out)])
    assert not out.exists()

    write_labels(tmp_path / "small.tif", labels[:, :50, :50])
    err = error_of(capsys, ["train", image, str(tmp_path / "small.tif"), "-o", str(out)])
    assert "planes of" in err
    write_labels(tmp_path / "empty.tif", np.zeros_like(labels))
    assert "no cells" in error_of(capsys, ["train", image, str(tmp_path / "empty.tif"), "-o", str(out)])
    assert "does not exist" in error_of(capsys, ["train", image, str(folder / "labels.tif"), "-o", str(out), "--planes", "9"])
    assert "tile" in error_of(capsys, ["train", image, str(folder / "labels.tif"), "-o", str(out), "--tile-size", "101",
                                        "--depth", "2", "--base-channels", "2", "--steps", "1"])
    assert not out.exists()

    foreign = tmp_path / "foreign.unet"
    foreign.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    pred = tmp_path / "pred.tif"
    assert "not a unetgui model" in error_of(capsys, ["predict", str(foreign), image, "-o", str(pred)])
    rgb_model = tmp_path / "rgb.unet"
    save_model(new_model(UNetConfig(in_channels=3, depth=2, base_channels=2)), rgb_model)
    assert "3 channel" in error_of(capsys, ["predict", str(rgb_model), image, "-o", str(pred)])
    nan_image = tmp_path / "nan.tif"
    data = np.ones((40, 40), np.float32)
    data[5, 5] = np.nan
    tifffile.imwrite(nan_image, data)
    assert "NaN" in error_of(capsys, ["predict", str(trained_model), str(nan_image), "-o", str(pred)])
    assert not pred.exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_cuda_asked_for_where_there_is_none(stack_files, trained_model, tmp_path, capsys):
    folder, _, _ = stack_files
    err = error_of(capsys, ["predict", str(trained_model), str(folder / "image.tif"), "-o", str(tmp_path / "p.tif"),
                            "--device", "cuda"])
    assert "CUDA" in err and "--device cpu" in err


def test_the_installed_command_runs(stack_files, tmp_path):
    folder, _, _ = stack_files
    result = subprocess.run(
        [sys.executable, "-m", "unetgui", "evaluate", str(folder / "labels.tif"), str(tmp_path / "missing.tif")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "missing.tif" in result.stderr
    assert read_labels(folder / "labels.tif").shape == (3, 96, 110)


def test_the_starter_model_predicts_and_fine_tunes(stack_files, tmp_path):
    folder, image, labels = stack_files
    pred = tmp_path / "starter_pred.tif"
    assert main(["predict", "starter", str(folder / "image.tif"), "-o", str(pred)]) == 0
    from unetgui.core.metrics import evaluate

    scores = evaluate(labels, read_labels(pred))
    assert scores.ap[0.5] > 0.5  # useful before any training
    tuned = tmp_path / "tuned.unet"
    assert main(["train", str(folder / "image.tif"), str(folder / "labels.tif"), "-o", str(tuned),
                 "--planes", "0", "--steps", "1", "--tile-size", "188", "--init"]) == 0
    assert load_model(tuned).history[-1]["init"] == "fine-tuned from the starter model"


def test_the_command_line_trains_with_the_recipes(stack_files, trained_model, tmp_path):
    """One definition (core.recipes): fine-tuning and scratch take the recipes' settings."""
    from unetgui.core import recipes

    folder, _, _ = stack_files
    base = [str(folder / "image.tif"), str(folder / "labels.tif")]
    tuned, scratch = tmp_path / "tuned.unet", tmp_path / "scratch.unet"
    assert main(["train", *base, "-o", str(tuned), "--init", str(trained_model), "--steps", "1"]) == 0
    assert main(["train", *base, "-o", str(scratch), "--steps", "1", "--depth", "2"]) == 0
    for path, recipe in ((tuned, recipes.FINE_TUNE), (scratch, recipes.SCRATCH)):
        entry = load_model(path).history[-1]
        assert (entry["optimizer"], entry["learning_rate"], entry["warmup_steps"], entry["lr_decay"],
                entry["start_share"]) == (recipe.optimizer, recipe.lr, recipe.warmup_steps, recipe.lr_decay,
                                          recipe.start_share)
    assert load_model(scratch).config.base_channels == recipes.SCRATCH_NETWORK.base_channels
    alone = tmp_path / "alone.unet"
    assert main(["train", *base, "-o", str(alone), "--init", str(trained_model), "--steps", "1",
                 "--start-share", "0"]) == 0
    entry = load_model(alone).history[-1]
    assert entry["start_share"] == 0 and entry["blended_with_start"] is None
    with pytest.raises(SystemExit):
        main(["train", *base, "-o", str(tmp_path / "bad.unet"), "--init", str(trained_model), "--start-share", "1"])


def test_train_says_what_the_run_did(stack_files, trained_model, tmp_path, capsys):
    """As the window does: better or kept, blended or not, and how far its check reaches."""
    from unetgui.core.run_outcome import describe_run

    folder, _, _ = stack_files
    tuned = tmp_path / "tuned.unet"
    assert main(["train", str(folder / "image.tif"), str(folder / "labels.tif"), "-o", str(tuned),
                 "--init", str(trained_model), "--steps", "2"]) == 0
    err = capsys.readouterr().err
    entry = load_model(tuned).history[-1]
    assert describe_run(entry) in err
    judged_on_band = bool(entry["held_back"]) and not entry["kept_the_starting_weights"]
    assert ("--validation-planes" in err) == judged_on_band


def test_predict_resizes_for_the_models_cell_size(stack_files, tmp_path, capsys):
    folder, image, _ = stack_files
    out = tmp_path / "sized.tif"
    assert main(["predict", "starter", str(folder / "image.tif"), "-o", str(out), "--diameter", "120"]) == 0
    assert "Cells about 120 px across (given)" in capsys.readouterr().err
    assert read_labels(out).shape == image.shape
    assert main(["predict", "starter", str(folder / "image.tif"), "-o", str(out), "--no-rescale"]) == 0
    assert "Cells about" not in capsys.readouterr().err


def test_a_one_channel_model_reads_the_chosen_channel_of_a_multichannel_image(stack_files, trained_model,
                                                                               tmp_path):
    """As in the window: --channel picks the channel; without it the model reads their mean."""
    from unetgui.core.predict import iter_predict_planes, model_input

    folder, image, _ = stack_files
    two = np.stack([np.zeros_like(image), image], axis=1)  # (T, C, Y, X): the cells in channel 1
    tifffile.imwrite(tmp_path / "two.tif", two, imagej=True, metadata={"axes": "TCYX"})
    out_1, probs_1 = tmp_path / "c1.tif", tmp_path / "p1.tif"
    assert main(["predict", str(trained_model), str(tmp_path / "two.tif"), "-o", str(out_1),
                 "--probabilities", str(probs_1), "--channel", "1", "--no-rescale"]) == 0
    model = load_model(trained_model)
    expected = [r.foreground for r in iter_predict_planes(model, lambda p: image[p][None], range(3),
                                                          rescale=False)]
    np.testing.assert_allclose(tifffile.imread(probs_1), np.stack(expected), atol=1e-5)
    np.testing.assert_array_equal(model_input(two[0], model, None), two[0].astype(np.float32).mean(0, keepdims=True))
    assert main(["train", str(tmp_path / "two.tif"), str(folder / "labels.tif"), "-o", str(tmp_path / "m.unet"),
                 "--init", str(trained_model), "--channel", "1", "--steps", "1", "--device", "cpu"]) == 0


def test_export_writes_rois_geojson_and_measurements_that_read_back(stack_files, tmp_path, capsys):
    import json

    import roifile

    from unetgui.core.imagej_rois import read_imagej_rois
    from unetgui.core.qupath_geojson import read_geojson

    folder, image, labels = stack_files
    rois, cells, table = tmp_path / "cells.zip", tmp_path / "cells.geojson", tmp_path / "cells.csv"
    assert main(["export", str(folder / "labels.tif"), "--rois", str(rois), "--geojson", str(cells),
                 "--measurements", str(table), "--image", str(folder / "image.tif")]) == 0
    np.testing.assert_array_equal(read_imagej_rois(rois, labels.shape), labels)
    assert {r.t_position for r in roifile.roiread(rois)} == {1, 2, 3}  # the planes are time points
    np.testing.assert_array_equal(read_geojson(cells, labels.shape), labels)
    assert json.loads(cells.read_text())["features"][0]["properties"]["objectType"] == "detection"
    header, *rows = table.read_text().splitlines()
    assert header.split(",")[:3] == ["label", "plane", "area"] and "mean_intensity_c0" in header
    assert len(rows) == sum(len(np.unique(p)) - 1 for p in labels)
    assert "Wrote" in capsys.readouterr().err
    # nothing asked for, or an existing file unetgui cannot prove it wrote: one clear line, exit 2
    assert main(["export", str(folder / "labels.tif")]) == 2
    assert main(["export", str(folder / "labels.tif"), "--measurements", str(table)]) == 2
    assert "--overwrite" in capsys.readouterr().err
