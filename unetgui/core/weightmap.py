"""Training weight maps: separation gaps, class balance and the border term of U-Net.

Ronneberger et al. (2015) train with a pixel-wise weighted cross-entropy. The weight map
for one annotated plane is

    w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))**2 / (2 * sigma**2))

where w_c balances the two classes and d1, d2 are the distances to the nearest and the
second-nearest cell. Touching cells are first split by thin background gaps, so the
network learns to draw those gaps and touching cells come out as separate objects.
Falk et al. (2019) use a variant (:func:`weight_map_falk2019`).

Conventions (all functions): a label image is a 2-D integer array (rows, columns),
0 = background, any positive id = one cell; ids need not be consecutive. Masks are bool
(or integer, nonzero = True) arrays of the same shape. Inputs are never modified; every
function returns new arrays.

Speed: d1 and d2 come from one small distance transform per cell, restricted to the
cell's bounding box grown by a margin m = ceil(sigma * sqrt(2 ln(w0 / eps))), never one
full-image transform per cell (``benchmarks/bench_weightmap.py`` compares the two).
Inside that reach the distances are exact; a cell farther than m away cannot change the
border term by more than eps, so such distances count as +inf and the term there is
written as exactly 0.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from unetgui.core.errors import InvalidInputError

__all__ = [
    "GAP_WIDTH_FALK2019",
    "GAP_WIDTH_UNET2015",
    "border_margin",
    "border_weights",
    "class_balance_weights",
    "insert_separation_gaps",
    "separation_borders",
    "training_targets",
    "update_border_weights_region",
    "weight_map",
    "weight_map_falk2019",
]

#: Gap width used by each weighting scheme: the 2015 paper draws gaps with morphological
#: operations (both touching cells give up their contact pixels, ~2 px); the 2019 plugin
#: inserts 1-pixel gaps.
GAP_WIDTH_UNET2015 = 2
GAP_WIDTH_FALK2019 = 1

# The four "forward" neighbour pairs of the 8-neighbourhood: (pixel, neighbour) slices
# for the east, south, south-east and south-west neighbours.
_NEIGHBOUR_PAIRS = (
    ((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
    ((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
    ((slice(None, -1), slice(None, -1)), (slice(1, None), slice(1, None))),
    ((slice(None, -1), slice(1, None)), (slice(1, None), slice(None, -1))),
)


# --------------------------------------------------------------------------- validation


def _as_labels(labels) -> np.ndarray:
    """Check a label image and return it with small ids (int32/intp, max id <= a bound).

    Ids are kept when they are small enough for ``find_objects``/``bincount`` tables;
    huge ids (e.g. 10**9) are renumbered 1..N in the same order.
    """
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise InvalidInputError(
            f"The label image must be 2-D (rows, columns); it has shape {arr.shape}."
        )
    if arr.dtype == bool:
        raise InvalidInputError(
            "The label image is a yes/no mask, not one number per cell; number the cells "
            "first (for example with skimage.measure.label) so touching cells differ."
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(
            f"The label image must hold whole numbers (cell ids); it holds {arr.dtype}."
        )
    if arr.size == 0:
        raise InvalidInputError("The label image is empty (it has no pixels).")
    if np.issubdtype(arr.dtype, np.signedinteger) and arr.min() < 0:
        raise InvalidInputError("The label image has negative ids; use 0 for background.")
    top = int(arr.max())
    if top <= max(arr.size, 1 << 16) and top < 2**31:
        return arr.astype(np.int32, copy=False)
    ids, inverse = np.unique(arr, return_inverse=True)
    compact = inverse.reshape(arr.shape).astype(np.intp)
    return compact if ids[0] == 0 else compact + 1


def _as_mask(mask, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Return ``mask != 0`` as a new-or-same bool array after checking its shape and dtype."""
    arr = np.asarray(mask)
    if arr.shape != tuple(shape):
        raise InvalidInputError(
            f"The {name} mask has shape {arr.shape}, but the labels have shape {tuple(shape)}."
        )
    if arr.dtype == bool:
        return arr
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(f"The {name} mask must be yes/no values; it holds {arr.dtype}.")
    return arr != 0


def _check_number(name: str, value: float, *, positive: bool) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        need = "greater than 0" if positive else "0 or more"
        raise InvalidInputError(f"{name} must be a finite number {need}; got {value}.")
    return value


def border_margin(sigma: float, w0: float, eps: float = 1e-3) -> int:
    """Reach m (pixels) beyond which ``w0 * exp(-d**2 / (2 sigma**2))`` is below eps.

    m = ceil(sigma * sqrt(2 ln(w0 / eps))), 22 for the paper's w0=10, sigma=5, eps=1e-3;
    0 when w0 <= eps (the whole term is within the tolerance then).

    Parameters
    ----------
    sigma : float
        Width of the Gaussian in px (> 0).
    w0 : float
        Its amplitude (>= 0).
    eps : float
        Tolerance (> 0): values below it may be written as 0.

    Returns
    -------
    int
        The reach m in px.
    """
    sigma = _check_number("sigma", sigma, positive=True)
    w0 = _check_number("w0", w0, positive=False)
    eps = _check_number("eps", eps, positive=True)
    if w0 <= eps:
        return 0
    return math.ceil(sigma * math.sqrt(2.0 * math.log(w0 / eps)))


# ------------------------------------------------------------------- separation gaps


def _losing_pixels(lab: np.ndarray, width: int, protected: np.ndarray) -> np.ndarray:
    """Cell pixels that give way to an 8-neighbour of another cell, (Y, X) bool.

    width 2: every such pixel unless its cell is protected; width 1: only the pixel with
    the larger key (id; protected cells have key -1 so they never give way).
    """
    fg = lab != 0
    out = np.zeros(lab.shape, dtype=bool)
    if width == 2:
        lose = fg & ~protected[lab] if protected.any() else fg
    else:
        key = np.where(protected[lab], -1, lab) if protected.any() else lab
    for here, there in _NEIGHBOUR_PAIRS:
        a, b = lab[here], lab[there]
        touch = a != b
        touch &= fg[here]
        touch &= fg[there]
        if width == 2:
            out[here] |= touch & lose[here]
            out[there] |= touch & lose[there]
        else:
            ka, kb = key[here], key[there]
            out[here] |= touch & (ka > kb)
            out[there] |= touch & (kb > ka)
    return out


def _gap_pixels(lab: np.ndarray, width: int) -> np.ndarray:
    """Separation pixels of a checked label image, with the no-vanishing rule applied."""
    if width not in (1, 2):
        raise InvalidInputError(f"The gap width must be 1 or 2 pixels; got {width}.")
    n = int(lab.max()) + 1
    protected = np.zeros(n, dtype=bool)
    total = None
    while True:  # each round protects at least one more cell, so this ends
        gap = _losing_pixels(lab, width, protected)
        lost = np.bincount(lab[gap], minlength=n)
        if not lost.any():
            return gap
        if total is None:
            total = np.bincount(lab.ravel(), minlength=n)
        vanished = (lost == total) & (lost > 0) & ~protected
        if not vanished.any():
            return gap
        protected |= vanished


def separation_borders(labels: np.ndarray, *, width: int = GAP_WIDTH_UNET2015) -> np.ndarray:
    """Pixels to clear so that no two cells touch, (Y, X) bool.

    Touching means 8-neighbourhood, so the cells are also separate for 8-connected
    component labelling after the gap is cleared. A cell that would lose all its pixels
    (1-2 px wide cells) keeps them and its neighbours give way instead; only where two
    such cells touch do they stay touching.

    Parameters
    ----------
    labels : ndarray
        (Y, X) non-negative integer label image.
    width : int
        2 (default, 2015 paper): every cell pixel with an 8-neighbour in another cell; a
        straight contact becomes a 2-px gap and the result does not depend on the ids.
        1 (2019 plugin): only the pixel of the cell with the larger id gives way, a 1-px gap.

    Returns
    -------
    ndarray
        (Y, X) bool, True on the pixels to set to background.
    """
    return _gap_pixels(_as_labels(labels), width)


def insert_separation_gaps(labels: np.ndarray, *, width: int = GAP_WIDTH_UNET2015) -> np.ndarray:
    """New label image (same dtype and ids) with :func:`separation_borders` set to 0.

    Parameters
    ----------
    labels : ndarray
        (Y, X) non-negative integer label image; not changed.
    width : int
        Gap width, 1 or 2 px (see :func:`separation_borders`).

    Returns
    -------
    ndarray
        (Y, X) copy of ``labels`` (same dtype) with the gap pixels 0.
    """
    arr = np.asarray(labels)
    out = arr.copy()
    out[_gap_pixels(_as_labels(arr), width)] = 0
    return out


# ------------------------------------------------------------------- class balance


def class_balance_weights(
    foreground: np.ndarray, valid: np.ndarray | None = None
) -> np.ndarray:
    """Class-balancing weight w_c per pixel, (Y, X) float32.

    Each class gets w_k = n_valid / (2 n_k): both classes carry half of the total weight,
    the rarer one gets the larger weight, and the mean over valid pixels is exactly 1, so
    the loss keeps the scale of an unweighted loss (the learning rate and w0 keep their
    meaning whatever the cell density). If a class is absent, every valid pixel gets 1.

    Parameters
    ----------
    foreground : ndarray
        (Y, X) bool (or integer, nonzero = True), True = cell.
    valid : ndarray or None
        (Y, X) bool, or None (all valid); only valid pixels are counted, the others get
        weight 0 (they are ignored in training).

    Returns
    -------
    ndarray
        (Y, X) float32 weights, 0 on invalid pixels.
    """
    fg = np.asarray(foreground)
    if fg.ndim != 2:
        raise InvalidInputError(f"The foreground mask must be 2-D; it has shape {fg.shape}.")
    fg = _as_mask(fg, fg.shape, "foreground")
    ok = np.ones(fg.shape, dtype=bool) if valid is None else _as_mask(valid, fg.shape, "valid")
    n_valid = int(np.count_nonzero(ok))
    n_fg = int(np.count_nonzero(fg & ok))
    n_bg = n_valid - n_fg
    if n_fg == 0 or n_bg == 0:
        return ok.astype(np.float32)
    w_fg = np.float32(n_valid / (2.0 * n_fg))
    w_bg = np.float32(n_valid / (2.0 * n_bg))
    out = np.where(fg, w_fg, w_bg)
    out[~ok] = 0
    return out


# ------------------------------------------------------------------- distances


def _grown(bounds: tuple[int, int, int, int], by: int, shape) -> tuple[slice, slice]:
    """(row0, row1, col0, col1) grown by ``by`` on every side, clipped to the image."""
    r0, r1, c0, c1 = bounds
    rows = slice(max(r0 - by, 0), min(r1 + by, shape[0]))
    return rows, slice(max(c0 - by, 0), min(c1 + by, shape[1]))


def _nearest_two_distances(labels: np.ndarray, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances to the nearest and second-nearest cell, each (Y, X) float32.

    labels: checked (Y, X) integer labels with small ids. Exact Euclidean distances from
    each pixel to the nearest pixel of a cell (0 on the cell itself) wherever they are
    <= margin; d1 is +inf where no cell lies within margin, d2 where fewer than two do
    (so the result does not depend on how far the boxes happen to reach). One distance
    transform per cell on its bounding box grown by margin: any pixel within margin of
    the cell lies in that box, and the cell's pixels all do, so the box result is exact.
    """
    shape = labels.shape
    d1 = np.full(shape, np.inf, dtype=np.float32)
    d2 = np.full(shape, np.inf, dtype=np.float32)
    scratch = np.empty(shape, dtype=np.float32)
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        rows, cols = box
        grown = _grown((rows.start, rows.stop, cols.start, cols.stop), margin, shape)
        d = ndi.distance_transform_edt(labels[grown] != index).astype(np.float32)
        near, second, tmp = d1[grown], d2[grown], scratch[grown]
        np.maximum(near, d, out=tmp)  # the loser of (current nearest, d) ...
        np.minimum(second, tmp, out=second)  # ... may be the new second-nearest
        np.minimum(near, d, out=near)
    # Boxes reach farther than margin at their corners; those values come from only
    # some of the cells, so they are not exact: drop them all.
    d1[d1 > margin] = np.inf
    d2[d2 > margin] = np.inf
    return d1, d2


def _gaussian_of(distance: np.ndarray, amplitude: float, sigma: float) -> np.ndarray:
    """amplitude * exp(-distance**2 / (2 sigma**2)) as new float32; inf -> exactly 0."""
    out = np.square(distance)
    out *= np.float32(-1.0 / (2.0 * sigma * sigma))
    np.exp(out, out=out)
    out *= np.float32(amplitude)
    return out


def _border_term(lab: np.ndarray, w0: float, sigma: float, eps: float) -> np.ndarray:
    """Border term on background pixels of checked labels, (Y, X) float32."""
    margin = border_margin(sigma, w0, eps)
    if margin == 0:
        return np.zeros(lab.shape, dtype=np.float32)
    d1, d2 = _nearest_two_distances(lab, margin)
    d1 += d2
    term = _gaussian_of(d1, w0, sigma)
    term[lab != 0] = 0
    return term


def border_weights(
    labels: np.ndarray, w0: float = 10.0, sigma: float = 5.0, eps: float = 1e-3
) -> np.ndarray:
    """The separation term ``w0 * exp(-(d1 + d2)**2 / (2 sigma**2))``, (Y, X) float32.

    Only background pixels get the term, as in Fig. 3d of the 2015 paper and the 2019
    plugin: it is meant to stress the gaps between cells, and cell pixels already get
    their class weight. Where fewer than two cells lie within m = border_margin(...),
    the term is written as 0; the exact value there is below eps, so the result differs
    from the exact formula by less than eps everywhere and is exact (float32) elsewhere.

    Parameters
    ----------
    labels : ndarray
        (Y, X) non-negative integer label image, used as given (no gaps inserted here).
    w0 : float
        Amplitude of the term (paper: 10).
    sigma : float
        Width in px (paper: 5).
    eps : float
        Tolerance below which the term is cut off.

    Returns
    -------
    ndarray
        (Y, X) float32, 0 on cell pixels.
    """
    lab = _as_labels(labels)
    return _border_term(lab, w0, sigma, eps)


def update_border_weights_region(
    labels: np.ndarray,
    border: np.ndarray,
    box: tuple[slice, slice],
    *,
    w0: float = 10.0,
    sigma: float = 5.0,
    eps: float = 1e-3,
) -> np.ndarray:
    """Recompute :func:`border_weights` after an edit confined to ``box``; new array.

    The term at a pixel depends only on labels within m of it, so only the box grown by
    m changes, and it is computed from the labels in the box grown by 2m: the cost
    follows the edit, not the plane. The result equals a full recompute.
    Note: the weight map as a whole is not local: class balance depends on global counts
    and the no-vanishing rule of the gaps on whole cells; recompute those separately.

    Parameters
    ----------
    labels : ndarray
        (Y, X) integer labels after the edit.
    border : ndarray
        (Y, X) float32, the border weights before it, computed with the same w0, sigma and eps.
    box : tuple of slice
        (row slice, column slice) covering every changed pixel.
    w0, sigma, eps : float
        As for :func:`border_weights`.

    Returns
    -------
    ndarray
        (Y, X) float32, a new array; ``border`` is not changed.
    """
    lab = _as_labels(labels)
    old = np.asarray(border)
    if old.shape != lab.shape:
        raise InvalidInputError(
            f"The border weights have shape {old.shape}, but the labels have {lab.shape}."
        )
    try:
        (r0, r1, _), (c0, c1, _) = (s.indices(n) for s, n in zip(box, lab.shape, strict=True))
    except (TypeError, ValueError, AttributeError) as error:
        raise InvalidInputError("The edit box must be a (row slice, column slice) pair.") from error
    margin = border_margin(sigma, w0, eps)
    out = old.astype(np.float32, copy=True)
    if r1 <= r0 or c1 <= c0:
        return out
    window = _grown((r0, r1, c0, c1), 2 * margin, lab.shape)
    update = _grown((r0, r1, c0, c1), margin, lab.shape)
    local = _border_term(_as_labels(lab[window]), w0, sigma, eps)
    inner = tuple(slice(u.start - w.start, u.stop - w.start) for u, w in zip(update, window))
    out[update] = local[inner]
    return out


# ------------------------------------------------------------------- full weight maps


def _valid_pixels(ignore, shape) -> np.ndarray:
    if ignore is None:
        return np.ones(shape, dtype=bool)
    return ~_as_mask(ignore, shape, "ignore")


def _unet2015(labels, ignore, *, w0=10.0, sigma=5.0, class_balance=True, eps=1e-3, gaps=True):
    """(labels with gaps, weights) for the 2015 paper's weight map."""
    lab = _as_labels(labels)
    valid = _valid_pixels(ignore, lab.shape)
    _check_number("w0", w0, positive=False)
    _check_number("sigma", sigma, positive=True)
    if gaps:
        lab = np.where(_gap_pixels(lab, GAP_WIDTH_UNET2015), 0, lab)
    fg = lab != 0
    weights = class_balance_weights(fg, valid) if class_balance else valid.astype(np.float32)
    weights += _border_term(lab, w0, sigma, eps)
    weights[~valid] = 0
    return lab, weights


def _falk2019(
    labels, ignore, *, v_bal=0.1, lam=50.0, sigma_sep=6.0, sigma_1=10.0, eps=1e-3, gaps=True
):
    """(labels with gaps, weights) for the 2019 plugin's weight map."""
    lab = _as_labels(labels)
    valid = _valid_pixels(ignore, lab.shape)
    v_bal = _check_number("v_bal", v_bal, positive=False)
    if v_bal > 1:
        raise InvalidInputError(f"v_bal must be between 0 and 1; got {v_bal}.")
    lam = _check_number("lam", lam, positive=False)
    sigma_sep = _check_number("sigma_sep", sigma_sep, positive=True)
    sigma_1 = _check_number("sigma_1", sigma_1, positive=True)
    margin = max(border_margin(sigma_sep, lam, eps), border_margin(sigma_1, 1.0 - v_bal, eps))
    if gaps:
        lab = np.where(_gap_pixels(lab, GAP_WIDTH_FALK2019), 0, lab)
    if margin == 0:
        d1 = d2 = np.full(lab.shape, np.inf, dtype=np.float32)
    else:
        d1, d2 = _nearest_two_distances(lab, margin)
    weights = _gaussian_of(d1, 1.0 - v_bal, sigma_1)
    weights += _gaussian_of(d1 + d2, lam, sigma_sep)
    weights += np.float32(v_bal)
    weights[lab != 0] = 1
    weights[~valid] = 0
    return lab, weights


_SCHEMES = {"unet2015": _unet2015, "falk2019": _falk2019}


def weight_map(
    labels: np.ndarray,
    ignore: np.ndarray | None = None,
    *,
    w0: float = 10.0,
    sigma: float = 5.0,
    class_balance: bool = True,
    eps: float = 1e-3,
    gaps: bool = True,
) -> np.ndarray:
    """The 2015 paper's weight map w = w_c + border term, (Y, X) float32.

    With gaps=True the weights belong to the labels WITH separation gaps (width 2): train
    against ``insert_separation_gaps(labels) > 0``, or simply use :func:`training_targets`,
    which returns both.

    Parameters
    ----------
    labels : ndarray
        (Y, X) non-negative integer label image.
    ignore : ndarray or None
        (Y, X) bool, True = not annotated (weight 0); None: every pixel annotated.
    w0, sigma, eps : float
        The border term's amplitude, width (px) and cut-off (see :func:`border_weights`).
    class_balance : bool
        False uses w_c = 1.
    gaps : bool
        Whether separation gaps are inserted before the weights are computed.

    Returns
    -------
    ndarray
        (Y, X) float32 weights, 0 on ignored pixels.
    """
    return _unet2015(
        labels, ignore, w0=w0, sigma=sigma, class_balance=class_balance, eps=eps, gaps=gaps
    )[1]


def weight_map_falk2019(
    labels: np.ndarray,
    ignore: np.ndarray | None = None,
    *,
    v_bal: float = 0.1,
    lam: float = 50.0,
    sigma_sep: float = 6.0,
    sigma_1: float = 10.0,
    eps: float = 1e-3,
    gaps: bool = True,
) -> np.ndarray:
    """The 2019 ImageJ plugin's weight map, (Y, X) float32.

    Cell pixels 1; background v_bal + lam*exp(-(d1+d2)^2/(2 sigma_sep^2))
    + (1-v_bal)*exp(-d1^2/(2 sigma_1^2)); ignore pixels 0. Gaps are 1 px wide
    (train against ``insert_separation_gaps(labels, width=1) > 0``). Each exp term is
    cut off where it is below eps, so the result is within 2*eps of the formula.

    Parameters
    ----------
    labels : ndarray
        (Y, X) non-negative integer label image.
    ignore : ndarray or None
        (Y, X) bool, True = not annotated (weight 0).
    v_bal : float
        Background weight far from cells, in [0, 1].
    lam : float
        Amplitude of the separation term.
    sigma_sep : float
        Width (px) of the separation term.
    sigma_1 : float
        Width (px) of the term near a single cell.
    eps : float
        Cut-off of each exp term.
    gaps : bool
        Whether 1-px separation gaps are inserted first.

    Returns
    -------
    ndarray
        (Y, X) float32 weights.
    """
    return _falk2019(
        labels, ignore, v_bal=v_bal, lam=lam, sigma_sep=sigma_sep, sigma_1=sigma_1, eps=eps,
        gaps=gaps,
    )[1]


def training_targets(
    labels: np.ndarray, ignore: np.ndarray | None = None, *, scheme: str = "unet2015", **params
) -> tuple[np.ndarray, np.ndarray]:
    """What training needs for one plane: (foreground (Y, X) uint8, weights (Y, X) float32).

    Ignore pixels keep their class but get weight 0.

    Parameters
    ----------
    labels : ndarray
        (Y, X) non-negative integer label image.
    ignore : ndarray or None
        (Y, X) bool, True = not annotated.
    scheme : str
        ``"unet2015"`` (:func:`weight_map`) or ``"falk2019"`` (:func:`weight_map_falk2019`).
    **params
        Keyword arguments of the scheme's function.

    Returns
    -------
    foreground : ndarray
        (Y, X) uint8, 1 on cell pixels of the labels with separation gaps, 0 elsewhere
        (the class index for the cross-entropy).
    weights : ndarray
        (Y, X) float32, matching ``foreground``.
    """
    try:
        compute = _SCHEMES[scheme]
    except KeyError:
        names = ", ".join(sorted(_SCHEMES))
        message = f"Unknown weighting scheme {scheme!r}; choose one of {names}."
        raise InvalidInputError(message) from None
    gapped, weights = compute(labels, ignore, **params)
    return (gapped != 0).astype(np.uint8), weights
