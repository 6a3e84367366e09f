"""What the post-processing loses on crowded nuclei: the default (threshold, connected
components split by the thin gaps the weighted loss teaches, cells grown back) against
two watershed variants, on the same predicted probabilities.

* default: ``postprocess.probabilities_to_labels``.
* watershed on the probability: markers are the connected components of the confident
  core (p > 0.8), flooded over -p inside the foreground (p > 0.5).
* watershed on the distance: markers are the h-maxima (h = 2 px) of the foreground's
  distance transform, flooded over -distance inside the foreground.

Counts besides AP: merges (predicted cells covering 50 % or more of two true cells or more)
and splits (true cells with 50 % or more covered by two predicted cells or more). Test
sets: the quality benchmark's (starter-domain seeds [3, k], shifted-domain seeds [5, k]),
predicted as the product predicts (resized to the model's cell size).

    python benchmarks/separation.py [--test-planes 16] [--shifted-test-planes 4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage as ndi
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.quality import SHIFTED, SHIFTED_TEST_SEED, TEST_SEED, scores  # noqa: E402
from unetgui.core import postprocess  # noqa: E402
from unetgui.core.postprocess import foreground_probability  # noqa: E402
from unetgui.core.predict import predict_sized  # noqa: E402
from unetgui.core.starter import load_starter_model  # noqa: E402
from unetgui.core.synthetic import SyntheticDomain, domain_images  # noqa: E402


def default(p: np.ndarray) -> np.ndarray:
    return postprocess.probabilities_to_labels(p)


def watershed_probability(p: np.ndarray) -> np.ndarray:
    markers, _ = ndi.label(p > 0.8)
    labels = watershed(-p, markers, mask=p > 0.5)
    return postprocess.remove_small_cells(labels, 16)


def watershed_distance(p: np.ndarray) -> np.ndarray:
    mask = p > 0.5
    distance = ndi.distance_transform_edt(mask)
    markers, _ = ndi.label(h_maxima(distance, 2))
    labels = watershed(-distance, markers, mask=mask)
    return postprocess.remove_small_cells(labels, 16)


METHODS = {"default (gaps + components)": default, "watershed on probability": watershed_probability,
           "watershed on distance": watershed_distance}


def merges_and_splits(truth: np.ndarray, pred: np.ndarray) -> tuple[int, int]:
    """(predicted cells covering half of two or more true cells, true cells half-covered
    by two or more predicted cells)."""
    pairs = np.stack([truth.ravel(), pred.ravel()], axis=1)
    pairs = pairs[(pairs[:, 0] > 0) & (pairs[:, 1] > 0)]
    if not len(pairs):
        return 0, 0
    unique, counts = np.unique(pairs, axis=0, return_counts=True)
    truth_area = np.bincount(truth.ravel())
    merges = splits = 0
    for p in np.unique(unique[:, 1]):
        rows = unique[:, 1] == p
        merges += int(np.count_nonzero(counts[rows] >= 0.5 * truth_area[unique[rows, 0]]) >= 2)
    for t in np.unique(unique[:, 0]):
        rows = unique[:, 0] == t
        splits += int(np.count_nonzero(counts[rows] >= 0.25 * truth_area[t]) >= 2
                      and counts[rows].sum() >= 0.5 * truth_area[t])
    return merges, splits


def merges_and_splits_over(truths, preds) -> tuple[int, int]:
    """:func:`merges_and_splits` summed over planes (of any sizes)."""
    merged = split = 0
    for truth, pred in zip(truths, preds):
        m, s = merges_and_splits(truth, pred)
        merged, split = merged + m, split + s
    return merged, split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-planes", type=int, default=16)
    parser.add_argument("--shifted-test-planes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_starter_model()
    sets = {
        f"starter domain, seeds [{TEST_SEED}, k]": domain_images(
            SyntheticDomain(), ([TEST_SEED, k] for k in range(args.test_planes))),
        f"shifted domain, seeds [{SHIFTED_TEST_SEED}, k]": domain_images(
            SHIFTED, ([SHIFTED_TEST_SEED, k] for k in range(args.shifted_test_planes))),
    }
    print(f"command: python benchmarks/separation.py {' '.join(sys.argv[1:])}")
    for name, images in sets.items():
        truths = [labels for _, labels in images]
        probabilities = [foreground_probability(predict_sized(model, image[None]).probabilities)
                         for image, _ in images]
        print(f"\n{name}: {len(images)} planes, {sum(len(np.unique(t)) - 1 for t in truths)} cells")
        print(f"| {'post-processing':<30} | AP@0.5 | AP@0.75 | merges | splits |")
        print(f"|{'-' * 32}|--------|---------|--------|--------|")
        for method, function in METHODS.items():
            preds = [function(p) for p in probabilities]
            s = scores(truths, preds)
            merged, split = merges_and_splits_over(truths, preds)
            print(f"| {method:<30} | {s['ap'][0.5]:.3f}  | {s['ap'][0.75]:.3f}   | {merged:>6} | {split:>6} |",
                  flush=True)


if __name__ == "__main__":
    main()
