"""OME-Zarr: images with their labels group, read back by ome-zarr-py, checked by
ome-zarr-models, the pixel size kept, and clear messages without the libraries."""

import json
import sys

import numpy as np
import pytest
import tifffile
import zarr

from unetgui.cli import main
from unetgui.core.cell_files import read_cells
from unetgui.core.errors import ImageFileError
from unetgui.core.io import open_image, write_labels
from unetgui.core.ome_zarr_files import read_ome_zarr_labels, write_ome_zarr
from unetgui.core.project import find_images
from unetgui.core.synthetic import SyntheticConfig, synthetic_stack


@pytest.fixture
def cells():
    image, labels = synthetic_stack(3, SyntheticConfig(shape=(96, 120), n_cells=10), np.random.default_rng(4))
    two_channels = np.stack([image, image // 2], axis=1).astype(np.uint16)  # (P, C, Y, X)
    return two_channels, labels.astype(np.uint32)


def ome_zarr_nodes(path):
    """What ome-zarr-py's own reader (napari-ome-zarr's) finds: spec names and level shapes."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    return [([type(s).__name__ for s in node.specs], [d.shape for d in node.data])
            for node in Reader(parse_url(str(path)))()]


@pytest.mark.parametrize("plane_axis", ["T", "Z"])
def test_an_image_with_its_labels_reads_back_and_validates(tmp_path, cells, plane_axis):
    import ome_zarr_models

    image, labels = cells
    path = write_ome_zarr(tmp_path / "cells.ome.zarr", image, labels, plane_axis=plane_axis, pixel_size=(0.4, 0.3))
    nodes = ome_zarr_nodes(path)
    assert ["Multiscales"] in [specs for specs, _ in nodes]
    assert any("Label" in specs and shapes for specs, shapes in nodes)
    assert type(ome_zarr_models.open_ome_zarr(zarr.open_group(str(path), mode="r"))).__name__ == "Image"
    label_group = zarr.open_group(str(path / "labels" / "cells"), mode="r")
    assert type(ome_zarr_models.open_ome_zarr(label_group)).__name__ == "ImageLabel"
    colours = json.loads((path / "labels" / "cells" / ".zattrs").read_text())["image-label"]["colors"]
    assert sorted(c["label-value"] for c in colours) == sorted(set(np.unique(labels)) - {0})

    with open_image(path) as stack:
        assert stack.shape == (3, 2, 96, 120) and stack.plane_axes == plane_axis
        assert stack.pixel_size == pytest.approx((0.4, 0.3))
        assert np.array_equal(stack.read_plane(2), image[2])
    assert np.array_equal(read_ome_zarr_labels(path, (3, 96, 120)), labels)
    assert np.array_equal(read_cells(path, (3, 96, 120)), labels)  # File > Import labels


def test_a_large_image_gets_a_pyramid_and_one_plane_no_plane_axis(tmp_path):
    image = np.zeros((1, 1, 1100, 600), np.uint8)
    labels = np.zeros((1, 1100, 600), np.uint32)
    labels[0, 10:50, 10:50] = 70_000  # beyond 16 bits
    path = write_ome_zarr(tmp_path / "big.zarr", image, labels)
    (image_node,) = [shapes for specs, shapes in ome_zarr_nodes(path) if specs == ["Multiscales"]]
    assert image_node == [(1, 1100, 600), (1, 550, 300)]  # halves while the smaller side stays >= 256
    assert read_ome_zarr_labels(path, (1, 1100, 600)).max() == 70_000
    with open_image(path) as stack:
        assert stack.shape == (1, 1, 1100, 600) and stack.pixel_size is None


def test_writing_again_replaces_it_whole_and_mismatched_labels_are_refused(tmp_path, cells):
    image, labels = cells
    path = write_ome_zarr(tmp_path / "a.zarr", image, labels)
    write_ome_zarr(path, image[:1], None)
    with open_image(path) as stack:
        assert stack.n_planes == 1
    assert not (path / "labels").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.zarr"]  # no temporaries left
    with pytest.raises(ImageFileError, match="holds no labels"):
        read_ome_zarr_labels(path, (1, 96, 120))
    write_ome_zarr(path, image, labels)
    with pytest.raises(ImageFileError, match="have 3 plane"):
        read_ome_zarr_labels(path, (2, 96, 120))


def test_a_project_folder_lists_ome_zarr_images(tmp_path, cells):
    image, labels = cells
    write_ome_zarr(tmp_path / "b.ome.zarr", image, labels)
    tifffile.imwrite(tmp_path / "a.tif", image[0, 0])
    (tmp_path / "notes.zarr.txt").write_text("")
    assert find_images(tmp_path) == ["a.tif", "b.ome.zarr"]


def test_without_the_libraries_the_message_says_how_to_install(tmp_path, cells, monkeypatch):
    monkeypatch.setitem(sys.modules, "ome_zarr", None)
    with pytest.raises(ImageFileError, match=r'pip install "unetgui\[zarr\]"'):
        write_ome_zarr(tmp_path / "x.zarr", *cells)


def test_unetgui_export_writes_the_image_and_labels(tmp_path, cells, capsys):
    image, labels = cells
    tifffile.imwrite(tmp_path / "image.tif", image, imagej=True, resolution=(1 / 0.5, 1 / 0.5),
                     metadata={"axes": "TCYX", "unit": "um"})
    write_labels(tmp_path / "labels.tif", labels, plane_axis="T")
    out = tmp_path / "both.ome.zarr"
    assert main(["export", str(tmp_path / "labels.tif"), "--ome-zarr", str(out), "--image",
                 str(tmp_path / "image.tif")]) == 0
    with open_image(out) as stack:
        assert stack.plane_axes == "T" and stack.pixel_size == pytest.approx((0.5, 0.5))
    assert np.array_equal(read_ome_zarr_labels(out, labels.shape), labels)
    assert main(["export", str(tmp_path / "labels.tif"), "--ome-zarr", str(out), "--image",
                 str(tmp_path / "image.tif")]) == 0  # ours: replaced without --overwrite
    assert main(["export", str(tmp_path / "labels.tif"), "--ome-zarr", str(tmp_path / "x.zarr")]) == 2
    assert "--image" in capsys.readouterr().err
