"""Segmentation quality: the bundled starter model against a classical baseline, and the
value of fine-tuning it, in one run.

Prints a table of foreground IoU and AP at IoU 0.5 and 0.75 (DSB 2018 / StarDist /
Cellpose definition, TP / (TP + FP + FN), summed over the planes of a set) on real and
synthetic images the starter model never saw (packaging/train_starter_model.py trains on
synthetic seeds [1, k], validates on [2, k], and takes real images from mnfinder's
training-data only):

1. Real nuclei: the 16 images (603 nuclei) of mnfinder's test-data (benchmarks/real_data.py):
   (a) the classical baseline; (b) the starter model alone, as the product predicts;
   (c) the starter fine-tuned on two annotated images of mnfinder's training-data
   (``REAL_TUNE``) for ``--real-minutes`` (default 3, the quality target's); (d) a new
   network (``recipes.SCRATCH_NETWORK``) trained the same way for the same time;
   (b-) the starter never resized; ``--tta``: (b) and (c) with test-time augmentation.
   ``--seeds 0,1,2``: (c) and (d) once per training seed (tile draws, augmentation,
   dropout), and their mean: one 3-minute run varies by a few hundredths of AP.
   Scored twice: as labelled (a segmented micronucleus is a false nucleus), and with
   predicted objects mostly inside a labelled micronucleus left out ("MN out"): mnfinder
   labels micronuclei apart from nuclei, and a nucleus segmenter that also finds them
   is not wrong by the biology.
1b. Your own images (``--own-folds``, default 3): the user's case, where the two annotated
   planes belong to the collection being segmented and are new to the starter. Fold k
   fine-tunes on test-data images k and k + 8 (by name) and scores on the other 14,
   against the starter on the same 14; ``--tta`` adds the fine-tuned model with
   test-time augmentation. Section 1's images (c) are of the starter's training-data,
   which it had learnt already.
2. Synthetic test set: the starter model's own domain (``SyntheticDomain()``), seeds [3, k].
   (a) classical baseline: ``auto_segment`` (percentile normalisation, Gaussian smoothing,
       Otsu threshold, distance-transform watershed);
   (b) the starter model alone, as the product predicts: resized to its cell size when
       the image's cells (estimated from the image) lie outside it; (b+) the same with
       test-time augmentation; (b-) never resized.
3. Shifted domain (``SHIFTED`` below: settings outside the training ranges: cells
   ~90-120 px across instead of 8-80, crowded (55-70 % cover, nearly all touching), dim
   cells on a bright background with fewer photons). One annotated 768 x 768 plane,
   seed [4, 0], to fine-tune on; test planes from seeds [5, k].
   (a) classical baseline; (b) the starter model alone;
   (c) the starter model fine-tuned on that one plane for ``--minutes`` of wall time;
   (d) a new network of the same shape trained the same way, for the same time, from scratch.
   (c) and (d) use the recipes of core/recipes.py (fine-tune and scratch) as the window
   and the command line do, with the held-back band and cell-size matching; ``--optimizer``
   and ``--lr`` override them. They run side by side, one step each in turn, each
   until its own steps have taken ``--minutes`` (so a busy machine slows both alike;
   the whole takes twice that). The steps each got are printed.
4. Speed: predicting one 1024 x 1024 plane with the starter model (and, for the choice of
   width, with an untrained network of 32 base channels).

    python benchmarks/quality.py [--minutes 2] [--real-minutes 3] [--threads 2]
        [--model resources/starter.unet] [--optimizer adam|sgd] [--lr LR] [--test-planes 16]
        [--shifted-test-planes 4] [--no-timing] [--tta] [--only real|own|synthetic] [--seeds 0] [--own-folds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # runtime.quiet_openmp, before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import real_data  # noqa: E402

from unetgui.core import recipes, runtime  # noqa: E402
from unetgui.core.autoseg import auto_segment  # noqa: E402
from unetgui.core.metrics import match_instances, matched_count  # noqa: E402
from unetgui.core.model import load_model, new_model  # noqa: E402
from unetgui.core.postprocess import foreground_probability, probabilities_to_labels  # noqa: E402
from unetgui.core.predict import predict, predict_sized  # noqa: E402
from unetgui.core.starter import load_starter_model, starter_model_path  # noqa: E402
from unetgui.core.synthetic import SyntheticConfig, SyntheticDomain, domain_images, synthetic_cells  # noqa: E402
from unetgui.core.train import TrainingPlane, train  # noqa: E402
from unetgui.core.unet import UNetConfig  # noqa: E402

TEST_SEED, SHIFTED_TUNE_SEED, SHIFTED_TEST_SEED = 3, 4, 5
#: The two annotated images fine-tuning starts from in the real section (mnfinder
#: training-data: a U2OS image of the experiment some test images come from, and an
#: image of the mixed set).
REAL_TUNE = ("2022-10-14_U2OS/1.tif", "2023-05-31_misc/5.tif")
THRESHOLDS = (0.5, 0.75)

#: Outside the starter model's training ranges (SyntheticDomain() defaults in brackets).
SHIFTED = SyntheticDomain(
    shape=(768, 768),
    diameter=(90.0, 120.0),  # [11, 62] typical, cells up to ~80 px
    size_spread=(0.1, 0.2),
    coverage=(0.55, 0.7),  # [0.03, 0.45]
    touching=(0.85, 1.0),  # [0, 0.8]
    brightness_low=(0.15, 0.3),  # [0.35, 0.9]: some cells much dimmer than others
    background=(0.3, 0.45),  # [0.02, 0.25]
    noise=(0.12, 0.2),  # [0.01, 0.1]: fewer photons
)


def segment_with(model, image: np.ndarray, tta: bool = False, sized: bool = True) -> np.ndarray:
    """(Y, X) image -> (Y, X) labels, the way the window and `unetgui predict` do it: at the
    model's cell size (core.cellsize), estimated from the image; ``sized=False``: as is."""
    probs = predict_sized(model, image[None], tta=tta).probabilities if sized else predict(model, image[None], tta=tta)
    return probabilities_to_labels(foreground_probability(probs))


def scores(truths, preds, ignore=None) -> dict:
    """Foreground IoU and AP (TP / (TP + FP + FN)) over a set of planes of any sizes.

    ``ignore``: per plane, a mask of objects that are neither cells nor background
    (mnfinder's micronuclei); a predicted object mostly inside it is left out of the
    scoring, as a "don't care" region is in detection benchmarks."""
    inter = union = 0
    tp = {t: 0 for t in THRESHOLDS}
    n_true = n_pred = 0
    for k, (truth, pred) in enumerate(zip(truths, preds)):
        if ignore is not None:
            pred = left_out(pred, ignore[k])
        a, b = truth > 0, pred > 0
        inter += np.count_nonzero(a & b)
        union += np.count_nonzero(a | b)
        iou, truth_ids, pred_ids = match_instances(truth, pred)
        n_true += len(truth_ids)
        n_pred += len(pred_ids)
        for t in THRESHOLDS:
            tp[t] += matched_count(iou, t) if iou.size else 0
    ap = {t: tp[t] / max(n_true + n_pred - tp[t], 1) for t in THRESHOLDS}
    return {"iou": inter / max(union, 1), "ap": ap, "n_true": n_true, "n_pred": n_pred}


def left_out(pred: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``pred`` without the objects of which more than half lies in ``mask``."""
    if mask is None or not mask.any():
        return pred
    areas = np.bincount(pred.ravel())
    inside = np.bincount(pred[mask > 0].ravel(), minlength=len(areas))
    drop = np.flatnonzero(inside > 0.5 * areas)
    drop = drop[drop > 0]
    return np.where(np.isin(pred, drop), 0, pred)


def mean_scores(runs: list[dict]) -> dict:
    """The mean of several :func:`scores` (one per training seed), as :func:`row` prints it."""
    return {"iou": float(np.mean([r["iou"] for r in runs])),
            "ap": {t: float(np.mean([r["ap"][t] for r in runs])) for t in THRESHOLDS},
            "n_true": round(float(np.mean([r["n_true"] for r in runs]))),
            "n_pred": round(float(np.mean([r["n_pred"] for r in runs])))}


def row(name: str, s: dict, extra: str = "", also: dict | None = None) -> str:
    more = f" {also['ap'][0.5]:.3f} | {also['ap'][0.75]:.3f} |" if also is not None else ""
    return (f"| {name:<56} | {s['iou']:.3f} | {s['ap'][0.5]:.3f} | {s['ap'][0.75]:.3f} |{more} "
            f"{s['n_true']:>5} | {s['n_pred']:>5} | {extra:<22} |")


HEADER = (f"| {'method':<56} | fg IoU | AP@0.5 | AP@0.75 | cells | found | {'training':<22} |\n"
          f"|{'-' * 58}|--------|--------|---------|-------|-------|{'-' * 24}|")
REAL_HEADER = (f"| {'method':<56} | fg IoU | AP@0.5 | AP@0.75 | AP@0.5, MN out | AP@0.75, MN out | cells | found "
               f"| {'training':<22} |\n"
               f"|{'-' * 58}|--------|--------|---------|----------------|-----------------|-------|-------"
               f"|{'-' * 24}|")


def fine_tune_side_by_side(models, planes: list[TrainingPlane], minutes: float, args, seed: int = 0) -> list[dict]:
    """Train each model on ``planes`` for ``minutes`` of its own time, in turns.

    The runs take one step each in turn, and each stops when the time spent in its own
    steps (plane preparation included) reaches the budget. On a machine shared with other
    work, a run made after another would meet a different load; taking turns exposes
    them to the same one. Returns per run: steps and seconds.
    """
    budget = minutes * 60
    runs = []
    for model in models:
        config = recipes.with_choices(recipes.recipe_for(model), optimizer=args.optimizer,
                                      learning_rate=args.lr, steps=10**6, seed=seed)
        runs.append({"generator": train(model, planes, config), "seconds": 0.0, "steps": 0})
    active = list(runs)
    while active:
        for run in list(active):
            start = time.perf_counter()
            item = next(run["generator"], None)  # None: the run stopped itself (no improvement)
            run["seconds"] += time.perf_counter() - start
            run["steps"] = item.step if item is not None else run["steps"]
            if item is None or run["seconds"] >= budget:
                run["generator"].close()  # keeps the best weights on the held-back band
                active.remove(run)
    return [{"steps": run["steps"], "seconds": run["seconds"]} for run in runs]


def timing(args) -> list[str]:
    image, _ = synthetic_cells(SyntheticConfig(shape=(1024, 1024), n_cells=300, radius_range=(8, 16)),
                               np.random.default_rng(0))
    lines = []
    models = [("starter model (16 base channels)", load_model(args.model)),
              ("untrained, 32 base channels", new_model(UNetConfig(base_channels=32), seed=0))]
    for name, model in models:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            predict(model, image[None])
            times.append(time.perf_counter() - start)
        lines.append(f"predict 1024x1024, {name}: best {min(times):.2f} s, median "
                     f"{np.median(times):.2f} s ({torch.get_num_threads()} threads)")
    return lines


def real_section(starter, args) -> list[str]:
    """Real nuclei: mnfinder's test-data (never trained on), the starter alone and after
    fine-tuning on two annotated images of its training-data, against the classical
    baseline and a new network trained as long (benchmarks/real_data.py)."""
    test = real_data.load("test")
    by_name = dict((name, (image, labels)) for name, image, labels in real_data.load("train"))
    planes = [TrainingPlane(by_name[name][0][None], by_name[name][1], name=name) for name in REAL_TUNE]
    truths = [labels for _, _, labels in test]
    micronuclei = real_data.micronuclei("test")
    ignore = [micronuclei.get(name) for name, _, _ in test]

    def both(preds) -> tuple[dict, dict]:
        return scores(truths, preds), scores(truths, preds, ignore)

    base = both([auto_segment(image) for _, image, _ in test])
    start = time.perf_counter()
    own = both([segment_with(starter, image) for _, image, _ in test])
    own_seconds = time.perf_counter() - start
    runs = {"tuned": [], "scratch": [], "tuned_tta": []}  # per seed: (steps, scores, scores with MN out)
    for seed in args.seeds:
        tuned = _load(args.model)
        scratch = new_model(recipes.SCRATCH_NETWORK, seed=seed)
        for name, model, done in zip(runs, (tuned, scratch),
                                     fine_tune_side_by_side([tuned, scratch], planes, args.real_minutes, args, seed)):
            runs[name].append((done["steps"], *both([segment_with(model, image) for _, image, _ in test])))
        if args.tta:
            runs["tuned_tta"].append((None, *both([segment_with(tuned, image, tta=True) for _, image, _ in test])))
    lines = [f"\n1. Real nuclei: mnfinder test-data, {len(test)} images, {base[0]['n_true']} nuclei (never trained "
             f"on); fine-tuning on {' and '.join(REAL_TUNE)} ({sum(int(p.labels.max()) for p in planes)} nuclei). "
             f"'MN out': predicted objects mostly inside one of the {sum(int(m.max()) for m in micronuclei.values())} "
             "micronuclei the data set labels apart from the nuclei are left out of the scoring"
             + (f"; (c) and (d) once per training seed ({', '.join(map(str, args.seeds))}), then their mean"
                if len(args.seeds) > 1 else ""),
             REAL_HEADER,
             row("(a) classical: threshold + watershed", base[0], also=base[1]),
             row("(b) starter model alone", own[0], f"({own_seconds:.0f} s to predict)", also=own[1])]
    minutes = f"{args.real_minutes:g} min on 2 images"
    lines += per_seed_rows(f"(c) starter + fine-tuning {minutes}", "(c) starter + fine-tuning", args.seeds,
                           runs["tuned"])
    lines += per_seed_rows(f"(d) from scratch {minutes}", "(d) from scratch", args.seeds, runs["scratch"])
    lines += per_seed_rows("(c+) fine-tuned, test-time augmentation", "(c+) fine-tuned, test-time augm.", args.seeds,
                           runs["tuned_tta"])
    as_is = both([segment_with(starter, image, sized=False) for _, image, _ in test])
    lines.append(row("(b-) starter model, never resized", as_is[0], also=as_is[1]))
    if args.tta:
        tta = both([segment_with(starter, image, tta=True) for _, image, _ in test])
        lines.append(row("(b+) starter model, test-time augmentation", tta[0], also=tta[1]))
    return lines


def own_images_section(starter, args) -> list[str]:
    """The user's case: the two annotated planes are images of the collection being
    segmented, new to the starter. mnfinder's test-data is that collection; fold k
    fine-tunes on its images k and k + 8 (by name: a rule fixed before any run, not a
    choice by results) and scores on the other 14, against the starter on the same 14."""
    test = real_data.load("test")
    micronuclei = real_data.micronuclei("test")
    lines = [f"\n1b. Your own images: mnfinder test-data, fine-tuned on two of its {len(test)} images, scored on "
             f"the other {len(test) - 2} (fold k: images k and k + {len(test) // 2} by name, training seed 0)",
             REAL_HEADER]
    folds = {"starter": [], "tuned": [], "tuned_tta": []}
    for k in range(args.own_folds):
        tune = (k, k + len(test) // 2)
        planes = [TrainingPlane(test[i][1][None], test[i][2], name=test[i][0]) for i in tune]
        rest = [item for i, item in enumerate(test) if i not in tune]
        truths = [labels for _, _, labels in rest]
        ignore = [micronuclei.get(name) for name, _, _ in rest]

        def both(model, tta=False):
            preds = [segment_with(model, image, tta=tta) for _, image, _ in rest]
            return scores(truths, preds), scores(truths, preds, ignore)

        tuned = _load(args.model)
        done, = fine_tune_side_by_side([tuned], planes, args.real_minutes, args)
        results = {"starter": both(starter), "tuned": both(tuned)}
        if args.tta:
            results["tuned_tta"] = both(tuned, tta=True)
        names = " and ".join(f"{test[i][0]} ({int(test[i][2].max())} nuclei)" for i in tune)
        lines.append(f"| fold {k}: fine-tuned on {names} |")
        lines.append(row(f"(b) starter model alone, fold {k}", results["starter"][0], also=results["starter"][1]))
        lines.append(row(f"(c) fine-tuned {args.real_minutes:g} min, fold {k}", results["tuned"][0],
                         f"{done['steps']} steps", also=results["tuned"][1]))
        if args.tta:
            lines.append(row(f"(c+) fine-tuned, test-time augmentation, fold {k}", results["tuned_tta"][0],
                             also=results["tuned_tta"][1]))
        for name, result in results.items():
            folds[name].append(result)
    for name, label in (("starter", "(b) starter model alone"), ("tuned", "(c) fine-tuned"),
                        ("tuned_tta", "(c+) fine-tuned, test-time augmentation")):
        if folds[name]:
            lines.append(row(f"{label}, mean of {len(folds[name])} folds", mean_scores([r[0] for r in folds[name]]),
                             also=mean_scores([r[1] for r in folds[name]])))
    return lines


def per_seed_rows(label: str, mean_label: str, seeds: list[int], results: list[tuple]) -> list[str]:
    """One row per training seed (``results``: (steps or None, scores, scores with MN out)),
    then, with several seeds, their mean."""
    lines = []
    for seed, (steps, plain, mn_out) in zip(seeds, results):
        suffix = f", seed {seed}" if len(seeds) > 1 else ""
        lines.append(row(f"{label}{suffix}", plain, f"{steps} steps" if steps is not None else "", also=mn_out))
    if len(results) > 1:
        steps = [steps for steps, _, _ in results if steps is not None]
        lines.append(row(f"{mean_label}, mean of {len(results)} seeds", mean_scores([r[1] for r in results]),
                         f"{min(steps)}-{max(steps)} steps" if steps else "",
                         also=mean_scores([r[2] for r in results])))
    return lines


def _load(path: Path):
    """The bundled starter as the product loads it (with its cell size), or a model file."""
    return load_starter_model() if path == starter_model_path() else load_model(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="fine-tuning budget, wall time (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2, a laptop)")
    parser.add_argument("--model", type=Path, default=None, help="starter model (default: the bundled one)")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default=None, help="default: the recipe's")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: the recipe's)")
    parser.add_argument("--test-planes", type=int, default=16)
    parser.add_argument("--shifted-test-planes", type=int, default=4)
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--real-minutes", type=float, default=3.0,
                        help="fine-tuning budget on the real images (default 3, the quality target's)")
    parser.add_argument("--tta", action="store_true",
                        help="also the starter and the fine-tuned models with test-time augmentation (real sections)")
    parser.add_argument("--seeds", type=lambda text: [int(x) for x in text.split(",")], default=[0],
                        help="training seeds of the real section's fine-tune and scratch runs, e.g. 0,1,2 "
                             "(default 0); with several, each is printed and then their mean")
    parser.add_argument("--own-folds", type=int, default=3,
                        help="section 1b: fine-tune on two of the test images, score on the rest, this many "
                             "times with other pairs (default 3; 0 skips it)")
    parser.add_argument("--only", choices=("real", "own", "synthetic"), default=None,
                        help="only the real section (1), only the own-images section (1b), or only the synthetic "
                             "ones (default: all)")
    args = parser.parse_args()
    args.model = args.model or starter_model_path()

    runtime.tune_allocator()
    torch.set_num_threads(args.threads)
    command = "python benchmarks/quality.py " + " ".join(sys.argv[1:])
    starter = _load(args.model)
    print(f"command: {command}")
    print(f"starter model: {args.model} ({args.model.stat().st_size / 1e6:.1f} MB; "
          f"{starter.config.base_channels} base channels, depth {starter.config.depth}; "
          f"trained {starter.info.get('training_steps', '?')} steps)")
    print(f"fine-tuning / from scratch: {args.real_minutes:g} min each on 2 real images, {args.minutes:g} min "
          f"each on one synthetic plane (time in their own steps), the recipes "
          f"of core/recipes.py (optimiser {args.optimizer or 'the recipe'}, lr {args.lr or 'the recipe'}), "
          f"default tiles, the recipes' augmentation; {torch.get_num_threads()} torch threads, CPU")

    if args.only in (None, "real"):
        print("\n".join(real_section(starter, args)), flush=True)
    if args.only in (None, "own") and args.own_folds > 0:
        print("\n".join(own_images_section(starter, args)), flush=True)
    if args.only in ("real", "own"):
        return

    # 2. The starter model's own synthetic domain, unseen seeds.
    test = domain_images(SyntheticDomain(), ([TEST_SEED, k] for k in range(args.test_planes)))
    truths = [labels for _, labels in test]
    base = scores(truths, [auto_segment(image) for image, _ in test])
    start = time.perf_counter()
    own = scores(truths, [segment_with(starter, image) for image, _ in test])
    own_seconds = time.perf_counter() - start
    start = time.perf_counter()
    own_tta = scores(truths, [segment_with(starter, image, tta=True) for image, _ in test])
    tta_seconds = time.perf_counter() - start
    own_as_is = scores(truths, [segment_with(starter, image, sized=False) for image, _ in test])
    lines = [f"\n2. Synthetic test set: {len(test)} planes of the training domain, seeds "
             f"[{TEST_SEED}, 0..{len(test) - 1}] (never used in training), {base['n_true']} cells",
             HEADER,
             row("(a) classical: threshold + watershed", base),
             row("(b) starter model alone", own, f"({own_seconds:.0f} s to predict)"),
             row("(b+) starter model, test-time augmentation", own_tta, f"({tta_seconds:.0f} s to predict)"),
             row("(b-) starter model, never resized", own_as_is)]
    print("\n".join(lines), flush=True)

    # 3. A shifted domain: one annotated plane to adapt on.
    (tune_image, tune_labels), = domain_images(SHIFTED, [[SHIFTED_TUNE_SEED, 0]])
    shifted = domain_images(SHIFTED, ([SHIFTED_TEST_SEED, k] for k in range(args.shifted_test_planes)))
    truths = [labels for _, labels in shifted]
    plane = TrainingPlane(tune_image[None], tune_labels, name="shifted [4, 0]")
    s_base = scores(truths, [auto_segment(image) for image, _ in shifted])
    s_own = scores(truths, [segment_with(starter, image) for image, _ in shifted])
    s_own_tta = scores(truths, [segment_with(starter, image, tta=True) for image, _ in shifted])
    s_own_as_is = scores(truths, [segment_with(starter, image, sized=False) for image, _ in shifted])
    tuned = _load(args.model)
    scratch = new_model(starter.config, starter.normalization, seed=0)
    h_tuned, h_scratch = fine_tune_side_by_side([tuned, scratch], [plane], args.minutes, args)
    tile = tuned.history[-1]["tile_size"]
    s_tuned = scores(truths, [segment_with(tuned, image) for image, _ in shifted])
    s_tuned_tta = scores(truths, [segment_with(tuned, image, tta=True) for image, _ in shifted])
    s_scratch = scores(truths, [segment_with(scratch, image) for image, _ in shifted])
    lines = [f"\n3. Shifted domain (larger, crowded, dimmer; outside the training ranges): "
             f"fine-tuned on 1 plane {tune_image.shape[0]}x{tune_image.shape[1]} "
             f"({tune_labels.max()} cells), tested on {len(shifted)} planes, seeds "
             f"[{SHIFTED_TEST_SEED}, 0..{len(shifted) - 1}], {s_base['n_true']} cells",
             HEADER,
             row("(a) classical: threshold + watershed", s_base),
             row("(b) starter model alone", s_own),
             row("(b+) starter model, test-time augmentation", s_own_tta),
             row("(b-) starter model, never resized", s_own_as_is),
             row(f"(c) starter + fine-tuning {args.minutes:g} min on 1 plane", s_tuned,
                 f"{h_tuned['steps']} steps, tile {tile}"),
             row("(c+) the same, test-time augmentation", s_tuned_tta),
             row(f"(d) from scratch {args.minutes:g} min on 1 plane", s_scratch,
                 f"{h_scratch['steps']} steps, tile {tile}")]
    print("\n".join(lines), flush=True)

    if not args.no_timing:
        print("\n4. Speed")
        for line in timing(args):
            print(line, flush=True)


if __name__ == "__main__":
    main()
