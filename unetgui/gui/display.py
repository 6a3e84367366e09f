"""Turning a (C, Y, X) plane into what the screen shows (pure numpy, no Qt).

Contrast is a pair of levels per channel; auto-contrast takes percentiles of a strided
subsample, so it costs the same on a 4096 x 4096 plane as on a 512 x 512 one.
"""

from __future__ import annotations

import numpy as np

COMPOSITE = -1  # the "channel" that shows every channel as a colour composite
CHANNEL_COLOURS = np.array(
    [(0, 255, 0), (255, 0, 255), (0, 255, 255), (255, 0, 0), (0, 0, 255), (255, 255, 0)], dtype=np.float32
)


def auto_levels(channel: np.ndarray, low: float = 0.5, high: float = 99.8) -> tuple[float, float]:
    """Percentile contrast of a (Y, X) channel, ignoring NaN; never an empty range."""
    step = max(1, int(np.sqrt(channel.size / 65536)))  # 256² samples or more: percentiles to ~0.1%
    sample = np.asarray(channel[::step, ::step], dtype=np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(sample, [low, high])
    if hi <= lo:
        hi = lo + 1.0
    return float(lo), float(hi)


def composite(plane: np.ndarray, levels: list[tuple[float, float]]) -> np.ndarray:
    """(C, Y, X) -> (Y, X, 3) uint8: each channel scaled by its levels and tinted.

    Three-channel RGB images keep their natural colours; other channel counts get
    green, magenta, cyan, ... as in Fiji's composite mode.
    """
    n = plane.shape[0]
    colours = np.eye(3, dtype=np.float32) * 255 if n == 3 else CHANNEL_COLOURS[np.arange(n) % len(CHANNEL_COLOURS)]
    out = np.zeros((*plane.shape[1:], 3), dtype=np.float32)
    for channel, (lo, hi), colour in zip(plane, levels, colours):
        scaled = np.clip((channel.astype(np.float32) - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
        out += scaled[..., None] * (colour / 255.0)
    return (np.clip(out, 0.0, 1.0) * 255).astype(np.uint8)


def heat_levels(values: np.ndarray) -> tuple[float, float]:
    """Levels for a heat map such as the weight map: 0 to its maximum (at least 1)."""
    top = float(np.nanmax(values)) if values.size else 1.0
    return 0.0, max(top, 1.0)


def heat_bytes(values: np.ndarray, levels: tuple[float, float]) -> np.ndarray:
    """A heat map as uint8 steps from ``levels[0]`` (0) to ``levels[1]`` (255), for a
    lookup-table image: rendering it costs no float work on the GUI thread.

    Parameters
    ----------
    values : (Y, X) float array
    levels : (low, high) mapped to 0 and 255

    Returns
    -------
    (Y, X) uint8
    """
    low, high = levels
    scaled = (np.asarray(values, dtype=np.float32) - low) * (255.0 / max(high - low, 1e-12))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def smoothed(values, weight: float = 0.9) -> np.ndarray:
    """An exponential moving average of a noisy curve (the per-step loss), debiased so
    its first points are not pulled towards 0 (TensorBoard's smoothing).

    Parameters
    ----------
    values : sequence of floats, one per step
    weight : how much of the running average each step keeps (0: no smoothing)

    Returns
    -------
    float64 array of the same length
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.empty_like(values)
    average = 0.0
    for i, value in enumerate(values):
        average = weight * average + (1 - weight) * value
        out[i] = average / (1 - weight ** (i + 1))
    return out
