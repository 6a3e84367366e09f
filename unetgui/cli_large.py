"""``unetgui predict`` for images larger than memory and on Dask clusters.

One image goes blockwise (:mod:`unetgui.core.blockwise_job`) when its output is an
OME-Zarr (``-o NAME.zarr``), when a scheduler or queue is named, when its results cannot
fit in memory, or when its planes exceed 8192 x 8192 px and Dask is installed; with no
scheduler named it runs on an embedded LocalCluster. Many files go to the cluster's
workers one file per task when a scheduler or queue is named (``--scheduler``,
``--cluster``).
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from unetgui.core.errors import InvalidInputError
from unetgui.core.multiscale import LARGE_PLANE_PX  # planes beyond this are predicted blockwise, whatever the memory

EXIT_INTERRUPTED = 130


def add_options(parser: argparse.ArgumentParser, positive_int) -> None:
    """The predict command's options for large images and clusters."""
    group = parser.add_argument_group(
        "large images and clusters",
        "Images larger than memory are predicted block by block (exact: no seams), on a local Dask cluster "
        "or the one named here.")
    group.add_argument("--scheduler", metavar="WHERE",
                       help="local (a Dask cluster on this computer, the default for large images), local:N "
                            "(N worker processes) or a running scheduler's address, e.g. tcp://host:8786")
    group.add_argument("--cluster", choices=("slurm", "pbs", "sge"),
                       help='start workers as jobs on an HPC queue (pip install "unetgui[cluster]")')
    group.add_argument("--jobs", type=positive_int, default=1, help="queue jobs to start (default 1)")
    group.add_argument("--cores", type=positive_int, default=4, help="cores per queue job (default 4)")
    group.add_argument("--memory", default="16GB", help="memory per queue job (default 16GB)")
    group.add_argument("--queue", help="the queue (partition) to submit to")
    group.add_argument("--walltime", metavar="HH:MM:SS", help="time limit of each queue job")
    group.add_argument("--block-size", type=positive_int, metavar="PX",
                       help="about how many pixels a side of the blocks a large image is cut into has (default "
                            "1024, rounded to whole tiles: 1152 for 572 px tiles)")
    group.add_argument("--resume", action="store_true",
                       help="go on with a stopped job: finished blocks and files are not done again")


def on_cluster(args: argparse.Namespace) -> bool:
    """Whether the user named a scheduler or a queue."""
    return bool(args.scheduler or args.cluster)


def cluster_request(args: argparse.Namespace):
    from unetgui.core.dask_cluster import ClusterRequest

    return ClusterRequest(args.scheduler, args.cluster, args.cores, args.memory, args.jobs, args.queue,
                          args.walltime, args.device)


def needs_blocks(args: argparse.Namespace, image: Path) -> bool:
    """Predict this one image blockwise? (see the module docstring)"""
    from unetgui.core.io import open_image
    from unetgui.core.ome_zarr_files import is_zarr

    if is_zarr(args.output) or on_cluster(args):
        return True
    with open_image(image) as stack:
        try:  # the in-memory path's own check, for a two-class model (the model is not loaded yet)
            check_prediction_fits(stack, 2, with_probabilities=args.probabilities is not None)
        except InvalidInputError:
            return True  # in memory it cannot work: blockwise, or the message that says what to install
        pixels = stack.height * stack.width
    return pixels > LARGE_PLANE_PX and _has_distributed()  # it fits: in memory where Dask is not installed


def check_prediction_fits(stack, n_classes: int, *, with_probabilities: bool) -> None:
    """Refuse, with the numbers, a stack whose in-memory prediction cannot fit:
    labels (uint32), probabilities (float32) and one plane's working copies (normalised,
    padded, class scores). :func:`needs_blocks` sends such images blockwise instead."""
    from unetgui.core import memory

    pixels = stack.height * stack.width
    results = stack.n_planes * pixels * 4 * (2 if with_probabilities else 1)
    one_plane = pixels * (stack.n_channels * (stack.dtype.itemsize + 12) + n_classes * 4 + 32)
    memory.require(results + one_plane, f"Predicting '{stack.path.name}' ({stack.n_planes} plane(s) "
                   f"of {stack.width} x {stack.height} pixels)")


def _has_distributed() -> bool:
    import importlib.util

    return importlib.util.find_spec("distributed") is not None


def predict_blockwise(args: argparse.Namespace, model_argument: str, say) -> int:
    """``unetgui predict MODEL IMAGE -o OUT`` for one image, block by block."""
    from unetgui.core.blocks import DEFAULT_BLOCK_PX
    from unetgui.core.blockwise_job import partial_folder, predict_large_image
    from unetgui.core.dask_cluster import open_cluster, parse_scheduler
    from unetgui.core.ome_zarr_files import is_zarr
    from unetgui.core.outputs import check_distinct, check_output

    if args.scheduler:
        parse_scheduler(args.scheduler)  # a typo is reported before any work
    image = Path(args.inputs[0])
    model_file = [Path(model_argument)] if model_argument != "starter" else []
    check_output(args.output, kind="zarr" if is_zarr(args.output) else "tiff", inputs=[image, *model_file],
                 overwrite=args.overwrite)
    partial = partial_folder(args.output)
    if partial.exists() and not (args.resume or args.overwrite):
        raise InvalidInputError(f"A stopped job left '{partial.name}' in '{partial.parent}'. Add --resume to go on "
                                "with it, or --overwrite to start over.")
    if args.probabilities is not None:
        if args.probabilities is True:
            raise InvalidInputError("For one image, --probabilities needs a file name (PROBS.tif).")
        check_output(args.probabilities, kind="tiff", inputs=[image, *model_file], overwrite=args.overwrite)
    check_distinct([args.output, args.probabilities])
    model, blob = model_and_bytes(model_argument)
    _check_readable(image)
    _say_cell_size(args, model, image, say)
    try:
        with contextlib.ExitStack() as stack:
            executor = stack.enter_context(open_cluster(cluster_request(args), say))
            bar = stack.enter_context(_Bar(say))
            result = predict_large_image(
                blob, image, args.output, executor=executor,
                resume=args.resume, overwrite_partial=args.overwrite, probabilities=args.probabilities,
                tile_size=args.tile_size, block_px=args.block_size or DEFAULT_BLOCK_PX, on_progress=bar.update,
                channel=args.channel, threshold=args.threshold, min_size=args.min_size,
                min_relative_area=args.min_relative_area, tta=args.tta,
                device=args.device if args.device in ("cpu", "cuda") else "auto",
                torch_threads=executor.torch_threads)
    except KeyboardInterrupt:
        if not partial.exists():
            raise
        say(f"Stopped. The finished blocks are kept in {partial}; run the same command with --resume to go on.")
        return EXIT_INTERRUPTED
    redone = result.computed["labels"]
    resumed = f"; {result.planes * result.blocks - redone} block(s) were done before" if redone < \
        result.planes * result.blocks else ""
    say(f"Found {result.n_cells} cells in {result.planes} plane(s) of {result.blocks} block(s) each{resumed}; "
        f"wrote {args.output}")
    return 0


def model_and_bytes(text: str):
    """The model (to check it against the image) and its file's bytes (for the workers)."""
    from unetgui.core.model import model_file_bytes

    if text == "starter":
        from unetgui.core.starter import load_starter_model

        model = load_starter_model()
        return model, model_file_bytes(model)
    from unetgui.core.model import load_model

    model = load_model(Path(text))  # the clear messages for a missing or damaged file
    return model, Path(text).read_bytes()


def _check_readable(image: Path) -> None:
    """Read a corner of the first plane before any cluster starts: a file whose header
    promises pixels it does not hold is refused in one line, not by every worker."""
    from unetgui.core import memory
    from unetgui.core.io import open_image

    with open_image(image) as stack:
        # every worker decodes at least a tile or strip per read, at the same time as others
        memory.require(2 * stack.region_read_nbytes, f"Reading '{image.name}' block by block (its pixels are "
                       f"stored in pieces of {memory.describe_bytes(stack.region_read_nbytes)}, each decoded whole)",
                       advice="Save it as a tiled TIFF (e.g. with bfconvert or QuPath) or as OME-Zarr.")
        stack.read_region(0, (0, min(stack.height, 64)), (0, min(stack.width, 64)))


def _say_cell_size(args: argparse.Namespace, model, image: Path, say) -> None:
    """Blockwise prediction runs at the image's own size: say whether the cells suit the
    model (measured on its prediction of a 1024 px square at the first plane's centre,
    as ``predict`` measures a plane), and refuse a given diameter that would need resizing."""
    from unetgui.core.cellsize import scale_for
    from unetgui.core.io import open_image
    from unetgui.core.model import model_cell_size
    from unetgui.core.predict import model_input, predict_sized

    size = model_cell_size(model)
    if args.no_rescale or size is None:
        return
    diameter = args.diameter
    if diameter is None:
        with open_image(image) as stack:
            rows = (max(0, stack.height // 2 - 512), min(stack.height, stack.height // 2 + 512))
            cols = (max(0, stack.width // 2 - 512), min(stack.width, stack.width // 2 + 512))
            square = model_input(stack.read_region(0, rows, cols), model, args.channel)
        diameter = predict_sized(model, square).diameter
    if diameter is None:
        return
    scale = scale_for(diameter, size)
    known = f"the model knows {size.low:.0f}-{size.high:.0f} px"
    if scale == 1.0:
        say(f"Cells about {diameter:.0f} px across; {known}.")
    elif args.diameter:
        raise InvalidInputError(
            f"Cells of {diameter:.0f} px would need the image resized by {scale:.2f} for this model ({known}); "
            "large images are predicted at their own size. Resize the image first (Fiji: Image > Scale), or add "
            "--no-rescale to predict it as it is.")
    else:
        say(f"Cells about {diameter:.0f} px across (measured at the image's centre); {known}. Large images are "
            f"predicted at their own size: for best results resize the image by {scale:.2f} first.")


class _Bar:
    """One progress bar per pass of the job (reading, predicting, merging, labelling); in a
    log file (a queue job's output), where no bar is drawn, a line at every tenth of a pass
    instead, so a job of hours never looks stalled."""

    def __init__(self, say) -> None:
        self._bar, self._name, self._said, self._say = None, None, -1, say

    def __enter__(self):
        return self

    def update(self, name: str, done: int, total: int) -> None:
        from unetgui.cli import _progress
        from unetgui.core.blockwise_job import describe_progress

        if name != self._name:
            self.__exit__()
            self._bar, self._name, self._said = _progress(total, describe_progress(name), "block"), name, -1
        if self._bar.disable:
            tenth = 10 * done // max(total, 1)
            if tenth > self._said:
                self._said = tenth
                self._say(f"{describe_progress(name)}: {done}/{total} blocks")
            return
        self._bar.n = done
        self._bar.refresh()

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar = None
