"""Cell outlines as polygons whose vertices are pixel corners, and back to pixels.

The exchange formats (ImageJ ROIs, QuPath GeoJSON) describe a cell by its outline. An
outline along the pixels' own edges, with vertices on pixel corners, encloses exactly the
cell's pixels, so exporting and importing gives back the same cells. scikit-image's
marching squares (``find_contours`` at 0.5 on the cell's mask) crosses each boundary
edge of the cell at its midpoint; where two consecutive crossings lie on edges at right
angles, the corner they share is a vertex of the outline, and the corners in order are
the polygon. Coordinates are (x, y) = (column, row), with
pixel (r, c) covering [c, c+1) x [r, r+1), as in ImageJ and QuPath.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from skimage.draw import polygon as fill_polygon
from skimage.measure import find_contours, points_in_poly

from unetgui.core.errors import InvalidInputError
from unetgui.core.labels import MAX_LABEL


@dataclass
class Outline:
    """One connected piece of a cell: its outer ring and the rings of its holes.

    Rings are (N, 2) int64 arrays of (x, y) pixel corners, not repeating the first vertex;
    the exterior runs clockwise on screen (y pointing down), holes the other way.
    """

    exterior: np.ndarray
    holes: list[np.ndarray] = field(default_factory=list)


def cell_outlines(labels: np.ndarray) -> dict[int, list[Outline]]:
    """The outlines of every cell of a plane.

    Parameters
    ----------
    labels : (Y, X) non-negative integer cell ids, 0 = background

    Returns
    -------
    dict
        Cell id -> its pieces (one :class:`Outline` per 4-connected piece, largest first).
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype.kind not in "ui":
        raise InvalidInputError(f"Expected a (rows, cols) plane of integer labels, got {labels.dtype} {labels.shape}.")
    outlines = {}
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        mask = labels[box] == index
        pieces = _outlines_of_mask(mask)
        for piece in pieces:
            offset = np.array([box[1].start, box[0].start])
            piece.exterior = piece.exterior + offset
            piece.holes = [hole + offset for hole in piece.holes]
        outlines[index] = pieces
    return outlines


def _outlines_of_mask(mask: np.ndarray) -> list[Outline]:
    exteriors, holes = [], []
    for contour in find_contours(np.pad(mask, 1).astype(np.uint8), 0.5):
        ring = _corner_ring(contour[:, ::-1] - 0.5)  # (x, y) of the edge midpoints crossed
        if ring is None:
            continue
        area = _signed_area(ring)
        (exteriors if area > 0 else holes).append((abs(area), ring))
    exteriors.sort(key=lambda item: -item[0])
    pieces = [Outline(ring) for _, ring in exteriors]
    for _, hole in holes:
        probe = hole[0] + _inward(hole)
        for piece in pieces:
            if points_in_poly(probe[None, :], piece.exterior)[0]:
                piece.holes.append(hole)
                break
    return pieces


def _corner_ring(midpoints: np.ndarray) -> np.ndarray | None:
    """The corners of the pixel-edge path through a closed contour's edge midpoints.

    A midpoint on a vertical edge has a whole x (and y + 0.5), on a horizontal edge a
    whole y. Between a vertical-edge and a horizontal-edge midpoint the path turns at the
    corner (x of the vertical one, y of the horizontal one); between two of the same kind
    it runs straight on. Returns (N, 2) int64 corners, or None for a degenerate contour.
    """
    if len(midpoints) < 3:
        return None
    points = midpoints[:-1] if np.array_equal(midpoints[0], midpoints[-1]) else midpoints
    vertical = np.isclose(points[:, 0], np.rint(points[:, 0]))
    following = np.roll(points, -1, axis=0)
    turns = vertical != np.roll(vertical, -1)
    x = np.where(vertical, points[:, 0], following[:, 0])[turns]
    y = np.where(vertical, following[:, 1], points[:, 1])[turns]
    corners = np.rint(np.stack([x, y], axis=1)).astype(np.int64)
    return corners if len(corners) >= 4 else None


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0].astype(np.float64), ring[:, 1].astype(np.float64)
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _inward(hole: np.ndarray) -> np.ndarray:
    """A small step from a hole's first corner into the cell around it (quarter pixel)."""
    step = hole[1] - hole[0]
    normal = np.array([step[1], -step[0]], dtype=np.float64)
    return 0.25 * (step / max(np.abs(step).max(), 1) + normal / max(np.abs(normal).max(), 1))


def fill_outline(outline: Outline, shape: tuple[int, int]) -> np.ndarray:
    """The pixels an outline encloses (its holes left out), clipped to the plane.

    Parameters
    ----------
    outline : the rings in (x, y) pixel corners
    shape : (Y, X) of the plane

    Returns
    -------
    (Y, X) bool
    """
    mask = _fill_ring(outline.exterior, shape)
    for hole in outline.holes:
        mask &= ~_fill_ring(hole, shape)
    return mask


@dataclass
class ImportedCell:
    """One cell read from an exchange file, before it becomes pixels."""

    what: str  # how a message names it, e.g. "ROI 't3-12'"
    plane: int | None  # its plane; None (or one the image lacks): skipped
    cell: int | None  # the id it asks for; None: the next free id
    outlines: list[Outline]  # no pieces: skipped


def paint_cells(cells: list[ImportedCell], shape: tuple[int, int, int], nothing: str) -> np.ndarray:
    """Labels from imported cells, in order (later ones cover earlier ones).

    Cells keep the ids they ask for; the others get ids above the largest asked for.

    Parameters
    ----------
    cells : what an ImageJ ROI set or a GeoJSON file held
    shape : (P, Y, X) of the image the labels are for
    nothing : the message when no cell lands on a plane of the image

    Returns
    -------
    (P, Y, X) uint32 labels
    """
    n_planes = shape[0]
    labels = np.zeros(shape, dtype=np.uint32)
    next_id = max([c.cell for c in cells if c.cell is not None], default=0) + 1
    placed = 0
    for item in cells:
        if not item.outlines or item.plane is None or not 0 <= item.plane < n_planes:
            continue
        cell = item.cell
        if cell is None:
            cell, next_id = next_id, next_id + 1
        if cell > MAX_LABEL:
            raise InvalidInputError(f"{item.what} names cell {cell}, above the largest id {MAX_LABEL}.")
        for outline in item.outlines:
            labels[item.plane][fill_outline(outline, shape[1:])] = cell
        placed += 1
    if not placed:
        raise InvalidInputError(nothing)
    return labels


def _fill_ring(ring: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centre lies inside the ring (corner coordinates, so no centre is on it)."""
    mask = np.zeros(shape, dtype=bool)
    ring = np.asarray(ring, dtype=np.float64)
    rows, cols = fill_polygon(ring[:, 1] - 0.5, ring[:, 0] - 0.5, shape=shape)
    mask[rows, cols] = True
    return mask


@dataclass(frozen=True)
class ExportCount:
    """What an outline export wrote: cells and pieces, and what the format could not keep."""

    cells: int
    pieces: int
    holes_filled: int = 0  # cells whose holes the format could not keep


def as_label_stack(labels: np.ndarray) -> np.ndarray:
    """(Y, X) or (P, Y, X) integer labels as (P, Y, X); a clear error for anything else."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels[None]
    if labels.ndim != 3 or labels.dtype.kind not in "ui":
        raise InvalidInputError(f"Expected integer labels shaped (rows, cols) or (planes, rows, cols), "
                                f"got {labels.dtype} {labels.shape}.")
    return labels
