"""Every command of the window in one table: the menus, the keyboard shortcuts and the
F1 list are all built from it (and from the tools' own keys, :data:`gui.tools.TOOL_TYPES`).

A new command is a row here plus the slot of the same id in the window's wiring.
"""

from __future__ import annotations

from dataclasses import dataclass

from unetgui.gui.tools import TOOL_TYPES


@dataclass(frozen=True)
class Command:
    id: str  # the slot's name in MainWindow.command_slots(); "-" is a separator
    menu: str  # "File", "File/Export", ...; "" for a key with no menu entry
    text: str = ""
    keys: tuple[str, ...] = ()  # the first is shown in the menu; all of them work
    help: str = ""  # what F1 says it does (default: the menu text)
    needs_image: bool = False  # disabled while no image is open
    needs_project: bool = False  # disabled while no project (folder) is open
    for_large: bool = False  # stays enabled for an image too large to edit (shown for viewing only)

    @property
    def description(self) -> str:
        return self.help or self.text.replace("&", "").rstrip(".")


def _sep(menu: str) -> Command:
    return Command("-", menu)


COMMANDS: tuple[Command, ...] = (
    Command("open", "File", "&Open image...", ("Ctrl+O",), "Open an image"),
    Command("open_folder", "File", "Open &folder...", ("Ctrl+Shift+O",),
            "Open a folder of images as a project"),
    Command("recent", "File", "Open &recent"),
    Command("import_labels", "File", "&Import labels...", help="Import labels (TIFF, ImageJ ROIs, GeoJSON)",
            needs_image=True),
    Command("save", "File", "&Save annotations", ("Ctrl+S",),
            "Save the annotations now (they also save automatically)", needs_image=True),
    _sep("File"),
    Command("export_labels_plane", "File/Export", "Labels of this plane...", needs_image=True),
    Command("export_labels_stack", "File/Export", "Labels of all planes...", needs_image=True),
    Command("export_mask_plane", "File/Export", "Binary masks of this plane...", needs_image=True),
    Command("export_mask_stack", "File/Export", "Binary masks of all planes...", needs_image=True),
    Command("export_probabilities", "File/Export", "Cell probabilities of predicted planes...", needs_image=True),
    Command("-", "File/Export"),
    Command("export_rois", "File/Export", "Cells as ImageJ ROIs (Fiji)...", needs_image=True),
    Command("export_geojson", "File/Export", "Cells as GeoJSON (QuPath)...", needs_image=True),
    Command("export_measurements", "File/Export", "Cell measurements (CSV)...", needs_image=True),
    Command("export_ome_zarr", "File/Export", "Image and labels as OME-Zarr (napari)...", needs_image=True),
    _sep("File"),
    Command("quit", "File", "&Quit", ("Ctrl+Q",), "Quit unetgui"),

    Command("undo", "Edit", "&Undo", ("Ctrl+Z",), "Undo (per plane)", needs_image=True),
    Command("redo", "Edit", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), needs_image=True),
    Command("cancel_stroke", "Edit", "Cancel the stroke being drawn", ("Escape",), needs_image=True),
    _sep("Edit"),
    Command("new_cell", "Edit", "New cell", ("M",), "New cell (next free label)", needs_image=True),
    Command("larger_brush", "Edit", "Larger brush", ("]",)),
    Command("smaller_brush", "Edit", "Smaller brush", ("[",)),

    Command("fit", "View", "&Fit to window", ("F",), "Fit the image to the window"),
    Command("actual_size", "View", "Actual size (1:1)", ("Ctrl+1",)),
    Command("auto_contrast", "View", "&Auto-contrast", ("A",), needs_image=True, for_large=True),
    Command("next_plane", "View", "Next plane", ("PgDown", "Right")),
    Command("previous_plane", "View", "Previous plane", ("PgUp", "Left")),
    Command("toggle_weights", "View", "Show weight map", ("W",), "Show / hide the weight map"),
    Command("toggle_labels", "View", "Show labels", ("L",), "Show / hide the labels"),

    Command("fine_tune", "Segment", "&Fine-tune", ("Ctrl+T",),
            "Fine-tune the model on the planes marked for training", needs_image=True),
    Command("predict_plane", "Segment", "&Predict this plane", ("Ctrl+P",), needs_image=True),
    Command("predict_stack", "Segment", "Predict &all planes", needs_image=True),
    _sep("Segment"),
    Command("auto_segment_plane", "Segment", "Auto-segment this plane", needs_image=True),
    Command("auto_segment_stack", "Segment", "Auto-segment all planes...", needs_image=True),

    Command("next_image", "Project", "&Next image", ("Ctrl+Right", "Ctrl+PgDown"),
            "Next image of the project", needs_project=True),
    Command("previous_image", "Project", "&Previous image", ("Ctrl+Left", "Ctrl+PgUp"),
            "Previous image of the project", needs_project=True),
    _sep("Project"),
    Command("predict_project", "Project", "Predict &all images", needs_project=True),
    Command("predict_project_new", "Project", "Predict images &not annotated", needs_project=True),
    Command("export_project", "Project", "&Export all images...", help="Export every image of the project",
            needs_project=True),
    Command("project_output", "Project", "&Output folder...", help="Choose where project exports go",
            needs_project=True),

    Command("open_sample", "Help", "Open &sample", help="Open the sample image that ships with unetgui"),
    Command("shortcuts", "Help", "&Keyboard shortcuts", ("F1",), "This list"),
    Command("about", "Help", "&About unetgui"),
)

MOUSE = (
    ("Mouse wheel", "Zoom"),
    ("Right or middle drag", "Pan"),
    ("Left click / drag", "Use the active tool"),
)


def shortcut_rows() -> list[tuple[str, str]]:
    """(keys, what they do) for every command with keys, every tool, and the mouse."""
    rows = [(" / ".join(c.keys), c.description) for c in COMMANDS if c.keys]
    rows += [(tool.key, f"Tool: {tool.title}") for tool in TOOL_TYPES]
    return rows + list(MOUSE)
