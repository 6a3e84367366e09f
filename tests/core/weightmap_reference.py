"""Brute-force references for unetgui.core.weightmap (tests and benchmarks share them).

Deliberately the slow, obvious way: one full-image Euclidean distance transform per
cell, then the two smallest values per pixel by sorting. No margins, no cut-offs.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def reference_nearest_two(labels: np.ndarray, chunk: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(d1, d2), each (Y, X) float64: distance to the nearest / second-nearest cell.

    +inf where the image has fewer than one / two cells. Cells are processed ``chunk`` at
    a time (sorted together with the running two smallest) to bound memory.
    """
    shape = labels.shape
    best = np.full((2,) + shape, np.inf)
    ids = [i for i in np.unique(labels) if i != 0]
    for start in range(0, len(ids), chunk):
        maps = [ndi.distance_transform_edt(labels != i) for i in ids[start : start + chunk]]
        stack = np.concatenate([best, np.stack(maps)])
        best = np.sort(stack, axis=0)[:2]
    return best[0], best[1]


def reference_border_weights(
    labels: np.ndarray, w0: float = 10.0, sigma: float = 5.0
) -> np.ndarray:
    """w0 * exp(-(d1 + d2)^2 / (2 sigma^2)) on background pixels, 0 on cells; float64."""
    d1, d2 = reference_nearest_two(labels)
    term = w0 * np.exp(-((d1 + d2) ** 2) / (2.0 * sigma**2))
    return np.where(labels == 0, term, 0.0)


def reference_falk2019(
    labels: np.ndarray, v_bal=0.1, lam=50.0, sigma_sep=6.0, sigma_1=10.0
) -> np.ndarray:
    """The 2019 plugin's weights for labels used as given (gaps already inserted); float64."""
    d1, d2 = reference_nearest_two(labels)
    background = (
        v_bal
        + lam * np.exp(-((d1 + d2) ** 2) / (2.0 * sigma_sep**2))
        + (1.0 - v_bal) * np.exp(-(d1**2) / (2.0 * sigma_1**2))
    )
    return np.where(labels == 0, background, 1.0)
