"""The main window: docks, menus and the signals between the parts. Wiring only.

Where things go:
- state: :mod:`view_state` (plane, channel, contrast, layers), :mod:`tool_state`
  (tool, radius, label), :mod:`image_session` (the open image, its labels, autosave),
  :mod:`project_controller` (the open folder of images, its jobs);
- work: :mod:`model_controller` (the active model), :mod:`training` (Fine-tune),
  :mod:`predictions` (live, Predict all, accept), :mod:`weight_map`, :mod:`export`;
- widgets: :mod:`canvas` and :mod:`panels`, which show state and report the user's
  wishes by signals; commands and their keys: :mod:`actions`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from unetgui.core.errors import UnetguiError
from unetgui.core.ome_zarr_files import is_zarr
from unetgui.core.outputs import CELL_KINDS
from unetgui.core.project import PROJECT_FILE
from unetgui.core.runtime import CpuShare
from unetgui.core.sample import sample_copy
from unetgui.gui import export
from unetgui.gui.actions import COMMANDS
from unetgui.gui.canvas import Canvas
from unetgui.gui.image_session import ImageSession
from unetgui.gui.model_controller import ModelController
from unetgui.gui.panels.images import ImagesPanel
from unetgui.gui.panels.layers import LayersPanel
from unetgui.gui.panels.model import ModelPanel
from unetgui.gui.panels.plane_bar import PlaneBar
from unetgui.gui.panels.planes import PlanesPanel
from unetgui.gui.panels.prediction import PredictionPanel
from unetgui.gui.panels.tools import ToolsPanel
from unetgui.gui.panels.training import TrainingPanel
from unetgui.gui.panels.weightmap import WeightMapPanel
from unetgui.gui.panels.welcome import WelcomePanel
from unetgui.gui.plane_view import PlaneView
from unetgui.gui.predictions import PredictionController
from unetgui.gui.project_controller import ProjectController
from unetgui.gui.shortcuts import ShortcutsDialog
from unetgui.gui.tool_state import ToolState
from unetgui.gui.tools import TOOL_TYPES
from unetgui.gui.training import TrainingController
from unetgui.gui.view_state import ViewState
from unetgui.gui.weight_map import WeightMapController

IMAGE_FILTER = "Images (*.tif *.tiff *.btf *.png *.jpg *.jpeg *.zarr);;All files (*)"
LABELS_FILTER = ("Labels (*.tif *.tiff *.zip *.roi *.geojson *.json *.zarr);;Label TIFF (*.tif *.tiff);;"
                 "ImageJ ROIs (*.zip *.roi);;GeoJSON (*.geojson *.json);;OME-Zarr (*.zarr);;All files (*)")
LARGE_IMAGE_NOTE = ("This image's planes are too large to paint on or fine-tune with here, so it opens for "
                    "viewing, at the resolution that fits the view. To segment it, predict it block by block "
                    "from the command line: unetgui predict starter IMAGE -o IMAGE.ome.zarr (see the README, "
                    "'Large data and clusters').")
SIDE_WIDTH = 360  # px of the docks beside the image
IMAGES_WIDTH = 300  # px of a project's image list
STEP_MS = 15  # between the parts of opening a project: the event loop paints and serves input
SCREEN_SHARE = 0.9  # the window opens at this share of the screen


class MainWindow(QtWidgets.QMainWindow):
    """One image at a time, alone or in a project: view, annotate, see the weight map,
    fine-tune, predict and export."""

    def __init__(self, settings: QtCore.QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("unetgui")
        self.setAcceptDrops(True)
        self.setDockOptions(self.dockOptions() | QtWidgets.QMainWindow.DockOption.VerticalTabs)
        self._size_to_screen()
        cpu_share = CpuShare()
        self.view = ViewState(self)
        self.tool_state = ToolState(self)
        self.tools = {tool.name: tool(self.tool_state) for tool in TOOL_TYPES}
        self.canvas = Canvas()
        self.plane_bar = PlaneBar(self.view)

        self.tools_panel = ToolsPanel(self.tool_state)
        self.layers_panel = LayersPanel(self.view)
        self.planes_panel = PlanesPanel()
        self.weights_panel = WeightMapPanel()
        self.model_panel = ModelPanel()
        self.training_panel = TrainingPanel()
        self.prediction_panel = PredictionPanel()
        self.images_panel = ImagesPanel()
        self.project = ProjectController(self.images_panel, self)
        self.weights = WeightMapController(self.weights_panel, self)
        self.session = ImageSession(settings or QtCore.QSettings(), lambda: {"weightmap": self.weights.parameters()},
                                    self)
        self.models = ModelController(self.model_panel, self._new_network_channels, self)
        self.training = TrainingController(self.training_panel, self.models, self.session,
                                           lambda: self.view.model_channel, self.weights.parameters,
                                           lambda: self.predictions.live_interval(), cpu_share,
                                           self._project_images, self)
        self.predictions = PredictionController(self.prediction_panel, self.models, self.session,
                                                lambda: self.view.model_channel, self._focus_point, cpu_share, self)
        self.plane_view = PlaneView(self.canvas, self.view, self.session, self.weights, self)
        self._build_central()
        self._build_docks()
        self.actions_by_id = self._build_menus()
        self._cursor_label = QtWidgets.QLabel("")
        self.statusBar().addPermanentWidget(self._cursor_label)
        self._connect()
        self._set_enabled(False)  # (the canvas takes the starting tool)
        self._project_opened(False)
        self.statusBar().showMessage("Open an image or a folder of images: File > Open, or drop it on the window; "
                                     "or try the sample: Help > Open sample.")

    # ------------------------------------------------------------------ layout

    def _size_to_screen(self) -> None:
        screen = QtGui.QGuiApplication.primaryScreen()
        area = screen.availableGeometry() if screen is not None else QtCore.QRect(0, 0, 1400, 900)
        self.resize(int(area.width() * SCREEN_SHARE), int(area.height() * SCREEN_SHARE))

    def _build_central(self) -> None:
        """The welcome page until an image is open, then the image with its plane bar."""
        image = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(image)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.large_note = QtWidgets.QLabel(LARGE_IMAGE_NOTE)  # shown while the image is too large to edit
        self.large_note.setWordWrap(True)
        self.large_note.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.large_note.setStyleSheet("QLabel { background: #fff4d6; color: #3d2e00; padding: 6px; }")
        self.large_note.setVisible(False)
        layout.addWidget(self.large_note)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.plane_bar)
        self.welcome = WelcomePanel()
        self.welcome.openRequested.connect(self.open_dialog)
        self.welcome.sampleRequested.connect(self.open_sample)
        self.pages = QtWidgets.QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(image)
        self.setCentralWidget(self.pages)

    def _build_docks(self) -> None:
        """The tools on top at the right; below them one group of tabs, Fine-tune first."""
        right = QtCore.Qt.DockWidgetArea.RightDockWidgetArea
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        for title, widget in (
            ("Tools", self.tools_panel),
            ("Fine-tune", self.training_panel),
            ("Prediction", _scrolling(self.prediction_panel)),
            ("Model", _scrolling(self.model_panel)),
            ("Layers", _scrolling(self.layers_panel)),
            ("Planes", self.planes_panel),
            ("Weight map", _scrolling(self.weights_panel)),
        ):
            dock = QtWidgets.QDockWidget(title, self)
            dock.setObjectName(title)
            dock.setWidget(widget)
            self.addDockWidget(right, dock)
            self.docks[title] = dock
        tabbed = [self.docks[t] for t in ("Fine-tune", "Prediction", "Model", "Layers", "Planes", "Weight map")]
        for dock in tabbed[1:]:
            self.tabifyDockWidget(tabbed[0], dock)
        tabbed[0].raise_()
        images = QtWidgets.QDockWidget("Images", self)
        images.setObjectName("Images")
        images.setWidget(self.images_panel)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, images)
        self.docks["Images"] = images
        self.resizeDocks([self.docks["Tools"], images], [SIDE_WIDTH, IMAGES_WIDTH], QtCore.Qt.Orientation.Horizontal)
        tools_height = self.tools_panel.sizeHint().height() + 30
        self.resizeDocks([self.docks["Tools"], tabbed[0]], [tools_height, 2000], QtCore.Qt.Orientation.Vertical)

    def _build_menus(self) -> dict[str, QtGui.QAction]:
        """Menus and shortcuts from the one table, core.actions.COMMANDS."""
        slots = self.command_slots()
        menus: dict[str, QtWidgets.QMenu] = {}
        actions: dict[str, QtGui.QAction] = {}

        def menu_for(path: str) -> QtWidgets.QMenu:
            if path not in menus:
                parent, _, name = path.rpartition("/")
                owner = menu_for(parent) if parent else self.menuBar()
                menus[path] = owner.addMenu(f"&{name}" if not parent else name)
            return menus[path]

        for command in COMMANDS:
            menu = menu_for(command.menu)
            if command.id == "-":
                menu.addSeparator()
            elif command.id == "recent":
                self.recent_menu = menu.addMenu(command.text)
                self._show_recent(self.session.recent())
            else:
                action = self._add_action(menu, command.text, slots[command.id], command.keys)
                action.setEnabled(not command.needs_image)
                actions[command.id] = action
        tools = menu_for("Edit").addMenu("Tool")
        for tool in TOOL_TYPES:
            actions[f"tool_{tool.name}"] = self._add_action(
                tools, tool.title, lambda n=tool.name: self.choose_tool(n), (tool.key,))
        return actions

    def _add_action(self, menu: QtWidgets.QMenu, text: str, slot, keys) -> QtGui.QAction:
        action = QtGui.QAction(text, self)
        action.setShortcuts([QtGui.QKeySequence(k) for k in keys])
        action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        return action

    def command_slots(self) -> dict:
        """What each command of the table does."""
        view, predictions = self.view, self.predictions
        return {
            "open": self.open_dialog,
            "open_folder": self.open_folder_dialog,
            "import_labels": self.import_labels_dialog,
            "save": self.session.save_now,
            "export_labels_plane": lambda: self.export_dialog("labels", whole_stack=False),
            "export_labels_stack": lambda: self.export_dialog("labels", whole_stack=True),
            "export_mask_plane": lambda: self.export_dialog("mask", whole_stack=False),
            "export_mask_stack": lambda: self.export_dialog("mask", whole_stack=True),
            "export_probabilities": lambda: self.export_dialog("probabilities", whole_stack=True),
            "export_rois": lambda: self.export_dialog("rois", whole_stack=True),
            "export_geojson": lambda: self.export_dialog("geojson", whole_stack=True),
            "export_measurements": lambda: self.export_dialog("measurements", whole_stack=True),
            "export_ome_zarr": lambda: self.export_dialog("ome-zarr", whole_stack=True),
            "quit": self.close,
            "undo": self.undo,
            "redo": self.redo,
            "cancel_stroke": self.cancel_stroke,
            "new_cell": self.new_cell,
            "larger_brush": lambda: self.tool_state.set_radius(self.tool_state.radius + 1),
            "smaller_brush": lambda: self.tool_state.set_radius(self.tool_state.radius - 1),
            "fit": self.canvas.fit,
            "actual_size": self.canvas.actual_size,
            "auto_contrast": self.plane_view.auto_contrast,
            "next_plane": lambda: view.step_plane(+1),
            "previous_plane": lambda: view.step_plane(-1),
            "toggle_weights": lambda: view.toggle("weights"),
            "toggle_labels": lambda: view.toggle("labels"),
            "fine_tune": self.training.fine_tune,
            "predict_plane": predictions.predict_plane,
            "predict_stack": predictions.predict_stack,
            "auto_segment_plane": lambda: self.auto_segment(False),
            "auto_segment_stack": lambda: self.auto_segment(True),
            "next_image": lambda: self.project.step(+1),
            "previous_image": lambda: self.project.step(-1),
            "predict_project": lambda: self.predict_project(False),
            "predict_project_new": lambda: self.predict_project(True),
            "export_project": self.export_project_dialog,
            "project_output": self.project_output_dialog,
            "open_sample": self.open_sample,
            "shortcuts": lambda: ShortcutsDialog(self).open(),
            "about": self._about,
        }

    def _project_opened(self, opened: bool) -> None:
        for command in COMMANDS:
            if command.needs_project:
                self.actions_by_id[command.id].setEnabled(opened)
        self.docks["Images"].setVisible(opened)

    def _set_enabled(self, enabled: bool, large: bool = False) -> None:
        """Commands that need an image; for an image too large to edit (shown for viewing
        only), those that need its planes in memory stay off, and so do the panels that edit."""
        for command in COMMANDS:
            if command.needs_image:
                self.actions_by_id[command.id].setEnabled(enabled and (command.for_large or not large))
        for title in ("Tools", "Fine-tune", "Prediction", "Planes", "Weight map"):
            self.docks[title].widget().setEnabled(not large)
        self.large_note.setVisible(large)
        if large:
            stored = " The cells stored with it (its labels) are shown too." if self.session.stored_labels else ""
            self.large_note.setText(LARGE_IMAGE_NOTE + stored)
        self._tool_changed(self.tool_state.tool)
        if enabled and not large:
            self._update_undo_actions()

    # ------------------------------------------------------------------ signals

    def _connect(self) -> None:
        view, tools, canvas, session = self.view, self.tool_state, self.canvas, self.session
        self.plane_view.planeShown.connect(self._plane_shown)
        self.plane_view.readout.connect(self._cursor_label.setText)
        self.layers_panel.autoContrastRequested.connect(self.plane_view.auto_contrast)
        self.planes_panel.planeChosen.connect(view.set_plane)
        self.planes_panel.roleChosen.connect(self._role_chosen)

        tools.toolChanged.connect(self._tool_changed)
        tools.radiusChanged.connect(lambda _r: self._show_brush())
        tools.boxShown.connect(canvas.show_box)
        tools.acceptBoxRequested.connect(self.predictions.accept_box)
        tools.acceptCellRequested.connect(self.predictions.accept_cell)
        tools.message.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.tools_panel.newCellRequested.connect(self.new_cell)

        session.opened.connect(self._image_opened)
        session.closed.connect(self._image_closed)
        session.labelsChanged.connect(lambda event: event.plane == view.plane and self._update_undo_actions())
        session.roleChanged.connect(self.planes_panel.set_role)
        session.settingsLoaded.connect(lambda s: self.weights.set_parameters(s.get("weightmap", {})))
        session.recentChanged.connect(self._show_recent)
        session.opened.connect(lambda: self.project.image_shown(session.path))
        session.autosaver.rolesSaved.connect(self.project.record_roles)
        project = self.project
        project.opened.connect(lambda: self._project_opened(True))
        project.closed.connect(lambda: self._project_opened(False))
        project.imageWanted.connect(self.open_project_image)
        self.models.fileChanged.connect(project.set_model)
        project.jobFinished.connect(self._project_job_finished)
        project.message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.images_panel.predictRequested.connect(self.predict_project)
        self.images_panel.exportRequested.connect(self.export_project)
        self.images_panel.outputRequested.connect(self.project_output_dialog)
        self.weights.parametersChanged.connect(lambda _p: session.settings_changed())

        models, training, predictions = self.models, self.training, self.predictions
        training.runningChanged.connect(self._training_running)
        training.snapshotReady.connect(predictions.show_snapshot)
        training.trained.connect(lambda _entry: models.trained())
        predictions.snapshotWanted.connect(training.request_snapshot)
        predictions.tile.connect(lambda _plane, box, patch: canvas.set_prediction_tile(box, patch))
        predictions.ready.connect(self.plane_view.show_prediction)
        self.prediction_panel.toolRequested.connect(self.choose_tool)
        for part in (session, models, training, predictions, self.plane_view, self.project):
            part.error.connect(self.show_error)
        session.message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        for part in (models, training, predictions):
            part.message.connect(lambda text: self.statusBar().showMessage(text, 8000))

    def _focus_point(self) -> tuple[float, float] | None:
        box = self.canvas.visible_box()
        return None if box is None else ((box[0] + box[1]) / 2, (box[2] + box[3]) / 2)

    def _new_network_channels(self) -> int:
        """A new network reads every channel of the image on the composite, else one."""
        stack = self.session.stack
        return stack.n_channels if stack is not None and self.view.model_channel is None else 1

    def _training_running(self, running: bool) -> None:
        self.predictions.set_training(running, self.training.snapshots_on_request_only)
        self.model_panel.set_busy(running)

    # ------------------------------------------------------------------ the open image

    @property
    def stack(self):
        return self.session.stack

    @property
    def document(self):
        return self.session.document

    @property
    def image_path(self) -> Path | None:
        return self.session.path

    @property
    def plane(self) -> int:
        return self.view.plane

    def open_dialog(self) -> None:
        start = str(self.image_path.parent) if self.image_path else ""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open image", start, IMAGE_FILTER)
        if path:
            self.open_image(path)

    def open_image(self, path: str | Path) -> bool:
        """Open an image and its saved annotations, or a folder as a project; on failure
        say why and keep going."""
        if Path(path).is_dir() and not is_zarr(path):  # an OME-Zarr is one image
            return self.open_folder(path)
        return self.maybe_save() and self.session.open(path)

    # ------------------------------------------------------------------ projects

    def open_folder_dialog(self) -> None:
        start = str(self.project.project.folder if self.project.project else (self.image_path or Path()).parent)
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a folder of images", start)
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str | Path, image: Path | None = None) -> bool:
        """Open a folder of images as a project. The list shows at once; the first image
        opens in a later turn of the event loop, and the thumbnails' worker starts after
        it (it would compete with the opening for the interpreter): each part is short,
        and the window draws in between."""
        if not self.maybe_save() or not self.project.open(folder):
            return False
        self.session.remember_recent(Path(folder))
        self.models.use_remembered(self.project.project.model_path())
        project = self.project.project

        def first_image() -> None:
            if self.project.project is not project:
                return  # another folder was opened meanwhile
            if image is not None:
                self.open_project_image(image)
            elif project.images and self.project.current < 0:
                self.open_project_image(project.path_of(project.images[0]))
            QtCore.QTimer.singleShot(STEP_MS, self.project.rescan)

        QtCore.QTimer.singleShot(STEP_MS, first_image)
        return True

    def open_project_image(self, path: Path) -> bool:
        """Another image of the project: the one on screen is saved first, without asking."""
        if self.session.unsaved and not self.session.save_now():
            self.project.image_shown(self.session.path)  # stay; the error says why
            return False
        if not self.session.open(path):
            self.project.image_shown(self.session.path)
            return False
        return True

    def _project_images(self):
        """For training: (the project, its other images with annotated planes, whether the
        image on screen is one of it)."""
        project = self.project.project
        if project is None or self.project.row_of(self.session.path) < 0:
            return None, [], False
        return project, self.project.other_annotated_images(self.session.path), True

    def predict_project(self, only_not_annotated: bool) -> bool:
        """Predict the project's images (or those not annotated) with the active model."""
        if self.project.project is None:
            return False
        if self.training.training:
            self.show_error("Training is running", "Predict the project when training has ended (or stop it): "
                            "the prediction should use the model training ends with.")
            return False
        if self.session.unsaved:
            self.session.save_now()
        model = self.models.model.snapshot()
        model.net.to(self.models.device)
        options = {"channel": self.view.model_channel, "diameter": self.predictions.cell_diameter(),
                   "tta": self.prediction_panel.settings()["tta"]}
        return self.project.predict(model, self.models.name, only_not_annotated, **options)

    def export_project_dialog(self) -> None:
        """Show the Images panel, where the kinds to export are ticked."""
        self.docks["Images"].raise_()
        self.images_panel.export_button.setFocus()
        self.statusBar().showMessage("Tick what to export in the Images panel, then press Export all images.", 8000)

    def export_project(self, kinds: list[str]) -> bool:
        if self.project.project is None:
            return False
        if self.session.unsaved and not self.session.save_now():
            return False
        return self.project.export(kinds)

    def project_output_dialog(self) -> None:
        project = self.project.project
        if project is not None:
            folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Output folder", str(project.output_folder))
            if folder:
                self.project.set_output(folder)

    def _project_job_finished(self, kind: str, names: list[str]) -> None:
        path = self.session.path
        if kind == "predict" and path is not None and path.name in names and self.project.row_of(path) >= 0:
            self.predictions.load_stored()

    def open_sample(self) -> bool:
        """Open (a working copy of) the sample image that ships with unetgui."""
        try:
            path = sample_copy()
        except UnetguiError as error:
            self.show_error("Cannot open the sample", str(error))
            return False
        return self.open_image(path)

    def _image_closed(self) -> None:
        self.tool_state.document = None
        self.pages.setCurrentIndex(0)

    def _image_opened(self) -> None:
        stack, document = self.session.stack, self.session.document
        self.pages.setCurrentIndex(1)
        self.tool_state.document = document
        self.planes_panel.set_planes([document.role(p) for p in range(stack.n_planes)],
                                     self.session.plane_axis_name)
        self._set_enabled(True, large=self.session.large)
        if self.session.large:
            self.docks["Layers"].raise_()
        self.view.reset(stack.n_planes, stack.n_channels, stack.is_rgb, self.session.plane_axis_name)  # shows plane 0
        self.setWindowTitle(self._title())

    def _title(self) -> str:
        """'cells.tif - unetgui'; in a project 'cells.tif (3 of 20) - experiment - unetgui'."""
        name, row, project = self.session.path.name, self.project.row_of(self.session.path), self.project.project
        if row < 0:
            return f"{name} - unetgui"
        return f"{name} ({row + 1} of {len(project.images)}) - {project.folder.name} - unetgui"

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802 (Qt naming)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_image(urls[0].toLocalFile())  # a folder opens as a project

    def _show_recent(self, paths: list[str]) -> None:
        self.recent_menu.clear()
        for path in paths:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_image(p))
        self.recent_menu.setEnabled(bool(paths))

    def offer_recovery(self) -> None:
        """After a crash, offer to reopen the image that was open (its work was autosaved)."""
        path = self.session.unclean_exit()
        if path is None:
            return
        answer = QtWidgets.QMessageBox.question(
            self, "Recover your work?",
            f"unetgui did not close properly last time. Reopen {path.name} with its autosaved annotations?")
        if answer == QtWidgets.QMessageBox.StandardButton.Yes:
            if not ((path.parent / PROJECT_FILE).is_file() and self.open_folder(path.parent, image=path)):
                self.open_image(path)  # (a project opens at the image, back in its list)
        else:
            self.session.forget_unclean_exit()

    # ------------------------------------------------------------------ planes and display

    def show_plane(self, plane: int) -> None:
        self.view.set_plane(plane)

    def _plane_shown(self, plane: int) -> None:
        self.tool_state.plane = plane
        self.planes_panel.set_current(plane)
        self._update_undo_actions()
        self.predictions.set_plane(plane)

    # ------------------------------------------------------------------ tools and edits

    def choose_tool(self, name: str) -> None:
        self.tool_state.set_tool(name)  # the canvas follows by toolChanged

    def _tool_changed(self, name: str) -> None:
        self.canvas.tool = None if self.session.large else self.tools[name]  # viewing only: drags pan
        self.canvas.show_box(None)  # a box left from a drag the switch interrupted
        self._show_brush()

    def _show_brush(self) -> None:
        tool = self.canvas.tool
        self.canvas.set_brush_radius(self.tool_state.radius if tool is not None and tool.shows_brush else None)

    def new_cell(self) -> None:
        if self.session.document is not None:
            self.tool_state.set_label(self.session.document.next_free_id())
            if self.tool_state.tool not in ("paint", "fill"):
                self.choose_tool("paint")

    def undo(self) -> None:
        if self.session.document is not None and self.session.document.undo(self.view.plane):
            self._update_undo_actions()

    def redo(self) -> None:
        if self.session.document is not None and self.session.document.redo(self.view.plane):
            self._update_undo_actions()

    def cancel_stroke(self) -> None:
        """Escape while drawing: the stroke is taken back, as if never drawn."""
        if self.session.document is not None and self.session.document.cancel_stroke():
            self.statusBar().showMessage("Stroke cancelled.", 3000)

    def _update_undo_actions(self) -> None:
        document, plane = self.session.document, self.view.plane
        self.actions_by_id["undo"].setEnabled(document is not None and document.can_undo(plane))
        self.actions_by_id["redo"].setEnabled(document is not None and document.can_redo(plane))

    def _role_chosen(self, plane: int, role: str) -> None:
        if self.session.document is not None:
            self.session.document.set_role(plane, role)

    def auto_segment(self, all_planes: bool) -> None:
        stack = self.session.stack
        if stack is None:
            return
        if all_planes and QtWidgets.QMessageBox.question(
            self, "Auto-segment all planes",
            f"Replace the labels of all {stack.n_planes} planes by an automatic segmentation? "
            "Each plane's change can be undone on that plane.",
        ) != QtWidgets.QMessageBox.StandardButton.Yes:
            return
        planes = list(range(stack.n_planes)) if all_planes else [self.view.plane]
        self.session.auto_segment(planes, self.view.model_channel)

    # ------------------------------------------------------------------ labels in and out

    def import_labels_dialog(self) -> None:
        if self.image_path is not None:
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Import labels", str(self.image_path.parent),
                                                            LABELS_FILTER)
            if path:
                self.session.import_labels(path)

    def export_dialog(self, kind: str, *, whole_stack: bool) -> None:
        if self.image_path is None:
            return
        default = export.default_path(self.image_path, kind, None if whole_stack else self.view.plane)
        if self.project.row_of(self.image_path) >= 0:  # in a project: its output folder, not among its images
            default = self.project.project.output_folder / default.name
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export", str(default),
                                                        export.FILTERS.get(kind, export.TIFF_FILTER))
        if path:
            self.export_to(path, kind, whole_stack=whole_stack)

    def export_to(self, path: str | Path, kind: str, *, whole_stack: bool) -> Path | None:
        """Export "labels", "mask" or "probabilities" of this plane or all, the cells
        (CELL_KINDS) or "ome-zarr"; returns the path written, or None after telling the user
        why not."""
        stack = self.session.stack
        planes = list(range(stack.n_planes)) if whole_stack else [self.view.plane]
        try:
            if kind in CELL_KINDS:
                what = export.export_cells(path, kind, self.session.document, stack)
                self.statusBar().showMessage(f"Exported {what} to {path}", 8000)
                return Path(path)
            if kind == "ome-zarr":
                written = export.export_ome_zarr(path, self.session.document, stack)
            elif kind == "probabilities":
                written = export.export_probabilities(path, self.predictions.predictions, stack, planes)
            else:
                written = export.export_labels(path, kind, self.session.document, stack, planes)
        except UnetguiError as error:
            self.show_error("Export failed", str(error))
            return None
        self.statusBar().showMessage(f"Exported {kind} of {len(planes)} plane(s) to {written}", 8000)
        return written

    # ------------------------------------------------------------------ closing

    def maybe_save(self) -> bool:
        """Before closing an image with changes not yet autosaved: Save, Discard or Cancel."""
        if not self.session.unsaved:
            return True
        choice = ask_unsaved(self, "Unsaved annotations", f"The latest changes to the annotations of "
                             f"{self.image_path.name} are not saved yet. Save them?")
        return choice == "discard" or (choice == "save" and self.session.save_now())

    def _maybe_save_model(self) -> bool:
        """A fine-tuned model that was not saved: Save, Discard or Cancel."""
        if not self.models.dirty:
            return True
        choice = ask_unsaved(self, "Unsaved model", "The fine-tuned model is not saved. Save it before closing?")
        return choice == "discard" or (choice == "save" and self.models.save_dialog())

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802
        if not self.maybe_save() or not self._maybe_save_model():
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop every worker and close the image (its annotations are saved or discarded)."""
        self.project.shutdown()
        self.training.shutdown()
        self.models.shutdown()
        self.predictions.shutdown()
        self.weights.show(None, 0)
        self.weights.jobs.wait(10000)
        self.session.shutdown()

    def show_error(self, title: str, message: str) -> None:
        """A clear message in a dialog; the window stays usable."""
        self.statusBar().showMessage(message, 8000)
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, message, parent=self)
        box.setObjectName("error-dialog")
        box.open()

    def _about(self) -> None:
        from unetgui import __version__

        QtWidgets.QMessageBox.about(
            self, "About unetgui",
            f"unetgui {__version__}\n\nSegment cells with a U-Net you fine-tune on your own "
            "corrections (Ronneberger, Fischer & Brox, MICCAI 2015).",
        )


def ask_unsaved(parent: QtWidgets.QWidget, title: str, text: str) -> str:
    """Ask what to do with unsaved work: "save", "discard" or "cancel"."""
    buttons = QtWidgets.QMessageBox.StandardButton
    answer = QtWidgets.QMessageBox.question(parent, title, text, buttons.Save | buttons.Discard | buttons.Cancel,
                                            buttons.Save)
    return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")


def _scrolling(widget: QtWidgets.QWidget) -> QtWidgets.QScrollArea:
    area = QtWidgets.QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
    return area
