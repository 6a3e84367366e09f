"""Exporting cells for Fiji, QuPath and spreadsheets on a whole-slide-sized label image.

Issue 12's bar: ImageJ ROIs, GeoJSON and the measurements CSV of a 10000 x 10000 label
image with 5000 cells take at most 10 s (Cellpose's ROI export is known to hang at that
size). Prints the seconds of each export and, as the reference in the same run, the time
``skimage.measure.regionprops_table`` alone takes on the same labels.

    python benchmarks/bench_exchange.py [--size 10000] [--cells 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.measure import regionprops_table

from unetgui.core.imagej_rois import write_imagej_rois
from unetgui.core.measurements import measure_cells, write_measurements
from unetgui.core.qupath_geojson import write_geojson


def label_image(size: int, cells: int, seed: int = 0) -> np.ndarray:
    """Round cells of ~size/sqrt(cells)/2 radius on a grid, jittered, touching some."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(cells)))
    step = size / side
    seeds = np.zeros((size, size), dtype=np.uint32)
    k = 0
    for i in range(side):
        for j in range(side):
            if k == cells:
                break
            r = int(min(size - 1, (i + 0.5) * step + rng.uniform(-0.2, 0.2) * step))
            c = int(min(size - 1, (j + 0.5) * step + rng.uniform(-0.2, 0.2) * step))
            k += 1
            seeds[r, c] = k
    distance, (rows, cols) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    labels = seeds[rows, cols]
    labels[distance > 0.45 * step] = 0
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--cells", type=int, default=5000)
    args = parser.parse_args()
    labels = label_image(args.size, args.cells)
    print(f"labels {args.size} x {args.size}, {len(np.unique(labels)) - 1} cells")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        timings = {}
        start = time.perf_counter()
        regionprops_table(labels, properties=("label", "area", "centroid", "bbox", "eccentricity", "solidity"))
        reference = time.perf_counter() - start
        for name, run in (
            ("ImageJ ROIs", lambda: write_imagej_rois(folder / "cells.zip", labels)),
            ("GeoJSON", lambda: write_geojson(folder / "cells.geojson", labels)),
            ("measurements CSV", lambda: write_measurements(folder / "cells.csv", measure_cells(labels))),
        ):
            start = time.perf_counter()
            run()
            timings[name] = time.perf_counter() - start
    for name, seconds in timings.items():
        verdict = "PASS" if seconds <= 10 else "MISS"
        print(f"{name:18s} {seconds:6.2f} s ({seconds / reference:.1f}x regionprops_table alone, "
              f"{reference:.2f} s): {verdict} (target <= 10 s)")


if __name__ == "__main__":
    main()
