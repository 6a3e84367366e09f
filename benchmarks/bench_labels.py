"""Label document: an edit must cost the same on a 4096^2 plane as on a 512^2 plane.

Prints figures only (no timing asserts). Target from the window issue: a brush dab on
4096x4096 costs at most 2x a dab on 512x512 (everything proportional to the box).
Sizes are measured interleaved (512, 4096, 512, ...) and the best of N is kept, so
background load hits both alike. Planes are allocated before timing (the very first
write to a plane allocates it once).

    python benchmarks/bench_labels.py [--repeats 200] [--radius 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from unetgui.core.labels import LabelDocument  # noqa: E402

SIZES = (512, 4096)


def make_doc(size: int) -> LabelDocument:
    doc = LabelDocument(2, (size, size))
    rng = np.random.default_rng(0)
    doc.set_plane_labels(0, rng.integers(0, 50, (size, size), dtype=np.uint32), undoable=False)
    return doc


def dab(doc, i, radius):
    # Alternate values so every dab really changes its pixels and records an undo item.
    doc.paint(0, [(200.0 + (i % 7), 200.0)], value=1000 + i % 2, radius=radius)


def drag(doc, i, radius):
    # One mouse-move step of a stroke: a 12 px segment.
    doc.begin_stroke(0, value=2000 + i % 2, radius=radius)
    doc.stroke_to(150.0, 100.0)
    doc.stroke_to(158.0, 109.0)
    doc.end_stroke()


def undo_redo(doc, i, radius):
    doc.undo(0)
    doc.redo(0)


def pick(doc, i, radius):
    doc.pick(0, 200, 200 + i % 7)


def best_interleaved(docs, action, repeats, radius):
    best = {size: float("inf") for size in docs}
    for i in range(repeats):
        for size, doc in docs.items():
            start = time.perf_counter()
            action(doc, i, radius)
            best[size] = min(best[size], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--radius", type=float, default=10.0)
    args = parser.parse_args()
    docs = {size: make_doc(size) for size in SIZES}
    print(f"radius {args.radius:g} px, best of {args.repeats}, interleaved")
    for name, action in (("dab", dab), ("stroke step", drag), ("undo+redo", undo_redo),
                         ("pick", pick)):
        best = best_interleaved(docs, action, args.repeats, args.radius)
        small, large = best[SIZES[0]], best[SIZES[-1]]
        ratio = large / small
        verdict = "met" if ratio <= 2 else "NOT met"
        print(f"  {name:12s} {SIZES[0]}^2: {small * 1e6:7.1f} us   {SIZES[-1]}^2: "
              f"{large * 1e6:7.1f} us   ratio {ratio:.2f} (target <= 2: {verdict})")
    for size in SIZES:
        fresh = LabelDocument(2, (size, size))
        start = time.perf_counter()
        dab(fresh, 0, args.radius)
        print(f"  first dab on an untouched {size}^2 plane (allocates it): "
              f"{(time.perf_counter() - start) * 1e6:.0f} us")
    doc = docs[SIZES[-1]]
    start = time.perf_counter()
    doc.delete_cell(0, doc.pick(0, 200, 200))
    print(f"  delete_cell on {SIZES[-1]}^2 (scans the plane once): "
          f"{(time.perf_counter() - start) * 1e3:.1f} ms")
    start = time.perf_counter()
    doc.fill(0, 0, 0, 3000)
    print(f"  fill of a small region on {SIZES[-1]}^2: "
          f"{(time.perf_counter() - start) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
