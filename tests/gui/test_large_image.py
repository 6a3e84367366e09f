"""A plane too large to edit opens for viewing: an overview, then the part in view at
the pyramid level the zoom calls for; the editing commands and panels are off."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PySide6 import QtCore

from unetgui.core import multiscale


@pytest.fixture
def pyramid_file(tmp_path):
    """A 1200 x 1600 OME-TIFF with two reduced levels in SubIFDs, as QuPath writes them."""
    yy, xx = np.mgrid[0:1200, 0:1600]
    image = ((np.sin(yy / 9.0) + np.cos(xx / 13.0) + 2) * 10000 + yy + xx).astype(np.uint16)
    path = tmp_path / "slide.ome.tif"
    with tifffile.TiffWriter(path, bigtiff=True) as tiff:
        tiff.write(image, subifds=2, tile=(256, 256), compression="zlib")
        tiff.write(image[::2, ::2], subfiletype=1, tile=(256, 256), compression="zlib")
        tiff.write(image[::4, ::4], subfiletype=1, tile=(256, 256), compression="zlib")
    return path, image


def _plane_rect(item) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1) of the plane that an image item covers on the canvas."""
    rect = item.mapRectToParent(item.boundingRect())
    return round(rect.top()), round(rect.bottom()), round(rect.left()), round(rect.right())


def test_a_large_plane_is_shown_by_levels_for_viewing_only(window, qtbot, pyramid_file, stack_file, monkeypatch):
    monkeypatch.setattr(multiscale, "LARGE_PLANE_PX", 1000 * 1000)
    monkeypatch.setattr(multiscale, "OVERVIEW_SIDE", 500)
    path, image = pyramid_file
    canvas = window.canvas
    assert window.open_image(path)
    assert window.session.large

    # the overview: the coarsest level (400 x 300), stretched over the whole plane
    qtbot.waitUntil(lambda: canvas.image_item.image is not None and canvas.image_item.image.shape == (300, 400))
    assert np.array_equal(canvas.image_item.image, image[::4, ::4])
    assert _plane_rect(canvas.image_item) == (0, 1200, 0, 1600)

    # zoomed in to less than a plane pixel per screen pixel: the full-size pixels in view
    canvas.view.setRange(QtCore.QRectF(700, 500, 160, 120), padding=0)
    qtbot.waitUntil(lambda: canvas.detail_item.image is not None and canvas.detail_item.image.shape[0] < 300)
    r0, r1, c0, c1 = _plane_rect(canvas.detail_item)
    assert r0 <= 500 and r1 >= 620 and c0 <= 700 and c1 >= 860
    assert np.array_equal(canvas.detail_item.image, image[r0:r1, c0:c1])

    # zoomed out to 2-4 plane pixels per screen pixel: the middle level
    canvas.view.setRange(QtCore.QRectF(0, 0, 1600, 1200), padding=0)
    canvas.view.setRange(QtCore.QRectF(200, 200, canvas.view.width() * 2.5, canvas.view.height() * 2.5), padding=0)
    qtbot.waitUntil(lambda: canvas.detail_item.image is not None and _plane_rect(canvas.detail_item)[3] -
                    _plane_rect(canvas.detail_item)[2] == 2 * canvas.detail_item.image.shape[1])
    r0, r1, c0, c1 = _plane_rect(canvas.detail_item)
    assert np.array_equal(canvas.detail_item.image, image[::2, ::2][r0 // 2:r1 // 2, c0 // 2:c1 // 2])

    # viewing only: no tool on the canvas, the editing commands and panels off, and why
    assert canvas.tool is None and canvas.labels_item.image is None
    for command in ("fine_tune", "predict_plane", "undo", "export_labels_plane", "auto_segment_plane"):
        assert not window.actions_by_id[command].isEnabled()
    assert window.actions_by_id["auto_contrast"].isEnabled()
    assert not window.docks["Tools"].widget().isEnabled()
    assert window.large_note.isVisibleTo(window) and "unetgui predict" in window.large_note.text()
    assert "cells stored with it" not in window.large_note.text()  # a TIFF has none
    readout = []
    window.plane_view.readout.connect(readout.append)
    canvas.cursorMoved.emit(1000, 1500)
    assert readout[-1].startswith("x 1500  y 1000   value ")

    # an image of ordinary size afterwards: edited as always, one item pixel per pixel
    small, _, _ = stack_file
    assert window.open_image(small)
    assert not window.session.large and canvas.tool is not None
    assert window.actions_by_id["fine_tune"].isEnabled() and not window.large_note.isVisibleTo(window)
    qtbot.waitUntil(lambda: canvas.image_item.image is not None and canvas.image_item.image.shape == (96, 128))
    assert _plane_rect(canvas.image_item) == (0, 96, 0, 128) and canvas.detail_item.image is None


def test_a_large_ome_zarr_shows_its_stored_labels(window, qtbot, tmp_path, monkeypatch):
    """What `unetgui predict` writes blockwise (image + labels/cells) opens with its cells."""
    pytest.importorskip("ome_zarr")
    from unetgui.core.ome_zarr_files import write_ome_zarr

    monkeypatch.setattr(multiscale, "LARGE_PLANE_PX", 1000 * 1000)
    monkeypatch.setattr(multiscale, "OVERVIEW_SIDE", 600)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 4000, (1, 1, 1024, 1280), dtype=np.uint16)
    labels = np.zeros((1, 1024, 1280), dtype=np.uint32)
    for k in range(1, 40):
        r, c = rng.integers(0, 1000), rng.integers(0, 1250)
        labels[0, r:r + 24, c:c + 30] = k
    labels[0, 260:290, 380:420] = 300  # one in the part zoomed to below
    path = write_ome_zarr(tmp_path / "slide.ome.zarr", image, labels)
    canvas = window.canvas
    assert window.open_image(path) and window.session.large
    assert "cells stored with it" in window.large_note.text()
    qtbot.waitUntil(lambda: canvas.labels_item.image is not None)
    top, bottom, left, right = _plane_rect(canvas.labels_item)
    assert (top, left) == (0, 0) and bottom >= 1024 and right >= 1280
    assert canvas.labels_item.image.shape[1] <= 600  # a level of the pyramid, not the full size

    canvas.view.setRange(QtCore.QRectF(300, 200, 200, 150), padding=0)
    qtbot.waitUntil(lambda: canvas.labels_detail_item.image is not None
                    and canvas.labels_detail_item.image.shape[0] < 400)
    r0, r1, c0, c1 = _plane_rect(canvas.labels_detail_item)
    expected = labels[0, r0:r1, c0:c1]
    shown = canvas.labels_detail_item.image
    assert np.array_equal(shown > 0, expected > 0)  # full-size cells (colours are ids mod 255)
    readout = []
    window.plane_view.readout.connect(readout.append)
    r, c = np.argwhere(expected > 0)[0]
    canvas.cursorMoved.emit(int(r0 + r), int(c0 + c))
    assert readout[-1].endswith(f"label {expected[r, c]}")
    window.view.set_visible("labels", False)
    assert not canvas.labels_detail_item.isVisible()
