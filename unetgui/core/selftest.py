"""``unetgui --self-test``: the whole path a user takes, without a window, in seconds.

Open the sample, predict a plane with the starter model, fine-tune 5 steps on that
prediction, export labels, ImageJ ROIs and GeoJSON to a temporary folder, and read them
back. One line per step with its time; the first failure stops it. Run from the source
tree by the tests, and against a built bundle by ``packaging/smoke.sh``.
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np


def run_self_test(say: Callable[[str], None] = print) -> bool:
    """Run every step; report each with ``say``.

    Parameters
    ----------
    say : where each line goes (default ``print``)

    Returns
    -------
    bool
        True when every step passed.
    """
    state: dict = {}
    with tempfile.TemporaryDirectory(prefix="unetgui-self-test-") as folder:
        state["folder"] = Path(folder)
        for title, step in _STEPS:
            start = time.perf_counter()
            try:
                detail = step(state)
            except Exception as error:  # the self-test reports every failure, then stops
                say(f"FAIL {time.perf_counter() - start:6.2f} s  {title}: {type(error).__name__}: {error}")
                traceback.print_exc(file=sys.stderr)
                return False
            say(f"ok   {time.perf_counter() - start:6.2f} s  {title}{': ' + detail if detail else ''}")
    say("self-test passed")
    return True


def _open_sample(state: dict) -> str:
    from unetgui.core.io import open_image
    from unetgui.core.sample import sample_copy

    stack = open_image(sample_copy(state["folder"]))
    state["plane"] = stack.read_plane(0)
    state["shape"] = (stack.n_planes, stack.height, stack.width)
    stack.close()
    return f"{state['shape'][0]} plane(s) of {state['shape'][2]} x {state['shape'][1]}"


def _predict(state: dict) -> str:
    from unetgui.core.postprocess import probabilities_to_labels
    from unetgui.core.predict import iter_predict_planes
    from unetgui.core.starter import load_starter_model

    state["model"] = model = load_starter_model()
    (result,) = iter_predict_planes(model, lambda _p: state["plane"], [0])
    state["labels"] = labels = probabilities_to_labels(result.foreground)
    n_cells = len(np.unique(labels)) - 1
    if n_cells == 0:
        raise AssertionError("the starter model found no cell in the sample")
    return f"{n_cells} cells"


def _train(state: dict) -> str:
    from unetgui.core import recipes
    from unetgui.core.train import TrainingPlane, train

    config = recipes.with_choices(recipes.FINE_TUNE, steps=5, tile_size=252, auto_validation=0.0)
    plane = TrainingPlane(state["plane"], state["labels"].astype(np.uint32), None, "sample plane 0")
    losses = [p.loss for p in train(state["model"], [plane], config) if np.isfinite(p.loss)]
    if len(losses) != 5:
        raise AssertionError(f"expected 5 steps, got {len(losses)}")
    return f"5 steps, last loss {losses[-1]:.3f}"


def _export(state: dict) -> str:
    from unetgui.core.imagej_rois import write_imagej_rois
    from unetgui.core.io import write_labels
    from unetgui.core.qupath_geojson import write_geojson

    folder = state["folder"]
    write_labels(folder / "labels.tif", state["labels"])
    write_imagej_rois(folder / "cells.zip", state["labels"])
    write_geojson(folder / "cells.geojson", state["labels"])
    return "labels.tif, cells.zip, cells.geojson"


def _read_back(state: dict) -> str:
    from unetgui.core.imagej_rois import read_imagej_rois
    from unetgui.core.io import read_labels
    from unetgui.core.qupath_geojson import read_geojson

    folder, labels = state["folder"], state["labels"]
    shape = (1, *labels.shape)
    cells = labels > 0
    for name, read in (("labels.tif", lambda p: read_labels(p, expected_shape=shape)),
                       ("cells.zip", lambda p: read_imagej_rois(p, shape)),
                       ("cells.geojson", lambda p: read_geojson(p, shape))):
        back = read(folder / name)[0]
        # every cell pixel has its id back (an ImageJ ROI cannot hold a hole: it comes back filled)
        differ = int((back[cells] != labels[cells]).sum())
        if differ:
            raise AssertionError(f"{name} does not give back the labels ({differ} pixels differ)")
    return "the same cells"


_STEPS = (
    ("open the sample", _open_sample),
    ("predict a plane with the starter model", _predict),
    ("fine-tune 5 steps", _train),
    ("export", _export),
    ("read the exports back", _read_back),
)
