"""A blockwise job end to end in this process: a TIFF in, labels equal to the in-memory
prediction out (tiled BigTIFF or OME-Zarr that ome-zarr reads with NGFF labels
metadata), a stopped job resumed without redoing finished blocks, nothing half-written."""

import numpy as np
import pytest
import tifffile
import zarr

from unetgui.core import blockwise_job
from unetgui.core.blockwise_job import partial_folder, predict_large_image
from unetgui.core.errors import InvalidInputError, UnetguiError
from unetgui.core.model import model_file_bytes
from unetgui.core.postprocess import foreground_probability, probabilities_to_labels
from unetgui.core.predict import predict
from unetgui.core.starter import load_starter_model
from unetgui.core.synthetic import SyntheticConfig, synthetic_stack

TILE = 284  # small tiles (output 100 px), so that a small image has several blocks
BLOCK = 200  # -> blocks of 192 px: 3 x 3 per plane


@pytest.fixture(scope="module")
def starter():
    model = load_starter_model()
    return model, model_file_bytes(model)


@pytest.fixture(scope="module")
def stack_file(tmp_path_factory):
    image, _ = synthetic_stack(2, SyntheticConfig(shape=(400, 500), n_cells=120, touching=0.8),
                               np.random.default_rng(7))
    path = tmp_path_factory.mktemp("large") / "stack.ome.tif"  # tiled and compressed: read tile by tile
    tifffile.imwrite(path, image, ome=True, tile=(128, 128), compression="zlib",
                     metadata={"axes": "TYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
    return path, image


@pytest.fixture(scope="module")
def in_memory(starter, stack_file):
    model = starter[0]
    foreground = [foreground_probability(predict(model, plane[None])) for plane in stack_file[1]]
    return np.stack(foreground), np.stack([probabilities_to_labels(f) for f in foreground])


def same_up_to_numbering(a, b):
    if not np.array_equal(a > 0, b > 0):
        return False
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def run(starter, image, output, **options):
    return predict_large_image(starter[1], image, output, tile_size=TILE, block_px=BLOCK, **options)


def test_labels_and_probabilities_equal_the_in_memory_prediction(tmp_path, starter, stack_file, in_memory):
    result = run(starter, stack_file[0], tmp_path / "labels.tif", probabilities=tmp_path / "probabilities.tif")
    assert result.blocks == 9 and result.planes == 2
    labels, probabilities = tifffile.imread(tmp_path / "labels.tif"), tifffile.imread(tmp_path / "probabilities.tif")
    assert np.allclose(probabilities, in_memory[0], atol=1e-4, rtol=0)
    for plane in range(2):
        assert same_up_to_numbering(labels[plane], in_memory[1][plane])
    assert result.n_cells == sum(len(np.unique(p)) - 1 for p in in_memory[1])
    with tifffile.TiffFile(tmp_path / "labels.tif") as tiff:
        assert tiff.is_bigtiff and tiff.pages[0].is_tiled
        assert tiff.pages[0].tags["XResolution"].value[0] / tiff.pages[0].tags["XResolution"].value[1] == \
            pytest.approx(1e4 / 0.5)
    assert not partial_folder(tmp_path / "labels.tif").exists()


def test_an_ome_zarr_output_holds_the_image_and_ngff_labels(tmp_path, starter, stack_file, in_memory):
    import ome_zarr_models
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    output = run(starter, stack_file[0], tmp_path / "cells.ome.zarr").output
    assert type(ome_zarr_models.open_ome_zarr(zarr.open_group(str(output), mode="r"))).__name__ == "Image"
    assert type(ome_zarr_models.open_ome_zarr(zarr.open_group(str(output / "labels" / "cells"),
                                                               mode="r"))).__name__ == "ImageLabel"
    nodes = list(Reader(parse_url(str(output)))())
    image = next(n for n in nodes if not any(type(s).__name__ == "Label" for s in n.specs))
    labels = next(n for n in nodes if any(type(s).__name__ == "Label" for s in n.specs))
    assert np.array_equal(np.asarray(image.data[0])[:, 0], stack_file[1])  # t c y x
    cells = np.asarray(labels.data[0])[:, 0]
    assert all(same_up_to_numbering(cells[p], in_memory[1][p]) for p in range(2))


def test_a_stopped_job_resumes_without_redoing_finished_blocks(tmp_path, starter, stack_file, in_memory):
    output = tmp_path / "labels.tif"

    def stop_after_five(name, done, total):
        if name == "predict" and done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(starter, stack_file[0], output, on_progress=stop_after_five)
    assert partial_folder(output).is_dir() and not output.exists()  # never half-written
    with pytest.raises(InvalidInputError, match="--resume"):
        run(starter, stack_file[0], output)
    with pytest.raises(InvalidInputError, match="other settings"):
        run(starter, stack_file[0], output, resume=True, threshold=0.6)
    result = run(starter, stack_file[0], output, resume=True)
    assert result.computed["sample"] == 0 and result.computed["predict"] == 18 - 5
    assert result.computed["labels"] == 18
    labels = tifffile.imread(output)
    assert all(same_up_to_numbering(labels[p], in_memory[1][p]) for p in range(2))
    assert not partial_folder(output).exists()


def test_a_stopped_job_can_be_started_over(tmp_path, starter, stack_file):
    output = tmp_path / "labels.tif"

    def stop(name, done, total):
        if name == "holes":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(starter, stack_file[0], output, on_progress=stop)
    result = run(starter, stack_file[0], output, overwrite_partial=True)
    assert result.computed["predict"] == 18 and output.exists()


def test_a_model_whose_channels_do_not_fit_is_refused_before_any_work(tmp_path, stack_file):
    from unetgui.core.model import new_model
    from unetgui.core.unet import UNetConfig

    model = new_model(UNetConfig(in_channels=3, base_channels=4, depth=2), seed=0)
    with pytest.raises(UnetguiError, match="3 channel"):
        predict_large_image(model_file_bytes(model), stack_file[0], tmp_path / "out.tif")
    assert not partial_folder(tmp_path / "out.tif").exists()


def test_workers_load_the_model_once_per_process(starter):
    blob = starter[1]
    first = blockwise_job.worker_model(blob, "the starter", "cpu", 0)
    assert blockwise_job.worker_model(blob, "the starter", "cpu", 0) is first


def test_a_second_driver_on_the_same_job_is_refused_and_records_survive(tmp_path):
    records = blockwise_job._Records(tmp_path / "records.sqlite")
    records.add("predict", 0, 3, {"sizes": np.arange(4)})
    with pytest.raises(InvalidInputError, match="Another unetgui job"):
        blockwise_job._Records(tmp_path / "records.sqlite")
    records.close()
    again = blockwise_job._Records(tmp_path / "records.sqlite")
    assert again.finished("predict") == {(0, 3)} and again.load("predict", 0, 3)["sizes"].tolist() == [0, 1, 2, 3]
    again.close()
