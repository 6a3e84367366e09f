"""Training-tile augmentation: elastic deformation, rotation, flips, gray values.

One training sample is an input tile of ``in_size`` x ``in_size`` pixels and the central
``out_size`` x ``out_size`` region that a valid-convolution U-Net predicts from it
(margin ``(in_size - out_size) // 2`` on each side). :func:`sample_tile` cuts such a tile
from one annotated plane and deforms the image, the class target, the weight map and the
ignore mask with the *same* geometric transform, as in Ronneberger et al. (2015):

- elastic deformation: random displacement vectors on a coarse ``grid`` x ``grid`` grid
  (paper: 3 x 3) drawn from a Gaussian with ``sigma`` px standard deviation (paper: 10),
  smoothed to a per-pixel field by bicubic interpolation;
- rotation by any angle and flips (about the tile's centre);
- shifts come from the caller's choice of tile centre;
- gray values: random gamma, contrast and brightness per channel, optional noise.

Tile position convention (continuous coordinates in which pixel ``(i, j)`` covers
``[i, i+1) x [j, j+1)``, so a plane spans ``[0, H] x [0, W]``): the output tile covers rows
``[r0, r0 + out_size)`` with ``r0 = floor(center_row - out_size / 2 + 0.5)`` (round half
up), the input tile rows ``[r0 - margin, r0 - margin + in_size)``; columns alike. With no
augmentation the tile is exactly that crop. Rotations and flips turn about the tile's own
centre (``r0 + out_size / 2``), so they never move the tile.

Interpolation: bicubic for the image, nearest for target and ignore mask (no new class
values appear), bilinear for the weight map (precomputed from the un-deformed labels).
Where the transformed tile reaches out of the plane, the plane is mirrored like the
paper's overlap-tile (``numpy.pad(mode="reflect")`` as in ``tiling.mirror_pad``, repeated
for tiles larger than the plane), so every output pixel always has a source and no pixel
has to be ignored for lack of data. Mirrored labels are used as they are (they are consistent with
the mirrored image).

Speed, so that sampling adds little to a training step: one sampling grid per tile
(affine part and elastic field composed) and one ``torch.nn.functional.grid_sample`` call
per interpolation mode, on a crop of the plane just large enough for that grid (the
labels only on the central output region). The coarse displacements are upsampled with
torch's bicubic kernel, applied separably as two small matrix products (same result as
``F.interpolate(mode="bicubic", align_corners=True)``, at a fraction of its cost). When
no geometric change is drawn the tile is cut by slicing, exactly and cheaply;
grid_sample itself reproduces integer positions only up to float32 rounding of its
normalised coordinates (about 1e-7 x crop size px).

The random generator is always passed in (``numpy.random.Generator``); no global random
state is used, so the same seed gives the same tile.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from unetgui.core.configs import AugmentConfig
from unetgui.core.errors import InvalidInputError

__all__ = [
    "AugmentConfig",
    "GrayChange",
    "TileTransform",
    "TrainingTile",
    "apply_transform",
    "draw_transform",
    "elastic_displacement",
    "gray_value_transform",
    "sample_tile",
]

# Bicubic reads pixels floor(x)-1 .. floor(x)+2; one more on each side absorbs float
# rounding of the sampling positions.
_CROP_MARGIN = 2




@dataclass(frozen=True, eq=False)
class GrayChange:
    """Gray-value change of one tile: per channel ``gamma``, ``contrast``, ``brightness``
    (each (C,) float32, or all None for none), then Gaussian noise of ``noise_std``
    drawn from a torch generator seeded with ``noise_seed``."""

    gamma: np.ndarray | None = None
    contrast: np.ndarray | None = None
    brightness: np.ndarray | None = None
    noise_std: float = 0.0
    noise_seed: int = 0


@dataclass(frozen=True, eq=False)
class TileTransform:
    """One drawn random transform, so that it can be replayed, shown, or forced in tests.

    The source position of tile pixel offset ``o = (row, col) - tile_centre`` is
    ``tile_centre + R(angle) @ F @ o + d``, with ``F = diag(+-1, +-1)`` from the flips,
    ``R(angle) = [[cos, sin], [-sin, cos]]`` (rows, cols) and ``d`` the elastic field.
    ``angle=90`` therefore gives ``np.rot90(crop)`` (counter-clockwise as displayed with
    row 0 at the top), ``flip_rows`` gives ``crop[::-1]``.
    """

    angle: float = 0.0  # degrees
    flip_rows: bool = False
    flip_cols: bool = False
    displacement: np.ndarray | None = None  # (2, g, g) float coarse vectors (rows, cols), px
    gray: GrayChange | None = None

    @property
    def moves_pixels(self) -> bool:
        """False when the geometric part is the identity (the tile is a plain crop).

        Returns
        -------
        bool
            True when the angle (mod 360), a flip or a nonzero displacement moves pixels.
        """
        return bool(
            self.angle % 360.0 != 0.0
            or self.flip_rows
            or self.flip_cols
            or (self.displacement is not None and np.any(self.displacement != 0))
        )


@dataclass
class TrainingTile:
    """One augmented training sample (all arrays new, none shares memory with the plane)."""

    image: np.ndarray  # (C, in_size, in_size) float32
    target: np.ndarray  # (out_size, out_size) int64 class ids
    weights: np.ndarray  # (out_size, out_size) float32, 0 where ignore
    ignore: np.ndarray  # (out_size, out_size) bool


# ----------------------------------------------------------------------------- public API


def sample_tile(
    image: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    ignore: np.ndarray | None,
    *,
    center: tuple[float, float],
    in_size: int,
    out_size: int,
    config: AugmentConfig,
    rng: np.random.Generator,
) -> TrainingTile:
    """Cut one randomly augmented training tile from a plane.

    The transform is drawn from ``rng`` per ``config``; the inputs are not changed.
    Raises InvalidInputError for shapes or sizes that do not fit.

    Parameters
    ----------
    image : ndarray
        (C, H, W) normalised image, any real dtype.
    target : ndarray
        (H, W) integer class ids (e.g. 0 background, 1 cell).
    weights : ndarray
        (H, W) float pixel weights of the loss.
    ignore : ndarray or None
        (H, W) bool, True = not annotated; None: nothing ignored.
    center : tuple of float
        The output tile's centre (row, col) in plane coordinates, within ``[0, H] x [0, W]``
        (see the module docstring for the exact convention).
    in_size : int
        Input tile side in px.
    out_size : int
        Output tile side in px; ``in_size - out_size`` is even and >= 0.
    config : AugmentConfig
        Which random changes to draw.
    rng : numpy.random.Generator
        The only source of randomness.

    Returns
    -------
    TrainingTile
        image (C, in_size, in_size) float32, target (out_size, out_size) int64, weights
        (out_size, out_size) float32 (0 where ignored), ignore (out_size, out_size) bool.
    """
    args = _check_inputs(image, target, weights, ignore, center, in_size, out_size)
    transform = draw_transform(config, rng, n_channels=args[0].shape[0])
    return _apply(*args, transform)


def draw_transform(
    config: AugmentConfig, rng: np.random.Generator, *, n_channels: int
) -> TileTransform:
    """Draw one random :class:`TileTransform` per ``config`` from ``rng``.

    Draw order (fixed, for reproducibility): angle, flips, coarse displacements, gray.

    Parameters
    ----------
    config : AugmentConfig
        Which changes to draw, and how strong.
    rng : numpy.random.Generator
        The source of randomness.
    n_channels : int
        Channels of the image (gray-value changes are drawn per channel).

    Returns
    -------
    TileTransform
        The drawn transform (its ``gray`` None when there is no gray-value change or noise).
    """
    angle = float(rng.uniform(0.0, 360.0)) if config.rotate else 0.0
    flip_rows = flip_cols = False
    if config.flip:
        flip_rows, flip_cols = (bool(f) for f in rng.random(2) < 0.5)
    displacement = None
    if config.elastic and config.elastic_sigma > 0:
        g = int(config.elastic_grid)
        displacement = rng.normal(0.0, config.elastic_sigma, size=(2, g, g))
    strength = config.gray_strength if config.gray else 0.0
    gray = _draw_gray(rng, n_channels, strength, config.noise_std)
    return TileTransform(angle, flip_rows, flip_cols, displacement, gray)


def apply_transform(
    image: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    ignore: np.ndarray | None,
    *,
    center: tuple[float, float],
    in_size: int,
    out_size: int,
    transform: TileTransform,
) -> TrainingTile:
    """Like :func:`sample_tile`, with a given transform instead of a random one.

    Parameters
    ----------
    image, target, weights, ignore, center, in_size, out_size
        As for :func:`sample_tile`.
    transform : TileTransform
        The transform to apply, e.g. from :func:`draw_transform`.

    Returns
    -------
    TrainingTile
        As for :func:`sample_tile`.
    """
    args = _check_inputs(image, target, weights, ignore, center, in_size, out_size)
    return _apply(*args, transform)


def elastic_displacement(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    sigma: float = 10.0,
    grid: int = 3,
) -> np.ndarray:
    """Smooth random displacement field as in the U-Net paper.

    Draws ``(2, grid, grid)`` vectors from N(0, sigma^2) px (one ``rng.normal`` call), puts
    them on a grid whose corner points sit on the corner pixels of ``shape``, and
    interpolates bicubically (torch's kernel, ``align_corners=True``) to every pixel.

    Parameters
    ----------
    shape : tuple of int
        (Y, X) of the field.
    rng : numpy.random.Generator
        The source of randomness.
    sigma : float
        Standard deviation of the coarse vectors in px (paper: 10).
    grid : int
        Coarse grid points per side, >= 2 (paper: 3).

    Returns
    -------
    ndarray
        (2, Y, X) float32: row and column displacement in px.
    """
    rows, cols = (operator.index(n) for n in shape)
    grid = operator.index(grid)
    if rows < 1 or cols < 1 or grid < 2 or not sigma >= 0:
        raise InvalidInputError(
            f"An elastic displacement field needs a shape of at least 1x1, a grid of at "
            f"least 2 and a sigma of 0 or more (got {shape}, {grid}, {sigma})."
        )
    coarse = rng.normal(0.0, sigma, size=(2, grid, grid))
    return _upsample_displacement(coarse, rows, cols).numpy()


def gray_value_transform(
    image: np.ndarray,
    rng: np.random.Generator,
    strength: float,
    *,
    noise_std: float = 0.0,
) -> np.ndarray:
    """Random gray-value change of a normalised image, per channel.

    Per channel: gamma ``exp(N(0, strength))`` applied within the channel's [min, max],
    contrast ``exp(N(0, strength))`` about the channel mean, then a brightness offset
    ``N(0, strength)`` (in normalised units), then optional Gaussian noise of ``noise_std``.

    Parameters
    ----------
    image : ndarray
        (C, Y, X) numbers (normalised); not changed.
    rng : numpy.random.Generator
        The source of randomness.
    strength : float
        Standard deviation (>= 0) of log-gamma, log-contrast and brightness.
    noise_std : float
        Standard deviation (>= 0) of added Gaussian noise.

    Returns
    -------
    ndarray
        A new (C, Y, X) float32 array; strength 0 and no noise return an unchanged copy.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.dtype.kind not in "fiu":
        raise InvalidInputError(
            f"Gray-value changes need a (channels, rows, columns) image, not shape {image.shape}."
        )
    if not (strength >= 0 and noise_std >= 0):
        raise InvalidInputError("Gray-value strength and noise must be 0 or more.")
    change = _draw_gray(rng, image.shape[0], float(strength), float(noise_std))
    out = torch.from_numpy(np.array(image, dtype=np.float32, copy=True))
    if change is not None:
        out = _apply_gray(out, change)
    return out.numpy()


# ----------------------------------------------------------------------------- internals


def _check_inputs(image, target, weights, ignore, center, in_size, out_size):
    """Validate and normalise the arguments; return them in a fixed order."""
    image, target, weights = np.asarray(image), np.asarray(target), np.asarray(weights)
    if image.ndim != 3 or 0 in image.shape or image.dtype.kind not in "fiu":
        raise InvalidInputError(
            f"The training image must be a non-empty (channels, rows, columns) array of "
            f"numbers, not shape {image.shape} of {image.dtype}."
        )
    plane = image.shape[1:]
    if target.shape != plane or target.dtype.kind not in "biu":
        raise InvalidInputError(
            f"The labels must be whole numbers of the image's size {plane}, "
            f"not shape {target.shape} of {target.dtype}."
        )
    if weights.shape != plane or weights.dtype.kind not in "fiu":
        raise InvalidInputError(
            f"The weight map must have the image's size {plane}, not {weights.shape}."
        )
    if ignore is not None:
        ignore = np.asarray(ignore)
        if ignore.shape != plane or ignore.dtype.kind not in "biu":
            raise InvalidInputError(
                f"The ignore mask must be a yes/no mask of the image's size {plane}, not {ignore.shape}."
            )
    try:
        in_size, out_size = operator.index(in_size), operator.index(out_size)
    except TypeError:
        raise InvalidInputError(
            f"Tile sizes must be whole numbers, not {in_size!r} and {out_size!r}."
        ) from None
    if out_size < 1 or in_size < out_size or (in_size - out_size) % 2:
        raise InvalidInputError(
            f"An input tile of {in_size} px cannot surround an output tile of {out_size} px: "
            f"the input must be at least as large and larger by an even number of pixels."
        )
    try:
        row, col = (float(c) for c in center)
    except (TypeError, ValueError):
        raise InvalidInputError(f"The tile centre must be (row, column), not {center!r}.") from None
    if not (0 <= row <= plane[0] and 0 <= col <= plane[1]):
        raise InvalidInputError(
            f"The tile centre ({row}, {col}) lies outside the {plane[0]}x{plane[1]} image."
        )
    r0 = math.floor(row - out_size / 2 + 0.5)
    c0 = math.floor(col - out_size / 2 + 0.5)
    return image, target, weights, ignore, r0, c0, in_size, out_size


def _apply(image, target, weights, ignore, r0, c0, in_size, out_size, transform):
    """Crop (identity geometry) or warp, then change gray values; see :func:`sample_tile`."""
    if transform.moves_pixels:
        tile = _warp(image, target, weights, ignore, r0, c0, in_size, out_size, transform)
    else:
        tile = _crop_tile(image, target, weights, ignore, r0, c0, in_size, out_size)
    if transform.gray is not None:
        tile.image = _apply_gray(torch.from_numpy(tile.image), transform.gray).numpy()
    return tile


def _reflect_index(start: int, stop: int, n: int) -> slice | np.ndarray:
    """Indices of plane positions ``start..stop-1`` on an axis of length ``n``, mirrored
    about the first and last pixel (``np.pad`` mode 'reflect', repeated as often as
    needed); a slice where no mirroring is needed."""
    if 0 <= start and stop <= n:
        return slice(start, stop)
    if n == 1:
        return np.zeros(stop - start, dtype=np.intp)
    period = 2 * n - 2
    idx = np.mod(np.arange(start, stop), period)
    return np.where(idx >= n, period - idx, idx)


def _take(a: np.ndarray, rows, cols) -> np.ndarray:
    """``a[..., rows, cols]`` for slices or index arrays (outer indexing); a view when
    both are slices. np.take per axis: faster than 2-D fancy indexing here."""
    if isinstance(rows, np.ndarray):
        a = np.take(a, rows, axis=-2)
        rows = slice(None)
    if isinstance(cols, np.ndarray):
        return np.take(a[..., rows, :], cols, axis=-1)
    return a[..., rows, cols]


def _crop(a: np.ndarray, origin: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Region ``origin .. origin+size`` of ``a`` (..., H, W), mirrored outside; may be a view."""
    rows = _reflect_index(origin[0], origin[0] + size[0], a.shape[-2])
    cols = _reflect_index(origin[1], origin[1] + size[1], a.shape[-1])
    return _take(a, rows, cols)


def _float32_tensor(a: np.ndarray) -> torch.Tensor:
    """Zero-copy float32 tensor of ``a`` where torch allows it, else a float32 copy."""
    if (
        a.dtype != np.float32
        or not a.flags.writeable
        or not a.dtype.isnative
        or any(s < 0 for s in a.strides)
    ):
        a = np.array(a, dtype=np.float32, copy=True)
    return torch.from_numpy(a)


def _label_stack(target: np.ndarray, ignore: np.ndarray | None) -> np.ndarray:
    """(2, h, w) float32 of target ids and ignore (0/1), for one nearest-neighbour pass."""
    if target.dtype.itemsize > 2 and target.size:
        lo, hi = int(target.min()), int(target.max())
        if max(-lo, hi) >= 2**24:
            raise InvalidInputError(
                f"Label values must be small class numbers, not as large as {max(-lo, hi)}."
            )
    out = np.empty((2,) + target.shape, dtype=np.float32)
    out[0] = target
    out[1] = 0 if ignore is None else ignore != 0
    return out


def _finish(image_t, labels_t, weights_t) -> TrainingTile:
    """Assemble a TrainingTile from (C,Y,X) image, (2,y,x) labels and (y,x) weights."""
    ignore = labels_t[1] > 0.5
    weights = torch.where(ignore, torch.zeros((), dtype=torch.float32), weights_t)
    return TrainingTile(
        image=image_t.numpy(),
        target=labels_t[0].to(torch.int64).numpy(),
        weights=weights.numpy(),
        ignore=ignore.numpy(),
    )


def _crop_tile(image, target, weights, ignore, r0, c0, in_size, out_size) -> TrainingTile:
    """The un-transformed tile: exact crops (mirrored outside the plane)."""
    m = (in_size - out_size) // 2
    img = np.array(_crop(image, (r0 - m, c0 - m), (in_size, in_size)), dtype=np.float32)
    box = ((r0, c0), (out_size, out_size))
    labels = _label_stack(_crop(target, *box), None if ignore is None else _crop(ignore, *box))
    w = np.array(_crop(weights, *box), dtype=np.float32)
    return _finish(torch.from_numpy(img), torch.from_numpy(labels), torch.from_numpy(w))


def _affine(transform: TileTransform) -> np.ndarray:
    """2x2 matrix (rows, cols) from output offsets to source offsets: R(angle) @ F."""
    a = math.radians(transform.angle % 360.0)
    cos, sin = math.cos(a), math.sin(a)
    rot = np.array([[cos, sin], [-sin, cos]])
    flip = np.diag([-1.0 if transform.flip_rows else 1.0, -1.0 if transform.flip_cols else 1.0])
    return rot @ flip


def _source_offsets(transform: TileTransform, in_size: int) -> torch.Tensor:
    """(2, in, in) float32 source offsets from the tile centre: planes (col, row), px.

    Kept as two contiguous planes (fast to reduce and scale); :func:`_grid` hands
    grid_sample a permuted view, which it reads without a copy.
    """
    a = _affine(transform)
    u = torch.arange(in_size, dtype=torch.float32) - (in_size - 1) / 2  # exact half-integers
    off = torch.empty((2, in_size, in_size), dtype=torch.float32)
    torch.add((a[1, 0] * u)[:, None], (a[1, 1] * u)[None, :], out=off[0])
    torch.add((a[0, 0] * u)[:, None], (a[0, 1] * u)[None, :], out=off[1])
    if transform.displacement is not None:
        off += _upsample_displacement(transform.displacement, in_size, in_size).flip(0)
    return off


def _crop_box(off: torch.Tensor, centre: tuple[float, float]):
    """Origin (row, col) and size (h, w) of the plane region that sampling at
    ``centre + off`` reads (bounding box plus the bicubic kernel's reach)."""
    lo = off.amin(dim=(1, 2)).tolist()
    hi = off.amax(dim=(1, 2)).tolist()
    cy, cx = centre
    oy = math.floor(cy + lo[1]) - _CROP_MARGIN
    ox = math.floor(cx + lo[0]) - _CROP_MARGIN
    h = math.floor(cy + hi[1]) + _CROP_MARGIN + 2 - oy
    w = math.floor(cx + hi[0]) + _CROP_MARGIN + 2 - ox
    return (oy, ox), (h, w)


def _grid(off: torch.Tensor, centre: tuple[float, float], origin, size) -> torch.Tensor:
    """(1, y, x, 2) grid_sample grid for positions ``centre + off`` in a crop at ``origin``
    of ``size``. align_corners=False: crop pixel ``x`` has coordinate ``(2x + 1) / W - 1``."""
    (oy, ox), (h, w) = origin, size
    cy, cx = centre
    scale = torch.tensor([2.0 / w, 2.0 / h], dtype=torch.float32).view(2, 1, 1)
    shift = torch.tensor(
        [(2.0 * (cx - ox) + 1.0) / w - 1.0, (2.0 * (cy - oy) + 1.0) / h - 1.0],
        dtype=torch.float32,
    ).view(2, 1, 1)
    return torch.addcmul(shift, off, scale).permute(1, 2, 0)[None]


def _sample(src: torch.Tensor, grid: torch.Tensor, mode: str) -> torch.Tensor:
    """(C, H, W) sampled at ``grid`` (1, y, x, 2) -> (C, y, x). The crop holds every pixel
    the kernel reads, so the padding mode never matters (border, as a safety net)."""
    out = F.grid_sample(src[None], grid, mode=mode, padding_mode="border", align_corners=False)
    return out[0]


def _warp(image, target, weights, ignore, r0, c0, in_size, out_size, transform) -> TrainingTile:
    """The transformed tile: one grid, one grid_sample per interpolation mode, each on a
    crop of the plane just large enough (the labels only for the central output region)."""
    m = (in_size - out_size) // 2
    off = _source_offsets(transform, in_size)
    half = (in_size - 1) / 2
    centre = (r0 - m + half, c0 - m + half)  # tile centre, pixel-centre plane coordinates
    box = _crop_box(off, centre)
    img = _sample(_float32_tensor(_crop(image, *box)), _grid(off, centre, *box), "bicubic")
    inner = off[:, m : m + out_size, m : m + out_size]
    box = _crop_box(inner, centre)
    grid = _grid(inner, centre, *box)
    ign = None if ignore is None else _crop(ignore, *box)
    labels = torch.from_numpy(_label_stack(_crop(target, *box), ign))
    lab = _sample(labels, grid, "nearest")
    wts = _sample(_float32_tensor(_crop(weights, *box)[None]), grid, "bilinear")[0]
    return _finish(img, lab, wts)


def _cubic_matrix(n: int, g: int) -> torch.Tensor:
    """(n, g) float32 weights of torch's bicubic upsampling (align_corners=True) of ``g``
    samples to ``n``, taken from F.interpolate itself so both agree exactly."""
    eye = torch.eye(g, dtype=torch.float32).reshape(1, g, g, 1)
    return F.interpolate(eye, size=(n, 1), mode="bicubic", align_corners=True)[0, :, :, 0].T


def _upsample_displacement(coarse: np.ndarray, rows: int, cols: int) -> torch.Tensor:
    """(2, g, g) coarse vectors -> (2, rows, cols) float32 field, bicubic, separably.

    Equals ``F.interpolate(coarse[None], (rows, cols), mode="bicubic",
    align_corners=True)[0]`` (bicubic is a tensor product of 1-D kernels) at a fraction of
    its cost: two small matrix products instead of 16 taps per pixel.
    """
    c = torch.as_tensor(np.asarray(coarse, dtype=np.float32))
    g = c.shape[-1]
    m_rows, m_cols = _cubic_matrix(rows, g), _cubic_matrix(cols, g).T
    out = torch.empty((2, rows, cols), dtype=torch.float32)
    for k in range(2):  # plain 2-D products: MKL's batched one threads even when tiny
        torch.matmul(m_rows @ c[k], m_cols, out=out[k])
    return out


def _draw_gray(
    rng: np.random.Generator, n_channels: int, strength: float, noise_std: float
) -> GrayChange | None:
    """Draw per-channel gray-value parameters (None when there is nothing to change)."""
    gamma = contrast = brightness = None
    if strength > 0:
        draws = rng.normal(0.0, strength, size=(3, n_channels))
        gamma = np.exp(draws[0]).astype(np.float32)
        contrast = np.exp(draws[1]).astype(np.float32)
        brightness = draws[2].astype(np.float32)
    seed = int(rng.integers(0, 2**63 - 1)) if noise_std > 0 else 0
    if gamma is None and noise_std == 0:
        return None
    return GrayChange(gamma, contrast, brightness, float(noise_std), seed)


def _apply_gray(image: torch.Tensor, change: GrayChange) -> torch.Tensor:
    """Apply ``change`` to a (C, Y, X) float32 tensor; returns a new tensor."""
    out = image
    if change.gamma is not None:
        shape = (-1, 1, 1)
        lo = out.amin(dim=(1, 2), keepdim=True)
        span = out.amax(dim=(1, 2), keepdim=True) - lo
        unit = ((out - lo) / span.clamp_min(1e-12)).clamp_(0.0, 1.0)
        for channel, gamma in zip(unit, change.gamma.tolist()):
            channel.pow_(gamma)  # scalar exponent: the fast vectorised path
        out = unit.mul_(span).add_(lo)
        mean = out.mean(dim=(1, 2), keepdim=True)
        out = (out - mean).mul_(torch.from_numpy(change.contrast).view(shape)).add_(mean)
        out = out.add_(torch.from_numpy(change.brightness).view(shape))
    if change.noise_std > 0:
        gen = torch.Generator().manual_seed(change.noise_seed)
        noise = torch.randn(out.shape, generator=gen, dtype=torch.float32)
        out = out + change.noise_std * noise
    return out
