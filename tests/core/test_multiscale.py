"""Reading what a viewer shows of a plane too large to hold: pyramid levels of OME-TIFF
and OME-Zarr files, the level a zoom calls for, overviews with and without a pyramid."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from unetgui.core import memory, multiscale
from unetgui.core.io import open_image


def _image(shape=(2, 600, 800)) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 60000, shape, dtype=np.uint16)


def _pyramid_tiff(path, image, levels=2):
    """An OME-TIFF whose reduced levels are SubIFDs (as bfconvert and QuPath write them)."""
    with tifffile.TiffWriter(path, bigtiff=True) as tiff:
        tiff.write(image, subifds=levels, tile=(128, 128), compression="zlib", metadata={"axes": "ZYX"})
        for k in range(1, levels + 1):
            tiff.write(image[:, :: 2**k, :: 2**k], subfiletype=1, tile=(128, 128), compression="zlib")
    return path


def test_ome_tiff_levels_are_read_region_by_region(tmp_path):
    image = _image()
    with open_image(_pyramid_tiff(tmp_path / "p.ome.tif", image)) as stack:
        assert stack.level_shapes == ((600, 800), (300, 400), (150, 200))
        for level in (0, 1, 2):
            reduced = image[1, :: 2**level, :: 2**level]
            region = stack.read_level_region(1, level, (10, 70), (5, 99))
            assert region.shape == (1, 60, 94)
            assert np.array_equal(region[0], reduced[10:70, 5:99])
        assert np.array_equal(stack.read_plane(1)[0], image[1])  # the full size still reads as before
        assert np.array_equal(stack.read_region(0, (0, 5), (0, 5))[0], image[0, :5, :5])


def test_regions_of_a_single_plane_file_with_a_length_1_axis(tmp_path):
    """tifffile squeezes (1, Y, X) to YX, its zarr store does not."""
    image = _image((1, 300, 200))
    tifffile.imwrite(tmp_path / "one.tif", image, tile=(64, 64), compression="zlib")
    with open_image(tmp_path / "one.tif") as stack:
        assert np.array_equal(stack.read_region(0, (10, 100), (20, 150))[0], image[0, 10:100, 20:150])
        with pytest.raises(IndexError):
            stack.read_level_region(0, 2, (0, 151), (0, 10))


def test_ome_zarr_levels(tmp_path):
    pytest.importorskip("ome_zarr")
    import zarr

    from unetgui.core.ome_zarr_files import write_ome_zarr

    image = _image((1, 1, 1024, 1024))
    path = write_ome_zarr(tmp_path / "a.ome.zarr", image)
    with open_image(path) as stack:
        shapes = stack.level_shapes
        assert shapes[0] == (1024, 1024) and len(shapes) > 1
        level = len(shapes) - 1
        root = zarr.open(str(path), mode="r")
        stored = np.asarray(root[root.attrs["multiscales"][0]["datasets"][level]["path"]])
        assert np.array_equal(stack.read_level_region(0, level, (0, shapes[level][0]), (0, shapes[level][1]))[0],
                              stored.reshape(shapes[level]))


def test_a_file_without_pyramid_has_one_level(tmp_path):
    tifffile.imwrite(tmp_path / "flat.tif", _image((300, 200)))
    with open_image(tmp_path / "flat.tif") as stack:
        assert stack.level_shapes == ((300, 200),)


@pytest.mark.parametrize(("density", "level"), [(0.3, 0), (1.0, 0), (1.9, 0), (2.0, 1), (3.9, 1), (4.0, 2), (50, 2)])
def test_the_coarsest_level_with_a_pixel_per_screen_pixel(density, level):
    assert multiscale.choose_level(((1000, 1200), (500, 600), (250, 300)), density) == level


def test_overview_takes_the_finest_pyramid_level_small_enough(tmp_path):
    image = _image((1, 600, 800))
    with open_image(_pyramid_tiff(tmp_path / "p.ome.tif", image)) as stack:
        view = multiscale.overview(stack, 0, side=400)
        assert view.level == 1 and view.box == (0.0, 600.0, 0.0, 800.0) and view.step == 2.0
        assert np.array_equal(view.data[0], image[0, ::2, ::2])


def test_overview_without_pyramid_is_subsampled_band_by_band(tmp_path, monkeypatch):
    image = _image((1, 1001, 702))
    tifffile.imwrite(tmp_path / "flat.tif", image, tile=(128, 128), compression="zlib")
    seen = []
    with open_image(tmp_path / "flat.tif") as stack:
        whole = multiscale.overview(stack, 0, side=300)
        monkeypatch.setattr(multiscale, "BAND_BYTES", 50 * 702 * 2)  # bands of 48 rows
        banded = multiscale.overview(stack, 0, side=300, on_progress=seen.append)
    step = 4  # ceil(1001 / 300)
    for view in (whole, banded):
        assert view.level == 0 and view.step == step
        assert np.array_equal(view.data[0], image[0, ::step, ::step])
        # 251 x 176 samples, each standing for 4 x 4 pixels: they reach 1004 x 704
        assert view.box == (0.0, 251 * step, 0.0, 176 * step)
    assert len(seen) > 10 and seen == sorted(seen) and seen[-1] == 1.0


def test_overview_without_zarr_reads_the_whole_plane(tmp_path, monkeypatch):
    """The base install has no zarr, which reading part of a compressed page needs: a
    plane that fits is then read whole, as before, and subsampled."""
    import importlib.util

    image = _image((1, 1001, 702))
    tifffile.imwrite(tmp_path / "flat.tif", image, tile=(128, 128), compression="zlib")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "zarr" else
                        real_find_spec(name, *a))
    with open_image(tmp_path / "flat.tif") as stack:
        view = multiscale.overview(stack, 0, side=300)
        assert multiscale.detail(stack, 0, (0, 100, 0, 100), 0.5) is None  # no part can be read
    assert np.array_equal(view.data[0], image[0, ::4, ::4]) and view.box == (0.0, 1004.0, 0.0, 704.0)
    pyramid = _pyramid_tiff(tmp_path / "p.ome.tif", image[:, :800, :600])
    with open_image(pyramid) as stack:  # its levels need zarr too: the full size, subsampled
        view = multiscale.overview(stack, 0, side=300)
    assert view.level == 0 and np.array_equal(view.data[0], image[0, :800:3, :600:3])


def test_detail_reads_the_part_in_view_at_the_level_the_zoom_needs(tmp_path):
    image = _image((1, 600, 800))
    with open_image(_pyramid_tiff(tmp_path / "p.ome.tif", image)) as stack:
        close = multiscale.detail(stack, 0, (100, 200, 300, 500), 0.5, margin=0.0)
        assert close.level == 0 and close.box == (100, 200, 300, 500)
        assert np.array_equal(close.data[0], image[0, 100:200, 300:500])
        zoomed_out = multiscale.detail(stack, 0, (100, 500, 100, 700), 3.0, margin=0.0)
        assert zoomed_out.level == 1 and zoomed_out.box == (100, 500, 100, 700)
        assert np.array_equal(zoomed_out.data[0], image[0, ::2, ::2][50:250, 50:350])
        margin = multiscale.detail(stack, 0, (100, 200, 300, 400), 1.0, margin=0.25)
        assert margin.box == (75, 225, 275, 425)
        # too many pixels at the level the zoom wants: a coarser one
        capped = multiscale.detail(stack, 0, (0, 600, 0, 800), 1.0, margin=0.0, max_pixels=300 * 400)
        assert capped.level == 1
        # nothing finer than what the overview shows: no read
        assert multiscale.detail(stack, 0, (0, 600, 0, 800), 3.0, coarser_than=2.0) is None


def test_large_means_too_many_pixels_or_too_little_memory(tmp_path, monkeypatch):
    tifffile.imwrite(tmp_path / "a.tif", _image((300, 200)))
    with open_image(tmp_path / "a.tif") as stack:
        assert not multiscale.is_large(stack)
        monkeypatch.setattr(multiscale, "LARGE_PLANE_PX", 300 * 200 - 1)
        assert multiscale.is_large(stack)
        monkeypatch.setattr(multiscale, "LARGE_PLANE_PX", 10**9)
        monkeypatch.setattr(memory, "available_bytes", lambda: 300 * 200 * 5)
        assert multiscale.is_large(stack)
