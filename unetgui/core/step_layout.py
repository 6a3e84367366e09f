"""Which memory layout makes a training step faster: measured on CPUs, not assumed.

Channels-last is faster for prediction on every CPU measured, but not for training: on a
2-core AMD EPYC without AVX-512 a fine-tuning step of the starter model (572 px tile)
took 1.06 s channels-last against 0.81 s in the usual layout, because the convolution
backward pass is slower there (``benchmarks/bench_training.py`` prints both layouts). Other CPUs
(those with AMX, for one) may well differ, so on a CPU both layouts are timed on the
run's own network and tile size, once per process, and the faster one is used. GPUs keep
channels-last, which their mixed-precision kernels prefer.
"""

from __future__ import annotations

import copy
import threading
import time

import torch

#: Timed passes per layout, after one untimed warm-up pass each (the first pass of a layout
#: sets up its kernels and is several times slower).
TIMED_PASSES = 2

#: ``TrainingConfig.memory_layout`` names (besides "auto") and their layouts.
LAYOUTS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}

_chosen: dict[tuple, torch.memory_format] = {}
_lock = threading.Lock()


def training_memory_format(net: torch.nn.Module, in_size: int, batch_size: int, device: torch.device,
                           choice: str = "auto", should_stop=None) -> torch.memory_format:
    """The memory layout training steps of ``net`` should use on ``device``.

    With ``choice`` "auto", on a CPU the first call for a network shape, tile size, batch
    size and thread count times both layouts (a few training passes on a copy of ``net``:
    its weights, batch-norm statistics and the random number streams are left as they
    were); later calls reuse the answer.

    Parameters
    ----------
    net : torch.nn.Module
        The network about to be trained; it needs a ``config`` with ``in_channels``
        (a :class:`unetgui.core.unet.UNet`).
    in_size : int
        The training tile's side, px (a valid input size).
    batch_size : int
        Tiles per step.
    device : torch.device
        Where training runs.
    choice : str
        ``TrainingConfig.memory_layout``: "auto", or "channels_last" / "contiguous" to
        use that one without timing.
    should_stop : callable or None
        Asked between timed passes; when it says True (the user stopped the run), the
        timing ends at once, channels-last is returned and nothing is cached.

    Returns
    -------
    torch.memory_format
        ``torch.channels_last`` or ``torch.contiguous_format``.
    """
    if choice != "auto":
        return LAYOUTS[choice]
    if device.type != "cpu":
        return torch.channels_last
    key = (repr(net.config), in_size, batch_size, torch.get_num_threads())
    with _lock:
        if key not in _chosen:
            seconds = step_seconds(net, in_size, batch_size, should_stop)
            if seconds is None:
                return torch.channels_last
            _chosen[key] = min(seconds, key=seconds.get)
        return _chosen[key]


def step_seconds(net: torch.nn.Module, in_size: int, batch_size: int,
                 should_stop=None) -> dict[torch.memory_format, float] | None:
    """The best time of a forward and backward pass of ``net`` in each layout, on the CPU.

    Parameters
    ----------
    net : torch.nn.Module
        A U-Net (with ``config.in_channels``); it is copied, not changed.
    in_size : int
        Tile side, px.
    batch_size : int
        Tiles per pass.
    should_stop : callable or None
        Asked before each pass; True ends the timing.

    Returns
    -------
    dict or None
        ``{torch.channels_last: s, torch.contiguous_format: s}``, the fastest of
        :data:`TIMED_PASSES` passes each, timed in turns; None when ``should_stop`` said so.
    """
    with torch.random.fork_rng(devices=[]):  # dropout draws here must not shift training's
        generator = torch.Generator().manual_seed(0)
        shape = (batch_size, net.config.in_channels, in_size, in_size)
        x = torch.randn(shape, generator=generator)
        layouts = (torch.channels_last, torch.contiguous_format)
        copies = {fmt: copy.deepcopy(net).cpu().to(memory_format=fmt).train() for fmt in layouts}
        inputs = {fmt: x.contiguous(memory_format=fmt) for fmt in layouts}
        best = {fmt: float("inf") for fmt in layouts}
        for timed in [False] + [True] * TIMED_PASSES:
            for fmt in layouts:
                if should_stop is not None and should_stop():
                    return None
                start = time.perf_counter()
                copies[fmt](inputs[fmt]).float().mean().backward()
                if timed:
                    best[fmt] = min(best[fmt], time.perf_counter() - start)
                copies[fmt].zero_grad(set_to_none=True)
    return best


def layout_name(layout: torch.memory_format) -> str:
    """The :data:`LAYOUTS` name of ``layout``, as a history entry records it."""
    return next(name for name, value in LAYOUTS.items() if value == layout)

