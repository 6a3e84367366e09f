"""Fragments: how small, against the plane's typical cell, a predicted cell may be.

A prediction also finds micronuclei, debris and the odd piece of a cut cell; on real
nuclei most of the starter's false cells were such small objects. ``probabilities_to_labels``
drops cells under ``MIN_RELATIVE_AREA`` of the plane's typical cell area
(``postprocess.typical_cell_area``: the area of the cell holding the median cell pixel).
This script chooses that share on the sets of ``benchmarks/cell_size.py``, which neither
the starter's training nor ``benchmarks/quality.py``'s test uses: the starter predicts each
image once (cell size measured, as ``predict`` does), and its cells are kept or dropped at
each share. It prints AP@0.5 and AP@0.75 per set and share, their mean over the sets, and
the rule: the smallest share whose mean AP@0.5 is within 0.005 of the best (smaller shares
keep more small cells that are real).

    python benchmarks/fragments.py [--threads 2] [--model FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cell_size import sets  # noqa: E402
from quality import scores  # noqa: E402

from unetgui.core.model import load_model  # noqa: E402
from unetgui.core.postprocess import MIN_RELATIVE_AREA, foreground_probability, probabilities_to_labels  # noqa: E402
from unetgui.core.predict import predict_sized  # noqa: E402
from unetgui.core.starter import load_starter_model  # noqa: E402

SHARES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
WITHIN = 0.005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", type=Path, default=None, help="a model file (default: the starter model)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_starter_model() if args.model is None else load_model(args.model)
    print(f"shipped: MIN_RELATIVE_AREA = {MIN_RELATIVE_AREA}\n")
    print("| set | " + " | ".join(f"{s:g}" for s in SHARES) + " |\n|---|" + "---|" * len(SHARES))
    table = {}
    for name, images in sets().items():
        truths = [labels for _, labels in images]
        foregrounds = [foreground_probability(predict_sized(model, image[None]).probabilities) for image, _ in images]
        table[name] = [scores(truths, [probabilities_to_labels(f, min_relative_area=share) for f in foregrounds])["ap"]
                       for share in SHARES]
        print(f"| {name} | " + " | ".join(f"{ap[0.5]:.3f} / {ap[0.75]:.3f}" for ap in table[name]) + " |", flush=True)
    means = np.mean([[ap[0.5] for ap in row] for row in table.values()], axis=0)
    print("| mean AP@0.5 | " + " | ".join(f"{m:.3f}" for m in means) + " |")
    chosen = SHARES[int(np.flatnonzero(means >= means.max() - WITHIN)[0])]
    print(f"\nrule: the smallest share within {WITHIN} of the best mean AP@0.5 ({means.max():.3f}): {chosen:g} "
          f"(mean {means[SHARES.index(chosen)]:.3f}; none: {means[0]:.3f})")


if __name__ == "__main__":
    main()
