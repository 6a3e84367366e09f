"""The starter model's foreground threshold: AP per threshold on real and synthetic images.

Prediction turns the foreground probability into cells at 0.5 (core/postprocess.py).
This prints the starter's AP@0.5 / AP@0.75 and its count of merges (as separation.py
counts them) when that threshold moves, on

* the four real images its training holds back for validation (``REAL_VALIDATION``);
* its other 26 real training images ("seen");
* its synthetic validation planes (seeds [2, k]);

each predicted as the product predicts (at the model's cell size), and then with the
threshold ``--fold`` folded into the weights (the bias of the last layer shifted so that
the new probability is above 0.5 where the old one was above the threshold), which also
changes the cell-size measurement that picks the scale. mnfinder's test-data is never
used here.

    python benchmarks/threshold.py [--fold 0.3] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # runtime.quiet_openmp, before torch loads

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))

from train_starter_model import REAL_VALIDATION, VALIDATION_SEED  # noqa: E402

from benchmarks import real_data  # noqa: E402
from benchmarks.quality import scores, segment_with  # noqa: E402
from benchmarks.separation import merges_and_splits_over  # noqa: E402
from unetgui.core.postprocess import foreground_probability, probabilities_to_labels  # noqa: E402
from unetgui.core.predict import predict_sized  # noqa: E402
from unetgui.core.starter import load_starter_model  # noqa: E402
from unetgui.core.synthetic import SyntheticDomain, domain_images  # noqa: E402

THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)


def fold_threshold(net: torch.nn.Module, threshold: float) -> None:
    """Shift a 2-class network's last bias: p' > 0.5 exactly where p > ``threshold``."""
    shift = math.log((1 - threshold) / threshold)
    with torch.no_grad():
        net.head.bias[1] += shift / 2
        net.head.bias[0] -= shift / 2


def cell(truths, preds) -> str:
    s = scores(truths, preds)
    merged, _ = merges_and_splits_over(truths, preds)
    return f"{s['ap'][0.5]:.3f} / {s['ap'][0.75]:.3f}, {merged:>3} merged"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fold", type=float, default=0.3, help="threshold to fold into the weights")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train = real_data.load("train")
    sets = {
        f"real validation ({len(REAL_VALIDATION)})": [(i, l) for n, i, l in train if n in REAL_VALIDATION],
        f"real seen ({len(train) - len(REAL_VALIDATION)})": [(i, l) for n, i, l in train if n not in REAL_VALIDATION],
        "synthetic validation (8)": domain_images(SyntheticDomain(), ([VALIDATION_SEED, k] for k in range(8))),
    }
    model = load_starter_model()
    print(f"command: python benchmarks/threshold.py {' '.join(sys.argv[1:])}")
    print("AP@0.5 / AP@0.75, merges; the starter model, predicted at its cell size\n")
    print(f"| threshold | {' | '.join(f'{name:<28}' for name in sets)} |")
    print(f"|---|{'|'.join('-' * 30 for _ in sets)}|")
    probabilities = {name: [foreground_probability(predict_sized(model, image[None]).probabilities)
                            for image, _ in data] for name, data in sets.items()}
    for t in THRESHOLDS:
        row = [cell([labels for _, labels in data], [probabilities_to_labels(p, threshold=t)
                                                    for p in probabilities[name]])
               for name, data in sets.items()]
        print(f"| {t:.2f} | {' | '.join(f'{c:<28}' for c in row)} |", flush=True)
    fold_threshold(model.net, args.fold)
    row = [cell([labels for _, labels in data], [segment_with(model, image) for image, _ in data])
           for data in sets.values()]
    print(f"| {args.fold:.2f} folded in | {' | '.join(f'{c:<28}' for c in row)} |")


if __name__ == "__main__":
    main()
