"""Small widget helpers the panels share."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets


def spin(low: int, high: int, value: int, tip: str, suffix: str = "") -> QtWidgets.QSpinBox:
    """An integer spin box with a range, a start value, a tooltip and a unit."""
    box = QtWidgets.QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    box.setSuffix(suffix)
    return box


def wrapped_label(text: str = "") -> QtWidgets.QLabel:
    """A label that wraps, for status lines."""
    label = QtWidgets.QLabel(text)
    label.setWordWrap(True)
    return label


def set_quietly(widget: QtWidgets.QWidget, setter, value) -> None:
    """Show ``value`` in a widget without it reporting the change back (a mirror's update)."""
    blocker = QtCore.QSignalBlocker(widget)
    setter(value)
    del blocker
