"""The label document: instance labels, ignore mask and plane roles of a stack, with undo.

A :class:`LabelDocument` holds, for a stack of P planes of Y x X pixels:

* instance labels, uint32, 0 = background, any positive id = one cell;
* an ignore mask, bool, True = leave this pixel out of training;
* a role per plane: ``"none"`` (not annotated), ``"train"`` or ``"validation"``.

It is the model behind the painting tools; the window only calls its methods and redraws
what its change events say. Planes are allocated lazily: a plane never written reads as
zeros (a read-only zero-stride view that costs no memory), so opening a 500-plane stack
allocates nothing. Every edit costs time and memory in proportion to the pixels it
touches (its box), never to the plane; only the bulk operations (:meth:`set_plane_labels`,
and :meth:`delete_cell` / :meth:`merge_cells`, which look for the cell's pixels) read a
whole plane.

Coordinates: (row, column) in pixels, floats allowed, with the centre of pixel (r, c) at
(r, c) (a pyqtgraph scene point (x, y) is (y - 0.5, x - 0.5)). Boxes are half-open
``(row0, row1, col0, col1)``.

Edits are recorded as (layer, box, mask, old values, new values) and kept per plane:
``undo(3)`` undoes plane 3's last edit, whatever plane is shown. One brush stroke (from
:meth:`begin_stroke` to :meth:`end_stroke`) is one undo item. The history is bounded (a
byte budget for the whole document and a number of items per plane); the oldest items are
dropped first. The first edit of a plane whose role is "none" marks it "train"; undoing
that edit marks it "none" again (an accidental click must not make an empty plane count
as annotated).

Observers: ``doc.subscribe(callback)``; callback(event) gets :class:`LabelsChanged` after
every change of pixels (during a stroke, after each :meth:`stroke_to`; also after undo,
redo and bulk edits) and :class:`RolesChanged` after a role change. :meth:`version` grows
with every change of a plane, so a background worker can tell that its input is stale.

The document is not thread-safe: use it from one thread (the GUI thread) and hand workers
copies (``np.array(doc.labels_of(p))`` with ``doc.version(p)``, or :meth:`to_arrays`).
"""

from __future__ import annotations

import math
import operator
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from .errors import InvalidInputError

__all__ = [
    "LAYERS",
    "MAX_LABEL",
    "ROLES",
    "LabelDocument",
    "LabelSnapshot",
    "LabelsChanged",
    "RolesChanged",
    "brush_mask",
]

ROLES = ("none", "train", "validation")
LAYERS = ("labels", "ignore")
MAX_LABEL = 2**32 - 1
_DTYPES = {"labels": np.dtype(np.uint32), "ignore": np.dtype(bool)}
# Below this radius a brush could slip between pixel centres; the pixels the path
# crosses are then painted as well, so even radius 0 draws an unbroken line.
_THIN = math.sqrt(0.5)
_OVERHEAD_BYTES = 256  # Python objects per recorded change, counted in the history budget

Box = tuple[int, int, int, int]  # row0, row1, col0, col1 (half-open)


@dataclass(frozen=True)
class LabelsChanged:
    """Pixels of ``layer`` ("labels" or "ignore") changed inside ``box`` of ``plane``."""

    plane: int
    layer: str
    box: Box


@dataclass(frozen=True)
class RolesChanged:
    """The role of ``plane`` is now ``role``."""

    plane: int
    role: str


@dataclass(frozen=True, eq=False)
class LabelSnapshot:
    """A document's content for saving: the sparse stack as plane -> (Y, X) array.

    labels: plane -> uint32 (Y, X); ignore: plane -> bool (Y, X); planes missing from a
    mapping are all zero. roles: one of :data:`ROLES` per plane (None: all "none").
    :meth:`LabelDocument.to_arrays` returns copies; :meth:`LabelDocument.from_arrays`
    checks and copies what it is given (integer labels of any type, masks bool or 0/1).
    """

    n_planes: int
    shape: tuple[int, int]
    labels: Mapping[int, np.ndarray] = field(default_factory=dict)
    ignore: Mapping[int, np.ndarray] = field(default_factory=dict)
    roles: Sequence[str] | None = None


@dataclass(frozen=True, eq=False)
class _Change:
    """Pixels ``mask`` of ``box`` of one layer went from ``old`` to ``new`` (1-D or 0-d)."""

    layer: str
    box: Box
    mask: np.ndarray
    old: np.ndarray
    new: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.mask.nbytes + self.old.nbytes + self.new.nbytes + _OVERHEAD_BYTES


@dataclass(frozen=True, eq=False)
class _Edit:
    """One undo item: changes in the order applied; marked: it turned role none -> train."""

    changes: tuple[_Change, ...]
    marked: bool
    seq: int
    nbytes: int


@dataclass(eq=False)
class _Stroke:
    plane: int
    layer: str
    value: int | bool
    radius: float
    only_background: bool
    last: tuple[float, float] | None = None
    changes: list[_Change] = field(default_factory=list)
    marked: bool = False


# --------------------------------------------------------------------------- geometry


def brush_mask(
    start: tuple[float, float], end: tuple[float, float], radius: float, shape: tuple[int, int]
) -> tuple[Box, np.ndarray] | None:
    """Pixels a round brush of ``radius`` paints when dragged from ``start`` to ``end``.

    A pixel is painted when its centre lies within ``radius`` of the segment (a disc when
    start == end: radius 1 gives the 5-pixel plus, 1.5 a 3 x 3 square). For radius <
    sqrt(1/2), where a thin brush could slip between pixel centres, the digital line of the
    segment (each point rounded to the nearest pixel) is painted too: radius 0 paints the
    pixel under a point and an 8-connected line. Cost: proportional to the box.

    Parameters
    ----------
    start, end : tuple of float
        (row, col) of the segment's ends, pixel centres at integers; may lie outside the plane.
    radius : float
        Brush radius in px (>= 0).
    shape : tuple of int
        (Y, X) of the plane.

    Returns
    -------
    tuple of (Box, ndarray) or None
        (box, mask): the box (row0, row1, col0, col1) clipped to ``shape`` and a bool mask
        of the box's shape; None when nothing falls inside the plane.
    """
    (r0, c0), (r1, c1) = start, end
    reach = max(radius, 0.5)
    rows = (max(math.floor(min(r0, r1) - reach), 0),
            min(math.floor(max(r0, r1) + reach) + 1, shape[0]))
    cols = (max(math.floor(min(c0, c1) - reach), 0),
            min(math.floor(max(c0, c1) + reach) + 1, shape[1]))
    if rows[0] >= rows[1] or cols[0] >= cols[1]:
        return None
    rr = np.arange(*rows, dtype=np.float64)[:, None] - r0
    cc = np.arange(*cols, dtype=np.float64)[None, :] - c0
    dr, dc = r1 - r0, c1 - c0
    length2 = dr * dr + dc * dc
    if length2 == 0:
        dist2 = rr * rr + cc * cc
    else:
        t = (rr * dr + cc * dc) / length2
        np.clip(t, 0.0, 1.0, out=t)
        dist2 = np.square(rr - t * dr) + np.square(cc - t * dc)
    mask = dist2 <= radius * radius + 1e-9
    if radius < _THIN:  # add the digital (DDA) line: steps <= 1 px, so 8-connected
        t = np.linspace(0.0, 1.0, max(math.ceil(max(abs(dr), abs(dc))), 1) + 1)
        line_r = np.floor(r0 + t * dr + 0.5).astype(np.intp) - rows[0]
        line_c = np.floor(c0 + t * dc + 0.5).astype(np.intp) - cols[0]
        inside = (line_r >= 0) & (line_r < mask.shape[0]) & (line_c >= 0) & (line_c < mask.shape[1])
        mask[line_r[inside], line_c[inside]] = True
    return (rows[0], rows[1], cols[0], cols[1]), mask


def _pieces(start, end, radius):
    """Split a long segment so that each piece's box stays small (cost ~ length x radius)."""
    length = math.hypot(end[0] - start[0], end[1] - start[1])
    n = max(1, math.ceil(length / max(8.0 * radius, 32.0)))
    points = [(start[0] + (end[0] - start[0]) * k / n, start[1] + (end[1] - start[1]) * k / n)
              for k in range(n + 1)]
    return zip(points[:-1], points[1:])


def _tight(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Half-open bounds of the True pixels of a 2-D mask, or None when there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _union(a: Box | None, b: Box) -> Box:
    if a is None:
        return b
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def _area(box: Box) -> int:
    return (box[1] - box[0]) * (box[3] - box[2])


def _merge(changes: list[_Change]) -> tuple[_Change, ...]:
    """One change over the union box (first old value of each pixel wins), unless that box
    is much larger than the pieces (a long diagonal stroke): then keep the pieces."""
    if len(changes) <= 1:
        return tuple(changes)
    box = None
    for change in changes:
        box = _union(box, change.box)
    if _area(box) > max(4 * sum(_area(c.box) for c in changes), 1 << 20):
        return tuple(changes)
    mask = np.zeros((box[1] - box[0], box[3] - box[2]), dtype=bool)
    old = np.zeros(mask.shape, dtype=changes[0].old.dtype)
    for change in reversed(changes):
        r0, r1, c0, c1 = change.box
        sub = slice(r0 - box[0], r1 - box[0]), slice(c0 - box[2], c1 - box[2])
        mask[sub] |= change.mask
        old[sub][change.mask] = change.old
    return (_Change(changes[0].layer, box, mask, old[mask], changes[0].new),)


# --------------------------------------------------------------------------- checks


def _integer(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise InvalidInputError(f"{name} must be a whole number, not {value!r}.")
    try:
        return operator.index(value)
    except TypeError:
        raise InvalidInputError(f"{name} must be a whole number; got {value!r}.") from None


def _label_value(value) -> int:
    value = _integer("A cell id", value)
    if not 0 <= value <= MAX_LABEL:
        raise InvalidInputError(f"Cell ids go from 0 (background) to {MAX_LABEL}; got {value}.")
    return value


def _layer_value(layer: str, value):
    if layer == "labels":
        return _label_value(value)
    if isinstance(value, (bool, np.bool_)) or value in (0, 1):
        return bool(value)
    raise InvalidInputError(f"The ignore mask takes True or False; got {value!r}.")


def _role(role) -> str:
    if role not in ROLES:
        raise InvalidInputError(f"Unknown plane role {role!r}; choose one of {', '.join(ROLES)}.")
    return role


def _coordinate(row, col) -> tuple[float, float]:
    try:
        point = float(row), float(col)
    except (TypeError, ValueError):
        message = f"A position must be two numbers; got ({row!r}, {col!r})."
        raise InvalidInputError(message) from None
    if not all(math.isfinite(v) for v in point):
        raise InvalidInputError(f"A position must be finite; got ({row}, {col}).")
    return point


def _labels_array(labels, shape: tuple[int, int], what: str) -> np.ndarray:
    """Checked (Y, X) labels as uint32 (a view of the input when it already is uint32)."""
    arr = np.asarray(labels)
    if arr.shape != shape:
        raise InvalidInputError(
            f"The {what} have shape {arr.shape}; the stack's planes are {shape}.")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(
            f"The {what} must hold whole numbers (cell ids); they hold {arr.dtype}.")
    if arr.dtype.itemsize > 4 or np.issubdtype(arr.dtype, np.signedinteger):
        if arr.size and (arr.min() < 0 or arr.max() > MAX_LABEL):
            raise InvalidInputError(f"The {what} must have ids from 0 to {MAX_LABEL}.")
    return arr.astype(np.uint32, copy=False)


def _mask_array(mask, shape: tuple[int, int], what: str) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.shape != shape:
        raise InvalidInputError(
            f"The {what} has shape {arr.shape}; the stack's planes are {shape}.")
    if arr.dtype == bool:
        return arr
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(f"The {what} must be yes/no values; it holds {arr.dtype}.")
    return arr != 0


# --------------------------------------------------------------------------- document


class LabelDocument:
    """Labels, ignore mask and roles of a stack of ``n_planes`` planes of ``shape`` (Y, X).

    history_bytes: memory budget of the undo/redo history of the whole document;
    history_items: most undo items kept per plane. Oldest items are dropped first; an
    edit larger than the whole budget cannot be undone (and clears its plane's history).
    All edit methods return True when they changed a pixel, False otherwise.
    """

    def __init__(self, n_planes: int, shape: tuple[int, int], *,
                 history_bytes: int = 256 * 2**20, history_items: int = 100) -> None:
        n_planes = _integer("The number of planes", n_planes)
        try:
            shape = tuple(_integer("A plane size", n) for n in shape)
        except TypeError:
            raise InvalidInputError(f"A plane shape is (rows, columns); got {shape!r}.") from None
        if n_planes < 1 or len(shape) != 2 or min(shape) < 1:
            raise InvalidInputError(
                f"A label stack needs at least one plane of at least 1 x 1 pixels; got "
                f"{n_planes} planes of {shape}.")
        self._history_bytes = max(_integer("history_bytes", history_bytes), 0)
        self._history_items = max(_integer("history_items", history_items), 0)
        self.n_planes: int = n_planes
        self.shape: tuple[int, int] = shape
        self._planes: dict[str, dict[int, np.ndarray]] = {layer: {} for layer in LAYERS}
        self._zeros = {layer: np.broadcast_to(np.zeros((), dtype), shape)
                       for layer, dtype in _DTYPES.items()}
        self._roles = ["none"] * n_planes
        self._versions = [0] * n_planes
        self._max_ids: dict[int, int | None] = {}  # per allocated plane; None = unknown
        self._undo: dict[int, deque[_Edit]] = {}
        self._redo: dict[int, list[_Edit]] = {}  # [0] is the farthest in the future
        self._history_total = 0
        self._seq = 0
        self._stroke: _Stroke | None = None
        self._observers: dict[object, Callable] = {}

    # ------------------------------------------------------------------ observers

    def subscribe(self, callback: Callable[[LabelsChanged | RolesChanged], object]
                  ) -> Callable[[], None]:
        """Call ``callback(event)`` after every change; returns a function that unsubscribes.

        Parameters
        ----------
        callback : callable
            Called with each :class:`LabelsChanged` or :class:`RolesChanged` event.

        Returns
        -------
        callable
            ``unsubscribe()``, taking no arguments; calling it twice is harmless.
        """
        token = object()
        self._observers[token] = callback

        def unsubscribe() -> None:
            self._observers.pop(token, None)

        return unsubscribe

    def _emit(self, event) -> None:
        for callback in tuple(self._observers.values()):
            callback(event)

    # ------------------------------------------------------------------ reading

    def labels_of(self, plane: int) -> np.ndarray:
        """Plane's labels, (Y, X) uint32, as a READ-ONLY view (no copy).

        The view shows later edits of an allocated plane; an untouched plane gives a zero
        view that stays zero. Copy it (and note :meth:`version`) to keep a snapshot.

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.

        Returns
        -------
        ndarray
            (Y, X) uint32, not writeable.
        """
        return self._read(self._plane(plane), "labels")

    def ignore_of(self, plane: int) -> np.ndarray:
        """Plane's ignore mask, (Y, X) bool, read-only view (see :meth:`labels_of`).

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.

        Returns
        -------
        ndarray
            (Y, X) bool, True = left out of training; not writeable.
        """
        return self._read(self._plane(plane), "ignore")

    def pick(self, plane: int, row: int, col: int) -> int:
        """The cell id at pixel (row, col) (0 = background).

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.
        row, col : int
            The pixel, inside the plane.

        Returns
        -------
        int
            The cell id.
        """
        plane = self._plane(plane)
        row, col = self._pixel(row, col)
        return int(self._read(plane, "labels")[row, col])

    def next_free_id(self) -> int:
        """One more than the largest id in the whole stack (kept up to date on edits).

        Returns
        -------
        int
            An id no plane uses; InvalidInputError when :data:`MAX_LABEL` is taken.
        """
        for plane, top in self._max_ids.items():
            if top is None:
                self._max_ids[plane] = int(self._planes["labels"][plane].max())
        top = max(self._max_ids.values(), default=0)
        if top >= MAX_LABEL:
            raise InvalidInputError("Every cell id is taken; renumber the cells first.")
        return top + 1

    def version(self, plane: int) -> int:
        """A counter that grows with every change of the plane (pixels or role).

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.

        Returns
        -------
        int
            The counter; compare two readings to tell whether the plane changed.
        """
        return self._versions[self._plane(plane)]

    def allocated_planes(self, layer: str = "labels") -> tuple[int, ...]:
        """Planes of ``layer`` that hold memory (were written at least once), sorted.

        Parameters
        ----------
        layer : str
            "labels" or "ignore".

        Returns
        -------
        tuple of int
            Plane numbers, ascending.
        """
        return tuple(sorted(self._planes[self._layer(layer)]))

    @property
    def history_nbytes(self) -> int:
        """Bytes held by the undo/redo history (approximate, within the budget).

        Returns
        -------
        int
        """
        return self._history_total

    # ------------------------------------------------------------------ roles

    def role(self, plane: int) -> str:
        """The plane's role: "none", "train" or "validation".

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.

        Returns
        -------
        str
            One of :data:`ROLES`.
        """
        return self._roles[self._plane(plane)]

    def set_role(self, plane: int, role: str) -> None:
        """Set a plane's role (not an undoable edit); emits RolesChanged when it changes.

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.
        role : str
            One of :data:`ROLES`.

        Returns
        -------
        None
        """
        self._assign_role(self._plane(plane), _role(role))

    def planes_with_role(self, role: str) -> tuple[int, ...]:
        """Planes whose role is ``role``.

        Parameters
        ----------
        role : str
            One of :data:`ROLES`.

        Returns
        -------
        tuple of int
            Plane numbers, ascending.
        """
        role = _role(role)
        return tuple(p for p, r in enumerate(self._roles) if r == role)

    def annotated_planes(self) -> tuple[int, ...]:
        """Planes with role "train" or "validation".

        Returns
        -------
        tuple of int
            Plane numbers, ascending.
        """
        return tuple(p for p, r in enumerate(self._roles) if r != "none")

    def _assign_role(self, plane: int, role: str) -> None:
        if self._roles[plane] != role:
            self._roles[plane] = role
            self._versions[plane] += 1
            self._emit(RolesChanged(plane, role))

    # ------------------------------------------------------------------ strokes

    def begin_stroke(self, plane: int, *, value, radius: float, layer: str = "labels",
                     only_background: bool = False) -> None:
        """Start a brush stroke; paint it with :meth:`stroke_to`, close it with :meth:`end_stroke`.

        A stroke still open is ended first.

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.
        value : int or bool
            Cell id for "labels" (0 = eraser), True/False for "ignore".
        radius : float
            Brush radius in px (>= 0), see :func:`brush_mask`.
        layer : str
            "labels" or "ignore".
        only_background : bool
            Paint only pixels that are 0 (False) now (napari's "preserve labels").

        Returns
        -------
        None
        """
        plane, layer = self._plane(plane), self._layer(layer)
        value = _layer_value(layer, value)
        radius = float(radius)
        if not (math.isfinite(radius) and radius >= 0):
            raise InvalidInputError(f"The brush radius must be 0 or more pixels; got {radius}.")
        self.end_stroke()
        self._stroke = _Stroke(plane, layer, value, radius, bool(only_background))

    def stroke_to(self, row: float, col: float) -> bool:
        """Paint from the stroke's last point to (row, col) (the first point: one dab).

        Points may lie outside the plane (the part inside is painted). Emits one
        LabelsChanged with the box of the pixels changed by this call. RuntimeError
        without :meth:`begin_stroke`.

        Parameters
        ----------
        row, col : float
            The next point of the stroke, pixel centres at integers.

        Returns
        -------
        bool
            True when this call changed a pixel.
        """
        stroke = self._stroke
        if stroke is None:
            raise RuntimeError("stroke_to() needs begin_stroke() first")
        point = _coordinate(row, col)
        start, stroke.last = stroke.last or point, point
        changed = None
        for a, b in _pieces(start, point, stroke.radius):
            hit = brush_mask(a, b, stroke.radius, self.shape)
            if hit is not None:
                change = self._paint(stroke.plane, stroke.layer, *hit, stroke.value,
                                     stroke.only_background)
                if change is not None:
                    stroke.changes.append(change)
                    changed = _union(changed, change.box)
        if changed is None:
            return False
        self._emit(LabelsChanged(stroke.plane, stroke.layer, changed))
        stroke.marked |= self._mark_edited(stroke.plane)
        return True

    def end_stroke(self) -> bool:
        """Close the open stroke as one undo item; True when it changed anything.

        Returns
        -------
        bool
            False also when no stroke was open.
        """
        stroke, self._stroke = self._stroke, None
        if stroke is None or not stroke.changes:
            return False
        self._record(stroke.plane, _merge(stroke.changes), stroke.marked)
        return True

    def cancel_stroke(self) -> bool:
        """Take back the open stroke (e.g. Escape while dragging); nothing is recorded.

        Returns
        -------
        bool
            True when pixels were restored.
        """
        stroke, self._stroke = self._stroke, None
        if stroke is None or not stroke.changes:
            return False
        self._replay(stroke.plane, stroke.changes, undo=True, marked=stroke.marked)
        return True

    @property
    def in_stroke(self) -> bool:
        """Whether a stroke is open (between :meth:`begin_stroke` and its end).

        Returns
        -------
        bool
        """
        return self._stroke is not None

    def paint(self, plane: int, points: Iterable[tuple[float, float]], *, value,
              radius: float, layer: str = "labels", only_background: bool = False) -> bool:
        """A whole stroke through ``points`` (one point: a dab) as one undo item.

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.
        points : iterable of tuple of float
            (row, col) points of the stroke, in order.
        value, radius, layer, only_background
            As for :meth:`begin_stroke`.

        Returns
        -------
        bool
            True when the stroke changed a pixel.
        """
        self.begin_stroke(plane, value=value, radius=radius, layer=layer,
                          only_background=only_background)
        try:
            for row, col in points:
                self.stroke_to(row, col)
        except BaseException:
            self.end_stroke()
            raise
        return self.end_stroke()

    # ------------------------------------------------------------------ other edits

    def fill(self, plane: int, row: int, col: int, value, *, layer: str = "labels") -> bool:
        """Flood fill: the 4-connected region of equal value around pixel (row, col) -> value.

        Cost: proportional to the region's box (a window that grows until it holds the
        region), so refilling a cell is cheap; filling a plane's background is not.

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.
        row, col : int
            The seed pixel, inside the plane.
        value : int or bool
            New cell id for "labels", True/False for "ignore".
        layer : str
            "labels" or "ignore".

        Returns
        -------
        bool
            True when a pixel changed (one undo item).
        """
        plane, layer = self._plane(plane), self._layer(layer)
        value = _layer_value(layer, value)
        row, col = self._pixel(row, col)
        self.end_stroke()
        data = self._read(plane, layer)
        if data[row, col] == value:
            return False
        height, width = self.shape
        half = 32
        while True:
            r0, r1 = max(row - half, 0), min(row + half + 1, height)
            c0, c1 = max(col - half, 0), min(col + half + 1, width)
            regions, _ = ndi.label(data[r0:r1, c0:c1] == data[row, col])  # 4-connected
            region = regions == regions[row - r0, col - c0]
            if not ((r0 > 0 and region[0].any()) or (r1 < height and region[-1].any())
                    or (c0 > 0 and region[:, 0].any()) or (c1 < width and region[:, -1].any())):
                break
            half *= 2
        return self._edit_mask(plane, layer, (r0, r1, c0, c1), region, value)

    def delete_cell(self, plane: int, cell_id: int) -> bool:
        """Set every pixel of ``cell_id`` on the plane to 0 (one undo item).

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.
        cell_id : int
            The cell (not 0).

        Returns
        -------
        bool
            True when the cell had pixels on the plane.
        """
        return self._replace_id(plane, cell_id, 0)

    def merge_cells(self, plane: int, keep_id: int, merge_id: int) -> bool:
        """Every pixel of ``merge_id`` on the plane becomes ``keep_id`` (one undo item).

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.
        keep_id : int
            The cell that stays (not 0).
        merge_id : int
            The cell that is absorbed (not 0).

        Returns
        -------
        bool
            True when a pixel changed.
        """
        keep_id = _label_value(keep_id)
        if keep_id == 0:
            raise InvalidInputError("Cannot merge a cell into the background; delete it instead.")
        return self._replace_id(plane, merge_id, keep_id)

    def _replace_id(self, plane, cell_id, value) -> bool:
        plane = self._plane(plane)
        cell_id = _label_value(cell_id)
        if cell_id == 0:
            raise InvalidInputError("Cell id 0 is the background, not a cell.")
        self.end_stroke()
        if cell_id == value or plane not in self._planes["labels"]:
            return False
        # One pass over the plane finds the cell (once per click, affordable even on large
        # planes); only its box is written, recorded and reported.
        hit = self._planes["labels"][plane] == cell_id
        return self._edit_mask(plane, "labels", (0, self.shape[0], 0, self.shape[1]), hit, value)

    def _edit_mask(self, plane, layer, box, mask, value) -> bool:
        tight = _tight(mask)
        if tight is None:
            return False
        r0, r1, c0, c1 = tight
        sub = (box[0] + r0, box[0] + r1, box[2] + c0, box[2] + c1)
        change = self._paint(plane, layer, sub, mask[r0:r1, c0:c1], value, False)
        self._record(plane, () if change is None else (change,), None)
        return change is not None

    def set_plane_labels(self, plane: int, labels=None, *, ignore=None,
                         undoable: bool = True) -> bool:
        """Replace a plane's labels (Y, X) and/or ignore mask (Y, X) as ONE undo item.

        For "accept prediction" and automatic segmentation; the recorded box is the
        bounding box of the changed pixels. Inputs are not kept or changed.

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.
        labels : ndarray or None
            (Y, X) non-negative integer cell ids up to :data:`MAX_LABEL`; None keeps the labels.
        ignore : ndarray or None
            (Y, X) bool (or 0/1) ignore mask; None keeps it.
        undoable : bool
            False (loading a file) clears the plane's undo history instead of recording.

        Returns
        -------
        bool
            True when a pixel changed.
        """
        plane = self._plane(plane)
        new = {}
        if labels is not None:
            new["labels"] = _labels_array(labels, self.shape, "labels")
        if ignore is not None:
            new["ignore"] = _mask_array(ignore, self.shape, "ignore mask")
        self.end_stroke()
        changes = []
        for layer, array in new.items():
            current = self._read(plane, layer)
            box = _tight(current != array)
            if box is None:
                continue
            window = np.s_[box[0]:box[1], box[2]:box[3]]
            mask = current[window] != array[window]
            old = self._write(plane, layer, box, mask, array[window][mask])
            changes.append(_Change(layer, box, mask, old, array[window][mask]))
        if not undoable:
            self._clear_history(plane)
            self._notify(plane, changes)
            if changes:
                self._mark_edited(plane)
            return bool(changes)
        self._record(plane, tuple(changes), None)
        return bool(changes)

    # ------------------------------------------------------------------ undo / redo

    def can_undo(self, plane: int) -> bool:
        """Whether :meth:`undo` would change the plane (an open stroke counts).

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.

        Returns
        -------
        bool
        """
        plane = self._plane(plane)
        return bool(self._undo.get(plane)) or (self._stroke is not None
                                               and self._stroke.plane == plane
                                               and bool(self._stroke.changes))

    def can_redo(self, plane: int) -> bool:
        """Whether :meth:`redo` would change the plane.

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.

        Returns
        -------
        bool
        """
        return bool(self._redo.get(self._plane(plane)))

    def undo(self, plane: int) -> bool:
        """Undo the plane's last edit (an open stroke is ended first); False if none.

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.

        Returns
        -------
        bool
            True when an edit was undone.
        """
        plane = self._plane(plane)
        self.end_stroke()
        stack = self._undo.get(plane)
        if not stack:
            return False
        edit = stack.pop()
        self._redo.setdefault(plane, []).append(edit)
        self._replay(plane, edit.changes, undo=True, marked=edit.marked)
        return True

    def redo(self, plane: int) -> bool:
        """Redo the plane's last undone edit; False if none.

        Parameters
        ----------
        plane : int
            Plane number, 0 .. n_planes - 1.

        Returns
        -------
        bool
            True when an edit was redone.
        """
        plane = self._plane(plane)
        self.end_stroke()
        stack = self._redo.get(plane)
        if not stack:
            return False
        edit = stack.pop()
        self._undo.setdefault(plane, deque()).append(edit)
        self._replay(plane, edit.changes, undo=False, marked=edit.marked)
        return True

    # ------------------------------------------------------------------ saving

    def to_arrays(self) -> LabelSnapshot:
        """Copies of the allocated planes and the roles (an open stroke is ended first).

        Returns
        -------
        LabelSnapshot
            uint32 label and bool ignore planes by plane number (unallocated planes absent),
            and one role per plane.
        """
        self.end_stroke()
        return LabelSnapshot(
            self.n_planes, self.shape,
            labels={p: a.copy() for p, a in sorted(self._planes["labels"].items())},
            ignore={p: a.copy() for p, a in sorted(self._planes["ignore"].items())},
            roles=tuple(self._roles))

    @classmethod
    def from_arrays(cls, snapshot: LabelSnapshot, **options) -> LabelDocument:
        """A new document (empty history) from a :class:`LabelSnapshot`; options as __init__.

        Parameters
        ----------
        snapshot : LabelSnapshot
            The content; its arrays are checked and copied.
        **options
            ``history_bytes`` and ``history_items``, as for :class:`LabelDocument`.

        Returns
        -------
        LabelDocument
        """
        doc = cls(snapshot.n_planes, snapshot.shape, **options)
        for layer, planes in (("labels", snapshot.labels), ("ignore", snapshot.ignore)):
            for plane, array in planes.items():
                plane = doc._plane(plane)
                if layer == "labels":
                    data = np.array(_labels_array(array, doc.shape, "labels"), order="C")
                    doc._max_ids[plane] = None
                else:
                    data = np.array(_mask_array(array, doc.shape, "ignore mask"), order="C")
                doc._planes[layer][plane] = data
        if snapshot.roles is not None:
            roles = tuple(snapshot.roles)
            if len(roles) != doc.n_planes:
                raise InvalidInputError(
                    f"There are {len(roles)} plane roles for {doc.n_planes} planes.")
            doc._roles = [_role(r) for r in roles]
        return doc

    # ------------------------------------------------------------------ internals

    def _plane(self, plane) -> int:
        plane = _integer("A plane number", plane)
        if not 0 <= plane < self.n_planes:
            raise InvalidInputError(
                f"There is no plane {plane}: the stack has planes 0 to {self.n_planes - 1}.")
        return plane

    def _layer(self, layer) -> str:
        if layer not in LAYERS:
            raise InvalidInputError(f"Unknown layer {layer!r}; choose 'labels' or 'ignore'.")
        return layer

    def _pixel(self, row, col) -> tuple[int, int]:
        row, col = _integer("A row", row), _integer("A column", col)
        if not (0 <= row < self.shape[0] and 0 <= col < self.shape[1]):
            raise InvalidInputError(f"Pixel ({row}, {col}) lies outside the {self.shape} plane.")
        return row, col

    def _read(self, plane: int, layer: str) -> np.ndarray:
        data = self._planes[layer].get(plane)
        if data is None:
            return self._zeros[layer]
        view = data.view()
        view.flags.writeable = False
        return view

    def _paint(self, plane, layer, box, mask, value, only_background) -> _Change | None:
        """Set pixels ``mask`` of ``box`` to one value; the change (None if none differ)."""
        r0, r1, c0, c1 = box
        current = self._read(plane, layer)[r0:r1, c0:c1]
        hit = mask & (current != value)
        if only_background:
            hit &= current == 0
        tight = _tight(hit)
        if tight is None:
            return None
        t0, t1, u0, u1 = tight
        box, hit = (r0 + t0, r0 + t1, c0 + u0, c0 + u1), hit[t0:t1, u0:u1]
        new = np.asarray(value, dtype=_DTYPES[layer])
        return _Change(layer, box, hit, self._write(plane, layer, box, hit, new), new)

    def _write(self, plane, layer, box, mask, values) -> np.ndarray:
        """Low level: write values into the masked box pixels; return the old values."""
        planes = self._planes[layer]
        if plane not in planes:
            planes[plane] = np.zeros(self.shape, dtype=_DTYPES[layer])
            if layer == "labels":
                self._max_ids[plane] = 0
        window = planes[plane][box[0]:box[1], box[2]:box[3]]
        old = window[mask]
        window[mask] = values
        self._versions[plane] += 1
        top = self._max_ids.get(plane)
        if layer == "labels" and top is not None and old.size:
            new_top = int(np.max(values))
            if new_top >= top:
                self._max_ids[plane] = new_top
            elif int(old.max()) == top:
                self._max_ids[plane] = None  # the largest id may be gone: recount when asked
        return old

    def _replay(self, plane, changes, *, undo: bool, marked: bool) -> None:
        for change in reversed(changes) if undo else changes:
            values = change.old if undo else change.new
            self._write(plane, change.layer, change.box, change.mask, values)
        self._notify(plane, changes)
        if marked and self._roles[plane] == ("train" if undo else "none"):
            self._assign_role(plane, "none" if undo else "train")

    def _notify(self, plane, changes) -> None:
        boxes: dict[str, Box] = {}
        for change in changes:
            boxes[change.layer] = _union(boxes.get(change.layer), change.box)
        for layer, box in boxes.items():
            self._emit(LabelsChanged(plane, layer, box))

    def _mark_edited(self, plane) -> bool:
        if self._roles[plane] != "none":
            return False
        self._assign_role(plane, "train")
        return True

    def _record(self, plane, changes: tuple[_Change, ...], marked: bool | None) -> None:
        """Push one undo item; marked=None: emit its events and mark the role here."""
        if not changes:
            return
        if marked is None:
            self._notify(plane, changes)
            marked = self._mark_edited(plane)
        self._seq += 1
        edit = _Edit(changes, marked, self._seq, sum(c.nbytes for c in changes))
        for dropped in self._redo.pop(plane, ()):
            self._history_total -= dropped.nbytes
        if edit.nbytes > self._history_bytes or self._history_items == 0:
            self._clear_history(plane)  # older items would no longer undo correctly
            return
        stack = self._undo.setdefault(plane, deque())
        stack.append(edit)
        self._history_total += edit.nbytes
        while len(stack) > self._history_items:
            self._history_total -= stack.popleft().nbytes
        while self._history_total > self._history_bytes:
            oldest = min((s[0].seq, p) for p, s in self._undo.items() if s) if any(
                self._undo.values()) else None
            if oldest is not None:
                self._history_total -= self._undo[oldest[1]].popleft().nbytes
            else:
                redo = next(s for s in self._redo.values() if s)
                self._history_total -= redo.pop(0).nbytes

    def _clear_history(self, plane) -> None:
        for edit in (*self._undo.pop(plane, ()), *self._redo.pop(plane, ())):
            self._history_total -= edit.nbytes
