"""Tests for unetgui.core.io: layouts, lazy reading, label files, atomic saving, bad files."""

import os
import stat

import imagecodecs
import numpy as np
import pytest
import tifffile

from unetgui.core.errors import ImageFileError, InvalidInputError
from unetgui.core.io import (
    atomic_write,
    check_finite,
    open_image,
    read_labels,
    write_image,
    write_labels,
    write_probabilities,
)


def random_array(shape, dtype, seed=0):
    """Small deterministic test data covering much of the dtype's range."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def to_pcyx(array, axes):
    """Reference: move plane axes first (file order), then the channel axis, then Y, X."""
    planes = [i for i, a in enumerate(axes) if a not in "CSYX"]
    channels = [i for i, a in enumerate(axes) if a in "CS"]
    moved = array.transpose(planes + channels + [axes.index("Y"), axes.index("X")])
    n_planes = int(np.prod([array.shape[i] for i in planes]))
    n_channels = array.shape[channels[0]] if channels else 1
    rows, cols = array.shape[axes.index("Y")], array.shape[axes.index("X")]
    return moved.reshape(n_planes, n_channels, rows, cols)


def imagej(axes, **kwargs):
    return {"imagej": True, "metadata": {"axes": axes}, **kwargs}


def ome(axes, **kwargs):
    return {"ome": True, "metadata": {"axes": axes}, **kwargs}


GREY = {"photometric": "minisblack"}

# name, shape, dtype, tifffile.imwrite keywords, expected source_axes, expected plane_axes
LAYOUTS = [
    ("yx_uint8", (6, 7), np.uint8, {}, "YX", ""),
    ("zyx_uint16_imagej", (4, 6, 7), np.uint16, imagej("ZYX"), "ZYX", "Z"),
    ("tyx_imagej", (3, 6, 7), np.uint16, imagej("TYX"), "TYX", "T"),
    ("cyx_imagej", (2, 6, 7), np.uint16, imagej("CYX"), "CYX", ""),
    ("zcyx_imagej", (3, 2, 6, 7), np.uint8, imagej("ZCYX"), "ZCYX", "Z"),
    ("tzcyx_imagej", (2, 3, 2, 6, 7), np.float32, imagej("TZCYX"), "TZCYX", "TZ"),
    ("tcyx_ome", (2, 3, 6, 7), np.uint16, ome("TCYX"), "TCYX", "T"),
    ("zcyx_ome", (3, 2, 6, 7), np.float32, ome("ZCYX"), "ZCYX", "Z"),
    ("rgb", (6, 7, 3), np.uint8, {"photometric": "rgb"}, "YXS", ""),
    ("rgb_stack_ome", (2, 6, 7, 3), np.uint8, ome("ZYXS", photometric="rgb"), "ZYXS", "Z"),
    ("int32", (6, 7), np.int32, {}, "YX", ""),
    ("float32_zyx", (3, 6, 7), np.float32, {**GREY, "metadata": {"axes": "ZYX"}}, "ZYX", "Z"),
    ("plain_stack", (4, 6, 7), np.uint16, GREY, "QYX", "Q"),
    ("big_endian", (3, 6, 7), np.uint16, {**GREY, "byteorder": ">"}, "QYX", "Q"),
    ("lzw", (3, 6, 7), np.uint16, {**GREY, "compression": "lzw"}, "QYX", "Q"),
    ("deflate_tzcyx_imagej", (2, 2, 3, 6, 7), np.uint16, imagej("TZCYX", compression="zlib"),
     "TZCYX", "TZ"),
    ("deflate_tcyx_ome", (2, 3, 6, 7), np.float32, ome("TCYX", compression="zlib"), "TCYX", "T"),
    ("tiled_deflate", (2, 40, 40), np.uint16, {**GREY, "compression": "zlib", "tile": (16, 16)},
     "QYX", "Q"),
]


@pytest.mark.parametrize("name, shape, dtype, kwargs, axes, plane_axes", LAYOUTS,
                         ids=[case[0] for case in LAYOUTS])
def test_tiff_layouts_round_trip(tmp_path, name, shape, dtype, kwargs, axes, plane_axes):
    data = random_array(shape, dtype)
    path = tmp_path / f"{name}.tif"
    tifffile.imwrite(path, data, **kwargs)
    expected = to_pcyx(data, axes)
    with open_image(path) as stack:
        assert stack.source_axes == axes
        assert stack.plane_axes == plane_axes
        assert stack.plane_shape == tuple(data.shape[axes.index(a)] for a in plane_axes)
        assert stack.shape == expected.shape
        assert (stack.n_planes, stack.n_channels, stack.height, stack.width) == expected.shape
        assert len(stack) == expected.shape[0]
        assert stack.dtype == np.dtype(dtype)
        assert stack.is_rgb == ("S" in axes)
        all_planes = stack.read_all()
        assert all_planes.dtype == np.dtype(dtype) and all_planes.dtype.isnative
        np.testing.assert_array_equal(all_planes, expected)
        for index in range(stack.n_planes):
            np.testing.assert_array_equal(stack.read_plane(index), expected[index])
        np.testing.assert_array_equal(stack.read_plane(-1), expected[-1])


def test_png_grey_and_rgb(tmp_path):
    grey, rgb = random_array((6, 7), np.uint16), random_array((6, 7, 3), np.uint8, seed=1)
    imagecodecs.imwrite(tmp_path / "grey.png", grey)
    imagecodecs.imwrite(tmp_path / "rgb.png", rgb)
    with open_image(tmp_path / "grey.png") as stack:
        assert stack.shape == (1, 1, 6, 7) and stack.dtype == np.uint16 and not stack.is_rgb
        np.testing.assert_array_equal(stack.read_plane(0)[0], grey)
    with open_image(tmp_path / "rgb.png") as stack:
        assert stack.shape == (1, 3, 6, 7) and stack.source_axes == "YXS" and stack.is_rgb
        np.testing.assert_array_equal(stack.read_all()[0], rgb.transpose(2, 0, 1))


def test_jpeg_is_read_approximately(tmp_path):
    yy, xx = np.mgrid[0:16, 0:24]
    rgb = np.stack([yy * 8, xx * 8, np.full_like(yy, 128)], axis=-1).astype(np.uint8)
    imagecodecs.imwrite(tmp_path / "smooth.jpg", rgb, level=95)
    with open_image(tmp_path / "smooth.jpg") as stack:
        assert stack.shape == (1, 3, 16, 24) and stack.dtype == np.uint8 and stack.is_rgb
        difference = np.abs(stack.read_plane(0).astype(int) - rgb.transpose(2, 0, 1))
        assert difference.mean() < 4


def count_page_decodes(monkeypatch):
    """Count TiffPage.asarray calls (TiffFrame.asarray goes through it too)."""
    calls = []
    original = tifffile.TiffPage.asarray

    def spy(self, *args, **kwargs):
        calls.append(self.index)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(tifffile.TiffPage, "asarray", spy)
    return calls


def test_uncompressed_stack_is_memory_mapped(tmp_path, monkeypatch):
    data = random_array((20, 8, 9), np.uint16)
    tifffile.imwrite(tmp_path / "plain.tif", data, imagej=True, metadata={"axes": "ZYX"})
    decodes = count_page_decodes(monkeypatch)
    with open_image(tmp_path / "plain.tif") as stack:
        assert stack.is_memory_mapped
        plane = stack.read_plane(7)
        np.testing.assert_array_equal(plane[0], data[7])
        plane[:] = 0  # a copy: neither the file nor the next read changes
        np.testing.assert_array_equal(stack.read_plane(7)[0], data[7])
    assert decodes == []
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "plain.tif"), data)


def test_compressed_stack_decodes_only_the_pages_asked_for(tmp_path, monkeypatch):
    data = random_array((20, 8, 9), np.uint16)
    tifffile.imwrite(tmp_path / "packed.tif", data, photometric="minisblack", compression="zlib")
    decodes = count_page_decodes(monkeypatch)
    with open_image(tmp_path / "packed.tif") as stack:
        assert not stack.is_memory_mapped
        assert decodes == []
        np.testing.assert_array_equal(stack.read_plane(7)[0], data[7])
        assert decodes == [7]


def test_compressed_hyperstack_plane_reads_one_page_per_channel(tmp_path, monkeypatch):
    data = random_array((4, 3, 8, 9), np.uint8)
    tifffile.imwrite(tmp_path / "zc.tif", data, **imagej("ZCYX", compression="zlib"))
    decodes = count_page_decodes(monkeypatch)
    with open_image(tmp_path / "zc.tif") as stack:
        np.testing.assert_array_equal(stack.read_plane(2), data[2])
    assert sorted(decodes) == [6, 7, 8]


def test_unknown_five_dimensional_axes_are_refused(tmp_path):
    tifffile.imwrite(tmp_path / "5d.tif", np.zeros((2, 2, 3, 8, 9), np.uint16), **GREY)
    message = r"'5d\.tif'.*QQQYX.*2 x 2 x 3 x 8 x 9.*ImageJ hyperstack"
    with pytest.raises(ImageFileError, match=message):
        open_image(tmp_path / "5d.tif")


def test_two_unknown_axes_are_refused_but_one_is_a_stack(tmp_path):
    tifffile.imwrite(tmp_path / "4d.tif", np.zeros((2, 3, 8, 9), np.uint8), **GREY)
    with pytest.raises(ImageFileError, match="QQYX"):
        open_image(tmp_path / "4d.tif")
    # Unknown axes of size 1 are harmless: (1, 5, 1, Y, X) is a plain 5-plane stack.
    tifffile.imwrite(tmp_path / "ones.tif", np.zeros((1, 5, 1, 8, 9), np.uint8), **GREY)
    with open_image(tmp_path / "ones.tif") as stack:
        assert stack.shape == (5, 1, 8, 9) and stack.source_axes == "QYX"


def test_channels_and_rgb_samples_together_are_refused(tmp_path):
    data = np.zeros((2, 8, 9, 3), np.uint8)
    tifffile.imwrite(tmp_path / "crgb.tif", data, **imagej("CYXS", photometric="rgb"))
    with pytest.raises(ImageFileError, match="more than one channel axis"):
        open_image(tmp_path / "crgb.tif")


@pytest.mark.parametrize("name, content, message", [
    ("empty.tif", b"", "is empty"),
    ("notes.tif", b"These are my notes, not an image.\n", "not a valid TIFF file"),
    ("noise.tif", np.random.default_rng(3).bytes(500), "not a valid TIFF file"),
    ("noise.tiff", b"II*\x00" + np.random.default_rng(4).bytes(500), "not a valid TIFF file"),
    ("broken.png", b"\x89PNG\r\n\x1a\n" + bytes(40), "not a valid PNG file"),
    ("broken.jpg", b"\xff\xd8\xff" + bytes(40), "not a valid JPEG file"),
    ("image.czi", b"ZISRAWFILE", "unetgui reads TIFF"),
])
def test_bad_files_raise_image_file_error(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImageFileError, match=message) as caught:
        open_image(tmp_path / name)
    assert name in str(caught.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageFileError, match="does not exist") as caught:
        open_image(tmp_path / "missing.tif")
    assert "missing.tif" in str(caught.value)
    (tmp_path / "folder.tif").mkdir()
    with pytest.raises(ImageFileError, match="'folder.tif': it is a folder"):
        open_image(tmp_path / "folder.tif")


@pytest.mark.parametrize("keep_bytes", [600, 1500])  # cut in the pixels / in the later pages
def test_truncated_imagej_file_fails_at_open(tmp_path, keep_bytes):
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, random_array((5, 16, 16), np.uint16), **imagej("ZYX"))
    path.write_bytes(path.read_bytes()[:keep_bytes])
    with pytest.raises(ImageFileError, match="'cut.tif'.*incomplete"):
        open_image(path)


def test_corrupt_compressed_plane_fails_when_read(tmp_path):
    path = tmp_path / "bad_plane.tif"
    data = random_array((3, 16, 16), np.uint16)
    tifffile.imwrite(path, data, photometric="minisblack", compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[1].dataoffsets[0], tif.pages[1].databytecounts[0]
    raw = bytearray(path.read_bytes())
    raw[offset:offset + count] = bytes(count)  # zeros are not a valid deflate stream
    path.write_bytes(bytes(raw))
    with open_image(path) as stack:
        np.testing.assert_array_equal(stack.read_plane(0)[0], data[0])
        with pytest.raises(ImageFileError, match="plane 2 of 'bad_plane.tif'"):
            stack.read_plane(1)


def test_plane_index_range_and_closed_stack(tmp_path):
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((3, 4, 5), np.uint8), photometric="minisblack")
    stack = open_image(tmp_path / "s.tif")
    with pytest.raises(IndexError):
        stack.read_plane(3)
    stack.close()
    with pytest.raises(ValueError, match="closed"):
        stack.read_plane(0)


def test_check_finite():
    check_finite(np.arange(6, dtype=np.uint16), "The image 'a.tif'")
    check_finite(np.ones(4, np.float32), "The image 'a.tif'")
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(InvalidInputError, match="The image 'a.tif' contains NaN or infinite"):
            check_finite(np.array([0.0, bad], np.float32), "The image 'a.tif'")


def test_nan_image_opens(tmp_path):
    data = np.array([[0.0, np.nan], [np.inf, 1.0]], np.float32)
    tifffile.imwrite(tmp_path / "nan.tif", data)
    with open_image(tmp_path / "nan.tif") as stack:
        np.testing.assert_array_equal(stack.read_plane(0)[0], data)


def labels_example(max_label, seed=0):
    labels = np.random.default_rng(seed).integers(0, 5, size=(3, 10, 12)).astype(np.uint32)
    labels[1, 2, 3] = max_label
    return labels


def test_uint16_labels_round_trip_as_imagej_stack(tmp_path):
    labels = labels_example(60000)
    path = write_labels(tmp_path / "labels.tif", labels)
    assert path == tmp_path / "labels.tif"
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        assert tif.series[0].axes == "ZYX"
        assert tif.series[0].dtype == np.uint16
    result = read_labels(path, expected_shape=(3, 10, 12))
    assert result.dtype == np.uint16
    np.testing.assert_array_equal(result, labels)


def test_uint32_labels_round_trip(tmp_path):
    labels = labels_example(70000)
    path = write_labels(tmp_path / "many.tif", labels, plane_axis="T")
    with tifffile.TiffFile(path) as tif:
        assert tif.series[0].dtype == np.uint32
        assert tif.series[0].axes == "TYX"
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    result = read_labels(path)
    assert result.dtype == np.uint32
    np.testing.assert_array_equal(result, labels)


def test_single_plane_labels_and_time_axis(tmp_path):
    labels = np.array([[0, 1], [2, 2]], np.int64)
    write_labels(tmp_path / "one.tif", labels)
    with tifffile.TiffFile(tmp_path / "one.tif") as tif:
        assert tif.is_imagej and tif.series[0].axes == "YX"
    np.testing.assert_array_equal(read_labels(tmp_path / "one.tif"), labels[np.newaxis])
    write_labels(tmp_path / "time.tif", labels_example(3), plane_axis="T")
    with tifffile.TiffFile(tmp_path / "time.tif") as tif:
        assert tif.is_imagej and tif.series[0].axes == "TYX"


def test_read_labels_shape_mismatch_names_both_shapes(tmp_path):
    write_labels(tmp_path / "labels.tif", np.zeros((3, 256, 256), np.uint16))
    expected = ("The labels in 'labels.tif' have 3 planes of 256 x 256 pixels but the image "
                "has 4 planes of 256 x 256 pixels")
    with pytest.raises(ImageFileError) as caught:
        read_labels(tmp_path / "labels.tif", expected_shape=(4, 256, 256))
    assert expected in str(caught.value)


def test_read_labels_accepts_whole_floats_and_signed(tmp_path):
    tifffile.imwrite(tmp_path / "f.tif", np.array([[0.0, 3.0], [70000.0, 1.0]], np.float32))
    result = read_labels(tmp_path / "f.tif")
    assert result.dtype == np.uint32
    np.testing.assert_array_equal(result, [[[0, 3], [70000, 1]]])
    tifffile.imwrite(tmp_path / "i.tif", np.array([[0, 3], [2, 1]], np.int16))
    result = read_labels(tmp_path / "i.tif")
    assert result.dtype == np.uint16
    np.testing.assert_array_equal(result, [[[0, 3], [2, 1]]])


@pytest.mark.parametrize("data, message", [
    (np.array([[0.0, 0.5], [1.0, 2.0]], np.float32), "fractional"),
    (np.array([[0.0, np.nan], [1.0, 2.0]], np.float32), "fractional, NaN"),
    (np.array([[0, -1], [1, 2]], np.int16), "negative"),
    (np.zeros((4, 5, 3), np.uint8), "3 channels"),
])
def test_read_labels_rejects_non_labels(tmp_path, data, message):
    kwargs = {"photometric": "rgb"} if data.ndim == 3 else {}
    tifffile.imwrite(tmp_path / "bad.tif", data, **kwargs)
    with pytest.raises(ImageFileError, match=message):
        read_labels(tmp_path / "bad.tif")


@pytest.mark.parametrize("labels, plane_axis", [
    (np.zeros((4, 4), np.float32), "Z"),
    (np.array([[0, -2]], np.int32), "Z"),
    (np.zeros((2, 2, 4, 4), np.uint16), "Z"),
    (np.zeros((0, 4), np.uint16), "Z"),
    (np.zeros((2, 4, 4), np.uint16), "C"),
])
def test_write_labels_rejects_bad_input(tmp_path, labels, plane_axis):
    with pytest.raises(InvalidInputError):
        write_labels(tmp_path / "x.tif", labels, plane_axis=plane_axis)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shape, axes",
                         [((6, 7), "YX"), ((3, 6, 7), "ZYX"), ((3, 2, 6, 7), "ZCYX")])
def test_write_probabilities(tmp_path, shape, axes):
    probabilities = np.random.default_rng(5).random(shape)  # float64 in, float32 out
    path = write_probabilities(tmp_path / "p.tif", probabilities)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej and tif.series[0].axes == axes and tif.series[0].dtype == np.float32
        np.testing.assert_array_equal(tif.asarray(), probabilities.astype(np.float32))
    with pytest.raises(InvalidInputError, match="NaN"):
        write_probabilities(tmp_path / "nan.tif", np.full(shape, np.nan))


def test_write_image_weight_map(tmp_path):
    weights = np.random.default_rng(6).random((2, 5, 6)).astype(np.float32)
    write_image(tmp_path / "w.tif", weights, axes="ZYX")
    with tifffile.TiffFile(tmp_path / "w.tif") as tif:
        assert tif.is_imagej and tif.series[0].axes == "ZYX"
    with open_image(tmp_path / "w.tif") as stack:
        np.testing.assert_array_equal(stack.read_all()[:, 0], weights)
    bad = [(weights, "YX"), (weights, "YZX"), (weights, "ZXY"), (weights.astype(np.int32), "ZYX")]
    for image, axes in bad:
        with pytest.raises(InvalidInputError):
            write_image(tmp_path / "bad.tif", image, axes=axes)


def test_atomic_write_replaces_on_success(tmp_path):
    target = tmp_path / "out.tif"
    target.write_bytes(b"old")
    with atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".tif"
        assert tmp.name.startswith(".out.tif.tmp-")
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]


def test_atomic_write_keeps_original_on_error(tmp_path):
    target = tmp_path / "out.tif"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"half a fi")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]


def test_atomic_write_new_file_gets_normal_permissions(tmp_path):
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    with atomic_write(tmp_path / "new.tif") as tmp:
        tmp.write_bytes(b"data")
    mode = stat.S_IMODE(os.stat(tmp_path / "new.tif").st_mode)
    assert mode == stat.S_IMODE(os.stat(reference).st_mode)


def test_atomic_write_creates_a_missing_folder_but_not_under_a_file(tmp_path):
    written = write_labels(tmp_path / "new" / "x.tif", np.ones((2, 2), np.uint8))
    assert tifffile.imread(written).tolist() == [[1, 1], [1, 1]]
    (tmp_path / "a file").write_text("")
    with pytest.raises(ImageFileError, match="Cannot save 'x.tif'"):
        write_labels(tmp_path / "a file" / "x.tif", np.zeros((2, 2), np.uint8))


def test_volumetric_page_falls_back_to_decoding_on_first_read(tmp_path, monkeypatch):
    data = random_array((4, 16, 16), np.uint16)  # all depths in one tiled TIFF page (ImageDepth)
    tifffile.imwrite(tmp_path / "vol.tif", data, volumetric=True, tile=(2, 16, 16),
                     compression="zlib", photometric="minisblack")
    decodes = count_page_decodes(monkeypatch)
    with open_image(tmp_path / "vol.tif") as stack:
        assert stack.shape == (4, 1, 16, 16) and stack.plane_axes == "Z"
        assert decodes == []
        np.testing.assert_array_equal(stack.read_plane(2)[0], data[2])
        np.testing.assert_array_equal(stack.read_all()[:, 0], data)
    assert len(decodes) == 1


def test_an_unreadable_file_is_called_permission_denied(tmp_path, monkeypatch):
    """Tests run as root, where chmod does not stop reads: the check itself is simulated."""
    path = tmp_path / "locked.tif"
    tifffile.imwrite(path, np.zeros((4, 4), np.uint8))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.R_OK and str(p) == str(path)
                        else real_access(p, mode))
    with pytest.raises(ImageFileError, match="permission denied"):
        open_image(path)


def test_a_plane_too_large_for_memory_is_refused_with_the_numbers(tmp_path, monkeypatch):
    from tests.hostile_files import bomb_tiff
    from unetgui.core import memory

    path = tmp_path / "bomb.tif"
    path.write_bytes(bomb_tiff(8192, 8192))  # 128 MiB decoded from ~130 kB
    monkeypatch.setattr(memory, "available_bytes", lambda: 100 * 2**20)
    with open_image(path) as stack:
        with pytest.raises(ImageFileError, match=r"needs about 128.0 MiB of memory, but only 100.0 MiB.*"
                                                 r"block by block .*unetgui predict MODEL IMAGE -o IMAGE.ome.zarr"):
            stack.read_plane(0)
        with pytest.raises(ImageFileError, match="memory"):
            stack.read_all()


def test_a_decoder_out_of_memory_is_not_called_damage(tmp_path, monkeypatch):
    path = tmp_path / "x.tif"
    tifffile.imwrite(path, np.zeros((2, 8, 8), np.uint8), compression="zlib")

    def no_memory(*args, **kwargs):
        raise MemoryError

    with open_image(path) as stack:
        monkeypatch.setattr(stack._source, "block", no_memory)
        with pytest.raises(ImageFileError, match="ran out of memory") as error:
            stack.read_plane(1)
        assert "damaged" not in str(error.value)


def test_zero_size_images_are_refused_at_open(tmp_path):
    from tests.hostile_files import raw_tiff

    (tmp_path / "zero.tif").write_bytes(raw_tiff(0, 0))
    with pytest.raises(ImageFileError, match="no pixels"):
        open_image(tmp_path / "zero.tif")


@pytest.mark.parametrize("dtype", [np.uint64, np.int64])
def test_label_ids_above_2_to_the_32_are_refused_and_smaller_64_bit_ids_kept(tmp_path, dtype):
    data = np.zeros((6, 6), dtype)
    data[1:3, 1:3] = 7
    tifffile.imwrite(tmp_path / "ok.tif", data)
    labels = read_labels(tmp_path / "ok.tif")
    assert labels.dtype == np.uint32 and labels.max() == 7
    data[4, 4] = 2**40
    tifffile.imwrite(tmp_path / "big.tif", data)
    with pytest.raises(ImageFileError, match="above 4294967295"):
        read_labels(tmp_path / "big.tif")


def test_one_rule_for_labels_without_cells(tmp_path):
    tifffile.imwrite(tmp_path / "empty.tif", np.zeros((2, 6, 6), np.uint16))
    assert read_labels(tmp_path / "empty.tif").shape == (2, 6, 6)  # as a prediction: fine
    with pytest.raises(ImageFileError, match="no cells .* nothing to train on"):
        read_labels(tmp_path / "empty.tif", cells_needed_for="train on")


def test_writers_tag_their_files_and_outputs_recognise_them(tmp_path):
    from unetgui.core.outputs import written_by_unetgui

    ours = write_labels(tmp_path / "ours.tif", np.ones((3, 3), np.uint16))
    tifffile.imwrite(tmp_path / "theirs.tif", np.ones((3, 3), np.uint16))
    (tmp_path / "text.tif").write_text("not a tiff")
    assert written_by_unetgui(ours)
    assert not written_by_unetgui(tmp_path / "theirs.tif")
    assert not written_by_unetgui(tmp_path / "text.tif")


def test_the_pixel_size_is_read_from_imagej_and_ome_calibrations_and_written_back(tmp_path):
    from unetgui.core.io import write_image, write_probabilities

    planes = np.zeros((2, 30, 40), np.uint16)
    tifffile.imwrite(tmp_path / "ij.tif", planes, imagej=True, resolution=(1 / 0.65, 1 / 0.5),
                     metadata={"axes": "ZYX", "unit": "micron"})
    tifffile.imwrite(tmp_path / "ome.ome.tif", planes, ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeX": 200, "PhysicalSizeXUnit": "nm",
                               "PhysicalSizeY": 0.3, "PhysicalSizeYUnit": "µm"})
    tifffile.imwrite(tmp_path / "plain.tif", planes, resolution=(72, 72))  # dots per inch: no size
    with open_image(tmp_path / "ij.tif") as ij, open_image(tmp_path / "ome.ome.tif") as ome:
        assert ij.pixel_size == pytest.approx((0.5, 0.65)) and ome.pixel_size == pytest.approx((0.3, 0.2))
    with open_image(tmp_path / "plain.tif") as plain:
        assert plain.pixel_size is None
    many = np.zeros((30, 40), np.uint32)
    many[0, 0] = 70_000  # beyond ImageJ's 16 bits: a plain TIFF
    writers = {"labels.tif": lambda p: write_labels(p, planes, pixel_size=(0.5, 0.65)),
               "many.tif": lambda p: write_labels(p, many, pixel_size=(0.5, 0.65)),
               "mask.tif": lambda p: write_image(p, planes.astype(np.uint8), axes="ZYX", pixel_size=(0.5, 0.65)),
               "probs.tif": lambda p: write_probabilities(p, planes.astype(np.float32), pixel_size=(0.5, 0.65))}
    for name, write in writers.items():
        write(tmp_path / name)
        with open_image(tmp_path / name) as written:
            assert written.pixel_size == pytest.approx((0.5, 0.65)), name


def test_an_ome_tif_name_writes_ome_tiff_with_axes_and_pixel_size(tmp_path):
    from unetgui.core.io import write_probabilities

    labels = np.zeros((3, 20, 30), np.uint32)
    labels[1, 2:5, 2:5] = 70_000  # beyond 16 bits: OME-TIFF keeps uint32
    write_labels(tmp_path / "cells_labels.ome.tif", labels, plane_axis="T", pixel_size=(0.5, 0.25))
    write_probabilities(tmp_path / "probs.ome.tiff", labels.astype(np.float32) / 70_000, pixel_size=(0.5, 0.25))
    with tifffile.TiffFile(tmp_path / "cells_labels.ome.tif") as tiff:
        assert tiff.is_ome and tiff.series[0].axes == "TYX" and tiff.series[0].dtype == np.uint32
        assert 'PhysicalSizeX="0.25"' in tiff.ome_metadata and 'PhysicalSizeY="0.5"' in tiff.ome_metadata
        np.testing.assert_array_equal(tiff.asarray(), labels)
    for name in ("cells_labels.ome.tif", "probs.ome.tiff"):
        with open_image(tmp_path / name) as stack:
            assert stack.pixel_size == pytest.approx((0.5, 0.25)) and stack.n_planes == 3
