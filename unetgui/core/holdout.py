"""An automatic validation region: part of the annotated area that training never sees.

Fine-tuning must never leave a user worse off, and that needs a judge. When the user has
marked no validation planes, a band of each well-annotated training plane is held back:
its pixels get zero weight in training (they become ignored), and the band, with the
network's context around it, becomes a validation plane that picks the best checkpoint
and stops a run that only degrades.

Which band: the plane is cut into bands across its longer axis, each ``fraction`` of
its length; the band whose cells (by centroid) come closest to ``fraction`` of the
plane's cells is held back, so it is neither empty nor most of the plane. Planes with
fewer than :data:`MIN_CELLS` cells are left whole: they have too little to spare.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

MIN_CELLS = 5
DEFAULT_FRACTION = 0.2


@dataclass(frozen=True)
class HeldBack:
    """The band of one training plane held back for validation."""

    plane_index: int  # index into the training planes
    rows: slice  # the band, in the plane's pixels
    cols: slice
    n_cells: int  # cells whose centroid lies in the band


def choose_band(labels: np.ndarray, fraction: float = DEFAULT_FRACTION) -> tuple[slice, slice, int] | None:
    """The band of ``labels`` (Y, X) to hold back: (rows, cols, cells in it), or None.

    None when the plane has fewer than MIN_CELLS cells, or no band leaves cells on both
    sides of the split.

    Parameters
    ----------
    labels : ndarray
        (Y, X) integer cell ids, 0 = background.
    fraction : float
        Band width as a share of the plane's longer axis, in (0, 1).

    Returns
    -------
    tuple of (slice, slice, int) or None
        (rows, cols, cells whose centroid lies in the band); the band spans the whole
        shorter axis.
    """
    labels = np.asarray(labels)
    ids = np.unique(labels)
    ids = ids[ids != 0]
    if len(ids) < MIN_CELLS or not 0 < fraction < 1:
        return None
    centroids = np.asarray(ndi.center_of_mass(labels > 0, labels, ids))  # (n, 2) row, col
    axis = 0 if labels.shape[0] >= labels.shape[1] else 1
    length = labels.shape[axis]
    width = max(1, round(fraction * length))
    starts = sorted(set(list(range(0, length - width + 1, width)) + [length - width]))
    wanted = fraction * len(ids)
    best = None
    for start in starts:
        inside = int(np.count_nonzero((centroids[:, axis] >= start) & (centroids[:, axis] < start + width)))
        if inside == 0 or inside == len(ids):
            continue
        key = (abs(inside - wanted), -start)  # ties: the later band
        if best is None or key < best[0]:
            best = (key, start, inside)
    if best is None:
        return None
    _, start, inside = best
    band = slice(start, start + width)
    full = slice(0, labels.shape[1 - axis])
    rows, cols = (band, full) if axis == 0 else (full, band)
    return rows, cols, inside


def hold_back(planes: Sequence, context: int, fraction: float = DEFAULT_FRACTION):
    """Split ``planes`` (TrainingPlane) into training planes and validation planes.

    Parameters
    ----------
    planes : sequence of TrainingPlane
        The annotated training planes.
    context : int
        Pixels of image kept around each band (the network's margin), so the band
        is predicted with its real surroundings rather than mirrored ones.
    fraction : float
        The share of each plane's longer axis held back.

    Returns
    -------
    training : list of TrainingPlane
        The planes, with each held-back band added to their ignore mask.
    validation : list of TrainingPlane
        One plane per band: the band grown by ``context``, ignoring all but the band.
    held : list of HeldBack
        The bands, in plane order (empty when no plane qualifies).
    """
    training, validation, held = [], [], []
    for index, plane in enumerate(planes):
        band = choose_band(plane.labels, fraction)
        if band is None:
            training.append(plane)
            continue
        rows, cols, n_cells = band
        held.append(HeldBack(index, rows, cols, n_cells))
        training.append(apply_hold_back(plane, held[-1]))
        validation.append(_validation_crop(plane, rows, cols, context))
    return training, validation, held


def apply_hold_back(plane, band: HeldBack):
    """``plane`` with ``band`` added to its ignore mask (a new TrainingPlane).

    Parameters
    ----------
    plane : TrainingPlane
        The training plane the band belongs to.
    band : HeldBack
        The band to leave out of training.

    Returns
    -------
    TrainingPlane
        A new plane whose (Y, X) bool ignore mask also covers the band; ``plane`` is not changed.
    """
    ignore = np.zeros(plane.labels.shape, bool) if plane.ignore is None else np.array(plane.ignore, bool)
    ignore[band.rows, band.cols] = True
    return dataclasses.replace(plane, ignore=ignore)


def _validation_crop(plane, rows: slice, cols: slice, context: int):
    height, width = plane.labels.shape
    r0, r1 = max(0, rows.start - context), min(height, rows.stop + context)
    c0, c1 = max(0, cols.start - context), min(width, cols.stop + context)
    ignore = np.ones((r1 - r0, c1 - c0), bool)
    ignore[rows.start - r0 : rows.stop - r0, cols.start - c0 : cols.stop - c0] = False
    if plane.ignore is not None:
        ignore |= np.asarray(plane.ignore, bool)[r0:r1, c0:c1]
    name = f"{plane.name or 'plane'}, held back" if plane.name else "held-back region"
    return dataclasses.replace(plane, image=np.ascontiguousarray(plane.image[:, r0:r1, c0:c1]),
                               labels=np.ascontiguousarray(plane.labels[r0:r1, c0:c1]),
                               ignore=ignore, name=name)


def describe(held: Sequence[HeldBack], planes: Sequence, fraction: float = DEFAULT_FRACTION) -> str:
    """One sentence for the user: what was held back, and why.

    Parameters
    ----------
    held : sequence of HeldBack
        The bands from :func:`hold_back`.
    planes : sequence of TrainingPlane
        The training planes ``held`` indexes (for their names).
    fraction : float
        The share held back, as given to :func:`hold_back`.

    Returns
    -------
    str
        The sentence, or "" when nothing was held back.
    """
    if not held:
        return ""
    parts = [f"{b.n_cells} cells of {planes[b.plane_index].name or f'plane {b.plane_index}'}"
             for b in held]
    return (f"Held back {', '.join(parts)} (a band of about {round(fraction * 100)}% of each "
            "plane, not trained on) to check that training helps and to keep the best model.")
