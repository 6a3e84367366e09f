"""Synthetic fluorescence cells with exact instance labels, for tests and benchmarks.

Two independent steps, so a more realistic generator can replace either one:
:func:`place_cells` draws the labels (randomly oriented, slightly irregular ellipses,
some in touching clusters), :func:`render_cells` turns labels into a microscope-like
image (per-cell brightness, texture, blur, shot noise), and :func:`to_dtype` stores it.

Touching cells share a straight-ish boundary: where two cell shapes overlap, each pixel goes
to the cell with the smaller *power distance* ``a * b * (r**2 - 1)`` (``r`` the pixel's
normalised elliptic radius, ``a``, ``b`` the semi-axes). For circles that is the radical
axis of the two circles, a straight line through their intersection points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.segmentation import relabel_sequential

from unetgui.core.errors import InvalidInputError

_DTYPES = ("uint8", "uint16", "float32")
_GAP = 2.0  # px of clearance around a cell that is meant not to touch anything
_WOBBLE = 0.04  # amplitude of each boundary harmonic, relative to the radius
_TEXTURE = 0.15  # relative std of the texture inside cells
_WHITE = 0.6  # fraction of the integer range that intensity 1.0 maps to


@dataclass(frozen=True)
class SyntheticConfig:
    """What a synthetic image looks like; intensities are relative (brightest cell ~1)."""

    shape: tuple[int, int] = (256, 256)
    n_cells: int = 30  # target number of cells (some may be rejected if they don't fit)
    radius_range: tuple[float, float] = (8.0, 16.0)  # cell semi-axes in px
    touching: float = 0.5  # fraction of cells placed touching a neighbour (clusters)
    blur_sigma: float = 1.5
    noise: float = 0.05  # relative shot noise: std at intensity 1.0 (0 = none)
    background: float = 0.1
    dtype: str = "uint16"  # 'uint8', 'uint16', 'float32'

    def __post_init__(self) -> None:
        if len(self.shape) != 2 or min(self.shape) < 1:
            raise InvalidInputError(f"shape must be (rows, cols) >= 1, not {self.shape}.")
        low, high = self.radius_range
        if not 0 < low <= high:
            raise InvalidInputError(
                f"radius_range must satisfy 0 < low <= high, not {self.radius_range}."
            )
        if self.n_cells < 0 or not 0.0 <= self.touching <= 1.0:
            raise InvalidInputError("n_cells must be >= 0 and touching in [0, 1].")
        if min(self.blur_sigma, self.noise, self.background) < 0:
            raise InvalidInputError("blur_sigma, noise and background cannot be negative.")
        if self.dtype not in _DTYPES:
            raise InvalidInputError(
                f"dtype must be one of {', '.join(_DTYPES)}, not {self.dtype!r}."
            )


def synthetic_cells(
    config: SyntheticConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """-> image (Y, X) of ``config.dtype``, labels (Y, X) int32 (0 background, 1..N)."""
    labels = place_cells(config, rng)
    image = render_cells(labels, config, rng)
    return to_dtype(image, config.dtype), labels


def synthetic_stack(
    n_planes: int, config: SyntheticConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """-> image (P, Y, X) of ``config.dtype``, labels (P, Y, X) int32, ids per plane."""
    if n_planes < 1:
        raise InvalidInputError(f"A stack needs at least one plane, not {n_planes}.")
    planes = [synthetic_cells(config, rng) for _ in range(n_planes)]
    return np.stack([p[0] for p in planes]), np.stack([p[1] for p in planes])


@dataclass(frozen=True, eq=False)
class _Cell:
    """An ellipse with a wobbly boundary: centre (y, x), semi-axes a >= b, angle, harmonics."""

    y: float
    x: float
    a: float
    b: float
    angle: float
    wobble: np.ndarray  # (3, 2): amplitude and phase of boundary harmonics 2, 3, 4

    def radius_towards(self, theta: float) -> float:
        """Boundary distance from the centre in direction ``theta`` (ignoring wobble)."""
        t = theta - self.angle
        return self.a * self.b / np.hypot(self.b * np.cos(t), self.a * np.sin(t))

    def power(
        self, shape: tuple[int, int], margin: float = 0.0
    ) -> tuple[tuple[slice, slice], np.ndarray]:
        """-> (bounding box, float power distance in it); < 0 inside the (margin-grown) cell."""
        reach = self.a * (1 + 3 * _WOBBLE) + margin + 1
        y0, y1 = max(int(self.y - reach), 0), min(int(self.y + reach) + 2, shape[0])
        x0, x1 = max(int(self.x - reach), 0), min(int(self.x + reach) + 2, shape[1])
        dy = np.arange(y0, y1)[:, None] - self.y
        dx = np.arange(x0, x1)[None, :] - self.x
        c, s = np.cos(self.angle), np.sin(self.angle)
        u = (dx * c + dy * s) / (self.a + margin)
        v = (dy * c - dx * s) / (self.b + margin)
        phi = np.arctan2(v, u)
        k = np.arange(2, 5)[:, None, None]
        amplitude, phase = self.wobble[:, 0, None, None], self.wobble[:, 1, None, None]
        scale = 1 + (amplitude * np.cos(k * phi + phase)).sum(0)
        r2 = (u * u + v * v) / (scale * scale)
        return (slice(y0, y1), slice(x0, x1)), self.a * self.b * (r2 - 1)


def place_cells(config: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """-> (Y, X) int32 labels 1..N of up to ``config.n_cells`` cells, drawn by rejection.

    Each new cell is, with probability ``touching``, placed overlapping one earlier cell
    (its anchor) and split from it by power distance, so the two share a boundary; it may
    touch nothing else, may take at most 30 % of the anchor, and both must stay in one
    piece. Otherwise it must keep a 2 px clearance from every cell. Only the cell's
    bounding box is ever computed.
    """
    shape = config.shape
    labels = np.zeros(shape, dtype=np.int32)
    power = np.zeros(shape, dtype=np.float64)  # a pixel is claimed where a cell's power < this
    cells: list[_Cell] = []
    boxes: list[tuple[slice, slice]] = [(slice(0, 0), slice(0, 0))]  # per id; 0 unused
    areas: list[int] = [0]
    for _ in range(20 * config.n_cells):
        if len(cells) == config.n_cells:
            break
        touch = bool(cells) and rng.random() < config.touching
        anchor = int(rng.integers(1, len(cells) + 1)) if touch else 0
        cell = _random_cell(config, rng, cells[anchor - 1] if anchor else None)
        if cell is None:
            continue
        box, near = cell.power(shape, margin=_GAP)
        allowed = labels[box][near < 0]
        if np.any((allowed != 0) & (allowed != anchor)):
            continue
        box, p = cell.power(shape)
        mine = (p < 0) & (p < power[box])
        mine &= (labels[box] == 0) | (labels[box] == anchor)  # defensive: box edges
        if np.count_nonzero(mine) < 4 or ndimage.label(mine)[1] != 1:
            continue
        new = len(cells) + 1
        saved = labels[box].copy()
        labels[box][mine] = new
        if anchor:
            stolen = np.count_nonzero(mine & (saved == anchor))
            if not (0 < stolen <= 0.3 * areas[anchor] and _touches(labels[box], new, anchor)
                    and ndimage.label(labels[boxes[anchor]] == anchor)[1] == 1):
                labels[box] = saved
                continue
            areas[anchor] -= stolen
        cells.append(cell)
        boxes.append(box)
        areas.append(int(np.count_nonzero(mine)))
        power[box][mine] = p[mine]
    return relabel_sequential(labels)[0].astype(np.int32, copy=False)


def _random_cell(
    config: SyntheticConfig, rng: np.random.Generator, anchor: _Cell | None
) -> _Cell | None:
    """A random cell, placed freely or (``anchor`` given) overlapping the anchor a little."""
    low, high = config.radius_range
    a, b = np.sort(rng.uniform(low, high, size=2))[::-1]
    angle = rng.uniform(0, np.pi)
    wobble = np.column_stack([rng.uniform(0, _WOBBLE, 3), rng.uniform(0, 2 * np.pi, 3)])
    if anchor is None:
        y, x = rng.uniform(0, config.shape[0]), rng.uniform(0, config.shape[1])
    else:
        theta = rng.uniform(0, 2 * np.pi)
        proto = _Cell(0, 0, a, b, angle, wobble)
        reach = anchor.radius_towards(theta) + proto.radius_towards(theta + np.pi)
        d = reach * rng.uniform(0.75, 0.9)
        y, x = anchor.y + d * np.sin(theta), anchor.x + d * np.cos(theta)
        if not (0 <= y < config.shape[0] and 0 <= x < config.shape[1]):
            return None
    return _Cell(y, x, a, b, angle, wobble)


def _touches(labels: np.ndarray, a: int, b: int) -> bool:
    """Whether some pixel of cell ``a`` is 4-adjacent to a pixel of cell ``b``."""
    return bool(np.any(ndimage.binary_dilation(labels == a) & (labels == b)))


def render_cells(
    labels: np.ndarray, config: SyntheticConfig, rng: np.random.Generator
) -> np.ndarray:
    """(Y, X) int labels -> (Y, X) float32 relative intensity (cells ~0.4..1, plus background).

    Each cell gets its own brightness and a smooth texture; the optics blur it; shot
    noise follows Poisson statistics with ``1 / noise**2`` photons at intensity 1.
    """
    brightness = np.concatenate([[0.0], rng.uniform(0.4, 1.0, size=int(labels.max()))])
    texture = ndimage.gaussian_filter(rng.standard_normal(labels.shape), 2.0)
    texture *= _TEXTURE / max(float(texture.std()), 1e-12)
    image = config.background + brightness[labels] * (1 + texture)
    if config.blur_sigma > 0:
        image = ndimage.gaussian_filter(image, config.blur_sigma)
    if config.noise > 0:
        photons = 1.0 / config.noise**2
        image = rng.poisson(np.clip(image, 0, None) * photons) / photons
    return image.astype(np.float32)


def to_dtype(image: np.ndarray, dtype: str) -> np.ndarray:
    """(Y, X) float relative intensity -> new array of ``dtype``.

    Integers: intensity 1.0 maps to 60 % of the range, leaving head room for texture and
    noise (clipped at the top, rarely reached). float32 keeps relative units.
    """
    if dtype == "float32":
        return image.astype(np.float32)
    top = np.iinfo(dtype).max
    return np.clip(np.rint(image * (_WHITE * top)), 0, top).astype(dtype)
