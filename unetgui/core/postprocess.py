"""Network output -> instance labels: threshold, split, clean up, grow back over the gap.

The network is trained to predict *background* on a thin gap between touching cells
(``weightmap.insert_separation_gaps``, default width 2: every pixel of a cell that has a
different cell in its 8-neighbourhood becomes background, so each side of a contact loses
one pixel). That gap is what lets connected components split touching cells; afterwards
each cell is grown back over its half of the gap so its size matches how it was
annotated. With the 1-px gaps of the 2019 scheme (width 1: only one side gives way, and
which one depends on ids the network never sees) the growth leaves the gap alone, so
such cells come out 1 px apart.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.segmentation import relabel_sequential

from unetgui.core.errors import InvalidInputError

# 4-connectivity for cells: a 1-px diagonal gap (all the network can draw between two
# cells meeting at a corner) keeps them apart. Its dual, 8-connectivity, for background.
_CROSS = ndimage.generate_binary_structure(2, 1)
_SQUARE = ndimage.generate_binary_structure(2, 2)
# (pixel, east neighbour) and (pixel, south neighbour) slices: every 4-adjacency once.
_FORWARD_4 = (
    ((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
    ((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
)

#: Cells smaller than this share of the plane's typical cell area (:func:`typical_cell_area`)
#: are dropped as fragments: micronuclei, debris, the odd piece of a cut cell. Chosen on
#: images no test uses (``python benchmarks/fragments.py``): the starter's mean AP@0.5 over
#: a real, an own-domain and a shifted set rose from 0.847 with none to 0.894 at 0.25, the
#: smallest share within 0.005 of the best (0.899 at 0.4). A quarter of the area is half
#: the diameter.
MIN_RELATIVE_AREA = 0.25


def foreground_probability(probs: np.ndarray) -> np.ndarray:
    """(C, Y, X) softmax output, C >= 2 -> (Y, X) probability that a pixel is in a cell.

    Class 0 is background. With two classes this is ``probs[1]``; with more (e.g. a
    separate "border" class) every non-background class counts as cell, so it is
    ``1 - probs[0]``.

    Parameters
    ----------
    probs : ndarray
        (C, Y, X) class probabilities, C >= 2, finite.

    Returns
    -------
    ndarray
        (Y, X) new array: a float input keeps its dtype (float32 stays float32), others
        become float64.

    Raises
    ------
    InvalidInputError
        For another shape, or NaN or infinite values.
    """
    probs = np.asarray(probs)
    if probs.ndim != 3 or probs.shape[0] < 2:
        raise InvalidInputError(
            f"Expected class probabilities shaped (classes, rows, cols) with at least two "
            f"classes, got shape {probs.shape}."
        )
    _check_finite(probs)
    if probs.dtype.kind != "f":
        probs = probs.astype(np.float64)
    if probs.shape[0] == 2:
        return probs[1].copy()
    return 1 - probs[0]


def encode_probability(probability: np.ndarray) -> np.ndarray:
    """Probability 0..1 -> uint8 0..255, the form the window keeps and shows predictions in.

    A quarter of the memory of float32 and cheap to display; 1/255 is finer than any
    threshold a user sets.

    Parameters
    ----------
    probability : (Y, X) float array in [0, 1]

    Returns
    -------
    (Y, X) uint8, rounded to the nearest step
    """
    return np.clip(np.rint(np.asarray(probability) * 255.0), 0, 255).astype(np.uint8)


def decode_probability(encoded: np.ndarray) -> np.ndarray:
    """The inverse of :func:`encode_probability`.

    Parameters
    ----------
    encoded : (Y, X) uint8

    Returns
    -------
    (Y, X) float32 in [0, 1]
    """
    return np.asarray(encoded).astype(np.float32) / 255.0


def probabilities_to_labels(
    foreground: np.ndarray,
    *,
    threshold: float = 0.5,
    min_size: int = 16,
    min_relative_area: float = MIN_RELATIVE_AREA,
    fill_holes: bool = True,
    grow_back: int | None = 1,
) -> np.ndarray:
    """(Y, X) foreground probability in [0, 1] -> (Y, X) int32 labels 0..N, consecutive.

    Steps: pixels with probability > ``threshold`` are cell; 4-connected components are
    the cells; cells of fewer than ``min_size`` pixels are dropped (specks), then cells
    under ``min_relative_area`` of the typical cell's area (fragments); holes are
    filled per cell (a background region enclosed by one cell only, never a space
    enclosed jointly by several touching cells); finally each cell grows back by up to
    ``grow_back`` pixels, but only into the separation gap (see :func:`grow_into_gaps`).
    ``grow_back`` should equal the pixels the gap took from each side of a contact:
    1 for the weight map's rule. ``None`` or 0 skips it.

    Parameters
    ----------
    foreground : ndarray
        (Y, X) real, finite probabilities, e.g. from :func:`foreground_probability`.
    threshold : float
        Pixels above it are cell; in [0, 1).
    min_size : int
        Cells of fewer pixels are dropped (>= 0).
    min_relative_area : float
        Cells smaller than this share of the plane's typical cell area
        (:func:`typical_cell_area`, over the cells of ``min_size`` or more) are dropped;
        in [0, 1), 0 keeps them all.
    fill_holes : bool
        Fill the holes enclosed by a single cell.
    grow_back : int or None
        Pixels each cell grows back into the separation gap (>= 0).

    Returns
    -------
    ndarray
        (Y, X) int32 labels: 0 background, cells 1..N.

    Raises
    ------
    InvalidInputError
        For another shape, non-numeric or non-finite values, or a parameter out of range.
    """
    foreground = np.asarray(foreground)
    if foreground.ndim != 2:
        raise InvalidInputError(
            f"Expected one plane of foreground probabilities (rows, cols), got shape "
            f"{foreground.shape}; call this once per plane."
        )
    if foreground.dtype.kind not in "biuf":
        raise InvalidInputError(f"Probabilities must be numbers, not {foreground.dtype}.")
    _check_finite(foreground)
    if not 0.0 <= threshold < 1.0:
        raise InvalidInputError(f"The threshold must be in [0, 1), not {threshold}.")
    if min_size < 0:
        raise InvalidInputError(f"The minimum cell size cannot be negative ({min_size}).")
    _check_relative_area(min_relative_area)
    if grow_back is not None and grow_back < 0:
        raise InvalidInputError(f"grow_back cannot be negative ({grow_back}).")

    labels, _ = ndimage.label(foreground > threshold, structure=_CROSS)
    # the fragment floor is a share of the typical area over the cells of min_size or more
    areas = np.bincount(labels.ravel())[1:]
    floor = fragment_floor(np.where(areas >= min_size, areas, 0), min_relative_area)
    labels = remove_small_cells(labels, max(min_size, floor))
    if fill_holes:
        labels = fill_holes_per_cell(labels)
    if grow_back:
        labels = grow_into_gaps(labels, grow_back)
    return relabel_sequential(labels)[0].astype(np.int32, copy=False)


def remove_small_cells(labels: np.ndarray, min_size: int) -> np.ndarray:
    """(Y, X) int labels -> new labels with every cell of fewer than ``min_size`` px set to 0.

    Ids are kept (not renumbered). One bincount, no per-cell loop.

    Parameters
    ----------
    labels : ndarray
        (Y, X) non-negative integer cell ids, 0 = background.
    min_size : int
        Smallest cell kept, in pixels.

    Returns
    -------
    ndarray
        (Y, X) labels, ``labels``' dtype, without the small cells.
    """
    sizes = np.bincount(labels.ravel())
    small = sizes < min_size
    small[0] = False
    return np.where(small[labels], 0, labels)


def typical_cell_area(areas: np.ndarray) -> float | None:
    """The area of the cell that the median cell pixel belongs to, or None without cells.

    Weighted by area, so that many specks or fragments do not pull it down: they count
    for what they cover, not for how many they are.

    Parameters
    ----------
    areas : ndarray
        Cell areas in px, one per cell (zeros, for ids not in use, are ignored).

    Returns
    -------
    float or None
    """
    found = np.sort(np.asarray(areas, dtype=np.float64).ravel())
    found = found[found > 0]
    if not found.size:
        return None
    cumulative = np.cumsum(found)
    return float(found[np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def fragment_floor(areas: np.ndarray, min_relative_area: float) -> int:
    """The smallest cell area (px) kept when cells under ``min_relative_area`` of the
    typical one (:func:`typical_cell_area` of ``areas``) are fragments; 0 keeps all."""
    if min_relative_area <= 0:
        return 0
    typical = typical_cell_area(areas)
    if typical is None:
        return 0
    return int(np.ceil(min_relative_area * typical))


def _check_relative_area(min_relative_area: float) -> None:
    """Raise InvalidInputError unless ``min_relative_area`` is in [0, 1)."""
    if not 0.0 <= min_relative_area < 1.0:
        raise InvalidInputError(
            f"The smallest cell, as a share of the typical cell's area, must be in [0, 1), "
            f"not {min_relative_area}.")


def fill_holes_per_cell(labels: np.ndarray) -> np.ndarray:
    """(Y, X) int labels -> new labels with each cell's holes filled with that cell's id.

    A hole is an 8-connected background region that does not reach the image edge and
    whose 4-neighbours all belong to one single cell. A region bordered by two or more
    cells (the space inside a ring of touching cells, or around a cell inside a cell) is
    left alone, so filling never merges or enlarges neighbours.

    Parameters
    ----------
    labels : ndarray
        (Y, X) non-negative integer cell ids, 0 = background.

    Returns
    -------
    ndarray
        (Y, X) labels, ``labels``' dtype, with the holes filled.
    """
    regions, n = ndimage.label(labels == 0, structure=_SQUARE)
    if n == 0:
        return labels.copy()
    # Every (background region, cell) pair that meets across a 4-adjacency, once.
    stride = np.int64(labels.max()) + 1
    keys = []
    for here, there in _FORWARD_4:
        for region, cell in ((regions[here], labels[there]), (regions[there], labels[here])):
            meet = (region > 0) & (cell > 0)
            keys.append(region[meet] * stride + cell[meet])
    region, cell = np.divmod(np.unique(np.concatenate(keys)), stride)
    only = np.bincount(region, minlength=n + 1)[region] == 1
    fill = np.zeros(n + 1, dtype=labels.dtype)
    fill[region[only]] = cell[only]
    fill[np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]])] = 0
    return np.where(regions > 0, fill[regions], labels)


def grow_into_gaps(labels: np.ndarray, distance: int) -> np.ndarray:
    """(Y, X) int labels -> new labels, each cell grown by <= ``distance`` px into gaps only.

    Undoes the training gap rule ("a cell pixel with a different cell in its
    8-neighbourhood becomes background"). Each background pixel within ``distance``
    (chessboard, the rule's metric) of a cell takes the id of its nearest cell; growth
    never merges cells, it stops where two cells meet. A new pixel is kept only if
      - a *different* grown cell is within ``distance``: it lies in a gap, which the rule
        would have erased (a lone cell's free border was never shrunk, so it stays), and
      - no *different* original cell is within ``distance``: otherwise the rule would
        have erased that cell's pixel too, so the pixel cannot have been ours.
    The rule is not invertible: at the two ends of a contact line a pixel or two of true
    background can be given to a cell, and cells really separated by <= 2 * ``distance``
    px of background come out touching. (Euclidean growth such as
    ``skimage.segmentation.expand_labels`` misses pixels the rule removed on diagonal,
    staircase contacts, hence chessboard.)

    Parameters
    ----------
    labels : ndarray
        (Y, X) non-negative integer cell ids, 0 = background.
    distance : int
        Most pixels a cell grows (chessboard distance); the gap width taken from each side.

    Returns
    -------
    ndarray
        (Y, X) labels, ``labels``' dtype, same ids, grown into the gaps.
    """
    if not labels.any() or labels.all():
        return labels.copy()
    reach, nearest = ndimage.distance_transform_cdt(
        labels == 0, metric="chessboard", return_indices=True
    )
    grown = np.where(reach <= distance, labels[tuple(nearest)], labels)
    rows, cols = np.nonzero((labels == 0) & (grown > 0))
    ids = grown[rows, cols]
    keep = _other_cell_near(grown, rows, cols, ids, distance)
    keep &= ~_other_cell_near(labels, rows, cols, ids, distance)
    out = labels.copy()
    out[rows[keep], cols[keep]] = ids[keep]
    return out


def _other_cell_near(labels, rows, cols, ids, distance: int) -> np.ndarray:
    """(n,) bool: does ``labels`` hold a cell other than ``ids`` within ``distance``
    (chessboard) of pixel (rows, cols)? Only the n candidate pixels are looked at."""
    padded = np.pad(labels, distance)
    found = np.zeros(len(rows), dtype=bool)
    for dy in range(2 * distance + 1):
        for dx in range(2 * distance + 1):
            near = padded[rows + dy, cols + dx]
            found |= (near > 0) & (near != ids)
    return found


def _check_finite(values: np.ndarray) -> None:
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise InvalidInputError(
            "The probabilities contain NaN or infinite values; the prediction went wrong "
            "(check the input image for NaN pixels)."
        )
