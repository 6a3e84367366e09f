"""Border weight map: fast local method vs one full-image distance transform per cell.

Prints figures only (no timing asserts). Targets from the issue:
  1024x1024, ~300 touching cells: fast >= 100x faster than the brute-force reference;
  2048x2048, ~1200 cells: fast < 1 s (the brute force would take ~10 min: not run there).

    python benchmarks/bench_weightmap.py [--repeats 3] [--skip-brute]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from skimage.segmentation import expand_labels

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.core.weightmap_reference import reference_border_weights  # noqa: E402
from unetgui.core.weightmap import (  # noqa: E402
    border_weights,
    update_border_weights_region,
    weight_map,
    weight_map_falk2019,
)

EPS = 1e-3


def touching_cells(size: int, n_cells: int, seed: int) -> np.ndarray:
    """(size, size) int32 Voronoi-like cells grown from random seeds; most touch."""
    rng = np.random.default_rng(seed)
    seeds = np.zeros((size, size), dtype=np.int32)
    points = rng.integers(0, size, size=(n_cells, 2))
    seeds[points[:, 0], points[:, 1]] = np.arange(1, n_cells + 1)
    reach = int(0.55 * size / np.sqrt(n_cells))  # ~ half the mean cell spacing
    return expand_labels(seeds, reach)


def describe(labels: np.ndarray) -> str:
    ids = np.unique(labels[labels > 0])
    a, b = labels[:, :-1], labels[:, 1:]
    contact = (a != b) & (a > 0) & (b > 0)
    touching = np.unique(np.concatenate([a[contact], b[contact]]))
    return (
        f"{labels.shape[0]}x{labels.shape[1]} = {labels.size} px, {ids.size} cells "
        f"({touching.size} touch another), foreground {np.mean(labels > 0):.0%}"
    )


def best_of(repeats: int, function, *args, **kwargs) -> tuple[float, np.ndarray]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-brute", action="store_true", help="skip the ~20 s reference")
    args = parser.parse_args()

    labels = touching_cells(1024, 300, seed=0)
    print("1024 case:", describe(labels))
    fast_s, fast = best_of(args.repeats, border_weights, labels)
    print(f"  fast border_weights (best of {args.repeats}): {fast_s:.3f} s")
    if not args.skip_brute:
        brute_s, brute = best_of(1, reference_border_weights, labels)
        diff = np.abs(fast - brute)
        big = brute >= EPS
        print(f"  brute force, one full-image EDT per cell (once): {brute_s:.2f} s")
        print(f"  ratio brute / fast: {brute_s / fast_s:.0f}x (target >= 100x: "
              f"{'met' if brute_s / fast_s >= 100 else 'NOT met'})")
        print(f"  max |fast - brute|: {diff.max():.2e} everywhere (bound eps = {EPS:g}), "
              f"{diff[big].max():.2e} where the term >= eps")

    labels = touching_cells(2048, 1200, seed=1)
    print("2048 case:", describe(labels))
    for name, function in (
        ("border_weights", border_weights),
        ("weight_map (gaps + class balance + border)", weight_map),
        ("weight_map_falk2019", weight_map_falk2019),
    ):
        seconds, _ = best_of(args.repeats, function, labels)
        verdict = "under 1 s" if seconds < 1 else "NOT under 1 s"
        print(f"  {name} (best of {args.repeats}): {seconds:.3f} s, {verdict}")

    border = border_weights(labels)
    edited = labels.copy()
    box = (slice(1000, 1032), slice(1000, 1032))
    edited[box] = edited.max() + 1
    seconds, _ = best_of(args.repeats, update_border_weights_region, edited, border, box)
    print(f"  update_border_weights_region after a 32x32 edit: {seconds * 1e3:.1f} ms "
          f"(the array copy included)")


if __name__ == "__main__":
    main()
