"""Cells out to Fiji (ImageJ ROIs), QuPath (GeoJSON) and spreadsheets (CSV), and back."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import roifile
from skimage.measure import regionprops_table

from unetgui.core.errors import ImageFileError, InvalidInputError
from unetgui.core.imagej_rois import read_imagej_rois, write_imagej_rois
from unetgui.core.measurements import measure_cells, write_measurements
from unetgui.core.outlines import cell_outlines, fill_outline
from unetgui.core.qupath_geojson import labels_to_geojson, read_geojson, write_geojson
from unetgui.core.synthetic import SyntheticConfig, synthetic_stack


def hard_labels() -> np.ndarray:
    """Touching generated cells, plus a cell with a hole holding another cell, cells on
    the border, a one-pixel cell, a cell in two diagonal pieces and ids above 65535."""
    _, labels = synthetic_stack(3, SyntheticConfig(shape=(96, 128), n_cells=14), np.random.default_rng(3))
    labels = labels.astype(np.uint32)
    plane = labels[1]
    plane[40:60, 50:70] = 70_000
    plane[46:52, 56:62] = 0
    plane[48:50, 58:60] = 70_001
    plane[0:6, 0:9] = 90
    plane[90:96, 120:128] = 91
    plane[70, 10] = 92
    plane[80, 30] = plane[81, 31] = 93
    return labels


def test_outlines_on_pixel_corners_give_back_exactly_the_cells():
    for plane in hard_labels():
        back = np.zeros_like(plane)
        for cell, pieces in cell_outlines(plane).items():
            for piece in pieces:
                assert piece.exterior.dtype.kind == "i"  # vertices on pixel corners
                back[fill_outline(piece, plane.shape)] = cell
        np.testing.assert_array_equal(back, plane)
    outlines = cell_outlines(hard_labels()[1])
    assert len(outlines[93]) == 2 and len(outlines[70_000][0].holes) == 1
    assert sorted(map(tuple, outlines[92][0].exterior)) == [(10, 70), (10, 71), (11, 70), (11, 71)]


def test_imagej_roi_round_trip_keeps_cells_ids_and_planes(tmp_path):
    labels = hard_labels()
    count = write_imagej_rois(tmp_path / "cells.zip", labels, plane_axis="T")
    outlines = [cell_outlines(plane) for plane in labels]
    with_holes = {(p, c) for p, cells in enumerate(outlines) for c, pieces in cells.items()
                  if any(piece.holes for piece in pieces)}
    assert (1, 70_000) in with_holes and count.holes_filled == len(with_holes)
    assert count.cells == sum(len(cells) for cells in outlines) and count.pieces == count.cells + 1  # cell 93
    rois = roifile.roiread(tmp_path / "cells.zip")
    assert len(rois) == count.pieces
    by_name = {roi.name: roi for roi in rois}
    assert by_name["t1-93"].t_position == 2 and "t1-93-2" in by_name  # 1-based frames in Fiji
    assert by_name["t1-70000"].roitype == roifile.ROI_TYPE.TRACED
    back = read_imagej_rois(tmp_path / "cells.zip", labels.shape)
    for plane in range(3):  # every cell without holes comes back exactly; ids and planes kept
        for cell in np.unique(labels[plane])[1:]:
            a, b = labels[plane] == cell, back[plane] == cell
            if (plane, cell) not in with_holes:
                assert (a & b).sum() / (a | b).sum() >= 0.99, (plane, cell)
    filled = back[1] == 70_000  # a polygon ROI has no holes: the cell comes back filled,
    assert filled.sum() == 20 * 20 - 2 * 2  # except where the cell inside it is drawn again
    assert (back[1][48:50, 58:60] == 70_001).all()


def test_a_single_plane_exports_without_positions(tmp_path):
    plane = hard_labels()[0]
    write_imagej_rois(tmp_path / "one.zip", plane)
    rois = roifile.roiread(tmp_path / "one.zip")
    assert all(r.position == 0 and r.t_position == 0 for r in rois)
    np.testing.assert_array_equal(read_imagej_rois(tmp_path / "one.zip", (1, *plane.shape))[0], plane)


def test_geojson_round_trip_keeps_holes_ids_and_planes(tmp_path):
    labels = hard_labels()
    count = write_geojson(tmp_path / "cells.geojson", labels, plane_axis="Z", object_type="annotation")
    document = json.loads((tmp_path / "cells.geojson").read_text())
    assert document["type"] == "FeatureCollection" and len(document["features"]) == count.cells
    hole = next(f for f in document["features"] if f["properties"]["label"] == 70_000)
    assert hole["properties"] == {"objectType": "annotation", "label": 70_000, "plane": 1}
    assert hole["geometry"]["type"] == "Polygon" and len(hole["geometry"]["coordinates"]) == 2
    assert hole["geometry"]["plane"] == {"c": -1, "z": 1, "t": 0}
    ring = hole["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1]  # closed rings, as GeoJSON asks
    pieces = next(f for f in document["features"] if f["properties"]["label"] == 93)
    assert pieces["geometry"]["type"] == "MultiPolygon"
    np.testing.assert_array_equal(read_geojson(tmp_path / "cells.geojson", labels.shape), labels)


def test_geojson_without_labels_or_planes_gets_new_ids_on_plane_0(tmp_path):
    square = {"type": "Feature", "properties": {"objectType": "detection"},
              "geometry": {"type": "Polygon", "coordinates": [[[2, 2], [6, 2], [6, 5], [2, 5], [2, 2]]]}}
    point = {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [1, 1]}}
    (tmp_path / "q.json").write_text(json.dumps([square, point]))  # QuPath's bare list
    labels = read_geojson(tmp_path / "q.json", (2, 8, 8))
    assert labels[0, 2:5, 2:6].min() == 1 and labels.sum() == 12 and not labels[1].any()


def test_measurements_equal_regionprops_table(tmp_path):
    image, labels = synthetic_stack(2, SyntheticConfig(shape=(64, 80), n_cells=8), np.random.default_rng(1))
    two = np.stack([image, image[:, ::-1, :]], axis=1)  # (P, C, Y, X)
    columns = measure_cells(labels, lambda p: two[p])
    plane_1 = columns["plane"] == 1
    reference = regionprops_table(labels[1], intensity_image=np.moveaxis(two[1], 0, -1),
                                  properties=("label", "area", "centroid", "eccentricity", "solidity",
                                              "intensity_mean", "intensity_max"))
    np.testing.assert_array_equal(columns["label"][plane_1], reference["label"])
    np.testing.assert_allclose(columns["area"][plane_1], reference["area"])
    np.testing.assert_allclose(columns["centroid_x"][plane_1], reference["centroid-1"])
    np.testing.assert_allclose(columns["solidity"][plane_1], reference["solidity"])
    np.testing.assert_allclose(columns["mean_intensity_c1"][plane_1], reference["intensity_mean-1"])
    np.testing.assert_allclose(columns["max_intensity_c0"][plane_1], reference["intensity_max-0"])
    rows = write_measurements(tmp_path / "cells.csv", columns)
    lines = (tmp_path / "cells.csv").read_text().splitlines()
    assert rows == len(lines) - 1 == len(columns["label"])
    assert lines[0].startswith("label,plane,area,centroid_y,centroid_x,bbox_min_y")
    assert lines[0].split(",")[9:11] == ["eccentricity", "solidity"]


@pytest.mark.parametrize("kind", ["speckle", "blobs", "three points", "one row"])
def test_the_convex_area_is_skimages_convex_hull_image_counted(kind):
    from scipy import ndimage
    from skimage.morphology import convex_hull_image

    from unetgui.core.measurements import convex_area

    rng = np.random.default_rng(len(kind))
    for _ in range(60):
        shape = tuple(int(n) for n in rng.integers(1, 45, 2))
        image = np.zeros(shape, bool)
        if kind == "speckle":
            image = rng.random(shape) < rng.uniform(0.05, 0.6)
        elif kind == "blobs":
            image = ndimage.gaussian_filter(rng.random(shape), 2) > 0.5
        elif kind == "three points":
            image[rng.integers(0, shape[0], 3), rng.integers(0, shape[1], 3)] = True
        else:
            image[rng.integers(0, shape[0])] = True
        if image.any():
            assert convex_area(image) == convex_hull_image(image).sum()


def test_bad_exchange_input_says_why(tmp_path):
    empty = np.zeros((2, 10, 10), np.uint32)
    with pytest.raises(InvalidInputError, match="no cells"):
        write_imagej_rois(tmp_path / "e.zip", empty)
    with pytest.raises(InvalidInputError, match="no cells"):
        labels_to_geojson(empty)
    with pytest.raises(InvalidInputError, match="detection or annotation"):
        labels_to_geojson(hard_labels(), object_type="cells")
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ImageFileError, match="not a readable ImageJ ROI"):
        read_imagej_rois(tmp_path / "bad.zip", (1, 10, 10))
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises((ImageFileError, InvalidInputError)):
        read_imagej_rois(tmp_path / "other.zip", (1, 10, 10))
    for text in ("{", '{"type": "Topology"}', '{"type": "FeatureCollection", "features": [1]}'):
        (tmp_path / "bad.geojson").write_text(text)
        with pytest.raises(ImageFileError):
            read_geojson(tmp_path / "bad.geojson", (1, 10, 10))
    (tmp_path / "far.geojson").write_text(json.dumps({"type": "Feature", "properties": {"plane": 5}, "geometry": {
        "type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 0]]]}}))
    with pytest.raises(InvalidInputError, match="no polygon on a plane"):
        read_geojson(tmp_path / "far.geojson", (1, 10, 10))
