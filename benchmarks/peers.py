"""Side by side with Cellpose: the same annotated planes, the same CPU-seconds of training,
the same held-back test planes.

On each of the quality benchmark's data sets (benchmarks/quality.py; its domains, seeds,
``REAL_TUNE``, ``scores`` and ``segment_with`` are imported, not copied):

* real: nuclei of mnfinder (benchmarks/real_data.py, fetched with pip on first use),
  trained on the two images of its training-data that quality.py fine-tunes on
  (``REAL_TUNE``), tested on its test-data (16 images, 603 nuclei; ``--real-test-images``);
* synthetic: the starter model's synthetic domain (``SyntheticDomain()``), ``--train-planes``
  annotated planes from seeds [6, k] (used by no other script, never seen by the starter
  model), tested on seeds [3, k];
* shifted: ``SHIFTED`` (cells ~90-120 px, crowded, dim), annotated planes [4, k], tested
  on seeds [5, k];

it trains, each for ``--cpu-seconds`` of process CPU time (all threads of the process
counted; 2 torch threads each, OpenMP threads sleeping when idle on both sides), so that a
busy machine favours neither:

(a) classical: threshold + watershed (``auto_segment``), no training; reference.
(b) the starter model alone, no training; reference.
(c) unetgui fine-tuning the starter model: ``recipes.recipe_for`` (FINE_TUNE), driven
    step by step through ``core.train.train`` as the window does, stopped at the first
    step that ends past the budget (the generator then keeps the best weights on its
    held-back band).
(d) unetgui from scratch: ``recipes.SCRATCH_NETWORK`` with the SCRATCH recipe, the same way.
(e) Cellpose 3.1 from scratch (no pretrained weights), in a subprocess with the Python of
    ``--cellpose-venv`` (this script installs nothing; benchmarks/README.md says how to
    make that venv). Its own loop, ``cellpose.train.train_seg``, with the settings of its
    documented from-scratch command (``python -m cellpose --train --pretrained_model
    None``: SGD, learning rate 0.2, weight decay 1e-5, batches of 8, all training images
    once per epoch, ``diam_mean`` 30 with each image rescaled by its own label diameter;
    ``--cellpose-recipe gui``: its window's settings for a new model instead, learning
    rate 0.1, weight decay 1e-4, 8 random training images per epoch).
    Its learning-rate schedule depends on ``n_epochs``, so a pilot of a few epochs on a
    throwaway network (not counted) measures CPU per epoch and the fixed cost (flows,
    diameters), and ``n_epochs`` is chosen to fill the budget; the CPU it really used is
    printed. It predicts with ``diameter`` = the median diameter of the training labels,
    as a custom model does (``diam_labels``).
(e*) the same Cellpose network given each test image's true median diameter: a reference
    for what a correct size would give, not a method anyone could run.

The worker that runs in the Cellpose venv is ``cellpose_worker`` below, sent as source
text; data go both ways as .npy files (loaded with ``allow_pickle=False``) and JSON in a
temporary folder, so nothing is ever unpickled. Without a usable venv the unetgui rows are
printed and the Cellpose rows say why they were skipped.

Printed: one table per budget (1x, then 3x; ``--budgets 1`` for 1x alone): AP at IoU 0.5 and 0.75 (the
quality benchmark's definition), training CPU-seconds actually used, and prediction wall
seconds per megapixel (image to labels, over the test planes, after one warm-up image;
2 threads); the speed ratio of Cellpose to unetgui's fine-tuned model (target: unetgui
>= 5x faster per megapixel); merges and splits (benchmarks/separation.py's definitions).

    python benchmarks/peers.py [--cellpose-venv /tmp/cpvenv] [--cpu-seconds 240] [--budgets 1,3]
        [--sets real,synthetic,shifted]
        [--train-planes 2] [--test-planes 8] [--shifted-test-planes 4] [--real-test-images 16]
        [--threads 2] [--cellpose-recipe cli|gui]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the command line does (runtime.quiet_openmp); both sides

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import real_data  # noqa: E402

from benchmarks.quality import REAL_TUNE, SHIFTED, SHIFTED_TEST_SEED, SHIFTED_TUNE_SEED, TEST_SEED, scores, segment_with  # noqa: E402
from benchmarks.separation import merges_and_splits_over  # noqa: E402
from unetgui.core import cellsize, recipes, runtime  # noqa: E402
from unetgui.core.autoseg import auto_segment  # noqa: E402
from unetgui.core.model import new_model  # noqa: E402
from unetgui.core.starter import load_starter_model  # noqa: E402
from unetgui.core.synthetic import SyntheticDomain, domain_images  # noqa: E402
from unetgui.core.train import TrainingPlane, train  # noqa: E402

TUNE_SEED = 6  # starter domain, annotated planes [6, k]: no other script uses them
CELLPOSE_VERSION = "3.1"
#: train_seg settings. "cli": ``python -m cellpose --train --pretrained_model None`` (cellpose/cli.py
#: defaults, 3.1: every training image once per epoch); "gui": the window's training of a new
#: model (cellpose/gui/gui.py, ``train_model``: at least 8 images per epoch, drawn at random).
CELLPOSE_RECIPES = {
    "cli": {"SGD": True, "learning_rate": 0.2, "weight_decay": 1e-5, "batch_size": 8, "min_train_masks": 5},
    "gui": {"SGD": True, "learning_rate": 0.1, "weight_decay": 1e-4, "batch_size": 8, "min_train_masks": 0,
            "nimg_per_epoch": 8},  # max(8, number of images): set in run_cellpose
}
CELLPOSE_DIAM_MEAN = 30.0
PILOT_EPOCHS = 5
SETS = ("real", "synthetic", "shifted")  # what --sets may name


def data_sets(args) -> dict:
    """name -> (training planes [(image, labels)], test planes, where they come from), for
    the sets in ``args.sets`` only (the others are neither loaded nor generated)."""
    out = {}
    if "real" in args.sets:
        by_name = {name: (image, labels) for name, image, labels in real_data.load("train")}
        real_test = real_data.load("test")[:args.real_test_images]
        out["real"] = ([by_name[name] for name in REAL_TUNE], [(image, labels) for _, image, labels in real_test],
                       f"mnfinder training-data {' and '.join(REAL_TUNE)}, test-data {len(real_test)} images")
    for name, domain, tune, test, n_test in (("synthetic", SyntheticDomain(), TUNE_SEED, TEST_SEED, args.test_planes),
                                             ("shifted", SHIFTED, SHIFTED_TUNE_SEED, SHIFTED_TEST_SEED,
                                              args.shifted_test_planes)):
        if name not in args.sets:
            continue
        training = domain_images(domain, ([tune, k] for k in range(args.train_planes)))
        testing = domain_images(domain, ([test, k] for k in range(n_test)))
        out[name] = (training, testing, f"train [{tune}, 0..{args.train_planes - 1}], test [{test}, 0..{n_test - 1}]")
    return out


# --------------------------------------------------------------------------- unetgui side


def train_for_cpu(model, planes: list[TrainingPlane], budget: float) -> dict:
    """Train ``model`` with its recipe until its steps have used ``budget`` CPU-seconds."""
    config = recipes.with_choices(recipes.recipe_for(model), steps=10**6, seed=0)
    start = time.process_time()
    generator = train(model, planes, config)
    steps, ended = 0, "budget"
    while time.process_time() - start < budget:
        item = next(generator, None)
        if item is None:  # stopped itself (no improvement on the held-back band)
            ended = model.history[-1]["ended"]
            break
        steps = item.step
    generator.close()  # keeps the best weights on the held-back band
    entry = model.history[-1]
    note = f"{steps} steps, tile {entry['tile_size']}" + ("" if ended == "budget" else f", {ended}")
    return {"cpu": time.process_time() - start,
            "note": note + (", kept the start" if entry.get("kept_the_starting_weights") else "")}


def progress(text: str) -> None:
    """A line on stderr while the run goes on (the tables go to stdout)."""
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def timed(segment, images) -> tuple[list[np.ndarray], float, float]:
    """Labels of each image, and wall and CPU seconds per megapixel after one warm-up image."""
    segment(images[0])
    wall, cpu = time.perf_counter(), time.process_time()
    labels = [segment(image) for image in images]
    megapixels = sum(image.size for image in images) / 1e6
    return labels, (time.perf_counter() - wall) / megapixels, (time.process_time() - cpu) / megapixels


# --------------------------------------------------------------------------- Cellpose side


def cellpose_worker(folder: str) -> None:
    """Train and run Cellpose as job.json in ``folder`` says; runs in the Cellpose venv.

    Self-contained (its source is sent to that venv's python): reads train_image_k.npy,
    train_labels_k.npy, test_image_k.npy, writes masks_k.npy, oracle_k.npy and result.json.
    """
    import importlib.metadata
    import json
    import math
    import time
    from pathlib import Path

    import numpy as np
    import torch

    folder = Path(folder)
    job = json.loads((folder / "job.json").read_text())
    torch.set_num_threads(job["threads"])
    from cellpose import dynamics, models, train, utils

    def load(name):
        return np.load(folder / name, allow_pickle=False)

    images = [load(f"train_image_{k}.npy").astype(np.float32) for k in range(job["n_train"])]
    labels = [load(f"train_labels_{k}.npy").astype(np.int32) for k in range(job["n_train"])]
    tests = [load(f"test_image_{k}.npy").astype(np.float32) for k in range(job["n_test"])]
    options = dict(job["training"], channels=[0, 0], normalize=True, save_path=str(folder))

    def network():
        torch.manual_seed(job["seed"])
        return models.CellposeModel(gpu=False, pretrained_model=False, diam_mean=job["diam_mean"], nchan=2)

    tiny = np.zeros((32, 32), np.int32)
    tiny[8:20, 8:20] = 1
    dynamics.labels_to_flows([tiny], device=torch.device("cpu"))  # numba compiles here: not counted

    # Pilot on a throwaway network: CPU per epoch, and the fixed cost before the first epoch.
    stamps, loss_fn = [], train._loss_fn_seg

    def stamped(*a, **k):
        stamps.append(time.process_time())
        return loss_fn(*a, **k)

    def epoch_ends(n_epochs):  # CPU time at the last loss of each epoch
        batches = len(stamps) // n_epochs
        return stamps[batches - 1::batches]

    train._loss_fn_seg = stamped
    start = time.process_time()
    train.train_seg(network().net, images, labels, n_epochs=job["pilot_epochs"], model_name="pilot", **options)
    end = time.process_time()
    ends = epoch_ends(job["pilot_epochs"])
    per_epoch = float(np.median(np.diff(ends)))
    fixed = (ends[0] - start - per_epoch) + (end - stamps[-1])
    n_epochs = max(1, math.floor((job["budget"] - fixed) / per_epoch))

    model = network()
    stamps.clear()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    _, train_losses, _ = train.train_seg(model.net, images, labels, n_epochs=n_epochs, model_name="scratch",
                                         **options)
    cpu_train, wall_train = time.process_time() - cpu0, time.perf_counter() - wall0
    train._loss_fn_seg = loss_fn
    real_per_epoch = float(np.median(np.diff(epoch_ends(n_epochs)))) if n_epochs > 1 else cpu_train
    diameter = float(np.median(np.concatenate([utils.diameters(lab)[1] for lab in labels])) / (np.pi**0.5 / 2))

    def segment(image, d):
        return model.eval(image, channels=[0, 0], diameter=d)[0].astype(np.int32)

    segment(tests[0], diameter)  # warm-up, not timed
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for k, image in enumerate(tests):
        np.save(folder / f"masks_{k}.npy", segment(image, diameter))
    wall_predict, cpu_predict = time.perf_counter() - wall0, time.process_time() - cpu0
    for k, (image, d) in enumerate(zip(tests, job["oracle_diameters"])):
        np.save(folder / f"oracle_{k}.npy", segment(image, d))
    (folder / "result.json").write_text(json.dumps({
        "version": importlib.metadata.version("cellpose"), "threads": torch.get_num_threads(),
        "n_epochs": n_epochs, "pilot_cpu": end - start, "cpu_per_epoch": per_epoch, "fixed_cpu": fixed,
        "real_cpu_per_epoch": real_per_epoch,
        "cpu_train": cpu_train, "wall_train": wall_train, "final_loss": float(np.mean(train_losses[-10:])),
        "diameter": diameter, "megapixels": sum(image.size for image in tests) / 1e6,
        "wall_predict": wall_predict, "cpu_predict": cpu_predict,
    }))


#: Read now: the file may change on disk during a long run.
WORKER_SOURCE = inspect.getsource(cellpose_worker) + "\nimport sys\ncellpose_worker(sys.argv[1])\n"


def cellpose_python(venv: Path | None) -> tuple[Path | None, str]:
    """(the venv's python, its Cellpose version) or (None, why Cellpose is skipped)."""
    if venv is None:
        return None, "no --cellpose-venv given (benchmarks/README.md says how to make one)"
    python = venv / "bin" / "python"
    if not python.is_file():
        return None, f"{python} does not exist"
    check = "import importlib.metadata as m, cellpose.models, cellpose.train; print(m.version('cellpose'))"
    probe = subprocess.run([str(python), "-c", check], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return None, f"Cellpose does not import in {venv}: {(probe.stderr.strip().splitlines() or ['?'])[-1]}"
    found = probe.stdout.strip()
    if not found.startswith(CELLPOSE_VERSION + "."):
        return None, f"{venv} has Cellpose {found}; this script drives the {CELLPOSE_VERSION} API"
    return python, found


def cellpose_training(recipe: str, n_images: int) -> dict:
    """The train_seg keyword arguments of ``recipe`` for ``n_images`` training images."""
    options = dict(CELLPOSE_RECIPES[recipe])
    if "nimg_per_epoch" in options:
        options["nimg_per_epoch"] = max(options["nimg_per_epoch"], n_images)
    return options


def run_cellpose(python: Path, training, testing, budget: float, args) -> dict:
    """Cellpose from scratch in a subprocess: its result.json, masks, oracle masks, child CPU."""
    with tempfile.TemporaryDirectory(prefix="peers-cellpose-") as tmp:
        folder = Path(tmp)
        for k, (image, labels) in enumerate(training):
            np.save(folder / f"train_image_{k}.npy", image)
            np.save(folder / f"train_labels_{k}.npy", labels)
        for k, (image, _) in enumerate(testing):
            np.save(folder / f"test_image_{k}.npy", image)
        job = {"threads": args.threads, "budget": budget, "seed": 0, "diam_mean": CELLPOSE_DIAM_MEAN,
               "pilot_epochs": PILOT_EPOCHS, "training": cellpose_training(args.cellpose_recipe, len(training)),
               "n_train": len(training),
               "n_test": len(testing),
               "oracle_diameters": [cellsize.typical_diameter([labels]) for _, labels in testing]}
        (folder / "job.json").write_text(json.dumps(job))
        env = dict(os.environ, CELLPOSE_LOCAL_MODELS_PATH=str(folder / "cellpose-models"),
                   OMP_NUM_THREADS=str(args.threads))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([str(python), "-c", WORKER_SOURCE, str(folder)], env=env, capture_output=True, text=True,
                              check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-6:])
            return {"error": f"the Cellpose worker failed (exit {done.returncode}):\n{tail}"}
        result = json.loads((folder / "result.json").read_text())
        result["masks"] = [np.load(folder / f"masks_{k}.npy", allow_pickle=False) for k in range(len(testing))]
        result["oracle"] = [np.load(folder / f"oracle_{k}.npy", allow_pickle=False) for k in range(len(testing))]
        result["child_cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return result


# --------------------------------------------------------------------------- the tables


HEADER = (f"| {'method':<38} | data set  | AP@0.5 | AP@0.75 | train CPU-s | predict s/MP | merges | splits "
          f"| {'training':<36} |\n"
          f"|{'-' * 40}|-----------|--------|---------|-------------|--------------|--------|--------|{'-' * 38}|")


def row(name: str, data: str, truths, preds, cpu: str, per_mp: float | None, note: str = "") -> str:
    s = scores(truths, preds)
    merged, split = merges_and_splits_over(truths, preds)
    speed = f"{per_mp:.2f}" if per_mp is not None else "-"
    return (f"| {name:<38} | {data:<9} | {s['ap'][0.5]:.3f}  | {s['ap'][0.75]:.3f}   | {cpu:>11} | {speed:>12} "
            f"| {merged:>6} | {split:>6} | {note:<36} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cellpose-venv", type=Path, default=None, help="a venv with cellpose 3.1 (see README)")
    parser.add_argument("--cpu-seconds", type=float, default=240.0,
                        help="training budget per method, process CPU-seconds (default 240: ~2 min of 2 cores)")
    parser.add_argument("--budgets", type=lambda text: [int(x) for x in text.split(",")], default=[1, 3],
                        help="multiples of --cpu-seconds to run, e.g. 3 (default 1,3)")
    parser.add_argument("--sets", type=lambda text: text.split(","), default=list(SETS),
                        help="data sets to run, e.g. real (default real,synthetic,shifted)")
    parser.add_argument("--train-planes", type=int, default=2, help="annotated synthetic planes per set (default 2)")
    parser.add_argument("--real-test-images", type=int, default=16, help="mnfinder test images (default all 16)")
    parser.add_argument("--test-planes", type=int, default=8, help="starter-domain test planes (default 8)")
    parser.add_argument("--shifted-test-planes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="torch threads, both sides (default 2)")
    parser.add_argument("--cellpose-recipe", choices=tuple(CELLPOSE_RECIPES), default="cli",
                        help="Cellpose's training settings (default cli: its documented from-scratch command)")
    args = parser.parse_args()

    runtime.tune_allocator()
    torch.set_num_threads(args.threads)
    python, cellpose = cellpose_python(args.cellpose_venv)
    print(f"command: python benchmarks/peers.py {' '.join(sys.argv[1:])}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY')}; {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"Cellpose: {cellpose if python else 'skipped: ' + cellpose}"
          + (f" ({args.cellpose_venv}; from scratch, train_seg {args.cellpose_recipe} settings "
             f"{CELLPOSE_RECIPES[args.cellpose_recipe]}, rescale to diam_mean {CELLPOSE_DIAM_MEAN:g})"
             if python else ""), flush=True)

    unknown = sorted(set(args.sets) - set(SETS))
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}")
    sets = data_sets(args)
    starter = load_starter_model()
    references = {}  # no training: the same rows in every table
    for name, (training, testing, seeds) in sets.items():
        images, truths = [image for image, _ in testing], [labels for _, labels in testing]
        cells = sum(int(t.max()) for t in truths)
        diameters = cellsize.typical_diameter([labels for _, labels in training])
        print(f"{name}: {seeds}; {len(training)} annotated planes "
              f"{', '.join(f'{i.shape[0]}x{i.shape[1]}' for i, _ in training)} "
              f"({sum(int(lab.max()) for _, lab in training)} cells, median diameter {diameters:.1f} px); "
              f"{len(testing)} test planes, {cells} cells", flush=True)
        classical, classical_mp, _ = timed(auto_segment, images)
        alone, alone_mp, _ = timed(lambda image: segment_with(starter, image), images)
        references[name] = [row("(a) classical: threshold + watershed", name, truths, classical, "0", classical_mp),
                            row("(b) starter model alone", name, truths, alone, "0", alone_mp)]

    for factor in args.budgets:
        budget = args.cpu_seconds * factor
        threads = torch.get_num_threads()
        lines = [f"\n{factor}x budget: {budget:g} CPU-s of training per method ({threads} torch threads each)", HEADER]
        notes = []
        for name, (training, testing, _) in sets.items():
            images, truths = [image for image, _ in testing], [labels for _, labels in testing]
            planes = [TrainingPlane(image[None], labels, name=f"{name} {k}") for k, (image, labels) in
                      enumerate(training)]
            lines += references[name]
            tuned = load_starter_model()
            tuned_run = train_for_cpu(tuned, planes, budget)
            tuned_labels, tuned_mp, tuned_cpu_mp = timed(lambda image, m=tuned: segment_with(m, image), images)
            lines.append(row("(c) unetgui: starter fine-tuned", name, truths, tuned_labels,
                             f"{tuned_run['cpu']:.0f}", tuned_mp, tuned_run["note"]))
            scratch = new_model(recipes.SCRATCH_NETWORK, seed=0)
            scratch_run = train_for_cpu(scratch, planes, budget)
            scratch_labels, scratch_mp, _ = timed(lambda image, m=scratch: segment_with(m, image), images)
            lines.append(row("(d) unetgui: from scratch", name, truths, scratch_labels,
                             f"{scratch_run['cpu']:.0f}", scratch_mp, scratch_run["note"]))
            progress(f"{factor}x {name}: unetgui done ({tuned_run['note']}; {scratch_run['note']})")
            if python is None:
                lines.append(f"| (e) Cellpose {CELLPOSE_VERSION}: skipped ({cellpose})")
                continue
            cp = run_cellpose(python, training, testing, budget, args)
            if "error" in cp:
                lines.append(f"| (e) Cellpose: {cp['error']}")
                continue
            cp_mp = cp["wall_predict"] / cp["megapixels"]
            lines.append(row(f"(e) Cellpose {cp['version']}: from scratch", name, truths, cp["masks"],
                             f"{cp['cpu_train']:.0f}", cp_mp,
                             f"{cp['n_epochs']} epochs, diameter {cp['diameter']:.0f} px"))
            lines.append(row("(e*) the same, true diameter per image", name, truths, cp["oracle"], "-", None,
                             "reference: needs the truth"))
            progress(f"{factor}x {name}: Cellpose done ({cp['n_epochs']} epochs)")
            notes.append(f"{name}: Cellpose pilot {PILOT_EPOCHS} epochs {cp['pilot_cpu']:.0f} CPU-s (not counted): "
                         f"{cp['cpu_per_epoch']:.2f} CPU-s/epoch + {cp['fixed_cpu']:.0f} fixed; training "
                         f"{cp['real_cpu_per_epoch']:.2f} CPU-s/epoch, {cp['cpu_train']:.0f} CPU-s in "
                         f"{cp['wall_train']:.0f} s wall; the child used {cp['child_cpu']:.0f} CPU-s in all "
                         f"(import, pilot, prediction); final loss {cp['final_loss']:.3f}")
            cp_cpu_mp = cp["cpu_predict"] / cp["megapixels"]
            notes.append(f"{name}: predicting {cp['megapixels']:.2f} MP: unetgui fine-tuned {cp_mp / tuned_mp:.1f}x "
                         f"faster than Cellpose per MP (target >= 5x; {tuned_mp:.2f} against {cp_mp:.2f} s/MP; "
                         f"in CPU-s/MP {tuned_cpu_mp:.2f} against {cp_cpu_mp:.2f}: {cp_cpu_mp / tuned_cpu_mp:.1f}x); "
                         f"from scratch {cp_mp / scratch_mp:.1f}x")
        print("\n".join(lines + notes), flush=True)


if __name__ == "__main__":
    main()
