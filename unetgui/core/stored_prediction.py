"""The latest prediction of an image, kept in its sidecar folder until it is exported.

Predicting a project writes, for each image, into ``IMAGE.unetgui/`` (core/annotations.py):
``prediction-labels.tif`` ((P, Y, X) cell ids), ``prediction-probability.tif`` ((P, Y, X)
cell probability as uint8, ``core.postprocess.encode_probability``: a quarter of float32
on disk, finer than any threshold) and, last, ``prediction.json`` (the model, the time,
the image's shape). Each file is written atomically; a prediction whose json is missing
or names another shape is not used. Both are plain TIFF, so Fiji opens them too.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import tifffile

from unetgui.core.annotations import sidecar_folders, sidecar_path
from unetgui.core.io import SOFTWARE, atomic_write

LABELS_NAME = "prediction-labels.tif"
PROBABILITY_NAME = "prediction-probability.tif"
INFO_NAME = "prediction.json"
FORMAT = "unetgui-prediction"


@dataclass(frozen=True)
class StoredPrediction:
    labels: np.ndarray  # (P, Y, X) uint32 cell ids
    probability: np.ndarray  # (P, Y, X) uint8, core.postprocess.encode_probability
    model: str  # what predicted it, in words
    saved_at: str  # ISO time


def save_prediction(image_path: str | os.PathLike, labels: np.ndarray, probability: np.ndarray,
                    model: str) -> Path:
    """Keep the prediction of every plane of an image; returns the folder it went to.

    Parameters
    ----------
    image_path : the image predicted
    labels : (P, Y, X) integer cell ids
    probability : (P, Y, X) uint8 encoded cell probability
    model : the model's name, for the user

    Raises
    ------
    ImageFileError
        The folder cannot be written (disk full, no permission).
    """
    folder = sidecar_path(image_path)
    options = {"photometric": "minisblack", "compression": "zlib", "software": SOFTWARE, "metadata": {"axes": "ZYX"}}
    with atomic_write(folder / LABELS_NAME) as tmp:
        tifffile.imwrite(tmp, np.asarray(labels, dtype=np.uint32), **options)
    with atomic_write(folder / PROBABILITY_NAME) as tmp:
        tifffile.imwrite(tmp, np.asarray(probability, dtype=np.uint8), **options)
    info = {"format": FORMAT, "shape": list(np.shape(labels)), "model": model,
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    with atomic_write(folder / INFO_NAME) as tmp:
        tmp.write_text(json.dumps(info), encoding="utf-8")
    return folder


def prediction_info(image_path: str | os.PathLike) -> dict | None:
    """What ``prediction.json`` says of the kept prediction (the newer of the two places),
    or None when there is none usable."""
    found = []
    for folder in sidecar_folders(image_path):
        with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
            info = json.loads((folder / INFO_NAME).read_text(encoding="utf-8"))
            if isinstance(info, dict) and info.get("format") == FORMAT and isinstance(info.get("shape"), list):
                found.append(((folder / INFO_NAME).stat().st_mtime_ns, str(folder), info))
    if not found:
        return None
    _, folder, info = max(found)
    return {**info, "folder": folder}


def load_prediction(image_path: str | os.PathLike, shape: tuple[int, int, int]) -> StoredPrediction | None:
    """The kept prediction of an image whose planes are ``shape`` (P, Y, X), or None when
    there is none, it is for another shape, or its files cannot be read."""
    info = prediction_info(image_path)
    if info is None or tuple(info["shape"]) != tuple(shape):
        return None
    folder = Path(info["folder"])
    try:
        labels = tifffile.imread(folder / LABELS_NAME).reshape(shape)
        probability = tifffile.imread(folder / PROBABILITY_NAME).reshape(shape)
    except Exception:  # damaged or missing, whatever tifffile raises: no usable prediction
        return None
    if labels.dtype.kind not in "ui" or probability.dtype != np.uint8:
        return None
    return StoredPrediction(labels.astype(np.uint32, copy=False), probability, str(info.get("model", "")),
                            str(info.get("saved_at", "")))
