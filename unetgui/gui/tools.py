"""Painting tools: turn mouse presses, drags and clicks into label-document edits.

A tool never touches pixels or widgets itself; it calls :class:`core.labels.LabelDocument`
and the canvas redraws the box the document reports. What a tool acts on (the document,
plane, current label, brush radius) it reads from the tool state
(:class:`unetgui.gui.tool_state.ToolState`), and it reports back through that state's
plain methods (``show_message``, ``show_box``, ``picked``, ``accept_box``,
``accept_cell``), so no tool imports Qt or reaches into the window. A new tool is a
subclass here, added to :data:`TOOL_TYPES`: the Tools panel, the Tool menu and the F1
help list it from there.

One pixel rule everywhere (:func:`pixel_under`): image coordinates have pixel centres on
whole numbers, and a coordinate belongs to the nearest pixel centre.
"""

from __future__ import annotations

import math

from unetgui.core.labels import Box


def pixel_under(row: float, col: float) -> tuple[int, int]:
    """The pixel (row, col) under an image coordinate whose pixel centres are whole numbers."""
    return math.floor(row + 0.5), math.floor(col + 0.5)


class Tool:
    """Base tool: left clicks and drags arrive in image (row, col) coordinates."""

    name = "pan"
    title = "Pan / zoom"
    key = "Space"
    wants_drag = False  # False: left-drags pan the view
    shows_brush = False

    def __init__(self, state) -> None:
        self.state = state  # a ToolState, or any object with its attributes and methods

    def press(self, row: float, col: float) -> None: ...

    def move(self, row: float, col: float) -> None: ...

    def release(self, row: float, col: float) -> None: ...

    def click(self, row: float, col: float) -> None: ...

    def _inside(self, row: float, col: float) -> tuple[int, int] | None:
        doc = self.state.document
        r, c = pixel_under(row, col)
        if doc is None or not (0 <= r < doc.shape[0] and 0 <= c < doc.shape[1]):
            return None
        return r, c


class BrushTool(Tool):
    """Paints a smooth stroke (the document interpolates between mouse positions)."""

    name, title, key = "paint", "Paint", "2"
    layer = "labels"
    wants_drag = True
    shows_brush = True

    def value(self):
        return self.state.label

    def press(self, row: float, col: float) -> None:
        if self.state.document is None:
            return
        self.state.document.begin_stroke(
            self.state.plane,
            value=self.value(),
            radius=self.state.radius,
            layer=self.layer,
            only_background=self.state.only_background and self.layer == "labels",
        )
        self.state.document.stroke_to(row, col)

    def move(self, row: float, col: float) -> None:
        if self.state.document is not None and self.state.document.in_stroke:
            self.state.document.stroke_to(row, col)

    def release(self, row: float, col: float) -> None:
        if self.state.document is not None:
            self.state.document.end_stroke()

    def click(self, row: float, col: float) -> None:
        self.press(row, col)
        self.release(row, col)


class EraserTool(BrushTool):
    name, title, key = "erase", "Erase", "1"

    def value(self):
        return 0


class IgnoreBrushTool(BrushTool):
    """Marks pixels to leave out of training (not annotated yet, or unsure)."""

    name, title, key = "ignore", "Mark ignore", "I"
    layer = "ignore"

    def value(self):
        return True


class IgnoreEraserTool(IgnoreBrushTool):
    name, title, key = "unignore", "Unmark ignore", "Shift+I"

    def value(self):
        return False


class FillTool(Tool):
    """Fills the 4-connected region under the click with the current label."""

    name, title, key = "fill", "Fill", "3"

    def click(self, row: float, col: float) -> None:
        pixel = self._inside(row, col)
        if pixel is not None:
            self.state.document.fill(self.state.plane, *pixel, self.state.label)


class PickTool(Tool):
    """Makes the label under the click the current label."""

    name, title, key = "pick", "Pick label", "4"

    def click(self, row: float, col: float) -> None:
        pixel = self._inside(row, col)
        if pixel is not None:
            self.state.picked(self.state.document.pick(self.state.plane, *pixel))


class DeleteCellTool(Tool):
    """Removes the whole cell under the click."""

    name, title, key = "delete", "Delete cell", "Del"

    def click(self, row: float, col: float) -> None:
        pixel = self._inside(row, col)
        if pixel is None:
            return
        cell = self.state.document.pick(self.state.plane, *pixel)
        if cell:
            self.state.document.delete_cell(self.state.plane, cell)
            self.state.show_message(f"Deleted cell {cell}.")


class MergeTool(Tool):
    """First click: the cell to keep; second click: the cell merged into it."""

    name, title, key = "merge", "Merge cells", "G"

    def __init__(self, state) -> None:
        super().__init__(state)
        self.first: int | None = None

    def click(self, row: float, col: float) -> None:
        pixel = self._inside(row, col)
        if pixel is None:
            return
        cell = self.state.document.pick(self.state.plane, *pixel)
        if not cell:
            self.first = None
            self.state.show_message("Merge: click a cell, then the cell to merge into it.")
        elif self.first is None or self.first == cell:
            self.first = cell
            self.state.show_message(f"Merge: now click the cell to merge into cell {cell}.")
        else:
            self.state.document.merge_cells(self.state.plane, self.first, cell)
            self.state.show_message(f"Merged cell {cell} into cell {self.first}.")
            self.first = None


class AcceptBoxTool(Tool):
    """Drag a box: the predicted cells lying mostly inside it are copied into the labels."""

    name, title, key = "accept_box", "Accept prediction in a box", "R"
    wants_drag = True

    def __init__(self, state) -> None:
        super().__init__(state)
        self.start: tuple[float, float] | None = None

    def press(self, row: float, col: float) -> None:
        self.start = (row, col)

    def move(self, row: float, col: float) -> None:
        if self.start is not None:
            box = self._box(row, col)
            self.state.show_box(box if box[1] > box[0] and box[3] > box[2] else None)

    def release(self, row: float, col: float) -> None:
        if self.start is None:
            return
        box = self._box(row, col)
        self.start = None
        self.state.show_box(None)
        if box[1] > box[0] and box[3] > box[2]:
            self.state.accept_box(box)

    def click(self, row: float, col: float) -> None:
        self.state.show_message("Accept prediction: drag a box around the predicted cells to copy into the labels.")

    def _box(self, row: float, col: float) -> Box:
        (r0, c0), doc = self.start, self.state.document
        rows, cols = doc.shape if doc is not None else (0, 0)
        (start_row, start_col), (end_row, end_col) = pixel_under(r0, c0), pixel_under(row, col)
        top, bottom = sorted((start_row, end_row))
        left, right = sorted((start_col, end_col))
        r0, r1 = min(max(top, 0), rows), min(max(bottom + 1, 0), rows)
        c0, c1 = min(max(left, 0), cols), min(max(right + 1, 0), cols)
        return r0, r1, c0, c1  # empty (r1 == r0 or c1 == c0) when it misses the plane


class AcceptCellTool(Tool):
    """Click a predicted cell: that one cell is copied into the labels (one undoable edit)."""

    name, title, key = "accept_cell", "Accept predicted cell", "C"

    def click(self, row: float, col: float) -> None:
        pixel = self._inside(row, col)
        if pixel is not None:
            self.state.accept_cell(*pixel)


TOOL_TYPES = (Tool, EraserTool, BrushTool, FillTool, PickTool, DeleteCellTool, MergeTool, IgnoreBrushTool,
              IgnoreEraserTool, AcceptBoxTool, AcceptCellTool)
