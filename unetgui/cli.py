"""The ``unetgui`` command: the window, and the same core without a window.

    unetgui [IMAGE | FOLDER]                         open the window (a folder: as a project)
    unetgui --sample                                 open the window on the bundled sample
    unetgui --self-test                              open, predict, train, export, read back
    unetgui train IMAGE LABELS -o MODEL [...]        train or fine-tune a U-Net
    unetgui train FOLDER -o MODEL [...]              ... on a project annotated in the window
    unetgui train --images DIR --labels DIR -o MODEL ... on images and labels matched by name
    unetgui predict MODEL IMAGE -o LABELS.tif [...]  segment every plane of a stack
    unetgui predict MODEL INPUT... -o OUTDIR [...]   ... of many files, folders, globs
    unetgui predict MODEL BIG.tif -o OUT.zarr [--scheduler WHERE | --cluster slurm]
                                                     ... blockwise, larger than memory, on Dask
    unetgui weights LABELS -o WEIGHTS.tif [...]      the paper's border weight map
    unetgui evaluate TRUTH PRED                      foreground IoU and AP at 0.5, 0.75
    unetgui export LABELS [--rois Z] [--geojson G] [--measurements C]   for Fiji, QuPath, CSV
    unetgui export-model MODEL -o NAME.zip [...]      a bioimage.io model package

Bad input ends with one line on stderr and exit code 2; nothing is written half-way.
Qt is imported only to open the window, so batch jobs run on headless cluster nodes.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from unetgui import __version__
from unetgui.core import runtime
from unetgui.core.errors import InvalidInputError, UnetguiError

SUBCOMMANDS = ("train", "predict", "weights", "evaluate", "export", "export-model")
STARTER = "starter"  # names the bundled starter model where a model file is expected
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    runtime.quiet_openmp()  # before anything imports torch
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--self-test"]:
        from unetgui.core.selftest import run_self_test

        runtime.tune_allocator()
        return 0 if run_self_test() else 1
    if argv == ["--sample"]:
        return _open_window(["--sample"])
    if not argv or (argv[0] not in SUBCOMMANDS and not argv[0].startswith("-")):
        problem = _not_a_window_argument(argv[0]) if argv else None
        if problem:
            print(f"unetgui: error: {problem}", file=sys.stderr)
            return EXIT_BAD_INPUT
        return _open_window(argv)
    args = _parser().parse_args(argv)
    runtime.tune_allocator()
    _quiet_library_logs()
    try:
        return args.run(args)
    except UnetguiError as error:
        print(f"unetgui {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"unetgui {args.command}: interrupted; nothing was written.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (MemoryError, RuntimeError) as error:
        from unetgui.core import memory

        if not memory.is_out_of_memory(error):
            raise
        print(f"unetgui {args.command}: error: {_one_line(memory.out_of_memory('This command'))}",
              file=sys.stderr)
        return EXIT_BAD_INPUT


def _quiet_library_logs() -> None:
    """tifffile logs its own warnings about damaged files; the error we raise says it."""
    import logging

    logging.getLogger("tifffile").setLevel(logging.ERROR)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _not_a_window_argument(word: str) -> str | None:
    """Why ``word`` (the first argument, not a subcommand) cannot be opened, or None.

    A word that is no file and looks like a command ('export-model') gets 'unknown
    command' with the nearest ones; a missing file gets 'no such file'. Either way before
    Qt starts, so a typo never opens a window with the words as file names.
    """
    from pathlib import PurePath

    if Path(word).exists():
        return None
    if PurePath(word).suffix or "/" in word or "\\" in word:
        return f"cannot open '{word}': there is no such file."
    import difflib

    close = difflib.get_close_matches(word, SUBCOMMANDS, n=2, cutoff=0.5)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return (f"unknown command '{word}'.{hint} The commands are {', '.join(SUBCOMMANDS)}; "
            "'unetgui IMAGE' opens an image in the window, 'unetgui FOLDER' a folder of images; "
            "'unetgui --help' says more.")


def _open_window(argv: list[str]) -> int:
    problem = _no_display()
    if problem:
        print(f"unetgui: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        from unetgui.gui.app import run_app
    except ImportError as error:
        print(f"unetgui: cannot open the window ({error}).", file=sys.stderr)
        return 1
    return run_app(argv)


def _no_display() -> str | None:
    """On Linux and the BSDs, a missing display makes Qt abort with a raw plugin message;
    say it plainly instead. Windows and macOS always have one; QT_QPA_PLATFORM (e.g.
    'offscreen') is the user's explicit choice."""
    import os

    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    if os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("there is no display to open the window on (no DISPLAY or WAYLAND_DISPLAY; over "
            "SSH, connect with 'ssh -X' or use a remote desktop). Without a window, use the "
            f"commands: {', '.join(SUBCOMMANDS)} ('unetgui COMMAND --help').")


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line (exit 2) like every other error."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see '{self.prog} --help').\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="unetgui",
        description="Segment cells with a U-Net. Without a subcommand, opens the window "
                    "('unetgui IMAGE', 'unetgui FOLDER' for a folder of images, or 'unetgui --sample' "
                    "for the bundled sample image); "
                    "'unetgui --self-test' checks the installation without a window.",
    )
    parser.add_argument("--version", action="version", version=f"unetgui {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    train = sub.add_parser("train", help="train or fine-tune a U-Net on labelled planes",
                           usage="unetgui train (IMAGE LABELS | PROJECT_DIR | --images DIR --labels DIR) -o MODEL [...]")
    train.add_argument("sources", type=Path, nargs="*", metavar="IMAGE LABELS | PROJECT_DIR",
                       help="an image and its instance labels TIFF (0 = background, same planes), or a "
                            "project folder annotated in the window")
    train.add_argument("--images", type=Path, metavar="DIR", help="a folder of images...")
    train.add_argument("--labels", dest="labels_folder", type=Path, metavar="DIR",
                       help="...and a folder of their labels, matched by name (NAME.tif with NAME.tif, "
                            "NAME_labels.tif or NAME_masks.tif)")
    train.add_argument("-o", "--output", type=Path, required=True, help="model file to write")
    train.add_argument("--planes", type=_plane_list, help="planes to train on, e.g. 0,4,7 (default: all with cells)")
    train.add_argument("--validation-planes", type=_plane_list, default=[], help="planes held back for scoring")
    train.add_argument("--init", nargs="?", const=STARTER, metavar="MODEL",
                       help="fine-tune this model file; --init alone: the bundled starter model "
                            "(without --init: train from scratch)")
    train.add_argument("--steps", type=_positive_int,
                       help="training steps (default: the recipe's, 500 to fine-tune, 1500 from scratch)")
    train.add_argument("--minutes", type=_positive_float, help="stop after this many minutes at the latest")
    _add_device(train)
    train.add_argument("--base-channels", type=_positive_int,
                       help="network width for a new network (default: the scratch recipe's, narrow "
                            "enough for a laptop CPU; 64 as in the paper)")
    train.add_argument("--depth", type=_positive_int, help="max-pool levels of a new network (default 4)")
    train.add_argument("--optimizer", choices=("sgd", "adam"),
                       help="adam (the recipe's default) or sgd (the paper's, momentum 0.99)")
    train.add_argument("--lr", type=_positive_float, help="learning rate (default: the recipe's)")
    train.add_argument("--tile-size", type=_positive_int, help="input tile size (default: up to 572)")
    train.add_argument("--start-share", type=_share, metavar="SHARE",
                       help="with --init: share of the starting model's weights averaged into the trained "
                            "ones, which keeps what it knew of other kinds of image (default: the recipe's, "
                            "half; 0: the trained weights alone)")
    _add_weight_options(train)
    _add_channel(train)
    train.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    train.add_argument("--memory-layout", choices=("auto", "channels_last", "contiguous"), default="auto",
                       help="feature-map layout of training steps: auto (default; on a CPU the faster "
                            "of the two, timed at the start) or one of the two, to repeat a run exactly")
    _add_overwrite(train)
    train.set_defaults(run=_train)

    predict = sub.add_parser("predict", help="segment every plane of images with a model")
    predict.add_argument("model", help=f"model file, or '{STARTER}' for the bundled starter model")
    predict.add_argument("inputs", nargs="+", metavar="INPUT",
                         help="image files, folders of images or globs ('day*/*.tif')")
    predict.add_argument("-o", "--output", type=Path, required=True,
                         help="labels TIFF to write for one image; for several, a folder that receives "
                              "NAME_labels.tif for each")
    predict.add_argument("--probabilities", type=Path, nargs="?", const=True, metavar="PROBS.tif",
                         help="also write the cell probability (float32 TIFF); for several images without "
                              "a name, as NAME_probabilities.tif")
    _add_device(predict)
    _add_channel(predict)
    predict.add_argument("--tile-size", type=_positive_int, help="input tile size (default: chosen for the image)")
    predict.add_argument("--diameter", type=_positive_float,
                         help="typical cell diameter in px (default: measured on the model's prediction); images "
                              "whose cells the model does not know are resized to its cell size")
    predict.add_argument("--no-rescale", action="store_true", help="predict at the image's own size")
    predict.add_argument("--tta", action="store_true",
                         help="test-time augmentation: average the 8 rotations and flips (8x slower)")
    predict.add_argument("--threshold", type=_probability, default=0.5, help="probability threshold (default 0.5)")
    predict.add_argument("--min-size", type=_non_negative_int, default=16, help="smallest cell kept, in pixels (default 16)")
    from unetgui.core.postprocess import MIN_RELATIVE_AREA

    predict.add_argument("--min-relative-area", type=_relative_area, default=MIN_RELATIVE_AREA, metavar="SHARE",
                         help="drop cells smaller than this share of the plane's typical cell area: micronuclei, "
                              f"debris, fragments (default {MIN_RELATIVE_AREA:g}; 0 keeps them)")
    predict.add_argument("--overwrite", action="store_true",
                         help="replace existing outputs (for one image: files unetgui did not write; for "
                              "several: without it, images whose output exists are skipped; for a large image: "
                              "also start a stopped job over)")
    from unetgui.cli_large import add_options

    add_options(predict, _positive_int)
    predict.set_defaults(run=_predict)

    weights = sub.add_parser("weights", help="write the border weight map the labels imply")
    weights.add_argument("labels", type=Path, help="instance labels TIFF")
    weights.add_argument("-o", "--output", type=Path, required=True, help="weights TIFF to write (float32)")
    _add_weight_options(weights)
    weights.add_argument("--no-class-balance", action="store_true", help="leave out the class-balance term")
    _add_overwrite(weights)
    weights.set_defaults(run=_weights)

    evaluate = sub.add_parser("evaluate", help="compare predicted labels with true labels")
    evaluate.add_argument("truth", type=Path, help="true instance labels TIFF")
    evaluate.add_argument("pred", type=Path, help="predicted instance labels TIFF")
    evaluate.set_defaults(run=_evaluate)

    export = sub.add_parser("export", help="cells of a label TIFF as ImageJ ROIs, QuPath GeoJSON, measurements, "
                                           "OME-Zarr")
    export.add_argument("labels", type=Path, help="instance labels TIFF")
    export.add_argument("--rois", type=Path, metavar="ROIS.zip", help="ImageJ ROI set for Fiji's ROI Manager")
    export.add_argument("--geojson", type=Path, metavar="CELLS.geojson", help="GeoJSON for QuPath")
    export.add_argument("--annotations", action="store_true",
                        help="QuPath annotations instead of detections in the GeoJSON")
    export.add_argument("--measurements", type=Path, metavar="CELLS.csv",
                        help="one row per cell: area, centroid, box, shape (and intensities with --image)")
    export.add_argument("--ome-zarr", type=Path, metavar="IMAGE.ome.zarr",
                        help="the image with the labels as an OME-Zarr labels group (napari); needs --image "
                             "and the zarr extra: pip install \"unetgui[zarr]\"")
    export.add_argument("--image", type=Path, help="the image the labels belong to, for intensity measurements "
                                                   "and --ome-zarr")
    _add_overwrite(export)
    export.set_defaults(run=_export)

    package = sub.add_parser("export-model", help="a model as a bioimage.io package (deepImageJ, ilastik, QuPath)")
    package.add_argument("model", help=f"model file, or '{STARTER}' for the bundled starter model")
    package.add_argument("-o", "--output", type=Path, required=True, metavar="NAME.zip", help="package to write")
    package.add_argument("--name", help="the model's name (default: the one it has)")
    package.add_argument("--description", default="", help="one or two sentences on what it segments")
    package.add_argument("--author", action="append", default=[], metavar="NAME",
                         help="an author (give it once per author; default: 'unetgui user')")
    package.add_argument("--license", default="CC-BY-4.0", help="SPDX licence of the weights (default CC-BY-4.0)")
    package.add_argument("--cite", nargs=2, action="append", default=[], metavar=("TEXT", "DOI"),
                         help="a publication to cite besides the U-Net paper")
    package.add_argument("--image", type=Path, help="an image whose first plane makes the test tensors "
                                                    "(default: synthetic cells)")
    _add_overwrite(package)
    package.set_defaults(run=_export_model)
    return parser


def _add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                        help="compute device (default: auto = CUDA, else Apple MPS, else CPU)")


def _add_channel(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--channel", type=_non_negative_int,
                        help="the channel a one-channel model reads of a multi-channel image, 0-based like "
                             "--planes (default: the mean of the channels, as the window's composite)")


def _add_weight_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--w0", type=_non_negative_float, default=10.0, help="border weight w0 (default 10)")
    parser.add_argument("--sigma", type=_positive_float, default=5.0, help="border weight sigma in px (default 5)")


def _add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output file that unetgui did not write")


def _number(text: str, kind, ok, expected: str):
    """``kind(text)`` if it is finite and ``ok``; else an argparse error naming ``expected``."""
    import math

    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    return _number(text, float, lambda v: v > 0, "a number above 0")


def _share(text: str) -> float:
    return _number(text, float, lambda v: 0 <= v < 1, "a number from 0 up to (not including) 1")


def _non_negative_float(text: str) -> float:
    return _number(text, float, lambda v: v >= 0, "a number of 0 or more")


def _probability(text: str) -> float:
    return _number(text, float, lambda v: 0 < v < 1, "a number between 0 and 1")


def _relative_area(text: str) -> float:
    return _number(text, float, lambda v: 0 <= v < 1, "a number from 0 up to, not including, 1")


def _non_negative_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 0, "a whole number of 0 or more")


def _seed(text: str) -> int:
    return _number(text, int, lambda v: 0 <= v < 2**32, "a whole number from 0 to 4294967295")


def _plane_list(text: str) -> list[int]:
    try:
        planes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected plane numbers like 0,4,7, not {text!r}") from None
    if not planes or min(planes) < 0:
        raise argparse.ArgumentTypeError(f"expected plane numbers like 0,4,7, not {text!r}")
    return planes


def _positive_int(text: str) -> int:
    return _number(text, int, lambda v: 1 <= v <= 10**9, "a positive whole number")


# --------------------------------------------------------------------------- commands


def _train(args: argparse.Namespace) -> int:
    from unetgui.cli_batch import training_source
    from unetgui.core import recipes
    from unetgui.core.device import describe_device, resolve_device
    from unetgui.core.model import new_model
    from unetgui.core.outputs import check_output
    from unetgui.core.train import train

    init_file = [Path(args.init)] if args.init not in (None, STARTER) else []
    source = training_source(args)
    check_output(args.output, kind="model", inputs=[*source.inputs, *init_file], overwrite=args.overwrite)
    device = resolve_device(args.device)
    config = recipes.with_choices(
        recipes.FINE_TUNE if args.init is not None else recipes.SCRATCH,
        optimizer=args.optimizer,
        learning_rate=args.lr,
        steps=args.steps,
        max_seconds=args.minutes * 60 if args.minutes else None,
        tile_size=args.tile_size,
        w0=args.w0,
        sigma=args.sigma,
        seed=args.seed,
        memory_layout=args.memory_layout,
        start_share=args.start_share if args.init is not None else None,
    )
    if args.init is not None:
        model = _load_model_argument(args.init, device)
        origin = f"fine-tuned from {_model_name(args.init)}"
    else:
        net_config = dataclasses.replace(
            recipes.SCRATCH_NETWORK, in_channels=1 if args.channel is not None else source.n_channels,
            base_channels=args.base_channels or recipes.SCRATCH_NETWORK.base_channels,
            depth=args.depth or recipes.SCRATCH_NETWORK.depth)
        model = new_model(net_config, seed=args.seed)
        model.net.to(device)
        origin = "trained from scratch"
    training, validation = source.planes(model)

    note = {**source.note, "init": origin}
    run = train(model, training, config, validation=validation, note=note)
    print(f"Training on {len(training)} plane(s) with {describe_device(device)}, {origin}.", file=sys.stderr)
    interrupted = False
    with _progress(config.steps, "training", "step") as bar:
        try:
            for progress in run:
                bar.update(progress.step - bar.n)
                postfix = {"loss": f"{progress.loss:.4f}"}
                if progress.best_validation is not None:
                    postfix["val AP50"] = f"{progress.best_validation.ap50:.3f}"
                bar.set_postfix(postfix, refresh=False)
                if progress.message:
                    bar.write(progress.message)
        except KeyboardInterrupt:
            interrupted = True
            run.close()  # leaves the model usable, with a history entry saying it was stopped
    print(_run_outcome(model.history[-1]), file=sys.stderr)
    saved = _save_trained_model(model, args.output)
    if saved is None:
        return EXIT_BAD_INPUT
    verb = "Stopped early; saved the model so far to" if interrupted else "Saved the model to"
    print(f"{verb} {args.output}", file=sys.stderr)
    return EXIT_INTERRUPTED if interrupted else 0


def _run_outcome(entry: dict) -> str:
    """What the run did (core/run_outcome.py), and how to judge other kinds of image."""
    from unetgui.core.run_outcome import describe_run, judged_on_own_planes

    said = describe_run(entry)
    if judged_on_own_planes(entry) and not entry.get("kept_the_starting_weights"):
        said += (" That check used cells held back from the planes trained on; to judge images unlike them, "
                 "label a plane of such an image in the stack and name it with --validation-planes.")
    return said


def _save_trained_model(model, path: Path) -> Path | None:
    """Save the trained model; if its path fails now (disk full, folder gone), keep it in
    the data or temporary folder and say where: minutes of training are never lost."""
    from unetgui.core.model import rescue_model, save_model

    try:
        return save_model(model, path)
    except UnetguiError as error:
        problem = _one_line(error).rstrip(".")
    try:
        rescued = rescue_model(model, path.name)
    except UnetguiError as error:
        print(f"unetgui train: error: {problem}; keeping it elsewhere failed too "
              f"({_one_line(error).rstrip('.')}). The trained model is lost.", file=sys.stderr)
        return None
    print(f"unetgui train: error: {problem}. The trained model was kept in {rescued}; "
          "move it where you want it.", file=sys.stderr)
    return None


def _predict(args: argparse.Namespace) -> int:
    from unetgui import cli_large
    from unetgui.cli_batch import is_batch, predict_many
    from unetgui.core.device import resolve_device
    from unetgui.core.outputs import check_distinct, check_output

    def say(text: str) -> None:
        print(text, file=sys.stderr)

    model_file = [Path(args.model)] if args.model != STARTER else []
    if is_batch(args):
        if cli_large.on_cluster(args):
            from unetgui.core.dask_cluster import open_cluster

            _, blob = cli_large.model_and_bytes(args.model)
            with open_cluster(cli_large.cluster_request(args), say) as executor:
                return predict_many(args, None, executor=executor, model_file=blob)
        model = _load_model_argument(args.model, resolve_device(args.device))
        return predict_many(args, lambda image, labels, probabilities, say: _predict_file(
            args, model, image, labels, probabilities, say, progress=False))
    image = Path(args.inputs[0])
    if cli_large.needs_blocks(args, image):
        return cli_large.predict_blockwise(args, args.model, say)
    if args.probabilities is True:
        raise InvalidInputError("For one image, --probabilities needs a file name (PROBS.tif).")
    for output in (args.output, args.probabilities):
        if output is not None:
            check_output(output, kind="tiff", inputs=[image, *model_file], overwrite=args.overwrite)
    check_distinct([args.output, args.probabilities])
    model = _load_model_argument(args.model, resolve_device(args.device))
    n_cells, n_planes = _predict_file(args, model, image, args.output, args.probabilities, say, progress=True)
    print(f"Found {n_cells} cells in {n_planes} plane(s); wrote {args.output}", file=sys.stderr)
    return 0


def _predict_file(args: argparse.Namespace, model, image: Path, output: Path, probabilities_path: Path | None,
                  say, *, progress: bool) -> tuple[int, int]:
    """Predict every plane of one image and write its labels (and probabilities);
    returns (cells found, planes)."""
    import contextlib

    import numpy as np

    from unetgui.cli_large import check_prediction_fits
    from unetgui.core.io import (
        open_image,
        plane_axis_for,
        write_labels,
        write_probabilities,
    )
    from unetgui.core.model import model_cell_size
    from unetgui.core.postprocess import probabilities_to_labels
    from unetgui.core.predict import iter_predict_planes, model_input

    with open_image(image) as stack:
        model_input(np.zeros((stack.n_channels, 1, 1)), model, args.channel)  # they fit, or a clear message
        check_prediction_fits(stack, model.config.n_classes, with_probabilities=probabilities_path is not None)
        labels = np.zeros((stack.n_planes, stack.height, stack.width), dtype=np.uint32)
        probabilities = np.zeros(labels.shape, dtype=np.float32) if probabilities_path else None
        diameter = _cell_diameter(args, model, say)
        measuring = diameter is None and not args.no_rescale and model_cell_size(model) is not None
        with _progress(stack.n_planes, "predicting", "plane") if progress else contextlib.nullcontext() as bar:
            results = iter_predict_planes(
                model, stack.read_plane, range(stack.n_planes), channel=args.channel, rescale=not args.no_rescale,
                diameter=diameter, tile_size=args.tile_size, tta=args.tta,
                on_tile=(lambda done, total: bar.set_postfix_str(f"tile {done}/{total}", refresh=True)) if bar else None)
            for result in results:
                if measuring and result.diameter is not None:
                    _say_size(result.diameter, f"measured on plane {result.plane}", result.scale,
                              model_cell_size(model), (lambda text: bar.write(text, file=sys.stderr)) if bar else say)
                    measuring = False
                labels[result.plane] = probabilities_to_labels(result.foreground, threshold=args.threshold,
                                                               min_size=args.min_size,
                                                               min_relative_area=args.min_relative_area)
                if probabilities is not None:
                    probabilities[result.plane] = result.foreground
                if bar:
                    bar.update(1)
        plane_axis, pixel_size = plane_axis_for(stack.plane_axes), stack.pixel_size
    write_labels(output, labels if labels.shape[0] > 1 else labels[0], plane_axis=plane_axis, pixel_size=pixel_size)
    if probabilities is not None:
        write_probabilities(probabilities_path, probabilities if probabilities.shape[0] > 1 else probabilities[0],
                            plane_axis=plane_axis, pixel_size=pixel_size)
    return sum(int(len(np.unique(plane)) - (0 in plane)) for plane in labels), labels.shape[0]


def _cell_diameter(args: argparse.Namespace, model, say) -> float | None:
    """The stack's cell diameter when --diameter gives it (and says what that means for
    the model); None lets the model measure it on the first plane (:func:`_predict_file`
    says the measurement after that plane)."""
    from unetgui.core.cellsize import scale_for
    from unetgui.core.model import model_cell_size

    size = model_cell_size(model)
    if args.no_rescale or size is None or args.diameter is None:
        return args.diameter
    _say_size(args.diameter, "given", scale_for(args.diameter, size), size, say)
    return args.diameter


def _say_size(diameter: float, how: str, scale: float, size, say) -> None:
    action = "at its own size" if scale == 1.0 else f"resized by {scale:.2f}"
    say(f"Cells about {diameter:.0f} px across ({how}); the model knows "
        f"{size.low:.0f}-{size.high:.0f} px, so the image is predicted {action}.")


def _weights(args: argparse.Namespace) -> int:
    import numpy as np

    from unetgui.core.io import read_labels, write_image
    from unetgui.core.outputs import check_output
    from unetgui.core.weightmap import weight_map

    check_output(args.output, kind="tiff", inputs=[args.labels], overwrite=args.overwrite)
    labels = read_labels(args.labels, cells_needed_for="compute a weight map for")
    weights = np.stack(
        [
            weight_map(plane, w0=args.w0, sigma=args.sigma, class_balance=not args.no_class_balance)
            for plane in labels
        ]
    )
    write_image(args.output, weights if len(weights) > 1 else weights[0], axes="ZYX" if len(weights) > 1 else "YX")
    print(f"Wrote the weight map of {len(weights)} plane(s) to {args.output}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    import contextlib

    from unetgui.core.cell_files import write_cells, write_label_image
    from unetgui.core.io import open_image, plane_axis_for, read_labels
    from unetgui.core.outputs import check_distinct, check_output

    outputs = {"rois": args.rois, "geojson": args.geojson, "measurements": args.measurements, "ome-zarr": args.ome_zarr}
    if not any(outputs.values()):
        raise InvalidInputError("Name at least one output: --rois, --geojson, --measurements or --ome-zarr.")
    if args.ome_zarr and not args.image:
        raise InvalidInputError("--ome-zarr writes the image with its labels: name the image with --image.")
    inputs = [args.labels] + ([args.image] if args.image else [])
    suffix_kind = {"measurements": "csv", "ome-zarr": "zarr"}
    for kind, output in outputs.items():
        if output is not None:
            check_output(output, kind=suffix_kind.get(kind, kind), inputs=inputs, overwrite=args.overwrite)
    check_distinct(outputs.values())
    labels = read_labels(args.labels, cells_needed_for="export")
    with open_image(args.labels) as source:
        plane_axis = plane_axis_for(source.plane_axes) if labels.shape[0] > 1 else None
    with contextlib.ExitStack() as context:
        stack = None
        if args.image and (args.measurements or args.ome_zarr):
            stack = context.enter_context(open_image(args.image))
            if (stack.n_planes, stack.height, stack.width) != labels.shape:
                raise InvalidInputError(
                    f"The labels ({labels.shape[0]} plane(s) of {labels.shape[2]} x {labels.shape[1]}) do not "
                    f"match the image ({stack.n_planes} plane(s) of {stack.width} x {stack.height}).")
        for kind, output in outputs.items():
            if output is None:
                continue
            if kind == "ome-zarr":
                write_label_image(output, kind, labels, stack)
                what = f"the image and {labels.shape[0]} plane(s) of labels"
            else:
                what = write_cells(output, kind, labels, plane_axis=plane_axis,
                                   read_plane=stack.read_plane if stack is not None else None,
                                   object_type="annotation" if args.annotations else "detection")
            print(f"Wrote {what} to {output}", file=sys.stderr)
    return 0


def _export_model(args: argparse.Namespace) -> int:
    from unetgui.core.bioimageio_export import PackageInfo, export_package
    from unetgui.core.io import open_image
    from unetgui.core.outputs import check_output
    from unetgui.core.predict import model_input

    inputs = ([Path(args.model)] if args.model != STARTER else []) + ([args.image] if args.image else [])
    check_output(args.output, kind="rois", inputs=inputs, overwrite=args.overwrite)  # a .zip, like ROI sets
    model = _load_model_argument(args.model, "cpu")
    test_image = None
    if args.image:
        with open_image(args.image) as stack:
            test_image = model_input(stack.read_plane(0), model, None)
    name = args.name or str(model.info.get("name") or Path(args.model).stem)
    info = PackageInfo(name=name, description=args.description, authors=tuple(args.author) or ("unetgui user",),
                       license=args.license, cite=tuple(tuple(c) for c in args.cite))
    export_package(model, args.output, info, test_image)
    print(f"Wrote the bioimage.io package of '{name}' to {args.output}", file=sys.stderr)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from unetgui.core.io import read_labels
    from unetgui.core.metrics import evaluate

    truth = read_labels(args.truth, cells_needed_for="score against")
    pred = read_labels(args.pred, expected_shape=truth.shape)
    scores = evaluate(truth, pred, thresholds=(0.5, 0.75))
    print(f"cells (true / predicted): {scores.n_true} / {scores.n_pred}")
    print(f"foreground IoU: {scores.foreground_iou:.4f}")
    for threshold, value in scores.ap.items():
        print(f"AP@{threshold:.2f}: {value:.4f}")
    return 0


def _load_model_argument(text: str, device):
    """A model file, or the bundled starter model for the word 'starter'."""
    if text == STARTER:
        from unetgui.core.starter import load_starter_model

        return load_starter_model(device)
    from unetgui.core.model import load_model

    return load_model(Path(text), device)


def _model_name(text: str) -> str:
    return "the starter model" if text == STARTER else Path(text).name


def _progress(total: int, what: str, unit: str):
    """A progress bar on a terminal; none in a log file or pipe (disable=None), where its
    carriage returns would bury the one line that says what went wrong."""
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True,
                disable=None)
