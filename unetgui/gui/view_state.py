"""What the image view shows: plane, channel, contrast, layers. A QObject whose signals
every widget showing one of these values listens to; no widget is asked for them.

The layer defaults are defined here, once. While the weight map is shown, the labels are
drawn as outlines so the map beneath them stays visible (:attr:`ViewState.label_outlines`).
"""

from __future__ import annotations

from PySide6 import QtCore

from unetgui.gui.display import COMPOSITE

LAYER_TITLES = {
    "image": "Image",
    "labels": "Labels",
    "ignore": "Ignore mask",
    "prediction": "Prediction",
    "weights": "Weight map",
}
DEFAULT_OPACITY = {"image": 1.0, "labels": 0.5, "ignore": 1.0, "prediction": 0.5, "weights": 0.7}
DEFAULT_VISIBLE = {"image": True, "labels": True, "ignore": True, "prediction": False, "weights": False}


class ViewState(QtCore.QObject):
    """Plane, channel, contrast levels per channel, layer visibility and opacity."""

    imageReset = QtCore.Signal()  # a new image: planes, channels and levels start afresh
    planeChanged = QtCore.Signal(int)
    channelChanged = QtCore.Signal(int)  # index, or COMPOSITE
    levelsChanged = QtCore.Signal()  # levels of one or more channels
    visibilityChanged = QtCore.Signal(str, bool)
    opacityChanged = QtCore.Signal(str, float)
    outlinesChanged = QtCore.Signal(bool)  # what the labels layer draws: outlines or fills

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.plane = 0
        self.n_planes = 0
        self.axis_name = "Plane"  # what the planes are: Time, Z or Plane
        self.channel = 0
        self.n_channels = 0
        self.is_rgb = False
        self.levels: list[tuple[float, float] | None] = []
        self.visible = dict(DEFAULT_VISIBLE)
        self.opacity = dict(DEFAULT_OPACITY)
        self.outlines_chosen = False  # the user's choice; weight map shown forces outlines

    # ------------------------------------------------------------------ image

    def reset(self, n_planes: int, n_channels: int, is_rgb: bool, axis_name: str = "Plane") -> None:
        """A new image: plane 0, its first channel (or the composite for RGB), levels unset."""
        self.n_planes, self.n_channels, self.is_rgb, self.axis_name = n_planes, n_channels, is_rgb, axis_name
        self.levels = [None] * n_channels
        self.plane = 0
        self.channel = COMPOSITE if is_rgb else 0
        self.imageReset.emit()

    def set_plane(self, plane: int) -> None:
        plane = min(max(int(plane), 0), max(self.n_planes - 1, 0))
        if plane != self.plane:
            self.plane = plane
            self.planeChanged.emit(plane)

    def step_plane(self, step: int) -> None:
        self.set_plane(self.plane + step)

    def set_channel(self, channel: int) -> None:
        if channel != self.channel:
            self.channel = channel
            self.channelChanged.emit(channel)

    @property
    def shown_channels(self) -> list[int]:
        """Every channel on the composite, else the one channel on screen."""
        return list(range(self.n_channels)) if self.channel == COMPOSITE else [self.channel]

    @property
    def model_channel(self) -> int | None:
        """The channel a one-channel model reads (None: the channels' mean, on the composite)."""
        return None if self.channel == COMPOSITE else self.channel

    def shown_levels(self) -> tuple[float, float] | None:
        """The levels of the channel on screen (the first one on the composite)."""
        if not self.levels:
            return None
        return self.levels[0 if self.channel == COMPOSITE else self.channel]

    def set_levels(self, low: float, high: float) -> None:
        """One contrast for the shown channels; an empty range is ignored."""
        self.set_channel_levels({c: (low, high) for c in self.shown_channels})

    def set_channel_levels(self, levels: dict[int, tuple[float, float]]) -> None:
        """Contrast per channel (channel -> (low, high)), announced once; empty ranges are ignored."""
        levels = {c: (float(low), float(high)) for c, (low, high) in levels.items() if high > low}
        if levels:
            for c, pair in levels.items():
                self.levels[c] = pair
            self.levelsChanged.emit()

    # ------------------------------------------------------------------ layers

    def set_visible(self, name: str, visible: bool) -> None:
        if self.visible[name] != visible:
            outlines = self.label_outlines
            self.visible[name] = visible
            self.visibilityChanged.emit(name, visible)
            if self.label_outlines != outlines:
                self.outlinesChanged.emit(self.label_outlines)

    def toggle(self, name: str) -> None:
        self.set_visible(name, not self.visible[name])

    def set_opacity(self, name: str, opacity: float) -> None:
        if self.opacity[name] != opacity:
            self.opacity[name] = opacity
            self.opacityChanged.emit(name, opacity)

    def set_outlines(self, outlines: bool) -> None:
        """The user's choice of label outlines (the weight map also turns them on)."""
        before = self.label_outlines
        self.outlines_chosen = outlines
        if self.label_outlines != before:
            self.outlinesChanged.emit(self.label_outlines)

    @property
    def label_outlines(self) -> bool:
        """Labels as outlines: chosen, or the weight map is shown and must not be hidden."""
        return self.outlines_chosen or self.visible["weights"]
