"""Blockwise prediction on Dask: overhead, scaling and memory (issue: scale out).

Prints figures only (no timing asserts). Targets from the issue:
  - overhead: blockwise prediction of a 4096x4096 image on one worker costs at most
    1.15x the in-memory prediction with the same thread count;
  - scaling: 2 worker processes with 1 thread each reach at least 1.7x the throughput of
    1 worker with 1 thread, on a many-file job and on a large-image job;
  - memory: a 16384x16384 uint16 image (512 MB) is predicted with each worker's peak
    memory under 2 GB.

Ours: ``unetgui.core.blockwise_job.predict_large_image`` (every pass: sampling the
normalisation, prediction, cell and hole merging, final labels, the tiled BigTIFF
output), in this process (``SerialExecutor``) or on a LocalCluster. Reference: the
in-memory path the command line takes for an image that fits, ``predict`` +
``probabilities_to_labels`` on the whole plane, with the same torch thread count, on the
same image. Overhead alternates the two (AB, BA) and reports the best of the rounds.
The many-file job is what ``unetgui predict starter FOLDER -o OUT --scheduler local:N`` runs,
on a cluster already started (the start and the workers' first torch import are left out).

    python benchmarks/bench_scaleout.py overhead [--size 4096] [--threads 2] [--rounds 2]
    python benchmarks/bench_scaleout.py scaling [--size 4096] [--files 24] [--rounds 2]
    python benchmarks/bench_scaleout.py memory [--size 16384] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from unetgui.core.blockwise_job import predict_large_image  # noqa: E402
from unetgui.core.dask_cluster import ClusterRequest, open_cluster  # noqa: E402
from unetgui.core.model import model_file_bytes  # noqa: E402
from unetgui.core.postprocess import foreground_probability, probabilities_to_labels  # noqa: E402
from unetgui.core.predict import predict  # noqa: E402
from unetgui.core.starter import load_starter_model  # noqa: E402
from unetgui.core.synthetic import SyntheticConfig, synthetic_cells  # noqa: E402


def make_image(size: int, path: Path, tile: int = 1024) -> Path:
    """A size x size uint16 field of synthetic nuclei (a 1024 px field, tiled with flips
    so that cells cross every block face), written as a tiled, compressed TIFF."""
    field, _ = synthetic_cells(SyntheticConfig(shape=(tile, tile), n_cells=int(tile * tile / 1400)),
                               np.random.default_rng(0))

    def rows_of_tiles():
        for r in range(0, size, 256):
            for c in range(0, size, 256):
                block = field[:: (-1) ** (r // tile), :: (-1) ** (c // tile)]
                part = block[r % tile: r % tile + 256, c % tile: c % tile + 256]
                yield np.pad(part, ((0, 256 - part.shape[0]), (0, 256 - part.shape[1])))

    tifffile.imwrite(path, rows_of_tiles(), shape=(size, size), dtype=np.uint16, tile=(256, 256),
                     compression="zlib", bigtiff=True)
    return path


def in_memory(model, path: Path) -> float:
    started = time.perf_counter()
    plane = tifffile.imread(path)[None]
    labels = probabilities_to_labels(foreground_probability(predict(model, plane)))
    tifffile.imwrite(path.with_name("reference_labels.tif"), labels.astype(np.uint32), compression="zlib")
    return time.perf_counter() - started


def blockwise(model, path: Path, executor=None, threads: int = 0) -> float:
    output = path.with_name("blockwise_labels.tif")
    started = time.perf_counter()
    predict_large_image(model_file_bytes(model), path, output,
                        executor=executor, overwrite_partial=True, torch_threads=threads)
    return time.perf_counter() - started


def overhead(args) -> None:
    torch.set_num_threads(args.threads)
    model = load_starter_model()
    with tempfile.TemporaryDirectory() as folder:
        path = make_image(args.size, Path(folder) / "field.tif")
        ours, reference = [], []
        for k in range(args.rounds):
            pair = [("in-memory", reference, lambda: in_memory(model, path)),
                    ("blockwise", ours, lambda: blockwise(model, path))]
            for name, times, run in (pair if k % 2 == 0 else pair[::-1]):
                times.append(run())
                print(f"  round {k + 1} {name}: {times[-1]:.1f} s", flush=True)
        same = np.array_equal(tifffile.imread(path.with_name("reference_labels.tif")) > 0,
                              tifffile.imread(path.with_name("blockwise_labels.tif")) > 0)
        local = None
        if args.cluster:
            with open_cluster(ClusterRequest("local:1"), lambda text: None) as executor:
                blockwise(model, path, executor, args.threads)  # warm the worker
                local = blockwise(model, path, executor, args.threads)
    print(f"{args.size}x{args.size} starter model, {args.threads} torch thread(s):")
    print(f"  in-memory (predict + labels): {min(reference):.1f} s")
    print(f"  blockwise in this process:    {min(ours):.1f} s  -> ratio {min(ours) / min(reference):.3f} "
          f"(target <= 1.15) {'PASS' if min(ours) / min(reference) <= 1.15 else 'MISS'}")
    if local is not None:
        print(f"  blockwise, LocalCluster of 1 worker x {args.threads} threads: {local:.1f} s -> ratio "
              f"{local / min(reference):.3f}")
    print(f"  same foreground as in-memory: {same}")


def many_files(folder: Path, output: Path, executor, model) -> float:
    """``unetgui predict starter FOLDER -o OUTPUT`` on a running cluster (its start and
    the workers' first torch import are not in the time)."""
    from unetgui.cli import _parser
    from unetgui.cli_batch import predict_many

    args = _parser().parse_args(["predict", "starter", str(folder), "-o", str(output), "--overwrite"])
    started = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        predict_many(args, None, executor=executor, model_file=model_file_bytes(model))
    return time.perf_counter() - started


def _forward_passes(tiles: int) -> float:
    """Seconds for ``tiles`` forward passes of the starter on 572 px tiles, one thread."""
    torch.set_num_threads(1)
    net = load_starter_model().net.eval()
    x = torch.randn(1, 1, 572, 572)
    with torch.inference_mode():
        net(x)
        started = time.perf_counter()
        for _ in range(tiles):
            net(x)
    return time.perf_counter() - started


def ceiling() -> float:
    """What this machine allows: throughput of 2 processes running forward passes side by
    side, against 1 (no Dask, no I/O, no post-processing)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        one = pool.map(_forward_passes, [12])[0]
    with context.Pool(2) as pool:
        two = max(pool.map(_forward_passes, [12, 12]))
    return 2 * one / two


def scaling(args) -> None:
    if args.ceiling_only:
        print(f"forward passes alone, 2 processes against 1: {ceiling():.2f}x (what this machine allows)")
        return
    model = load_starter_model()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path = make_image(args.size, folder / "field.tif")
        files = folder / "files"
        files.mkdir()
        rng = np.random.default_rng(1)
        for k in range(args.files):
            tifffile.imwrite(files / f"well{k:02d}.tif", synthetic_cells(SyntheticConfig(shape=(1024, 1024)), rng)[0])
        rows = {}
        with open_cluster(ClusterRequest("local:1"), lambda text: None) as one, \
                open_cluster(ClusterRequest("local:2"), lambda text: None) as two:
            clusters = {1: one, 2: two}
            for executor in clusters.values():
                executor.torch_threads = 1
                many_files(files, folder / "warm", executor, model)  # every worker imports torch, loads the model
            for k in range(args.rounds):  # alternated (1 2, 2 1, ...), best of the rounds: noise hits both alike
                for workers in ((1, 2) if k % 2 == 0 else (2, 1)):
                    executor = clusters[workers]
                    for job, run in (("large image", lambda: blockwise(model, path, executor, 1)),
                                     ("many files", lambda: many_files(files, folder / "out", executor, model))):
                        seconds = run()
                        rows[(job, workers)] = min(seconds, rows.get((job, workers), seconds))
                        print(f"  round {k + 1}, {job}, {workers} worker(s): {seconds:.1f} s", flush=True)
    print("1 thread per worker, on a running cluster:")
    for job in ("large image", "many files"):
        one, two = rows[(job, 1)], rows[(job, 2)]
        print(f"  {job:12s}: 1 worker {one:.1f} s, 2 workers {two:.1f} s -> {one / two:.2f}x "
              f"(target >= 1.7) {'PASS' if one / two >= 1.7 else 'MISS'}")
    print(f"  (large image {args.size}x{args.size}, blocks of the default size; many files: {args.files} of "
          "1024x1024)")
    print(f"  forward passes alone, 2 processes against 1: {ceiling():.2f}x (what this machine allows)")


def memory(args) -> None:
    import resource

    model = load_starter_model()
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        path = make_image(args.size, Path(folder) / "field.tif")
        print(f"image: {args.size}x{args.size} uint16 ({path.stat().st_size / 2**20:.0f} MiB compressed on disk, "
              f"{args.size * args.size * 2 / 2**20:.0f} MiB in memory)", flush=True)
        with open_cluster(ClusterRequest(f"local:{args.workers}"), print) as executor:
            started = time.perf_counter()
            output = Path(folder) / "labels.ome.zarr"
            result = predict_large_image(model_file_bytes(model), path, output, executor=executor,
                                         torch_threads=executor.torch_threads, on_progress=_report)
            elapsed = time.perf_counter() - started
            peaks = executor.client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    worst = max(peaks.values()) / 2**20
    print(f"{result.n_cells} cells, {result.blocks} blocks, {elapsed:.0f} s on {args.workers} worker(s)")
    print("peak memory per worker (ru_maxrss): " + ", ".join(f"{v / 2**20:.2f} GiB" for v in peaks.values()))
    print(f"worst worker {worst:.2f} GiB (target < 2 GB) {'PASS' if worst * 2**30 < 2e9 else 'MISS'}; "
          f"driver {driver / 2**20:.2f} GiB")


_last = {}


def _report(name, done, total):
    if done == total or done - _last.get(name, 0) >= max(1, total // 10):
        _last[name] = done
        print(f"  {name}: {done}/{total}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("overhead")
    one.add_argument("--size", type=int, default=4096)
    one.add_argument("--threads", type=int, default=2)
    one.add_argument("--rounds", type=int, default=2)
    one.add_argument("--cluster", action="store_true", help="also time a LocalCluster of one worker")
    two = sub.add_parser("scaling")
    two.add_argument("--size", type=int, default=4096)
    two.add_argument("--files", type=int, default=24)
    two.add_argument("--rounds", type=int, default=2)
    two.add_argument("--ceiling-only", action="store_true", help="only the forward passes in 1 and 2 processes")
    three = sub.add_parser("memory")
    three.add_argument("--size", type=int, default=16384)
    three.add_argument("--workers", type=int, default=2)
    three.add_argument("--folder", default=None, help="where the image and output go (default: the temp folder)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        {"overhead": overhead, "scaling": scaling, "memory": memory}[args.what](args)


if __name__ == "__main__":
    main()
