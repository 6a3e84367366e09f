"""Training: what the data path (tile sampling, elastic deformation, weights) adds to a step.

Prints figures only (no timing asserts). Target from the issue:
  the data path adds at most 10% to a training step of a 16-base-channel network on
  572x572 tiles on the CPU.

Three things are measured in one run, interleaved step by step (the order rotating every
step) so that a noisy shared machine shifts them alike:
  full  one step of ``unetgui.core.train.train(...)`` (``next()`` on the generator): draw a
        plane, ``_PreparedPlane.sample`` (sample_tile with the default AugmentConfig),
        numpy -> torch, forward, weighted cross-entropy, backward, optimiser step;
  net   the network step alone on pre-made tensors of the same shapes, on another net of
        the same config: in the memory layout train() chose (core/step_layout.py), train
        mode, the same loss and the same optimiser (SGD, momentum 0.99) as train.py's ``_step``;
  data  the data path alone: the plane draw, ``_PreparedPlane.sample`` and the
        numpy -> torch conversion that ``_step`` does.
The one-time preparation of a plane (normalisation, border weight map: the
``_PreparedPlane`` constructor) is reported separately, and so is a forward and backward
pass in each memory layout (channels-last and the usual one; on a CPU train() takes the
faster, ``core.step_layout.step_seconds``).

The verdict uses the median of the paired differences full - net (each pair ran back to
back) over the median network step. On a shared 2-core machine, multi-threaded torch steps
now and then take 3-8x longer (a descheduled OpenMP thread stalls the others at a
barrier); such spikes hit full and network steps alike at random and swamp the means
(printed too). ``--threads 1`` makes them rare.

Memory allocator (Linux): with glibc's default malloc a process may fall into a mode where
freed activation buffers go back to the kernel and every step page-faults them in again
(tens of thousands of minor faults per step), and the two sides can be in different modes.
By default this script fixes glibc's trim and mmap thresholds (``--malloc tuned``, via
mallopt); ``--malloc default`` leaves malloc alone. Minor page faults per step are printed.

    python benchmarks/bench_training.py [--steps 30] [--warmup 3] [--threads N]
        [--device cpu|cuda] [--tile-size 572] [--base-channels 16] [--size 1024]
        [--malloc tuned|default]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import minor_faults, sync, tune_malloc  # noqa: E402
from unetgui.core import step_layout, weightmap  # noqa: E402
from unetgui.core.device import describe_device, resolve_device  # noqa: E402
from unetgui.core.model import new_model  # noqa: E402
from unetgui.core.synthetic import SyntheticConfig, synthetic_cells  # noqa: E402
from unetgui.core.train import TrainingConfig, TrainingPlane, _PreparedPlane, train  # noqa: E402
from unetgui.core.unet import UNetConfig, output_size, parameter_count  # noqa: E402

TARGET = 0.10


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """train.py's default mixed precision: bf16/fp16 autocast on CUDA, none elsewhere."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class NetStep:
    """train.py's ``_step`` without the data: pre-made tensors, same net shape, loss, optimiser."""

    def __init__(self, base_channels: int, config: TrainingConfig, tile, device: torch.device,
                 layout: torch.memory_format) -> None:
        model = new_model(UNetConfig(base_channels=base_channels), seed=1)
        self.net = model.net.to(device).to(memory_format=layout)
        self.optimizer = torch.optim.SGD(
            self.net.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
        self.images = torch.from_numpy(tile.image[None]).to(device, memory_format=layout)
        self.target = torch.from_numpy(tile.target[None]).to(device)
        self.weights = torch.from_numpy(tile.weights[None]).to(device)
        self.device = device
        self.amp = amp_dtype(device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp == torch.float16 else None

    def __call__(self) -> float:
        net, optimizer = self.net, self.optimizer
        net.train()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            logits = net(self.images)
        per_pixel = F.cross_entropy(logits.float(), self.target, reduction="none")
        loss = (per_pixel * self.weights).sum() / (self.weights > 0).sum().clamp(min=1)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            optimizer.step()
        return float(loss.detach())


def data_path(prepared, plane_weights, in_size, out_size, rng, device, layout):
    """What one step of train.py does before the network: draw a plane, sample, convert."""
    tiles = [prepared[rng.choice(len(prepared), p=plane_weights)].sample(in_size, out_size, rng)]
    images = torch.from_numpy(np.stack([t.image for t in tiles]))
    images = images.to(device, memory_format=layout)
    target = torch.from_numpy(np.stack([t.target for t in tiles])).to(device)
    weights = torch.from_numpy(np.stack([t.weights for t in tiles])).to(device)
    return images, target, weights


def timed(device, function, *args, faults: list | None = None):
    sync(device)
    before = minor_faults()
    start = time.perf_counter()
    result = function(*args)
    sync(device)
    seconds = time.perf_counter() - start
    if faults is not None:
        faults.append(minor_faults() - before)
    return seconds, result


def stats(values) -> str:
    v = np.asarray(values)
    ms = {"mean": v.mean(), "median": np.median(v), "min": v.min(), "max": v.max()}
    return ", ".join(f"{k} {x * 1e3:7.1f} ms" for k, x in ms.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="measured steps of each kind")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps of each kind first")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    parser.add_argument("--tile-size", type=int, default=572, help="input tile (default 572)")
    parser.add_argument("--base-channels", type=int, default=16)
    parser.add_argument("--size", type=int, default=1024, help="training plane rows = cols (default 1024)")
    parser.add_argument("--malloc", choices=("tuned", "default"), default="tuned",
                        help="fix glibc's malloc thresholds (default) or leave them alone")
    args = parser.parse_args()

    allocator = tune_malloc() if args.malloc == "tuned" else "default"

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)

    start = time.perf_counter()
    n_cells = max(1, round(300 * (args.size / 1024) ** 2))
    image, labels = synthetic_cells(
        SyntheticConfig(shape=(args.size, args.size), n_cells=n_cells, radius_range=(10, 18)),
        np.random.default_rng(0),
    )
    plane = TrainingPlane(image[None], labels, name="synthetic")
    print(f"plane: {args.size}x{args.size} {image.dtype}, {labels.max()} cells "
          f"(made in {time.perf_counter() - start:.1f} s)")

    model = new_model(UNetConfig(base_channels=args.base_channels), seed=0)
    model.net.to(device)
    warmup = max(1, args.warmup)
    config = TrainingConfig(steps=warmup + args.steps, tile_size=args.tile_size, seed=0)
    in_size = args.tile_size
    out_size = output_size(model.config, in_size)
    print(f"network: U-Net base {args.base_channels}, {parameter_count(model.net) / 1e6:.1f} M params; "
          f"tile {in_size} -> {out_size}, batch {config.batch_size}, {config.optimizer} "
          f"momentum {config.momentum}; device {describe_device(device)}; "
          f"torch.get_num_threads() = {torch.get_num_threads()}; malloc: {allocator}")

    # One-time preparation, on its own (best of 2), and its two parts.
    prep_times, norm_times, target_times = [], [], []
    for _ in range(2):
        prep_times.append(timed(device, _PreparedPlane, plane, model, config)[0])
        norm_times.append(timed(device, model.normalization.apply, plane.image)[0])
        target_times.append(timed(device, lambda: weightmap.training_targets(
            plane.labels, np.zeros(plane.labels.shape, bool), w0=config.w0, sigma=config.sigma,
            class_balance=config.class_balance))[0])

    # The three contestants.
    prepared = [_PreparedPlane(plane, model, config)]
    plane_weights = np.array([1.0])
    rng = np.random.default_rng(1)
    generator = train(model, [plane], config)
    first_s, first = timed(device, next, generator)  # preparation, the layout, step 0 (validation) or 1
    layout = step_layout.training_memory_format(model.net, in_size, config.batch_size, device)  # as train() chose
    net_step = NetStep(args.base_channels, config, prepared[0].sample(in_size, out_size, rng), device, layout)

    prep_in_train = first_s - first.elapsed
    for _ in range(warmup - 1):
        next(generator)
    for _ in range(warmup):
        net_step()
        data_path(prepared, plane_weights, in_size, out_size, rng, device, layout)

    full, net, data = [], [], []
    faults = {"full": [], "net": [], "data": []}
    kinds = ("full", "net", "data")
    for i in range(args.steps):
        order = kinds[i % 3:] + kinds[: i % 3]
        for kind in order:
            if kind == "full":
                full.append(timed(device, next, generator, faults=faults[kind])[0])
            elif kind == "net":
                net.append(timed(device, net_step, faults=faults[kind])[0])
            else:
                args_ = (prepared, plane_weights, in_size, out_size, rng, device, layout)
                data.append(timed(device, data_path, *args_, faults=faults[kind])[0])
    with contextlib.suppress(StopIteration):
        next(generator)  # let train() finish and write its history entry

    full_mean, net_mean, data_mean = np.mean(full), np.mean(net), np.mean(data)
    full_med, net_med, data_med = np.median(full), np.median(net), np.median(data)
    # Paired: full and net steps of the same round ran back to back, so the median of
    # their differences cancels slow drifts of the machine's load and ignores spikes.
    share = float(np.median(np.subtract(full, net))) / net_med
    share_med = (full_med - net_med) / net_med
    share_mean = (full_mean - net_mean) / net_mean
    print(f"one-time preparation, _PreparedPlane(...) best of 2: {min(prep_times) * 1e3:.0f} ms "
          f"(normalisation {min(norm_times) * 1e3:.0f} ms, weight map + targets "
          f"{min(target_times) * 1e3:.0f} ms); train() before its first step (cold, "
          f"optimiser set-up included): {prep_in_train * 1e3:.0f} ms")
    if device.type == "cpu":
        layouts = step_layout.step_seconds(model.net, in_size, config.batch_size)
        print("forward + backward, best of {}: channels-last {:.0f} ms, usual layout {:.0f} ms; train() uses {}".format(
            step_layout.TIMED_PASSES, layouts[torch.channels_last] * 1e3, layouts[torch.contiguous_format] * 1e3,
            step_layout.layout_name(layout)))
    print(f"{args.steps} steps each after {warmup} warm-up, interleaved:")
    print(f"  full training step (train()): {stats(full)}")
    print(f"  network step alone          : {stats(net)}")
    print(f"  data path alone             : {stats(data)}")
    print(f"steps/s: {1 / full_med:.2f} full, {1 / net_med:.2f} network alone (medians; "
          f"means {1 / full_mean:.2f}, {1 / net_mean:.2f}); {in_size}x{in_size} tiles/s "
          f"through the data path alone: {1 / data_med:.0f}")
    print(f"data path adds (full - net) / net = {share:+.1%} (median of paired differences; "
          f"{share_med:+.1%} from medians, {share_mean:+.1%} from means); "
          f"data / net = {data_med / net_med:.1%} on medians ({data_mean / net_mean:.1%} on means)")
    f_full, f_net, f_data = (float(np.median(faults[k])) for k in kinds)
    print(f"minor page faults per step (median): full {f_full:.0f}, network alone {f_net:.0f}, "
          f"data path alone {f_data:.0f}")
    if abs(f_full - f_net - f_data) > 5000:
        print("note: the sides page-fault very differently (glibc malloc trimming / mmap per "
              "step): the share says more about the allocator than about the data path; see --malloc")
    spikes = sum(int(t > 2.5 * m) for ts, m in ((full, full_med), (net, net_med)) for t in ts)
    if spikes:
        print(f"note: {spikes} of {2 * args.steps} steps took over 2.5x their median (CPU contention); "
              "the means are unreliable, the medians less so; --threads 1 or more --steps help")
    if first.step > 0 and not math.isfinite(first.loss):  # step 0: the score before training, no loss
        print("WARNING: the first training loss was not finite")
    verdict = "PASS" if share <= TARGET else "MISS"
    print(f"{verdict}: the data path adds {share:+.1%} to a training step (target <= {TARGET:.0%}; "
          f"direct data / net {data_med / net_med:.1%}); tile {in_size}, base {args.base_channels}, "
          f"{device.type}, {torch.get_num_threads()} threads")

if __name__ == "__main__":
    main()
