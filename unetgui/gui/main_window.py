"""The main window: menus, docks and the wiring between panels, canvas and core.

State lives in the core objects (the image stack, the label document); the window holds
references, forwards user actions to them and redraws what their events report. Work
that can take long (weight map, auto-segmentation, saving) runs in workers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from unetgui.core import annotations as sidecar
from unetgui.core.autoseg import auto_segment
from unetgui.core.errors import UnetguiError
from unetgui.core.io import ImageStack, open_image, read_labels
from unetgui.core.labels import LabelDocument, LabelsChanged, RolesChanged
from unetgui.core.weightmap import weight_map
from unetgui.gui import display
from unetgui.gui.autosave import Autosaver, state_to_document
from unetgui.gui.canvas import Canvas
from unetgui.gui.export import ExportController
from unetgui.gui.model_controller import ModelController
from unetgui.gui.panels.model import ModelPanel
from unetgui.gui.panels.layers import DEFAULT_VISIBLE, LayersPanel
from unetgui.gui.panels.planes import PlanesPanel
from unetgui.gui.panels.tools import ToolsPanel
from unetgui.gui.panels.weightmap import WeightMapPanel
from unetgui.gui.shortcuts import SHORTCUTS, ShortcutsDialog
from unetgui.gui.tools import TOOL_TYPES, ToolState
from unetgui.gui.workers import GeneratorWorker, LatestOnly

IMAGE_FILTER = "Images (*.tif *.tiff *.btf *.png *.jpg *.jpeg);;All files (*)"
MAX_RECENT = 10
WEIGHTS_DELAY_MS = 250


class MainWindow(QtWidgets.QMainWindow):
    """One image at a time: view, annotate, see the weight map, export."""

    def __init__(self, settings: QtCore.QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("unetgui")
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.settings = settings or QtCore.QSettings()
        self.stack: ImageStack | None = None
        self.document: LabelDocument | None = None
        self.image_path: Path | None = None
        self.plane = 0
        self.channel = 0  # index, or display.COMPOSITE
        self.levels: list[tuple[float, float]] = []
        self._plane_data: np.ndarray | None = None
        self._unsubscribe = None
        self.jobs = LatestOnly(self)
        self.jobs.finished.connect(self._job_finished)
        self.jobs.failed.connect(self._job_failed)
        self.autosaver = Autosaver(self.jobs, self)
        self.autosaver.saved.connect(lambda path: self.statusBar().showMessage(f"Saved annotations to {path}", 3000))
        self.autosaver.failed.connect(lambda message: self.show_error("Autosave failed", message))
        self._segmenter: GeneratorWorker | None = None

        self.canvas = Canvas()
        self.tool_state = ToolState(on_pick=self._picked, on_message=lambda text: self.statusBar().showMessage(text, 4000))
        self.tools = {tool.name: tool(self.tool_state) for tool in TOOL_TYPES}
        self._build_central()
        self._build_docks()
        self.export = ExportController(self)
        self._build_menus()
        self._cursor_label = QtWidgets.QLabel("")
        self.statusBar().addPermanentWidget(self._cursor_label)
        self.canvas.cursorMoved.connect(self._cursor_moved)
        self._weights_timer = QtCore.QTimer(self, singleShot=True, interval=WEIGHTS_DELAY_MS)
        self._weights_timer.timeout.connect(self._compute_weights)
        self.choose_tool("paint")
        self._set_enabled(False)
        self.statusBar().showMessage("Open an image: File > Open, or drop a file on the window.")

    # ------------------------------------------------------------------ layout

    def _build_central(self) -> None:
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        row = QtWidgets.QHBoxLayout()
        self.plane_label = QtWidgets.QLabel("")
        self.plane_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.plane_slider.valueChanged.connect(self.show_plane)
        row.addWidget(self.plane_label)
        row.addWidget(self.plane_slider, 1)
        layout.addLayout(row)
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        self.tools_panel = ToolsPanel()
        self.layers_panel = LayersPanel()
        self.weights_panel = WeightMapPanel()
        self.planes_panel = PlanesPanel()
        self.model_panel = ModelPanel()
        self.model_controller = ModelController(
            self.model_panel, self._focus_point, self.weights_panel.parameters, parent=self
        )
        for title, widget, area in (
            ("Model", self._scrolling(self.model_panel), QtCore.Qt.DockWidgetArea.LeftDockWidgetArea),
            ("Tools", self.tools_panel, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea),
            ("Layers", self.layers_panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea),
            ("Prediction", self.model_panel.prediction_panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea),
            ("Weight map", self.weights_panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea),
            ("Planes", self.planes_panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea),
        ):
            dock = QtWidgets.QDockWidget(title, self)
            dock.setObjectName(title)
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
        docks = self.findChildren(QtWidgets.QDockWidget)
        widths = [340 if self.dockWidgetArea(d) == QtCore.Qt.DockWidgetArea.LeftDockWidgetArea else 300 for d in docks]
        self.resizeDocks(docks, widths, QtCore.Qt.Orientation.Horizontal)
        # the tools take the height they need; the model panel (Fine-tune, loss curve) the rest
        by_name = {d.objectName(): d for d in docks}
        tools_height = self.tools_panel.minimumSizeHint().height() + 30
        self.resizeDocks([by_name["Model"], by_name["Tools"]], [2000, tools_height], QtCore.Qt.Orientation.Vertical)
        for name, visible in DEFAULT_VISIBLE.items():
            self.canvas.set_layer_visible(name, visible)

        self.tools_panel.toolChosen.connect(self.choose_tool)
        self.tools_panel.radiusChanged.connect(self._set_radius)
        self.tools_panel.labelChanged.connect(lambda label: setattr(self.tool_state, "label", label))
        self.tools_panel.newCellRequested.connect(self.new_cell)
        self.tools_panel.onlyBackgroundChanged.connect(lambda on: setattr(self.tool_state, "only_background", on))
        self.layers_panel.visibilityChanged.connect(self._layer_visibility)
        self.layers_panel.opacityChanged.connect(self.canvas.set_layer_opacity)
        self.layers_panel.outlinesChanged.connect(self.canvas.set_outlines)
        self.layers_panel.channelChanged.connect(self._set_channel)
        self.layers_panel.levelsChanged.connect(self._set_levels)
        self.layers_panel.autoContrastRequested.connect(self.auto_contrast)
        self.weights_panel.parametersChanged.connect(self._weights_parameters_changed)
        self.planes_panel.planeChosen.connect(self.plane_slider.setValue)
        mc = self.model_controller
        mc.predictionTile.connect(lambda plane, box, patch: self.canvas.set_prediction_tile(box, patch))
        mc.predictionReady.connect(self._prediction_ready)
        mc.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        mc.error.connect(self.show_error)
        self.tool_state.on_box = self.canvas.show_box
        self.tool_state.on_accept_box = mc.accept_box
        self.model_panel.acceptBoxRequested.connect(lambda: self.choose_tool("accept_box"))
        self.planes_panel.roleChosen.connect(self._role_chosen)

    @staticmethod
    def _scrolling(widget: QtWidgets.QWidget) -> QtWidgets.QScrollArea:
        area = QtWidgets.QScrollArea()
        area.setWidget(widget)
        area.setWidgetResizable(True)
        area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setMinimumWidth(widget.minimumSizeHint().width() + 20)
        area.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        return area

    def _focus_point(self) -> tuple[float, float] | None:
        box = self.canvas.visible_box()
        return None if box is None else ((box[0] + box[1]) / 2, (box[2] + box[3]) / 2)

    def _prediction_ready(self, plane: int, probability) -> None:
        if plane != self.plane:
            return
        self.canvas.set_prediction(probability)
        if probability is not None and not self.layers_panel.visible["prediction"].isChecked():
            self.layers_panel.set_layer_visible("prediction", True)

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file = menu.addMenu("&File")
        self._action(file, "&Open image...", self.open_dialog, QtGui.QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self._refresh_recent()
        self.import_action = self._action(file, "&Import labels...", self.import_labels_dialog)
        self.save_action = self._action(file, "&Save annotations", self.save_annotations, QtGui.QKeySequence.StandardKey.Save)
        file.addSeparator()
        self.export_actions = self.export.add_actions(file)
        file.addSeparator()
        self._action(file, "&Quit", self.close, QtGui.QKeySequence.StandardKey.Quit)

        edit = menu.addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self.undo, QtGui.QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit, "&Redo", self.redo, "Ctrl+Shift+Z")
        edit.addSeparator()
        self._action(edit, "New cell", self.new_cell, "M")
        self._action(edit, "Larger brush", lambda: self._step_radius(+1), "]")
        self._action(edit, "Smaller brush", lambda: self._step_radius(-1), "[")
        tools = edit.addMenu("Tool")
        for tool in TOOL_TYPES:
            self._action(tools, tool.title, lambda _=False, n=tool.name: self.choose_tool(n), tool.key)

        view = menu.addMenu("&View")
        self._action(view, "&Fit to window", self.canvas.fit, "F")
        self._action(view, "Actual size (1:1)", self.canvas.actual_size, "Ctrl+1")
        self._action(view, "&Auto-contrast", self.auto_contrast, "A")
        self._action(view, "Next plane", lambda: self._step_plane(+1), "PgDown")
        self._action(view, "Previous plane", lambda: self._step_plane(-1), "PgUp")
        self._action(view, "Next plane ", lambda: self._step_plane(+1), "Right")
        self._action(view, "Previous plane ", lambda: self._step_plane(-1), "Left")
        self._action(view, "Show weight map", self._toggle_weights, "W")
        self._action(view, "Show labels", self._toggle_labels, "L")

        segment = menu.addMenu("&Segment")
        self.fine_tune_action = self._action(segment, "&Fine-tune", self.model_controller.fine_tune, "Ctrl+T")
        self.predict_action = self._action(segment, "&Predict this plane", self.model_controller.predict_plane, "Ctrl+P")
        segment.addSeparator()
        self.autoseg_action = self._action(segment, "Auto-segment this plane", lambda: self.auto_segment(False))
        self.autoseg_all_action = self._action(segment, "Auto-segment all planes...", lambda: self.auto_segment(True))

        help_menu = menu.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action(help_menu, "&About unetgui", self._about)

    def _action(self, menu, text, slot, shortcut=None) -> QtGui.QAction:
        action = QtGui.QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QtGui.QKeySequence(shortcut))
            action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        return action

    def _set_enabled(self, enabled: bool) -> None:
        for action in (self.import_action, self.save_action, self.undo_action, self.redo_action,
                       self.autoseg_action, self.autoseg_all_action, self.fine_tune_action, self.predict_action,
                       *self.export_actions):
            action.setEnabled(enabled)

    # ------------------------------------------------------------------ opening

    def open_dialog(self) -> None:
        start = str(self.image_path.parent) if self.image_path else ""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open image", start, IMAGE_FILTER)
        if path:
            self.open_image(path)

    def open_image(self, path: str | Path) -> bool:
        """Open an image and its saved annotations; on failure say why and keep going."""
        path = Path(path)
        if not self.maybe_save():
            return False
        try:
            stack = open_image(path)
        except UnetguiError as error:
            self.show_error("Cannot open image", str(error))
            return False
        shape = stack.shape
        try:
            state = sidecar.load_annotations(path, shape)
        except sidecar.RefusedAnnotationsError as error:
            self.show_error("Saved annotations not loaded", _set_aside_message(error))
            state = None
        except UnetguiError as error:
            self.show_error("Saved annotations not loaded", f"{error}\n\nStarting with empty labels.")
            state = None
        self._close_image()
        self.stack, self.image_path = stack, path
        if state is not None:
            document = state_to_document(state)
            self.weights_panel.set_parameters(state.settings.get("weightmap", {}))
        else:
            document = LabelDocument(shape[0], (shape[2], shape[3]))
        self._attach_document(document)
        self.model_controller.set_image(stack, document)
        self.levels = [None] * stack.n_channels
        self.channel = display.COMPOSITE if stack.is_rgb else 0
        self.layers_panel.set_channels(stack.n_channels, stack.is_rgb)
        self.model_controller.set_channel(self._model_channel())
        self.plane_slider.blockSignals(True)
        self.plane_slider.setRange(0, stack.n_planes - 1)
        self.plane_slider.setValue(0)
        self.plane_slider.blockSignals(False)
        self.plane_slider.setEnabled(stack.n_planes > 1)
        self.planes_panel.set_planes([document.role(p) for p in range(stack.n_planes)], self._axis_name())
        self.canvas.reset_view()
        self.show_plane(0)
        self._set_enabled(True)
        self.setWindowTitle(f"{path.name} - unetgui")
        self._remember_recent(path)
        sidecar.mark_session_open(path)
        restored = " (annotations restored)" if state is not None else ""
        self.statusBar().showMessage(
            f"Opened {path.name}: {stack.n_planes} plane(s) of {stack.width} x {stack.height} px, "
            f"{stack.n_channels} channel(s), {stack.dtype}{restored}.", 6000
        )
        return True

    def _attach_document(self, document: LabelDocument) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.document = document
        self.tool_state.document = document
        self._unsubscribe = document.subscribe(self._document_changed)
        self.autosaver.attach(self.image_path, document, self.stack.shape, self._sidecar_settings)

    def _close_image(self) -> None:
        self.jobs.cancel("weights")
        if self._segmenter is not None:
            self._segmenter.stop()
            self._segmenter.wait()
        self.autosaver.detach()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.stack is not None:
            self.stack.close()
        self.stack = self.document = None
        self.canvas.set_weights(None)
        self.canvas.set_prediction(None)

    def _axis_name(self) -> str:
        axes = self.stack.plane_axes if self.stack else ""
        return {"T": "Time", "Z": "Z"}.get(axes, "Plane")

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802 (Qt naming)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_image(urls[0].toLocalFile())

    def _remember_recent(self, path: Path) -> None:
        recent = [p for p in self._recent() if p != str(path.resolve())]
        self.settings.setValue("recent", [str(path.resolve()), *recent][:MAX_RECENT])
        self._refresh_recent()

    def _recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in self._recent():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_image(p))
        self.recent_menu.setEnabled(bool(self._recent()))

    def offer_recovery(self) -> None:
        """After a crash, offer to reopen the image that was open (its work was autosaved)."""
        try:
            path = sidecar.unclean_session()
        except UnetguiError as error:  # a damaged marker, moved aside: nothing to recover
            self.statusBar().showMessage(str(error), 10000)
            return
        if path is None or not Path(path).exists():
            return
        answer = QtWidgets.QMessageBox.question(
            self, "Recover your work?",
            f"unetgui did not close properly last time. Reopen {Path(path).name} with its "
            "autosaved annotations?",
        )
        if answer == QtWidgets.QMessageBox.StandardButton.Yes:
            self.open_image(path)
        else:
            sidecar.mark_session_closed()

    # ------------------------------------------------------------------ planes and display

    def show_plane(self, plane: int) -> None:
        if self.stack is None:
            return
        self.plane = int(plane)
        self.tool_state.plane = self.plane
        try:
            self._plane_data = self.stack.read_plane(self.plane)
        except UnetguiError as error:
            self.show_error("Cannot read this plane", str(error))
            return
        if self.plane_slider.value() != self.plane:
            self.plane_slider.setValue(self.plane)
        # 0-based like napari and the command line's --planes; the range says so
        self.plane_label.setText(f"{self._axis_name()} {self.plane} (0-{self.stack.n_planes - 1})")
        self.planes_panel.set_current(self.plane)
        self._show_image()
        self.canvas.set_labels(self.document.labels_of(self.plane), self.document.ignore_of(self.plane))
        self.canvas.set_weights(None)
        self._schedule_weights()
        self._update_undo_actions()
        self.model_controller.set_plane(self.plane)

    def _show_image(self) -> None:
        data = self._plane_data
        for c in self._shown_channels():
            if self.levels[c] is None:  # first look at a channel: auto-contrast once
                self.levels[c] = display.auto_levels(data[c])
        if self.channel == display.COMPOSITE:
            self.canvas.set_image(display.composite(data, self.levels), None)
        else:
            self.canvas.set_image(data[self.channel], self.levels[self.channel])
        shown = self.levels[0 if self.channel == display.COMPOSITE else self.channel]
        self.layers_panel.set_levels(*shown)

    def _shown_channels(self) -> list[int]:
        """Every channel on the composite, else the one channel on screen."""
        return list(range(len(self.levels))) if self.channel == display.COMPOSITE else [self.channel]

    def _model_channel(self) -> int | None:
        """The channel a one-channel model reads (None: the mean on the composite)."""
        return None if self.channel == display.COMPOSITE else self.channel

    def _set_channel(self, channel: int) -> None:
        self.channel = channel
        self.model_controller.set_channel(self._model_channel())
        if self._plane_data is not None:
            self._show_image()

    def _set_levels(self, low: float, high: float) -> None:
        if self._plane_data is None or high <= low:
            return
        for c in self._shown_channels():
            self.levels[c] = (low, high)
        self._show_image()

    def auto_contrast(self) -> None:
        if self._plane_data is None:
            return
        for c in self._shown_channels():
            self.levels[c] = display.auto_levels(self._plane_data[c])
        self._show_image()

    def _step_plane(self, step: int) -> None:
        if self.stack is not None:
            self.show_plane(int(np.clip(self.plane + step, 0, self.stack.n_planes - 1)))

    def _cursor_moved(self, row: int, col: int) -> None:
        if self._plane_data is None or not (0 <= row < self.stack.height and 0 <= col < self.stack.width):
            self._cursor_label.setText("")
            return
        values = self._plane_data[:, row, col]
        value = ", ".join(f"{v:g}" for v in values.tolist())
        label = self.document.pick(self.plane, row, col)
        self._cursor_label.setText(f"x {col}  y {row}   value {value}   label {label}")

    def _layer_visibility(self, name: str, visible: bool) -> None:
        self.canvas.set_layer_visible(name, visible)
        if name == "weights" and visible:
            self._schedule_weights()

    def _toggle_weights(self) -> None:
        box = self.layers_panel.visible["weights"]
        box.setChecked(not box.isChecked())

    def _toggle_labels(self) -> None:
        box = self.layers_panel.visible["labels"]
        box.setChecked(not box.isChecked())

    # ------------------------------------------------------------------ tools and edits

    def choose_tool(self, name: str) -> None:
        tool = self.tools[name]
        self.canvas.tool = tool
        self.canvas.show_box(None)  # a box left from a drag the switch interrupted
        self.tools_panel.set_tool(name)
        self.canvas.set_brush_radius(self.tool_state.radius if tool.shows_brush else None)

    def _set_radius(self, radius: float) -> None:
        self.tool_state.radius = radius
        if self.canvas.tool is not None and self.canvas.tool.shows_brush:
            self.canvas.set_brush_radius(radius)

    def _step_radius(self, step: int) -> None:
        self.tools_panel.set_radius(max(0, int(self.tool_state.radius) + step))

    def new_cell(self) -> None:
        if self.document is not None:
            self.tools_panel.set_label(self.document.next_free_id())
            if self.canvas.tool is None or self.canvas.tool.name not in ("paint", "fill"):
                self.choose_tool("paint")

    def _picked(self, label: int) -> None:
        self.tools_panel.set_label(label)
        self.statusBar().showMessage(f"Painting with label {label}.", 3000)

    def undo(self) -> None:
        if self.document is not None and self.document.undo(self.plane):
            self._update_undo_actions()

    def redo(self) -> None:
        if self.document is not None and self.document.redo(self.plane):
            self._update_undo_actions()

    def _update_undo_actions(self) -> None:
        has = self.document is not None
        self.undo_action.setEnabled(has and self.document.can_undo(self.plane))
        self.redo_action.setEnabled(has and self.document.can_redo(self.plane))

    def _document_changed(self, event) -> None:
        if isinstance(event, LabelsChanged):
            if event.plane == self.plane:
                if event.layer == "labels":
                    self.canvas.labels_changed(event.box, self.document.labels_of(self.plane))
                else:
                    self.canvas.ignore_changed(event.box, self.document.ignore_of(self.plane))
                self._schedule_weights()
                self._update_undo_actions()
        elif isinstance(event, RolesChanged):
            self.planes_panel.set_role(event.plane, event.role)
        self.autosaver.changed()

    def _role_chosen(self, plane: int, role: str) -> None:
        if self.document is not None:
            self.document.set_role(plane, role)

    # ------------------------------------------------------------------ weight map

    def _weights_parameters_changed(self, _params: dict) -> None:
        self._schedule_weights()
        self.autosaver.changed()

    def _schedule_weights(self) -> None:
        if self.document is not None and self.layers_panel.visible["weights"].isChecked():
            self._weights_timer.start()

    def _compute_weights(self) -> None:
        if self.document is None:
            return
        # copies: the worker must not read arrays the brush is changing
        labels = np.array(self.document.labels_of(self.plane))
        has_ignore = self.plane in self.document.allocated_planes("ignore")
        ignore = np.array(self.document.ignore_of(self.plane)) if has_ignore else None
        params = self.weights_panel.parameters()
        self.jobs.submit("weights", _weights_job, self.plane, labels, ignore, params)

    # ------------------------------------------------------------------ auto-segmentation

    def auto_segment(self, all_planes: bool) -> None:
        if self.stack is None or (self._segmenter is not None and self._segmenter.isRunning()):
            return
        if all_planes:
            answer = QtWidgets.QMessageBox.question(
                self, "Auto-segment all planes",
                f"Replace the labels of all {self.stack.n_planes} planes by an automatic segmentation? "
                "Each plane's change can be undone on that plane.",
            )
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                return
        planes = list(range(self.stack.n_planes)) if all_planes else [self.plane]
        channel = self._model_channel()
        stack = self.stack
        self._segmenter = GeneratorWorker(lambda: _segment_planes(stack, planes, channel), self)
        self._segmenter.item.connect(self._segmented)
        self._segmenter.failed.connect(lambda message: self.show_error("Auto-segmentation failed", message))
        self._segmenter.finished.connect(lambda: self.statusBar().showMessage("Auto-segmentation done.", 4000))
        self.statusBar().showMessage("Auto-segmenting...")
        self._segmenter.start()

    def _segmented(self, item) -> None:
        plane, labels, done, total = item
        if self.document is None:
            return
        self.document.set_plane_labels(plane, labels)
        self.statusBar().showMessage(f"Auto-segmented {done} of {total} plane(s)...")

    # ------------------------------------------------------------------ labels in and out

    def import_labels_dialog(self) -> None:
        if self.stack is None:
            return
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Import labels", str(self.image_path.parent), IMAGE_FILTER)
        if path:
            self.import_labels(path)

    def import_labels(self, path: str | Path) -> bool:
        """Load a label TIFF (Fiji, Cellpose, ...) as the annotation; each plane undoable."""
        try:
            labels = read_labels(path, expected_shape=(self.stack.n_planes, self.stack.height, self.stack.width))
        except UnetguiError as error:
            self.show_error("Cannot import labels", str(error))
            return False
        for plane in range(labels.shape[0]):
            if labels[plane].any() or self.document.labels_of(plane).any():
                self.document.set_plane_labels(plane, labels[plane])
        self.statusBar().showMessage(f"Imported labels from {Path(path).name}.", 5000)
        return True

    def save_annotations(self) -> bool:
        message = self.autosaver.save_now()
        if message is not None:
            self.show_error("Cannot save annotations", message)
            return False
        self.statusBar().showMessage(f"Saved annotations beside {self.image_path.name}.", 4000)
        return True

    def _sidecar_settings(self) -> dict:
        return {"weightmap": self.weights_panel.parameters()}

    def maybe_save(self) -> bool:
        """Before closing an image with changes not yet autosaved: Save, Discard or Cancel."""
        if not self.autosaver.dirty:
            return True
        choice = ask_unsaved(self, self.image_path.name)
        if choice == "discard":
            return True
        if choice == "save":
            return self.save_annotations()
        return False

    def _maybe_save_model(self) -> bool:
        """A fine-tuned model that was not saved: Save, Discard or Cancel."""
        if not self.model_controller.model_dirty:
            return True
        choice = ask_unsaved_model(self)
        if choice == "save":
            path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save model", "model.unet", "unetgui models (*.unet)")
            return bool(path) and self.model_controller.save_model(path)
        return choice == "discard"

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802
        if not self.maybe_save() or not self._maybe_save_model():
            event.ignore()
            return
        self.model_controller.shutdown()
        self._close_image()
        self.jobs.wait(10000)
        sidecar.mark_session_closed()
        event.accept()

    # ------------------------------------------------------------------ results of workers

    def _job_finished(self, purpose: str, result) -> None:
        if purpose == "weights":
            plane, weights = result
            if plane == self.plane and self.layers_panel.visible["weights"].isChecked():
                levels = display.heat_levels(weights)
                self.canvas.set_weights(weights, levels)
                self.weights_panel.show_range(float(weights.min()), levels[1])

    def _job_failed(self, purpose: str, message: str) -> None:
        if purpose == "weights":
            self.weights_panel.status.setText(message)

    # ------------------------------------------------------------------ dialogs

    def show_error(self, title: str, message: str) -> None:
        """A clear message in a dialog; the window stays usable."""
        self.statusBar().showMessage(message, 8000)
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, message, parent=self)
        box.setObjectName("error-dialog")
        box.open()

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self).open()

    def _about(self) -> None:
        from unetgui import __version__

        QtWidgets.QMessageBox.about(
            self, "About unetgui",
            f"unetgui {__version__}\n\nSegment cells with a U-Net you fine-tune on your own "
            "corrections (Ronneberger, Fischer & Brox, MICCAI 2015).",
        )


def _set_aside_message(error: sidecar.RefusedAnnotationsError) -> str:
    """Move refused annotations out of autosave's way; the dialog text says where."""
    try:
        kept = sidecar.set_aside(error.folder)
    except UnetguiError as move_error:
        where = f"They stay in '{error.folder}' ({move_error})"
    else:
        where = f"They were moved to '{kept}', where nothing will overwrite them"
    return f"{error}\n\n{where}. Starting with empty labels."


def ask_unsaved(parent: QtWidgets.QWidget, name: str) -> str:
    """Ask what to do with changes made since the last autosave: save, discard or cancel."""
    buttons = QtWidgets.QMessageBox.StandardButton
    answer = QtWidgets.QMessageBox.question(
        parent, "Unsaved annotations",
        f"The latest changes to the annotations of {name} are not saved yet. Save them?",
        buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save,
    )
    return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")


def ask_unsaved_model(parent: QtWidgets.QWidget) -> str:
    """Ask what to do with a fine-tuned model that was not saved: save, discard or cancel."""
    buttons = QtWidgets.QMessageBox.StandardButton
    answer = QtWidgets.QMessageBox.question(
        parent, "Unsaved model", "The fine-tuned model is not saved. Save it before closing?",
        buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save,
    )
    return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")


def _weights_job(plane: int, labels: np.ndarray, ignore: np.ndarray | None, params: dict):
    return plane, weight_map(labels, ignore, **params)


def _segment_planes(stack: ImageStack, planes: list[int], channel: int | None):
    for done, plane in enumerate(planes, start=1):
        yield plane, auto_segment(stack.read_plane(plane), channel=channel), done, len(planes)


__all__ = ["MainWindow", "SHORTCUTS"]
