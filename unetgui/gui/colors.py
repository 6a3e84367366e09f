"""Colour lookup tables for the overlay layers (256 RGBA entries, index 0 transparent)."""

from __future__ import annotations

import colorsys

import numpy as np


def label_lookup_table(seed_hue: float = 0.11) -> np.ndarray:
    """(256, 4) uint8: entry 0 transparent, 1..255 bright, well-separated colours.

    Hues step by the golden ratio so that neighbouring ids (often neighbouring cells) get
    very different colours; the canvas shows id ``k`` as entry ``k % 255 + 1``.
    """
    table = np.zeros((256, 4), dtype=np.uint8)
    golden = 0.618033988749895
    for i in range(1, 256):
        hue = (seed_hue + i * golden) % 1.0
        saturation = 0.65 + 0.35 * ((i * 7) % 3) / 2
        value = 0.85 + 0.15 * ((i * 5) % 2)
        r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
        table[i] = (int(r * 255), int(g * 255), int(b * 255), 255)
    return table


def overlay_lookup_table(rgb: tuple[int, int, int], alpha: int = 255) -> np.ndarray:
    """(256, 4) uint8: 0 transparent, every other index the colour ``rgb`` at ``alpha``."""
    table = np.zeros((256, 4), dtype=np.uint8)
    table[1:] = (*rgb, alpha)
    return table
