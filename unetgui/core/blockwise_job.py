"""Predict an image larger than memory, block by block, on any executor (a Dask cluster,
or the calling process), resumable, never leaving a half-written output.

The passes (:mod:`unetgui.core.blocks`, :mod:`unetgui.core.block_labels`):

1. ``sample``: each block gives the pixels the plane's normalisation samples;
2. ``predict``: each block is predicted and its cells labelled locally;
3. ``holes``: each block labels its background once the cells are merged;
4. ``labels``: each block's final cell ids.

Blocks write their arrays into a work Zarr (one chunk per block, so workers never write
the same chunk) in ``OUTPUT.unetgui-partial/``, and the driver records each finished
block there. A job stopped for any reason resumes from those records (``resume=True``);
a block whose worker died is simply done again. The output (OME-Zarr with its
``labels/`` group, or a tiled BigTIFF) is written under a temporary name and moved into
place only when complete, and the partial folder is removed.

Workers get the model once (the file's bytes, loaded with the safe loader, cached per
process) and open the image themselves, by path: the image is never sent over the
network. Task functions are module-level so that Dask can send them by reference.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unetgui.core import block_labels
from unetgui.core.blocks import DEFAULT_BLOCK_PX, BlockGrid, block_sample, plan_blocks, predict_block
from unetgui.core.errors import ImageFileError, InvalidInputError
from unetgui.core.io import SOFTWARE, ImageStack, atomic_write, open_image, plane_axis_for
from unetgui.core.postprocess import MIN_RELATIVE_AREA, foreground_probability
from unetgui.core.predict import model_input

PARTIAL_SUFFIX = ".unetgui-partial"
JOB_VERSION = 1
PASSES = ("sample", "predict", "holes", "labels")


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs for a block task; small, and sent with every task."""

    image: str  # the input image, opened by each worker itself
    work: str  # the work Zarr
    grid: BlockGrid
    model_checksum: str
    channel: int | None = None
    threshold: float = 0.5
    min_size: int = 16
    min_relative_area: float = MIN_RELATIVE_AREA
    grow_back: int = 1
    tta: bool = False
    batch_size: int = 1
    device: str = "auto"  # "auto", "cpu" or "cuda": a worker with GPUs takes one by its name
    torch_threads: int = 0  # 0: torch's default
    probabilities: bool = False  # keep the float32 cell probability

    def describe(self) -> dict:
        """What must match for a stopped job to be resumed."""
        return {"version": JOB_VERSION, "model": self.model_checksum, "channel": self.channel,
                "threshold": self.threshold, "min_size": self.min_size,
                "min_relative_area": self.min_relative_area, "grow_back": self.grow_back,
                "tta": self.tta, "block": list(self.grid.block_shape), "tile": self.grid.tile_size,
                "probabilities": self.probabilities}


class SerialExecutor:
    """Runs tasks one after the other in this process: small jobs and tests."""

    def share(self, value):
        return value

    def map(self, function: Callable, items: list[tuple]) -> Iterator:
        for item in items:
            yield function(*item)


@dataclass(frozen=True)
class JobResult:
    """What a finished job did."""

    output: Path
    n_cells: int
    planes: int
    blocks: int  # blocks per plane
    computed: dict  # pass -> blocks computed in this run (the rest were done before)


def partial_folder(output: Path) -> Path:
    """Where a job writing ``output`` keeps its work until it is complete."""
    return output.with_name(output.name + PARTIAL_SUFFIX)


def predict_large_image(model_file: bytes, image: Path, output: Path, *,
                        executor=None, resume: bool = False, overwrite_partial: bool = False,
                        probabilities: Path | None = None, tile_size: int | None = None,
                        block_px: int = DEFAULT_BLOCK_PX,
                        on_progress: Callable[[str, int, int], None] | None = None, **options) -> JobResult:
    """Predict every plane of ``image`` blockwise and write its labels to ``output``.

    Parameters
    ----------
    model_file : bytes
        The model file's contents (sent to each worker once). Its weights' checksum
        names it in the job record: a resumed job must use the same model.
    image : Path
        Any image :func:`unetgui.core.io.open_image` reads; read a block at a time.
    output : Path
        ``NAME.zarr`` (OME-Zarr with the image and ``labels/cells``) or a TIFF (tiled
        BigTIFF labels).
    executor : object, optional
        ``share(value)`` and ``map(function, items)`` yielding results as tasks finish
        (:class:`unetgui.core.dask_cluster.DaskExecutor`); default: this process.
    resume : bool
        Go on with a stopped job's partial folder; without it, an existing one is an error
        unless ``overwrite_partial``.
    probabilities : Path, optional
        Also write the float32 cell probability as a tiled BigTIFF.
    tile_size, block_px
        The network's input tile, and about how many pixels a block's side has.
    on_progress : callable, optional
        (pass name, blocks done, blocks) as blocks finish.
    **options
        :class:`JobSpec` fields: ``channel``, ``threshold``, ``min_size``,
        ``min_relative_area``, ``tta``,
        ``batch_size``, ``device``, ``torch_threads``.

    Returns
    -------
    JobResult
    """
    from unetgui.core.model import load_model_bytes, weights_checksum

    executor = executor or SerialExecutor()
    model = load_model_bytes(model_file)
    partial = partial_folder(output)
    with open_image(image) as stack:
        shape, plane_axes, pixel_size, n_channels = stack.shape, stack.plane_axes, stack.pixel_size, stack.n_channels
        dtype = stack.dtype
    model_input(np.zeros((n_channels, 1, 1)), model, options.get("channel"))  # they fit, or a clear message
    grid = plan_blocks(model.config, shape[2:], tile_size=tile_size, block_px=block_px,
                       device_type="cuda" if options.get("device") == "cuda" else "cpu")
    spec = JobSpec(str(Path(image).resolve()), str(partial / "work.zarr"), grid,
                   weights_checksum(model.net.state_dict()), probabilities=probabilities is not None, **options)
    _prepare_partial(partial, spec, shape, resume=resume, overwrite=overwrite_partial)
    done = _Records(partial / "records.sqlite")
    blob = executor.share(model_file)
    n_planes, n_blocks = shape[0], len(grid)
    computed = dict.fromkeys(PASSES, 0)

    def run(name: str, function: Callable, items: list[tuple], keep: bool = True) -> None:
        finished_before = done.finished(name)
        todo = [item for item in items if (item[0], item[1]) not in finished_before]
        total, finished = len(items), len(items) - len(todo)
        if on_progress:
            on_progress(name, finished, total)
        for plane, index, result in executor.map(function, [(spec, *item) for item in todo]):
            done.add(name, plane, index, result if keep else None)
            computed[name] += 1
            finished += 1
            if on_progress:
                on_progress(name, finished, total)

    # the largest blocks first, so that the small ones at the right and bottom edges fill
    # the workers' last gaps instead of keeping one busy while the others wait
    every = sorted(((p, k) for p in range(n_planes) for k in range(n_blocks)),
                   key=lambda item: -np.prod(grid.block(item[1]).shape))
    try:
        run("sample", _sample_task, [(*item, blob) for item in every])
        limits = {p: model.normalization.limits_of_sample(np.concatenate(
            [done.load("sample", p, k)["sample"] for k in range(n_blocks)], axis=1)) for p in range(n_planes)}
        run("predict", _predict_task, [(p, k, blob, limits[p]) for p, k in every])
        cell_ids = {p: block_labels.merge_cells(grid, [_block_cells(done.load("predict", p, k))
                                                       for k in range(n_blocks)], spec.min_size,
                                                       spec.min_relative_area)
                    for p in range(n_planes)}
        run("holes", _holes_task, [(p, k, cell_ids[p][k]) for p, k in every])
        fills = {p: block_labels.merge_background(grid, [_block_background(done.load("holes", p, k))
                                                         for k in range(n_blocks)]) for p in range(n_planes)}
        run("labels", _labels_task,
            [(p, k, _around(grid, k, cell_ids[p]), _around(grid, k, fills[p])) for p, k in every], keep=False)
    finally:
        done.close()

    per_plane = [int(max((table.max(initial=0) for table in cell_ids[p]), default=0)) for p in range(n_planes)]
    work = _open_work(spec.work)
    plane_axis = plane_axis_for(plane_axes)
    if _is_zarr(output):
        from unetgui.core.ome_zarr_files import write_ome_zarr

        write_ome_zarr(output, _image_array(spec.image, shape, dtype, grid), _dask(work["labels"]),
                       plane_axis=plane_axis, pixel_size=pixel_size, n_cells=max(per_plane))
    else:
        write_tiled_tiff(output, work["labels"], plane_axis=plane_axis, pixel_size=pixel_size)
    if probabilities is not None:
        write_tiled_tiff(probabilities, work["probability"], plane_axis=plane_axis, pixel_size=pixel_size)
    shutil.rmtree(partial, ignore_errors=True)
    with _cache_lock:
        _close_stacks()  # what this process opened (tasks run here, the output's image copy)
    return JobResult(output, sum(per_plane), n_planes, n_blocks, computed)


# ------------------------------------------------------------------ the job's folder


def _prepare_partial(partial: Path, spec: JobSpec, shape: tuple[int, ...], *, resume: bool, overwrite: bool) -> None:
    """Create the partial folder and its work Zarr, or check a stopped job's for resuming."""
    record = {**spec.describe(), "image": spec.image, "shape": list(shape),
              "image_modified": Path(spec.image).stat().st_mtime_ns}  # an image changed since is not resumed
    job_file = partial / "job.json"
    if partial.exists() and not resume:
        if not overwrite:
            raise InvalidInputError(f"A stopped job left '{partial.name}' in '{partial.parent}'. Add --resume to go "
                                    "on with it, or --overwrite to start over.")
        shutil.rmtree(partial)
    if partial.exists():
        try:
            before = json.loads(job_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            before = None
        if before != record:
            changed = sorted(k for k in record if before is None or before.get(k) != record[k])
            raise InvalidInputError(f"The stopped job in '{partial.name}' was for other settings "
                                    f"({', '.join(changed) or 'unreadable'}); it cannot be resumed with "
                                    "these. Use --overwrite to start over.")
        return
    try:
        partial.mkdir(parents=True)
        import zarr

        group = zarr.open_group(spec.work, mode="w", zarr_format=2)
        planes, _, height, width = shape
        chunks = (1, *spec.grid.block_shape)
        for name, dtype in (("cells", "int32"), ("regions", "int32"), ("labels", "uint32"),
                            *((("probability", "float32"),) if spec.probabilities else ())):
            group.create_array(name, shape=(planes, height, width), chunks=chunks, dtype=dtype, fill_value=0)
        with atomic_write(job_file) as temporary:
            temporary.write_text(json.dumps(record, indent=1), encoding="utf-8")
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise ImageFileError(f"Cannot write the job's work folder '{partial}': {error.strerror or error}.") from error


class _Records:
    """Finished blocks and what they returned, in one SQLite file in the partial folder
    (written by the driver only): a TB job has hundreds of thousands of blocks, which as
    one file each would swamp a cluster's file system. Each record is its own
    transaction: a job killed at any moment loses at most the blocks not yet recorded,
    and those are simply done again."""

    def __init__(self, path: Path) -> None:
        import sqlite3

        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=2)  # autocommit: a record a transaction
        try:
            # exclusive: WAL without shared memory, which network file systems lack; and a
            # second driver on the same job is refused instead of mixing records
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS records (pass TEXT, plane INTEGER, block INTEGER, "
                             "data BLOB, PRIMARY KEY (pass, plane, block))")
        except sqlite3.OperationalError as error:
            self._db.close()
            raise InvalidInputError(f"Another unetgui job is working in '{path.parent.name}' ({error}); wait for it "
                                    "to end, or stop it first.") from error

    def close(self) -> None:
        self._db.close()

    def finished(self, name: str) -> set[tuple[int, int]]:
        """(plane, block) of every block recorded for pass ``name``."""
        return set(self._db.execute("SELECT plane, block FROM records WHERE pass = ?", (name,)))

    def add(self, name: str, plane: int, index: int, arrays: dict | None = None) -> None:
        import io

        buffer = io.BytesIO()
        np.savez(buffer, **(arrays or {}))
        self._db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
                         (name, int(plane), int(index), buffer.getvalue()))

    def load(self, name: str, plane: int, index: int) -> dict:
        import io

        row = self._db.execute("SELECT data FROM records WHERE pass = ? AND plane = ? AND block = ?",
                               (name, int(plane), int(index))).fetchone()
        with np.load(io.BytesIO(row[0]), allow_pickle=False) as data:
            return {key: data[key] for key in data.files}


def _edges_fields(prefix: str, edges: block_labels.Edges) -> dict:
    return {f"{prefix}_{side}": getattr(edges, side) for side in ("top", "bottom", "left", "right")}


def _edges(fields: dict, prefix: str) -> block_labels.Edges:
    return block_labels.Edges(*(fields[f"{prefix}_{side}"] for side in ("top", "bottom", "left", "right")))


def _block_cells(fields: dict) -> block_labels.BlockCells:
    return block_labels.BlockCells(fields["sizes"], _edges(fields, "cells"))


def _block_background(fields: dict) -> block_labels.BlockBackground:
    return block_labels.BlockBackground(int(fields["n_regions"]), fields["pairs"], fields["at_border"],
                                        _edges(fields, "regions"), _edges(fields, "cells"))


def _around(grid: BlockGrid, index: int, tables: list[np.ndarray]) -> dict[int, np.ndarray]:
    """The tables of block ``index`` and its neighbours: all a labels task reads."""
    block = grid.block(index)
    near = (grid.neighbour(block, dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1))
    return {other.index: tables[other.index] for other in near if other is not None}


# ------------------------------------------------------------------ tasks (run on workers)

_cache_lock = threading.Lock()
_models: dict[tuple[str, str], object] = {}
_stacks: dict[str, ImageStack] = {}


def worker_model(blob: bytes, key: str, device: str, threads: int):
    """The job's model in this worker process, loaded once per ``key`` (naming the model)
    and device request (safe loader, no code run)."""
    import torch

    from unetgui.core.model import load_model_bytes

    if threads:
        torch.set_num_threads(threads)
    with _cache_lock:
        model = _models.get((key, device))
        if model is None:
            _models.clear()  # one job's model at a time
            model = _models[key, device] = load_model_bytes(blob, _worker_device(device))
    return model


def _worker_device(request: str):
    """CPU, or the GPU this worker owns: worker k of a cluster takes GPU k mod (GPUs)."""
    import torch

    if request == "cpu" or not torch.cuda.is_available():
        if request == "cuda":
            raise InvalidInputError("This worker has no CUDA GPU.")
        return torch.device("cpu")
    number = 0
    with contextlib.suppress(ImportError, ValueError):
        from distributed import get_worker

        name = get_worker().name
        number = int(name) if str(name).isdigit() else abs(hash(name))
    return torch.device("cuda", number % torch.cuda.device_count())


def _worker_stack(path: str) -> ImageStack:
    """The job's image in this process, opened once (one image at a time)."""
    with _cache_lock:
        stack = _stacks.get(path)
        if stack is None:
            _close_stacks()
            stack = _stacks[path] = open_image(path)
    return stack


def _close_stacks() -> None:
    for stack in _stacks.values():
        stack.close()
    _stacks.clear()


def _reader(stack: ImageStack, plane: int):
    return lambda r0, r1, c0, c1: stack.read_region(plane, (r0, r1), (c0, c1))


def _sample_task(spec: JobSpec, plane: int, index: int, blob: bytes):
    model = worker_model(blob, spec.model_checksum, spec.device, spec.torch_threads)  # as predict loads it
    stack = _worker_stack(spec.image)
    return plane, index, {"sample": block_sample(model, _reader(stack, plane), spec.grid, spec.grid.block(index),
                                                 channel=spec.channel)}


def _predict_task(spec: JobSpec, plane: int, index: int, blob: bytes, limits: np.ndarray):
    model = worker_model(blob, spec.model_checksum, spec.device, spec.torch_threads)
    block = spec.grid.block(index)
    probabilities = predict_block(model, _reader(_worker_stack(spec.image), plane), spec.grid, block, limits,
                                  channel=spec.channel, batch_size=spec.batch_size, tta=spec.tta)
    foreground = foreground_probability(probabilities)
    cells, summary = block_labels.label_cells(foreground, spec.threshold)
    work = _open_work(spec.work)
    where = (plane, *block.slices)
    work["cells"][where] = cells
    if spec.probabilities:
        work["probability"][where] = foreground
    return plane, index, {"sizes": summary.sizes, **_edges_fields("cells", summary.edges)}


def _holes_task(spec: JobSpec, plane: int, index: int, cell_ids: np.ndarray):
    block = spec.grid.block(index)
    work = _open_work(spec.work)
    regions, summary = block_labels.label_background(spec.grid, block, work["cells"][(plane, *block.slices)],
                                                     cell_ids)
    work["regions"][(plane, *block.slices)] = regions
    return plane, index, {"n_regions": np.int64(summary.n_regions), "pairs": summary.pairs,
                          "at_border": summary.at_border, **_edges_fields("regions", summary.regions),
                          **_edges_fields("cells", summary.cells)}


def _labels_task(spec: JobSpec, plane: int, index: int, cell_ids: dict, fills: dict):
    block = spec.grid.block(index)
    work = _open_work(spec.work)

    def read(name, rows, cols):
        return work[name][plane, slice(*rows), slice(*cols)]

    work["labels"][(plane, *block.slices)] = block_labels.final_block(spec.grid, block, read, cell_ids, fills,
                                                                      spec.grow_back)
    return plane, index, None


def _open_work(path: str):
    import zarr

    return zarr.open_group(path, mode="r+")


# ------------------------------------------------------------------ output


def _is_zarr(path: Path) -> bool:
    return str(path).rstrip("/\\").lower().endswith(".zarr")


def _dask(array):
    import dask.array as da

    return da.from_zarr(array)


class _StackArray:
    """An image as a (P, C, Y, X) array that reads regions on demand: lets Dask copy an
    image into the output OME-Zarr block by block, on whichever worker."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype) -> None:
        self.path, self.shape, self.dtype, self.ndim = path, tuple(shape), np.dtype(dtype), len(shape)

    def __getitem__(self, key):
        planes, channels, rows, cols = (k if isinstance(k, slice) else slice(k, k + 1) for k in key)
        stack = _worker_stack(self.path)
        indices = range(*planes.indices(self.shape[0]))
        r0, r1, _ = rows.indices(self.shape[2])
        c0, c1, _ = cols.indices(self.shape[3])
        if r0 >= r1 or c0 >= c1 or not indices:
            return np.zeros((len(indices), len(range(*channels.indices(self.shape[1]))),
                             max(0, r1 - r0), max(0, c1 - c0)), self.dtype)
        return np.stack([stack.read_region(p, (r0, r1), (c0, c1))[channels] for p in indices])


def _image_array(path: str, shape: tuple[int, ...], dtype: np.dtype, grid: BlockGrid):
    import dask.array as da

    return da.from_array(_StackArray(path, shape, dtype), chunks=(1, shape[1], *grid.block_shape),
                         asarray=False, fancy=False, name=f"unetgui-image-{abs(hash((path, shape)))}")


def write_tiled_tiff(path: Path, array, *, plane_axis: str, pixel_size: tuple[float, float] | None,
                     tile: int = 256) -> Path:
    """Write a (P, Y, X) array (Zarr, Dask or numpy) as a tiled BigTIFF, a strip of tiles
    at a time: Fiji (Bio-Formats), napari and QuPath read it; memory stays at one strip.

    Written under a temporary name and renamed when complete.
    """
    import tifffile

    planes, height, width = array.shape

    def tiles() -> Iterable[np.ndarray]:
        for plane in range(planes):
            for row in range(0, height, tile):
                strip = np.asarray(array[plane, row:row + tile, :])
                for col in range(0, width, tile):
                    part = strip[:, col:col + tile]
                    if part.shape != (tile, tile):
                        part = np.pad(part, ((0, tile - part.shape[0]), (0, tile - part.shape[1])))
                    yield part

    shape = (planes, height, width) if planes > 1 else (height, width)
    axes = f"{plane_axis}YX" if planes > 1 else "YX"
    extra = {} if pixel_size is None else {  # pixels per centimetre, as io.write_labels
        "resolution": (1e4 / pixel_size[1], 1e4 / pixel_size[0]), "resolutionunit": "CENTIMETER"}
    try:
        with atomic_write(path) as temporary:
            tifffile.imwrite(temporary, tiles(), shape=shape, dtype=array.dtype, tile=(tile, tile), bigtiff=True,
                             photometric="minisblack", compression="zlib", metadata={"axes": axes},
                             software=SOFTWARE, **extra)
    except OSError as error:
        raise ImageFileError(f"Cannot write '{path.name}' in '{path.parent}': {error.strerror or error}.") from error
    return path


def describe_progress(name: str) -> str:
    """A pass's name as the progress bar says it."""
    return {"sample": "reading", "predict": "predicting", "holes": "merging", "labels": "labelling"}[name]
