"""When one image is predicted blockwise rather than in memory."""

import argparse

import numpy as np
import pytest
import tifffile

from unetgui import cli_large
from unetgui.core import memory
from unetgui.core.errors import InvalidInputError
from unetgui.core.io import open_image


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "plane.tif"
    tifffile.imwrite(path, np.zeros((64, 80), np.uint16))
    return path


def args(output, **named):
    return argparse.Namespace(output=output, scheduler=named.get("scheduler"), cluster=named.get("cluster"),
                              probabilities=named.get("probabilities"))


def test_a_small_image_to_a_tiff_stays_in_memory(image, tmp_path):
    assert not cli_large.needs_blocks(args(tmp_path / "out.tif"), image)


@pytest.mark.parametrize("named", [{"scheduler": "local:2"}, {"cluster": "slurm"}])
def test_a_named_scheduler_or_queue_goes_blockwise(image, tmp_path, named):
    assert cli_large.needs_blocks(args(tmp_path / "out.tif", **named), image)


def test_an_ome_zarr_output_goes_blockwise(image, tmp_path):
    assert cli_large.needs_blocks(args(tmp_path / "out.ome.zarr"), image)


def test_results_that_cannot_fit_in_memory_go_blockwise(tmp_path, monkeypatch):
    image = tmp_path / "large.tif"  # 2048 x 2048: 232 MiB to predict in memory
    tifffile.imwrite(image, np.zeros((2048, 2048), np.uint16), compression="zlib")
    monkeypatch.setattr(memory, "available_bytes", lambda: 200 * 2**20)
    assert cli_large.needs_blocks(args(tmp_path / "out.tif"), image)
    with open_image(image) as stack, pytest.raises(InvalidInputError, match="memory"):
        cli_large.check_prediction_fits(stack, 2, with_probabilities=False)  # what the in-memory path checks


def test_probabilities_asked_for_count_in_the_memory_needed(tmp_path, monkeypatch):
    image = tmp_path / "large.tif"  # 2048 x 2048: 232 MiB in memory, 248 MiB with probabilities
    tifffile.imwrite(image, np.zeros((2048, 2048), np.uint16), compression="zlib")
    monkeypatch.setattr(memory, "available_bytes", lambda: 265 * 2**20)
    assert not cli_large.needs_blocks(args(tmp_path / "out.tif"), image)
    assert cli_large.needs_blocks(args(tmp_path / "out.tif", probabilities=tmp_path / "p.tif"), image)


@pytest.mark.parametrize("has_dask", [True, False])
def test_huge_planes_that_fit_go_blockwise_only_where_dask_is_installed(image, tmp_path, monkeypatch, has_dask):
    monkeypatch.setattr(cli_large, "LARGE_PLANE_PX", 64 * 80 - 1)
    monkeypatch.setattr(cli_large, "_has_distributed", lambda: has_dask)
    assert cli_large.needs_blocks(args(tmp_path / "out.tif"), image) is has_dask
