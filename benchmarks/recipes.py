"""Which training recipe: candidate fine-tuning and from-scratch recipes, same data, same steps.

Every candidate trains on the same annotated plane of the quality benchmark's shifted
domain (benchmarks/quality.py: cells far larger, more crowded and dimmer than the
starter model learned) for the same number of steps, through ``core.train.train`` as the
window and the command line run it (so without validation planes, with the automatic
held-back band choosing the best checkpoint). Each is scored on the same unseen test
planes.

Cell-size matching is switched off here, in training and in scoring: with it, the
starter model already reaches AP@0.5 0.92 on this domain (its only shift that matters
was size), its held-back band scores 1.0 before any step, and every recipe rightly keeps
the starting weights, which says nothing about how well a recipe adapts. Without it, the
cells are 4x larger than anything the model learned: a real adaptation task.
Fine-tuning candidates start from the bundled starter model; scratch candidates from a
new network. Steps, not seconds, make the comparison independent of machine load.

``--data real``: real nuclei instead, as the product meets them (cell-size matching on):
the two annotated mnfinder training images that ``quality.py`` fine-tunes on
(``REAL_TUNE``), scored on the four that the starter's training holds back
(``REAL_VALIDATION``, 398 nuclei), so ``quality.py``'s test images stay unseen by choices.
A second score, "seen", covers the other 24 training-data images (1765 nuclei): the
starter trained on them, so it says how much of what the model knew a recipe keeps (and
what it gains there), on four times as many nuclei, with the merges (a predicted nucleus
covering half of two true ones or more, as ``separation.py`` counts them). ``--seed``
repeats the runs with other tile draws; ``--seconds`` gives every run the same wall time
instead of the same steps (for candidates whose steps cost more or less); ``--candidate``
(repeatable) runs only the named ones, named as the table does without its "fine-tune: "
or "scratch: " prefix; an averaged candidate reuses the run of its base candidate when both
run. ``--tune`` (repeatable) fine-tunes on other training-data images than ``REAL_TUNE``,
e.g. the two the starter does worst on, to see what a run forgets of the others.

    python benchmarks/recipes.py [--steps 160 | --seconds 180] [--threads 2] [--only fine-tune|scratch]
        [--data shifted|real] [--seed 0] [--candidate NAME ...] [--tune IMAGE ...] [--model FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import real_data  # noqa: E402
from benchmarks.quality import REAL_TUNE, SHIFTED, SHIFTED_TEST_SEED, SHIFTED_TUNE_SEED, scores  # noqa: E402
from benchmarks.quality import segment_with as _segment_with  # noqa: E402
from benchmarks.separation import merges_and_splits_over  # noqa: E402
from unetgui.core import runtime  # noqa: E402
from unetgui.core.augment import AugmentConfig  # noqa: E402
from unetgui.core.autoseg import auto_segment  # noqa: E402
from unetgui.core.model import load_model, new_model  # noqa: E402
from unetgui.core.starter import load_starter_model  # noqa: E402
from unetgui.core.synthetic import domain_images  # noqa: E402
from unetgui.core.train import TrainingConfig, TrainingPlane, averaged_weights, train  # noqa: E402
from unetgui.core.unet import UNetConfig  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))
from train_starter_model import REAL_VALIDATION  # noqa: E402

FINE_TUNE_CANDIDATES = {
    "adam 1e-3 constant": TrainingConfig(optimizer="adam", learning_rate=1e-3),
    "adam 1e-3 constant, gray-value changes x2": TrainingConfig(optimizer="adam", learning_rate=1e-3,
                                                                augment=AugmentConfig(gray_strength=0.4)),
    "adam 1e-3, warm-up 20, cosine": TrainingConfig(optimizer="adam", learning_rate=1e-3, warmup_steps=20,
                                                    lr_decay="cosine"),
    "adam 3e-4 constant": TrainingConfig(optimizer="adam", learning_rate=3e-4),
    "adam 1e-3 constant, w0 20": TrainingConfig(optimizer="adam", learning_rate=1e-3, w0=20.0),
    "adam 1e-3 constant, tile 316": TrainingConfig(optimizer="adam", learning_rate=1e-3, tile_size=316),
    "adam 1e-3 constant, tile 412": TrainingConfig(optimizer="adam", learning_rate=1e-3, tile_size=412),
    "sgd 1e-3 momentum 0.99 (paper)": TrainingConfig(optimizer="sgd", learning_rate=1e-3),
}
SCRATCH_CANDIDATES = {
    "16 ch, adam 1e-3 constant": (UNetConfig(base_channels=16), TrainingConfig(optimizer="adam", learning_rate=1e-3)),
    "16 ch, adam 1e-3, warm-up 20, cosine": (UNetConfig(base_channels=16),
                                             TrainingConfig(optimizer="adam", learning_rate=1e-3, warmup_steps=20,
                                                            lr_decay="cosine")),
    "16 ch + batch norm, adam 1e-3 constant": (UNetConfig(base_channels=16, batch_norm=True),
                                               TrainingConfig(optimizer="adam", learning_rate=1e-3)),
    "16 ch, sgd 1e-3 momentum 0.99 (paper)": (UNetConfig(base_channels=16),
                                              TrainingConfig(optimizer="sgd", learning_rate=1e-3)),
}


#: Fine-tune candidates whose result is the starter's and the fine-tuned weights averaged
#: (WiSE-FT, Wortsman et al. 2022, ``core.train.averaged_weights``): name -> (the run, the
#: starter's share of the average).
AVERAGED_WITH_STARTER = {"adam 1e-3, averaged 1:1 with the starter": ("adam 1e-3 constant", 0.5),
                         "adam 1e-3, 30 % run + 70 % starter": ("adam 1e-3 constant", 0.7),
                         "adam 1e-3, 70 % run + 30 % starter": ("adam 1e-3 constant", 0.3)}


def run(model, planes, config: TrainingConfig, steps: int, seconds: float | None, sized: bool,
        seed: int) -> tuple[int, float, dict]:
    config = dataclasses.replace(config, steps=steps, max_seconds=seconds, seed=seed, match_cell_size=sized)
    start = time.process_time()
    for _ in train(model, planes, config):
        pass
    return model.history[-1]["steps"], time.process_time() - start, model.history[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=160, help="about 3 minutes of a 2-core CPU at tile 572")
    parser.add_argument("--seconds", type=float, help="equal wall time per run instead of equal steps")
    parser.add_argument("--candidate", action="append", help="run this candidate (repeatable; default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--test-planes", type=int, default=4)
    parser.add_argument("--only", choices=("fine-tune", "scratch"))
    parser.add_argument("--seed", type=int, default=0, help="training seed: tile draws, augmentation, dropout")
    parser.add_argument("--data", choices=("shifted", "real"), default="shifted",
                        help="real: fine-tune on quality.py's two real images (REAL_TUNE), score on the "
                             "four the starter holds back (REAL_VALIDATION), sized as the product does")
    parser.add_argument("--model", type=Path, default=None,
                        help="fine-tune this model file instead of the bundled starter (a candidate starter)")
    parser.add_argument("--tune", action="append",
                        help="with --data real: fine-tune on this training-data image instead of REAL_TUNE "
                             "(repeatable; e.g. 2023-05-31_misc/7.tif)")
    args = parser.parse_args()
    steps = 10**6 if args.seconds else args.steps
    known = {*FINE_TUNE_CANDIDATES, *AVERAGED_WITH_STARTER, *SCRATCH_CANDIDATES}
    chosen = set(args.candidate) if args.candidate else known
    if chosen - known:
        parser.error(f"unknown candidates {sorted(chosen - known)}; known: {sorted(known)}")
    runtime.tune_allocator()
    torch.set_num_threads(args.threads)

    sized = args.data == "real"
    if sized:
        train_images = {name: (image, labels) for name, image, labels in real_data.load("train")}
        tune = args.tune or REAL_TUNE
        if set(tune) - set(train_images) or set(tune) & set(REAL_VALIDATION):
            parser.error(f"--tune takes training-data images outside REAL_VALIDATION: {sorted(train_images)}")
        planes = [TrainingPlane(train_images[name][0][None], train_images[name][1], name=name) for name in tune]
        test = [train_images[name] for name in REAL_VALIDATION]
        seen = [item for name, item in train_images.items() if name not in REAL_VALIDATION and name not in tune]
    else:
        seen = []
        (tune_image, tune_labels), = domain_images(SHIFTED, [[SHIFTED_TUNE_SEED, 0]])
        planes = [TrainingPlane(tune_image[None], tune_labels, name="shifted [4, 0]")]
        test = domain_images(SHIFTED, ([SHIFTED_TEST_SEED, k] for k in range(args.test_planes)))
    truths = [labels for _, labels in test]

    def segment_with(model, image):
        return _segment_with(model, image, sized=sized)

    def seen_score(model) -> str:
        if not seen:
            return ""
        truths = [labels for _, labels in seen]
        preds = [segment_with(model, image) for image, _ in seen]
        ap = scores(truths, preds)["ap"]
        merged, _ = merges_and_splits_over(truths, preds)
        return f"{ap[0.5]:.3f} / {ap[0.75]:.3f}, {merged} merged"

    print(f"command: python benchmarks/recipes.py {' '.join(sys.argv[1:])}")
    budget = f"{args.seconds:g} s" if args.seconds else f"{args.steps} steps"
    print(f"{len(planes)} annotated plane(s) {[p.labels.shape for p in planes]} "
          f"({sum(int(p.labels.max()) for p in planes)} cells), {budget} each, seed {args.seed}, "
          f"{len(test)} test planes ({sum(int(t.max()) for t in truths)} cells), {args.threads} threads\n")
    print(f"| {'recipe':<56} | AP@0.5 | AP@0.75 | fg IoU | steps | ended | CPU s | val AP before -> best |"
          + (" seen AP@0.5 / 0.75, merges |" if seen else ""))
    print(f"|{'-' * 58}|--------|---------|--------|-------|-------|-------|-----------------------|"
          + ("------------------------------|" if seen else ""))

    def line(name, s, steps="", ended="", cpu="", entry=None, model=None):
        val = ""
        if entry and entry.get("validation_before"):
            val = f"{entry['validation_before']['ap50']:.3f} -> {entry['best_validation']['ap50']:.3f}"
        also = f" {seen_score(model) if model is not None else '':<28} |" if seen else ""
        print(f"| {name:<56} | {s['ap'][0.5]:.3f} | {s['ap'][0.75]:.3f} | {s['iou']:.3f} | {steps!s:>5} "
              f"| {ended:<5} | {cpu!s:>5} | {val:<21} |{also}", flush=True)

    line("classical: threshold + watershed", scores(truths, [auto_segment(image) for image, _ in test]))
    if args.only != "scratch":
        def load_start():
            return load_model(args.model) if args.model else load_starter_model()

        starter = load_start()
        line("starter model alone", scores(truths, [segment_with(starter, image) for image, _ in test]), model=starter)
        start = {k: v.clone() for k, v in starter.net.state_dict().items()}
        runs = [(name, name, None) for name in FINE_TUNE_CANDIDATES]
        runs += [(name, base, share) for name, (base, share) in AVERAGED_WITH_STARTER.items()]
        finished = {}  # base candidate -> (weights, steps, CPU s, history entry): an average reuses its run
        for name, base, share in runs:
            if name not in chosen:
                continue
            model = load_start()
            if base in finished:
                weights, done, cpu, entry = finished[base]
                model.net.load_state_dict(weights)
            else:
                done, cpu, entry = run(model, planes, FINE_TUNE_CANDIDATES[base], steps, args.seconds, sized,
                                       args.seed)
                finished[base] = ({k: v.clone() for k, v in model.net.state_dict().items()}, done, cpu, entry)
            if share is not None:
                model.net.load_state_dict(averaged_weights(model.net.state_dict(), start, share))
            line(f"fine-tune: {name}", scores(truths, [segment_with(model, image) for image, _ in test]),
                 done, entry["ended"][:5], f"{cpu:.0f}", None if share is not None else entry, model)
    if args.only != "fine-tune":
        for name, (net, config) in SCRATCH_CANDIDATES.items():
            if name not in chosen:
                continue
            model = new_model(net, seed=0)
            done, cpu, entry = run(model, planes, config, steps, args.seconds, sized, args.seed)
            line(f"scratch: {name}", scores(truths, [segment_with(model, image) for image, _ in test]),
                 done, entry["ended"][:5], f"{cpu:.0f}", entry, model)


if __name__ == "__main__":
    main()
