"""Synthetic fluorescence images of nuclei and cells with exact instance labels.

Used by the tests, the benchmarks and the recipe of the bundled starter model
(``packaging/train_starter_model.py``). Three independent steps, so a more realistic
generator can replace any one: :func:`place_cells` draws the labels, :func:`render_cells`
turns them into a microscope image in relative intensity units, :func:`to_dtype` stores
it as an 8-bit, 16-bit or float image. :class:`SyntheticDomain` draws a varied
:class:`SyntheticConfig` per image (the spread of images a model is trained on).

What is modelled (every effect has one setting in :class:`SyntheticConfig`; the defaults
keep the plain images that the tests were written against, and switch the extra effects
off):

- **Shape**: randomly oriented ellipses whose radius is modulated by random harmonics 2, 3
  and 4 (``irregularity``): bean, kidney and slightly lobed outlines. ``radius_range``
  gives the semi-axes; with ``max_aspect`` set, a mean radius is drawn log-uniformly and
  the elongation separately (so a wide size range does not make needles).
- **Density and contact**: ``n_cells`` at random positions, a fraction ``touching`` of
  them placed against an earlier cell, which builds chains and clusters of touching
  cells. Touching cells share a straight-ish boundary: where two cell shapes overlap, each
  pixel goes to the cell with the smaller *power distance* ``a * b * (r**2 - 1)`` (``r``
  the pixel's normalised elliptic radius, ``a``, ``b`` the semi-axes). For circles that is
  the radical axis of the two circles, a straight line through their intersection points.
- **Brightness**: each cell its own brightness, uniform in ``brightness_range`` (the
  brightest ~1); a fraction ``dividing`` of the cells are in mitosis: condensed
  chromatin, 1.5-2.5 times brighter and much spottier.
- **Interior**: a dome profile (``edge_darkening``: a nucleus is thicker in the middle,
  so its rim is dimmer and two touching nuclei show a darker seam), a smooth mottled
  texture (``texture``, ``texture_scale``), bright chromatin granules (``chromatin``) and
  round nucleoli, faint to nearly black, 1-5 in a fraction ``nucleoli`` of the cells.
- **Cytoplasm**: a dim, unlabelled, irregular glow around each nucleus (``cytoplasm``:
  its brightness relative to the nucleus's rim), as when a nuclear marker also lights
  the cytoplasm a little. The labels stay the nuclei.
- **Background**: a constant level (``background``; the camera offset and the diffuse
  glow of the medium), a linear gradient across the field (``gradient``), cloudy
  autofluorescence with a few small unlabelled specks of debris (``autofluorescence``),
  and uneven illumination that dims cells and background towards one side and the corners
  (``vignetting``).
- **Optics and camera**: Gaussian blur (``blur_sigma``, the point spread function),
  Poisson shot noise (``noise``: relative std at intensity 1, i.e. ``1 / noise**2``
  photons), Gaussian read noise (``read_noise``), and the integer range actually used
  (``white``: the fraction of the 8- or 16-bit range that intensity 1 maps to; a 12-bit
  camera in a 16-bit file uses about 0.06; above 1, an over-exposed image in which the
  brightest cells are clipped flat).

Not modelled: out-of-focus cells, cell membranes, photobleaching, saturated
pixels beyond the odd one, and structure in the labels' meaning (a dividing cell is one
label).

Everything is drawn from the ``numpy.random.Generator`` passed in: the same seed gives
the same image.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.segmentation import relabel_sequential

from unetgui.core.errors import InvalidInputError

_DTYPES = ("uint8", "uint16", "float32")
_GAP = 2.0  # px of clearance around a cell that is meant not to touch anything
_WOBBLE = 0.04  # default amplitude of each boundary harmonic, relative to the radius
_TEXTURE = 0.15  # default relative std of the texture inside cells
_WHITE = 0.6  # default fraction of the integer range that intensity 1.0 maps to


@dataclass(frozen=True)
class SyntheticConfig:
    """What a synthetic image looks like; intensities are relative (brightest cell ~1).

    The settings after ``dtype`` add realism (see the module docstring); their defaults
    are off or equal to the plain generator's, so older callers get the same images.
    """

    shape: tuple[int, int] = (256, 256)
    n_cells: int = 30  # target number of cells (some may be rejected if they don't fit)
    radius_range: tuple[float, float] = (8.0, 16.0)  # cell semi-axes in px
    touching: float = 0.5  # fraction of cells placed touching a neighbour (clusters)
    blur_sigma: float = 1.5
    noise: float = 0.05  # relative shot noise: std at intensity 1.0 (0 = none)
    background: float = 0.1
    dtype: str = "uint16"  # 'uint8', 'uint16', 'float32'
    # -- shape
    irregularity: float = _WOBBLE  # max amplitude of each boundary harmonic (rel. radius)
    max_aspect: float | None = None  # None: semi-axes both uniform in radius_range; else
    #   mean radius log-uniform in radius_range and long/short axis uniform in [1, max_aspect]
    # -- cells
    brightness_range: tuple[float, float] = (0.4, 1.0)
    texture: float = _TEXTURE  # relative std of the smooth texture inside cells
    texture_scale: float = 2.0  # px, size of that texture's blobs
    edge_darkening: float = 0.0  # 0 flat cells; 1 dome profile falling to 0 at the rim
    chromatin: float = 0.0  # strength of bright chromatin granules (relative)
    nucleoli: float = 0.0  # fraction of cells with 1-5 dark nucleoli
    cytoplasm: float = 0.0  # unlabelled glow around nuclei, relative to the nucleus's rim
    dividing: float = 0.0  # fraction of cells in mitosis (bright, condensed)
    # -- background and illumination
    gradient: float = 0.0  # additive linear ramp across the field, peak-to-peak
    autofluorescence: float = 0.0  # amplitude of cloudy background and debris specks
    vignetting: float = 0.0  # illumination falls by this fraction at the far corner
    # -- camera
    read_noise: float = 0.0  # Gaussian camera noise, std in relative units
    white: float = _WHITE  # fraction of the integer range that intensity 1.0 maps to

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
        for name in ("irregularity", "texture", "chromatin", "gradient", "autofluorescence",
                     "read_noise"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InvalidInputError(f"{name} must be a number >= 0, not {value}.")
        for name in ("edge_darkening", "nucleoli", "dividing", "vignetting", "cytoplasm"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidInputError(f"{name} must be in [0, 1], not {value}.")
        if self.irregularity > 0.2:
            raise InvalidInputError(f"irregularity must be at most 0.2, not {self.irregularity}.")
        if self.max_aspect is not None and not 1.0 <= self.max_aspect <= 5.0:
            raise InvalidInputError(f"max_aspect must be in [1, 5], not {self.max_aspect}.")
        b_low, b_high = self.brightness_range
        if not 0 < b_low <= b_high:
            raise InvalidInputError(
                f"brightness_range must satisfy 0 < low <= high, not {self.brightness_range}."
            )
        if not self.texture_scale > 0:
            raise InvalidInputError(f"texture_scale must be > 0, not {self.texture_scale}.")
        if not 0 < self.white <= 2:
            raise InvalidInputError(f"white must be in (0, 2], not {self.white}.")


def synthetic_cells(
    config: SyntheticConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """-> image (Y, X) of ``config.dtype``, labels (Y, X) int32 (0 background, 1..N).

    Parameters
    ----------
    config : SyntheticConfig
        What the image looks like.
    rng : numpy.random.Generator
        The only source of randomness.

    Returns
    -------
    image : ndarray
        (Y, X) of ``config.dtype`` (uint8, uint16 or float32), Y, X = ``config.shape``.
    labels : ndarray
        (Y, X) int32 cell ids, 0 = background, cells 1..N.
    """
    labels = place_cells(config, rng)
    image = render_cells(labels, config, rng)
    return to_dtype(image, config.dtype, white=config.white), labels


def synthetic_stack(
    n_planes: int, config: SyntheticConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """-> image (P, Y, X) of ``config.dtype``, labels (P, Y, X) int32, ids per plane.

    Parameters
    ----------
    n_planes : int
        Planes P (>= 1), each drawn independently.
    config : SyntheticConfig
        What each plane looks like.
    rng : numpy.random.Generator
        The only source of randomness.

    Returns
    -------
    image : ndarray
        (P, Y, X) of ``config.dtype``.
    labels : ndarray
        (P, Y, X) int32, ids 1..N per plane.
    """
    if n_planes < 1:
        raise InvalidInputError(f"A stack needs at least one plane, not {n_planes}.")
    planes = [synthetic_cells(config, rng) for _ in range(n_planes)]
    return np.stack([p[0] for p in planes]), np.stack([p[1] for p in planes])


# --------------------------------------------------------------------------- domains


@dataclass(frozen=True)
class SyntheticDomain:
    """Ranges from which :meth:`draw` takes one :class:`SyntheticConfig` per image.

    Each ``(low, high)`` is sampled uniformly per image, except ``diameter`` and ``noise``
    (log-uniform). ``diameter`` is the typical cell diameter of an image in px; its cells
    vary by ``size_spread`` (relative) around it. ``coverage`` is the fraction of the
    image meant to be covered by cells (it sets ``n_cells``; crowded images reach less,
    as cells that do not fit are dropped). ``shape`` None draws a square side in
    ``side``, at least ``min_diameters`` typical diameters. The defaults are the spread of
    images the bundled starter model is trained on: nuclei 8 to 80 px across, sparse to
    crowded, 8-bit, 16-bit (full range or 12-bit camera) and float, with a cytoplasmic
    glow around the nuclei of up to 45 % of their rim brightness (real stains leak into
    the cytoplasm; a model that never saw it segments nucleus and glow as one cell), and
    integer images exposed up to 1.4x the range, so the brightest nuclei saturate and their
    dark nucleoli stand out as holes (as in many real time-lapses).
    """

    shape: tuple[int, int] | None = None
    side: tuple[int, int] = (256, 448)
    min_diameters: float = 5.0
    diameter: tuple[float, float] = (11.0, 62.0)
    size_spread: tuple[float, float] = (0.1, 0.3)
    max_aspect: tuple[float, float] = (1.0, 1.8)
    irregularity: tuple[float, float] = (0.01, 0.07)
    coverage: tuple[float, float] = (0.03, 0.45)
    touching: tuple[float, float] = (0.0, 0.8)
    brightness_low: tuple[float, float] = (0.35, 0.9)  # brightness_range = (this, 1)
    texture: tuple[float, float] = (0.03, 0.2)
    texture_scale: tuple[float, float] = (1.0, 4.0)
    edge_darkening: tuple[float, float] = (0.0, 0.7)
    chromatin: tuple[float, float] = (0.0, 0.5)
    nucleoli: tuple[float, float] = (0.0, 0.8)
    cytoplasm: tuple[float, float] = (0.0, 0.45)
    dividing: tuple[float, float] = (0.0, 0.08)
    background: tuple[float, float] = (0.02, 0.25)
    gradient: tuple[float, float] = (0.0, 0.15)
    autofluorescence: tuple[float, float] = (0.0, 0.1)
    vignetting: tuple[float, float] = (0.0, 0.3)
    blur_sigma: tuple[float, float] = (0.6, 2.2)
    noise: tuple[float, float] = (0.01, 0.1)
    read_noise: tuple[float, float] = (0.0, 0.02)
    dtypes: tuple[str, ...] = ("uint8", "uint16", "uint16", "float32")
    white_uint8: tuple[float, float] = (0.25, 1.4)  # > 1 over-exposes: the brightest cells clip
    white_uint16: tuple[float, float] = (0.03, 1.4)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in ("shape", "dtypes", "min_diameters"):
                continue
            if len(value) != 2 or not value[0] <= value[1]:
                raise InvalidInputError(f"{field.name} must be a (low, high) range, not {value}.")
        if not self.dtypes or any(d not in _DTYPES for d in self.dtypes):
            raise InvalidInputError(f"dtypes must be among {', '.join(_DTYPES)}, not {self.dtypes}.")
        if min(self.diameter) <= 0 or min(self.side) < 1:
            raise InvalidInputError("diameter and side must be positive.")

    def to_dict(self) -> dict:
        """The ranges as a plain dict, e.g. to record in a model's training recipe.

        Returns
        -------
        dict
            One entry per field.
        """
        return dataclasses.asdict(self)

    def draw(self, rng: np.random.Generator) -> SyntheticConfig:
        """One image's settings, drawn from these ranges with ``rng``.

        Parameters
        ----------
        rng : numpy.random.Generator
            The source of randomness.

        Returns
        -------
        SyntheticConfig
            The drawn settings.
        """

        def uniform(pair):
            return float(rng.uniform(pair[0], pair[1]))

        def log_uniform(pair):
            return float(np.exp(rng.uniform(np.log(pair[0]), np.log(pair[1]))))

        diameter = log_uniform(self.diameter)
        if self.shape is None:
            side = max(uniform(self.side), self.min_diameters * diameter)
            side = int(min(round(side / 16) * 16, max(self.side[1], 16)))
            shape = (side, side)
        else:
            shape = tuple(self.shape)
        spread = uniform(self.size_spread)
        radius = diameter / 2
        radius_range = (radius * (1 - spread), radius * (1 + spread))
        coverage = uniform(self.coverage)
        n_cells = int(round(coverage * shape[0] * shape[1] / (np.pi * radius**2)))
        dtype = self.dtypes[int(rng.integers(len(self.dtypes)))]
        white = {"uint8": uniform(self.white_uint8), "uint16": log_uniform(self.white_uint16)}.get(
            dtype, _WHITE)
        config = SyntheticConfig(
            shape=shape,
            n_cells=max(n_cells, 1),
            radius_range=radius_range,
            touching=uniform(self.touching),
            blur_sigma=uniform(self.blur_sigma),
            noise=log_uniform(self.noise),
            background=uniform(self.background),
            dtype=dtype,
            irregularity=uniform(self.irregularity),
            max_aspect=uniform(self.max_aspect),
            brightness_range=(uniform(self.brightness_low), 1.0),
            texture=uniform(self.texture),
            texture_scale=uniform(self.texture_scale),
            edge_darkening=uniform(self.edge_darkening),
            chromatin=uniform(self.chromatin),
            nucleoli=uniform(self.nucleoli),
            dividing=uniform(self.dividing),
            gradient=uniform(self.gradient),
            autofluorescence=uniform(self.autofluorescence),
            vignetting=uniform(self.vignetting),
            read_noise=uniform(self.read_noise),
            white=white,
        )
        if self.cytoplasm[1] > 0:  # drawn last and only when on: older draws stay as they were
            config = dataclasses.replace(config, cytoplasm=uniform(self.cytoplasm))
        return config


def domain_images(
    domain: SyntheticDomain, seeds, *, with_configs: bool = False
) -> list[tuple[np.ndarray, np.ndarray]] | list[tuple[np.ndarray, np.ndarray, SyntheticConfig]]:
    """One image per seed: ``np.random.default_rng(seed)`` draws its config, then the image.

    Sizes differ between images unless ``domain.shape`` is set. Each image depends on its
    own seed only, so disjoint seed ranges give disjoint data sets.

    Parameters
    ----------
    domain : SyntheticDomain
        The ranges the settings are drawn from.
    seeds : iterable
        One seed per image, anything ``np.random.default_rng`` takes (e.g. ``[1, k]``).
    with_configs : bool
        Also return each image's :class:`SyntheticConfig`.

    Returns
    -------
    list of tuple
        ``(image (Y, X), labels (Y, X) int32)`` per seed, or ``(image, labels, config)``.
    """
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        config = domain.draw(rng)
        image, labels = synthetic_cells(config, rng)
        out.append((image, labels, config) if with_configs else (image, labels))
    return out


# --------------------------------------------------------------------------- placement


@dataclass(frozen=True, eq=False)
class _Cell:
    """An ellipse with a wobbly boundary: centre (y, x), semi-axes a >= b, angle, harmonics."""

    y: float
    x: float
    a: float
    b: float
    angle: float
    wobble: np.ndarray  # (3, 2): amplitude and phase of boundary harmonics 2, 3, 4
    irregularity: float = _WOBBLE  # the largest amplitude ``wobble`` may hold

    def radius_towards(self, theta: float) -> float:
        """Boundary distance from the centre in direction ``theta`` (ignoring wobble)."""
        t = theta - self.angle
        return self.a * self.b / np.hypot(self.b * np.cos(t), self.a * np.sin(t))

    def power(
        self, shape: tuple[int, int], margin: float = 0.0
    ) -> tuple[tuple[slice, slice], np.ndarray]:
        """-> (bounding box, float power distance in it); < 0 inside the (margin-grown) cell."""
        reach = self.a * (1 + 3 * self.irregularity) + margin + 1
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

    Parameters
    ----------
    config : SyntheticConfig
        Shape, number, size, irregularity and contact of the cells.
    rng : numpy.random.Generator
        The source of randomness.

    Returns
    -------
    ndarray
        (Y, X) int32, 0 = background, cells numbered 1..N consecutively.
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
    if config.max_aspect is None:
        a, b = np.sort(rng.uniform(low, high, size=2))[::-1]
    else:
        radius = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        aspect = float(rng.uniform(1.0, config.max_aspect))
        a, b = radius * np.sqrt(aspect), radius / np.sqrt(aspect)
    angle = rng.uniform(0, np.pi)
    wobble = np.column_stack(
        [rng.uniform(0, config.irregularity, 3), rng.uniform(0, 2 * np.pi, 3)]
    )
    if anchor is None:
        y, x = rng.uniform(0, config.shape[0]), rng.uniform(0, config.shape[1])
    else:
        theta = rng.uniform(0, 2 * np.pi)
        proto = _Cell(0, 0, a, b, angle, wobble, config.irregularity)
        reach = anchor.radius_towards(theta) + proto.radius_towards(theta + np.pi)
        d = reach * rng.uniform(0.75, 0.9)
        y, x = anchor.y + d * np.sin(theta), anchor.x + d * np.cos(theta)
        if not (0 <= y < config.shape[0] and 0 <= x < config.shape[1]):
            return None
    return _Cell(y, x, a, b, angle, wobble, config.irregularity)


def _touches(labels: np.ndarray, a: int, b: int) -> bool:
    """Whether some pixel of cell ``a`` is 4-adjacent to a pixel of cell ``b``."""
    return bool(np.any(ndimage.binary_dilation(labels == a) & (labels == b)))


# --------------------------------------------------------------------------- rendering


def render_cells(
    labels: np.ndarray, config: SyntheticConfig, rng: np.random.Generator
) -> np.ndarray:
    """(Y, X) int labels -> (Y, X) float32 relative intensity (cells ~0.4..1, plus background).

    Each cell gets its own brightness and a smooth texture (and, where the config asks,
    a dome profile, chromatin granules, nucleoli, mitotic condensation, an unlabelled
    cytoplasmic glow around it); the background its level, gradient and autofluorescence;
    the illumination may be uneven; the optics blur it; shot noise follows Poisson
    statistics with ``1 / noise**2`` photons at intensity 1, read noise is Gaussian.
    Extra effects that are off draw no random numbers.

    Parameters
    ----------
    labels : ndarray
        (Y, X) integer cell ids 0..N (from :func:`place_cells`).
    config : SyntheticConfig
        The effects and their strengths.
    rng : numpy.random.Generator
        The source of randomness.

    Returns
    -------
    ndarray
        (Y, X) float32 in relative units (brightest cell ~1).
    """
    n = int(labels.max())
    low, high = config.brightness_range
    brightness = np.concatenate([[0.0], rng.uniform(low, high, size=n)])
    texture = ndimage.gaussian_filter(rng.standard_normal(labels.shape), config.texture_scale)
    texture *= config.texture / max(float(texture.std()), 1e-12)
    granules = np.full(n + 1, config.chromatin)  # per-cell strength of chromatin granules
    mitotic = np.zeros(n + 1, dtype=bool)
    if config.dividing > 0 and n:
        mitotic[1:] = rng.random(n) < config.dividing
        brightness[mitotic] *= rng.uniform(1.5, 2.5, size=int(mitotic.sum()))
        granules[mitotic] = 4 * max(config.chromatin, 0.3)  # condensed: coarse bright clumps
    cells = brightness[labels] * (1 + texture)
    rim = brightness.copy()  # per-cell intensity at the edge
    if n and (config.edge_darkening > 0 or config.nucleoli > 0):
        depth, deepest = _depth(labels)
        if config.edge_darkening > 0:
            strength = np.where(mitotic, 0.3, 1.0) * config.edge_darkening
            cells *= _dome(depth, deepest[labels], strength[labels])
            rim *= 1 - strength
        if config.nucleoli > 0:
            cells *= _nucleoli(labels, depth, deepest, config.nucleoli, mitotic, rng)
    if n and granules.any():
        cells *= 1 + granules[labels] * _granules(labels.shape, rng)
    if n and config.cytoplasm > 0:
        cells += _cytoplasm(labels, config.cytoplasm * rim, rng)
    image = config.background + cells
    if config.gradient > 0:
        image = image + config.gradient * _ramp(labels.shape, rng)
    if config.autofluorescence > 0:
        image = image + config.autofluorescence * _autofluorescence(labels.shape, rng)
    if config.vignetting > 0:
        image = image * (1 - config.vignetting * _falloff(labels.shape, rng))
    if config.blur_sigma > 0:
        image = ndimage.gaussian_filter(image, config.blur_sigma)
    if config.noise > 0:
        photons = 1.0 / config.noise**2
        image = rng.poisson(np.clip(image, 0, None) * photons) / photons
    if config.read_noise > 0:
        image = image + rng.normal(0.0, config.read_noise, size=labels.shape)
    return image.astype(np.float32)


def _depth(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-> (distance of each cell pixel to its cell's edge (Y, X), largest per id (N + 1,)).

    A cell's edge is background, the image border or a different cell (the contact line
    of touching cells counts as edge for both).
    """
    inner = labels > 0
    contact = np.zeros_like(inner)
    for axis in (0, 1):
        differ = np.diff(labels, axis=axis) != 0
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        contact[tuple(lo)] |= differ
        contact[tuple(hi)] |= differ
    depth = ndimage.distance_transform_edt(np.pad(inner & ~contact, 1))[1:-1, 1:-1] + 0.5
    depth[~inner] = 0.0
    deepest = np.zeros(int(labels.max()) + 1)
    np.maximum.at(deepest, labels[inner], depth[inner])
    return depth, deepest


def _dome(depth: np.ndarray, deepest: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Projected thickness of a dome: 1 in the middle, 1 - strength at the rim."""
    s = np.clip(depth / np.maximum(deepest, 1.0), 0.0, 1.0)
    return 1 - strength + strength * np.sqrt(s * (2 - s))


def _nucleoli(labels, depth, deepest, fraction, mitotic, rng) -> np.ndarray:
    """(Y, X) factor <= 1: 1-5 dark round spots, faint to nearly black, away from the rim
    of a ``fraction`` of the cells (not mitotic ones, nor cells too small to show any).

    Real nucleoli are often the darkest thing in a nucleus, several to a cell; in a
    saturated nucleus they are the only structure left, and a network that never saw
    that cuts the nucleus along the dark lines between them.
    """
    factor = np.ones(labels.shape)
    has = np.concatenate([[False], rng.random(len(deepest) - 1) < fraction])
    has &= ~mitotic & (deepest >= 4)
    boxes = ndimage.find_objects(labels)
    for cell in np.flatnonzero(has):
        box = boxes[cell - 1]
        rows, cols = np.nonzero((labels[box] == cell) & (depth[box] >= 0.35 * deepest[cell]))
        for _ in range(int(rng.integers(1, 6))):
            k = int(rng.integers(len(rows)))
            radius = deepest[cell] * rng.uniform(0.1, 0.28)
            _stamp_spot(factor, rows[k] + box[0].start, cols[k] + box[1].start, radius,
                        -rng.uniform(0.3, 0.9))
    return np.clip(factor, 0.1, 1.0)


def _stamp_spot(field: np.ndarray, row: int, col: int, radius: float, amount: float) -> None:
    """Add a Gaussian spot (sigma ``radius``, peak ``amount``) to ``field`` in place."""
    reach = int(3 * radius) + 1
    y0, y1 = max(row - reach, 0), min(row + reach + 1, field.shape[0])
    x0, x1 = max(col - reach, 0), min(col + reach + 1, field.shape[1])
    dy = np.arange(y0, y1)[:, None] - row
    dx = np.arange(x0, x1)[None, :] - col
    field[y0:y1, x0:x1] += amount * np.exp(-(dy * dy + dx * dx) / (2 * radius * radius))


def _granules(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(Y, X) >= 0, mean ~0.1: sparse bright spots ~2 px across (chromatin granules)."""
    g = ndimage.gaussian_filter(rng.standard_normal(shape), 0.8)
    g /= max(float(g.std()), 1e-12)
    return np.clip(g - 1.0, 0.0, None)


def _ramp(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(Y, X) linear ramp from 0 to 1 across the image in a random direction."""
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.ogrid[: shape[0], : shape[1]]
    ramp = np.sin(angle) * y / max(shape[0], 1) + np.cos(angle) * x / max(shape[1], 1)
    ramp = ramp - ramp.min()
    return ramp / max(float(ramp.max()), 1e-12)


def _falloff(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(Y, X) in [0, 1]: 0 at a random optical centre near the middle, 1 at the far corner."""
    cy, cx = rng.uniform(0.3, 0.7) * shape[0], rng.uniform(0.3, 0.7) * shape[1]
    y, x = np.ogrid[: shape[0], : shape[1]]
    r2 = ((y - cy) / max(shape[0], 1)) ** 2 + ((x - cx) / max(shape[1], 1)) ** 2
    return r2 / max(float(r2.max()), 1e-12)


def _cytoplasm(labels: np.ndarray, level: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(Y, X) >= 0 on background pixels: a glow of ``level[id]`` next to each cell, fading
    to 0 over 0.4-1.2 cell radii, with an irregular, lumpy outline (not labelled)."""
    distance, (rows, cols) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    nearest = labels[rows, cols]
    n = len(level) - 1
    radius = np.sqrt(np.bincount(labels.ravel(), minlength=n + 1) / np.pi)
    reach = radius * rng.uniform(0.4, 1.2, size=n + 1)
    lumpy = 1 + 0.35 * _smooth_noise(labels.shape, rng, 8)
    s = distance / np.maximum(reach[nearest] * np.clip(lumpy, 0.3, None), 1.0)
    glow = level[nearest] * np.clip(1 - s, 0.0, 1.0) ** 0.7
    glow[labels > 0] = 0.0
    return glow


def _smooth_noise(shape: tuple[int, int], rng: np.random.Generator, cell: int) -> np.ndarray:
    """(Y, X) zero-mean, unit-std noise, smooth over ~``cell`` px (made coarse, then zoomed)."""
    coarse = (max(shape[0] // cell, 2), max(shape[1] // cell, 2))
    field = ndimage.gaussian_filter(rng.standard_normal(coarse), 1.0)
    field = ndimage.zoom(field, (shape[0] / coarse[0], shape[1] / coarse[1]), order=1)
    field = np.pad(field[: shape[0], : shape[1]],
                   [(0, max(shape[0] - field.shape[0], 0)), (0, max(shape[1] - field.shape[1], 0))],
                   mode="edge")
    field -= field.mean()
    return field / max(float(field.std()), 1e-12)


def _autofluorescence(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(Y, X) >= 0, ~[0, 1]: cloudy structure ~50 px across plus a few debris specks."""
    coarse = (max(shape[0] // 16, 2), max(shape[1] // 16, 2))
    cloud = ndimage.gaussian_filter(rng.standard_normal(coarse), 1.5)
    cloud = ndimage.zoom(cloud, (shape[0] / coarse[0], shape[1] / coarse[1]), order=1)
    cloud = cloud[: shape[0], : shape[1]]
    if cloud.shape != shape:  # zoom rounds; pad the odd missing row or column
        cloud = np.pad(cloud, [(0, shape[0] - cloud.shape[0]), (0, shape[1] - cloud.shape[1])],
                       mode="edge")
    cloud = np.clip(cloud / max(float(cloud.std()), 1e-12) * 0.35 + 0.5, 0.0, None)
    n_specks = int(rng.poisson(shape[0] * shape[1] / 40000))
    for _ in range(n_specks):
        _stamp_spot(cloud, int(rng.integers(shape[0])), int(rng.integers(shape[1])),
                    rng.uniform(0.7, 1.8), rng.uniform(1.0, 4.0))
    return cloud


def to_dtype(image: np.ndarray, dtype: str, *, white: float = _WHITE) -> np.ndarray:
    """(Y, X) float relative intensity -> new array of ``dtype``.

    Integers: intensity 1.0 maps to ``white`` (default 60 %) of the range, leaving head
    room for texture and noise (clipped at the top, rarely reached). float32 keeps
    relative units.

    Parameters
    ----------
    image : ndarray
        (Y, X) float relative intensity.
    dtype : str
        ``"uint8"``, ``"uint16"`` or ``"float32"``.
    white : float
        Fraction of the integer range that intensity 1.0 maps to.

    Returns
    -------
    ndarray
        (Y, X) of ``dtype``, rounded and clipped to its range for integers.
    """
    if dtype == "float32":
        return image.astype(np.float32)
    top = np.iinfo(dtype).max
    return np.clip(np.rint(image * (white * top)), 0, top).astype(dtype)
