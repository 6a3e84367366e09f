"""Cell size: how the scale an image is predicted at is decided, and what it costs in AP.

For each image of three sets the starter model was never trained on, and which
``benchmarks/quality.py`` does not test on either:

* real: the four mnfinder training-data images that packaging/train_starter_model.py
  holds back for validation (``REAL_VALIDATION``);
* own: the starter's synthetic domain, validation seeds [2, 0..7];
* shifted: quality.py's shifted domain (cells of 90-120 px), seeds [6, 0..3];

the starter model predicts the image at the scale chosen by

* image: the image-only estimate (``cellsize.estimate_diameter``, the scale of the
  strongest blob response, with ``ESTIMATE_TOLERANCE``), which decided before;
* measured: the model's own prediction, measured and repeated at a better scale
  (``predict.iter_predict_sized`` without a diameter), which decides now: cells outside
  the model's range are brought halfway between its edge and its typical diameter
  (``CellSize.target``);
* measured, to typical: the same, with such cells brought all the way to the typical
  diameter (before);
* labels: the labelled cells' median diameter (what a user's labels give), as a reference;
* none: never resized;

and prints AP@0.5 and AP@0.75 per set and method, and how many images each resized.
Then the cost: seconds to predict a 1024 x 1024 synthetic plane (best of 3) as it is, with
the measured size, and with the image-only estimate, for cells inside the model's range
and for cells of 50-70 px.

    python benchmarks/cell_size.py [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))

import real_data  # noqa: E402
from quality import SHIFTED, scores  # noqa: E402
from train_starter_model import REAL_VALIDATION  # noqa: E402

from unetgui.core.cellsize import (  # noqa: E402
    ESTIMATE_TOLERANCE,
    CellSize,
    estimate_diameter,
    scale_for,
    typical_diameter,
)
from unetgui.core.model import model_cell_size  # noqa: E402
from unetgui.core.postprocess import foreground_probability, probabilities_to_labels  # noqa: E402
from unetgui.core.predict import predict_sized  # noqa: E402
from unetgui.core.starter import load_starter_model  # noqa: E402
from unetgui.core.synthetic import SyntheticConfig, SyntheticDomain, domain_images, synthetic_cells  # noqa: E402


def sets() -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    train = {name: (image, labels) for name, image, labels in real_data.load("train")}
    return {
        "real (4 held-back mnfinder images)": [train[name] for name in REAL_VALIDATION],
        "own (synthetic, seeds [2, 0..7])": domain_images(SyntheticDomain(), ([2, k] for k in range(8))),
        "shifted (90-120 px cells, seeds [6, 0..3])": domain_images(SHIFTED, ([6, k] for k in range(4))),
    }


def image_only(image: np.ndarray, size: CellSize) -> float:
    """The diameter to predict ``image`` with by the image-only estimate: the estimate
    when it lies beyond the model's range widened by ESTIMATE_TOLERANCE, else the typical
    diameter (predicted as it is)."""
    estimate = estimate_diameter(image[None])
    return size.typical if scale_for(estimate, size, ESTIMATE_TOLERANCE) == 1.0 else estimate


@contextlib.contextmanager
def to_typical():
    """Cells outside the range resized to the typical diameter, as before ``CellSize.target``."""
    target = CellSize.target
    CellSize.target = lambda size, diameter: size.typical
    try:
        yield
    finally:
        CellSize.target = target


def timing(model) -> None:
    size = model_cell_size(model)
    print("\n| 1024 x 1024 plane | as is | measured size (now) | image-only estimate (before) |\n|---|---|---|---|")
    for name, radii, n_cells in (("cells of 16-32 px (in range)", (8, 16), 300), ("cells of 50-70 px", (25, 35), 60)):
        image, _ = synthetic_cells(SyntheticConfig(shape=(1024, 1024), n_cells=n_cells, radius_range=radii),
                                   np.random.default_rng(0))

        def before():
            return predict_sized(model, image[None], diameter=image_only(image, size))

        seconds = []
        for run in (lambda: predict_sized(model, image[None], diameter=size.typical),
                    lambda: predict_sized(model, image[None]), before):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            seconds.append(min(times))
        print(f"| {name} | {seconds[0]:.2f} s | {seconds[1]:.2f} s | {seconds[2]:.2f} s |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_starter_model()
    size = model_cell_size(model)
    print(f"starter model: cells of {size.low:.1f}-{size.high:.1f} px, typical {size.typical:.1f}\n")
    print("| set | method | AP@0.5 | AP@0.75 | images resized |\n|---|---|---|---|---|")
    for name, images in sets().items():
        truths = [labels for _, labels in images]
        found = {"image": [], "measured": [], "measured, to typical": [], "labels": [], "none": []}
        resized = dict.fromkeys(found, 0)
        for image, labels in images:
            # the image-only estimate resized only beyond its own spread (ESTIMATE_TOLERANCE)
            diameters = {"image": image_only(image, size), "labels": typical_diameter([labels]),
                         "none": size.typical}  # inside the range: as it is
            for method, diameter in diameters.items():
                result = predict_sized(model, image[None], diameter=diameter)
                found[method].append(probabilities_to_labels(foreground_probability(result.probabilities)))
                resized[method] += result.scale != 1.0
            for method, how in (("measured", contextlib.nullcontext), ("measured, to typical", to_typical)):
                with how():
                    result = predict_sized(model, image[None])
                found[method].append(probabilities_to_labels(foreground_probability(result.probabilities)))
                resized[method] += result.scale != 1.0
        for method, preds in found.items():
            ap = scores(truths, preds)["ap"]
            print(f"| {name} | {method} | {ap[0.5]:.3f} | {ap[0.75]:.3f} | {resized[method]} of {len(images)} |",
                  flush=True)
    timing(model)


if __name__ == "__main__":
    main()
