"""Overlap-tile prediction: total time vs the network's own forward time on the same tiles.

Prints figures only (no timing asserts). Target from the issue:
  overlap-tile prediction of a 2048x2048 image takes at most 1.15x the network's own
  forward time for the same tiles (planning, padding and stitching overhead <= 15%).

Ours: ``unetgui.core.predict.iter_predict`` on the raw plane, exhausted (normalisation,
planning, mirror padding, tile extraction, forward, softmax, copy back, stitching).
Reference: ``net(x)`` alone, under ``torch.inference_mode`` with a channels_last net,
batch after batch, on input tensors cut beforehand from the same padded plane at the same
tile positions (``tiling.plan_tiles(..., align=2**depth)``) and already on the device.
The two are alternated (AB, BA, AB, ...) and each is reported as best of the rounds, so
that a noisy shared machine shifts both alike; only the ratio is meaningful.

A third, diagnostic pass re-runs predict.py's steps one by one with a timer around each
(a copy of its loop: keep it in step with predict.py) to show where the overhead goes.

Memory allocator (Linux): with glibc's default malloc, a process falls, depending on the
history of its allocations, into one of two modes: freed activation buffers stay in the
heap and are reused, or they go back to the kernel and every forward pass page-faults them
in again (~13,000 minor faults per 540 px tile here, 30-35% slower). The mode can differ
between the two sides of this comparison and swing the ratio from 1.0 to 1.35. By default
this script therefore fixes glibc's trim and mmap thresholds (``--malloc tuned``, via
mallopt), so that the ratio measures the planning, padding and stitching overhead;
``--malloc default`` leaves malloc alone. Minor page faults per pass are printed either way.

    python benchmarks/bench_predict.py [--size 2048] [--base-channels 16] [--rounds 5]
        [--threads N] [--device cpu|cuda] [--tile-size N] [--batch-size 1]
        [--malloc tuned|default]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import minor_faults, sync, tune_malloc  # noqa: E402
from unetgui.core import tiling  # noqa: E402
from unetgui.core.device import describe_device, resolve_device  # noqa: E402
from unetgui.core.model import new_model  # noqa: E402
from unetgui.core.predict import DEFAULT_MAX_TILE, choose_tile_size, iter_predict  # noqa: E402
from unetgui.core.synthetic import SyntheticConfig, synthetic_cells  # noqa: E402
from unetgui.core.unet import UNetConfig, input_step, output_size, parameter_count  # noqa: E402

TARGET = 1.15


def make_plane(size: int, seed: int = 0) -> np.ndarray:
    """(1, size, size) uint16 synthetic fluorescence cells (~1200 per 2048^2)."""
    n_cells = max(1, round(1200 * (size / 2048) ** 2))
    config = SyntheticConfig(shape=(size, size), n_cells=n_cells, radius_range=(10, 18))
    image, _ = synthetic_cells(config, np.random.default_rng(seed))
    return image[None]


def autocast(device: torch.device, enabled: bool):
    """The same autocast predict.py uses on CUDA (bf16 where supported, else fp16)."""
    if not enabled:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)





def run_predict(model, plane, tile_size, batch_size, device) -> tuple[float, int, int]:
    """Seconds for one full prediction (iter_predict exhausted), its minor page faults
    and its tile count."""
    sync(device)
    faults = minor_faults()
    start = time.perf_counter()
    total, result = 0, None
    for progress in iter_predict(model, plane, tile_size=tile_size, batch_size=batch_size):
        total, result = progress.total, progress.probabilities
    sync(device)
    seconds = time.perf_counter() - start
    assert result is not None
    return seconds, minor_faults() - faults, total


def run_forward(net, batches, device, use_amp) -> tuple[float, int]:
    """Seconds and minor page faults for ``net(x)`` over all pre-made input batches."""
    sync(device)
    faults = minor_faults()
    start = time.perf_counter()
    with torch.inference_mode(), autocast(device, use_amp):
        for x in batches:
            net(x)
    sync(device)
    return time.perf_counter() - start, minor_faults() - faults


def breakdown(model, plane, in_size, batch_size, device, use_amp) -> dict[str, float]:
    """predict.py's steps, one timer each (a copy of its loop, for diagnosis only)."""
    config = model.config
    t = defaultdict(float)
    clock = time.perf_counter

    def mark(name, start):
        sync(device)
        now = clock()
        t[name] += now - start
        return now

    now = clock()
    image_shape = plane.shape[1:]
    out_size = (output_size(config, in_size[0]), output_size(config, in_size[1]))
    plan = tiling.plan_tiles(image_shape, in_size, out_size, align=input_step(config))
    now = mark("plan tiles", now)
    normalised = model.normalization.apply(plane)
    now = mark("normalise plane", now)
    padded = tiling.mirror_pad(normalised, plan.pad_width)
    now = mark("mirror pad (np.pad)", now)
    result = np.empty((config.n_classes, *image_shape), dtype=np.float32)
    net = model.net.eval().to(memory_format=torch.channels_last)
    now = mark("result alloc + net.eval/channels_last", now)
    tiles = plan.tiles
    with torch.inference_mode(), autocast(device, use_amp):
        for start in range(0, len(tiles), batch_size):
            batch = tiles[start : start + batch_size]
            windows = [padded[:, r.row : r.row + in_size[0], r.col : r.col + in_size[1]] for r in batch]
            inputs = np.stack(windows)
            now = mark("cut tiles (np.stack)", now)
            x = torch.from_numpy(inputs).to(device, memory_format=torch.channels_last)
            now = mark("to tensor (channels_last, device)", now)
            logits = net(x)
            now = mark("forward net(x)", now)
            probs_t = torch.softmax(logits.float(), dim=1)
            now = mark("softmax(.float())", now)
            probs = probs_t.cpu().numpy()
            now = mark(".cpu().numpy()", now)
            for tile, prob in zip(batch, probs):
                rows, cols, tile_rows, tile_cols = plan.output_window(tile)
                result[:, rows, cols] = prob[:, tile_rows, tile_cols]
            now = mark("write into result", now)
    return dict(t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="image rows = cols (default 2048)")
    parser.add_argument("--base-channels", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of each (best-of)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    parser.add_argument("--tile-size", type=int, default=None,
                        help="input tile (default: predict's choose_tile_size for the device)")
    parser.add_argument("--batch-size", type=int, default=1, help="tiles per forward, both sides")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-stage pass")
    parser.add_argument("--malloc", choices=("tuned", "default"), default="tuned",
                        help="fix glibc's malloc thresholds (default) or leave them alone")
    args = parser.parse_args()

    allocator = tune_malloc() if args.malloc == "tuned" else "default"

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    use_amp = device.type == "cuda"  # predict.py's default (mixed_precision=None)

    start = time.perf_counter()
    plane = make_plane(args.size)
    print(f"image: {plane.shape[1]}x{plane.shape[2]} {plane.dtype} synthetic cells "
          f"(made in {time.perf_counter() - start:.1f} s)")

    model = new_model(UNetConfig(base_channels=args.base_channels), seed=0)
    model.net.to(device)
    config = model.config
    if args.tile_size is None:
        in_size = choose_tile_size(config, plane.shape[1:], DEFAULT_MAX_TILE.get(device.type, 572))
    else:
        in_size = tiling.as_pair(args.tile_size)
    out_size = (output_size(config, in_size[0]), output_size(config, in_size[1]))
    plan = tiling.plan_tiles(plane.shape[1:], in_size, out_size, align=input_step(config))
    n_tiles = len(plan.tiles)
    batch_size = max(1, args.batch_size)
    print(f"network: U-Net base {config.base_channels}, depth {config.depth}, "
          f"{parameter_count(model.net) / 1e6:.1f} M params; device {describe_device(device)}; "
          f"torch.get_num_threads() = {torch.get_num_threads()}; malloc: {allocator}")
    print(f"tiles: {n_tiles} of {in_size[0]}x{in_size[1]} in -> {out_size[0]}x{out_size[1]} out, "
          f"align {input_step(config)}, batch {batch_size}; "
          f"pushed {n_tiles * in_size[0] * in_size[1] / plane[0].size:.2f}x the image's pixels")

    # Reference inputs: the same padded plane, the same windows, already on the device.
    net = model.net.eval().to(memory_format=torch.channels_last)
    padded = tiling.mirror_pad(model.normalization.apply(plane), plan.pad_width)
    batches = []
    for s in range(0, n_tiles, batch_size):
        inputs = np.stack([padded[:, t.row : t.row + in_size[0], t.col : t.col + in_size[1]]
                           for t in plan.tiles[s : s + batch_size]])
        batches.append(torch.from_numpy(inputs).to(device, memory_format=torch.channels_last))
    del padded

    # Warm-up (allocator, oneDNN/cuDNN primitives), not timed.
    run_forward(net, batches[:2], device, use_amp)
    total = run_predict(model, plane, in_size, batch_size, device)[2]
    if total != n_tiles:
        print(f"WARNING: predict used {total} tiles, the reference {n_tiles}; the ratio is not like for like")

    predict_times, forward_times, predict_faults, forward_faults = [], [], [], []
    for r in range(args.rounds):
        order = ("predict", "forward") if r % 2 == 0 else ("forward", "predict")
        for which in order:
            if which == "predict":
                seconds, faults, _ = run_predict(model, plane, in_size, batch_size, device)
                predict_times.append(seconds)
                predict_faults.append(faults)
            else:
                seconds, faults = run_forward(net, batches, device, use_amp)
                forward_times.append(seconds)
                forward_faults.append(faults)
    best_predict, best_forward = min(predict_times), min(forward_times)
    ratio = best_predict / best_forward

    fmt = ", ".join
    print(f"prediction (iter_predict, all {n_tiles} tiles), per round: "
          f"{fmt(f'{s:.3f}' for s in predict_times)} s; best {best_predict:.3f} s, "
          f"{n_tiles / best_predict:.2f} tiles/s, "
          f"{plane[0].size / best_predict / 1e6:.2f} Mpx/s")
    print(f"forward only (net(x) on the same tiles), per round: "
          f"{fmt(f'{s:.3f}' for s in forward_times)} s; best {best_forward:.3f} s, "
          f"{n_tiles / best_forward:.2f} tiles/s, {best_forward / n_tiles * 1e3:.1f} ms/tile")
    print(f"overhead: {best_predict - best_forward:+.3f} s; ratio prediction / forward = {ratio:.3f} "
          f"(median-based {np.median(predict_times) / np.median(forward_times):.3f})")
    pf, ff = np.median(predict_faults), np.median(forward_faults)
    print(f"minor page faults per pass (median): prediction {pf:.0f} (~{pf * 4096 / 2**20:.0f} MiB of "
          f"fresh pages; the result alone is {4 * config.n_classes * plane[0].size / 2**20:.0f} MiB), "
          f"forward {ff:.0f}")
    if abs(pf - ff) > 1000 * n_tiles:
        print("note: the two sides page-fault very differently (glibc malloc trimming / mmap per "
              "pass): the ratio says more about the allocator than about predict.py; see --malloc")

    if not args.no_breakdown:
        stages = [breakdown(model, plane, in_size, batch_size, device, use_amp)
                  for _ in range(max(1, min(args.rounds, 2)))]
        best = {k: min(s[k] for s in stages) for k in stages[0]}
        forward = best["forward net(x)"]
        print(f"breakdown (predict.py's steps timed one by one, best of {len(stages)}; "
              f"% of the forward time):")
        for name, seconds in best.items():
            share = "" if name == "forward net(x)" else f"  {100 * seconds / forward:5.1f}%"
            print(f"  {name:<40s}{seconds * 1e3:9.1f} ms{share}")
        rest = sum(v for k, v in best.items() if k != "forward net(x)")
        print(f"  {'all but the forward':<40s}{rest * 1e3:9.1f} ms  {100 * rest / forward:5.1f}%")

    verdict = "PASS" if ratio <= TARGET else "MISS"
    print(f"{verdict}: prediction / forward = {ratio:.3f} (target <= {TARGET}) for a "
          f"{plane.shape[1]}x{plane.shape[2]} image, {n_tiles} tiles of {in_size[0]}, "
          f"{device.type}, {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
