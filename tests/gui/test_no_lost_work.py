"""The window never loses work and never shows a traceback: refused sidecars are kept,
steady editing still autosaves, failed saves and exports say why, damaged files are
refused with a dialog."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest
import tifffile
from PySide6 import QtWidgets

from tests.gui.conftest import add_window
from tests.hostile_files import simulate_read_only_disk
from unetgui.core import annotations
from unetgui.core.annotations import load_annotations, save_annotations


def error_dialogs(window) -> list[str]:
    return [w.text() for w in window.findChildren(QtWidgets.QMessageBox, "error-dialog") if w.isVisible()]


def test_refused_annotations_are_moved_aside_and_survive_autosave(qtbot, settings, stack_file):
    """A sidecar for another image size used to be deleted by the first autosave."""
    path, _, labels = stack_file
    state = annotations.AnnotationState((5, 1, 96, 128), {0: np.ones((96, 128), np.uint32)})
    folder = save_annotations(path, state)  # e.g. saved before the stack was re-saved
    saved = {p.name: p.read_bytes() for p in folder.iterdir()}
    annotations._trusted.clear()  # as in a new process

    window = add_window(qtbot, settings)
    window.open_image(path)
    (message,) = error_dialogs(window)
    assert "5 planes" in message and "moved to" in message
    (kept,) = [p for p in folder.iterdir() if p.name.startswith("refused-")]
    assert str(kept) in message
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == saved

    window.document.set_plane_labels(0, labels[0])
    assert window.session.save_now()
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == saved  # untouched by the save
    np.testing.assert_array_equal(load_annotations(path, window.stack.shape).labels[0], labels[0])


def test_a_deeply_nested_sidecar_does_not_stop_the_window(qtbot, settings, stack_file):
    path, _, _ = stack_file
    folder = save_annotations(path, annotations.AnnotationState((3, 1, 96, 128)))
    (folder / "annotations.json").write_text("[" * 100_000 + "]" * 100_000)
    window = add_window(qtbot, settings)
    assert window.open_image(path)
    (message,) = error_dialogs(window)
    assert "damaged" in message and "moved to" in message
    assert window.document is not None


@pytest.mark.parametrize("content", ["[" * 100_000 + "]" * 100_000,
                                     '{"image": "/x.tif", "pid": 1099511627776, "token": "a"}'])
def test_a_damaged_session_marker_is_moved_aside_at_start_up(qtbot, settings, content, tmp_path):
    data = tmp_path / "user-data"
    data.mkdir()
    (data / "session.json").write_text(content)
    window = add_window(qtbot, settings)
    window.offer_recovery()  # what every start without a file does
    assert "moved to" in window.statusBar().currentMessage()
    assert not (data / "session.json").exists() and list(data.glob("session-damaged-*.json"))
    window.offer_recovery()  # and the next start is quiet
    assert error_dialogs(window) == []


def test_steady_editing_still_autosaves_within_the_maximum_delay(qtbot, tmp_path):
    """45 edits at one a second used to give no save: every edit restarted the countdown.
    The same rule at test speed: a 300 ms pause saves, and so does a 1 s deadline."""
    from unetgui.core.labels import LabelDocument
    from unetgui.gui.autosave import Autosaver
    from unetgui.gui.workers import LatestOnly

    jobs = LatestOnly()
    saver = Autosaver(jobs, delay_ms=300, max_delay_ms=1000)
    document = LabelDocument(1, (16, 16))
    saver.attach(tmp_path / "cells.tif", document, (1, 1, 16, 16), dict)
    saves = []
    saver.saved.connect(saves.append)
    for i in range(16):  # an edit every 150 ms: never a 300 ms pause
        document.set_plane_labels(0, np.full((16, 16), i + 1, np.uint32))
        saver.changed()
        qtbot.wait(150)
    assert saves, "no autosave during 2.4 s of steady editing with a 1 s deadline"
    qtbot.waitUntil(lambda: not saver.dirty, timeout=5000)
    assert load_annotations(tmp_path / "cells.tif", (1, 1, 16, 16)).labels[0][0, 0] == 16
    jobs.wait(5000)


def test_saving_the_model_on_a_full_disk_keeps_it_unsaved_with_a_dialog(qtbot, settings, stack_file, tmp_path,
                                                                         monkeypatch):
    window = add_window(qtbot, settings)
    controller = window.models
    controller.dirty = True
    import builtins

    real_open = builtins.open

    def open_full(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if "w" in mode and str(file).endswith(".unet"):
            handle.close()
            raise OSError(errno.ENOSPC, "No space left on device")
        return handle

    monkeypatch.setattr(builtins, "open", open_full)
    assert not controller.save_model(tmp_path / "model.unet")
    monkeypatch.setattr(builtins, "open", real_open)
    (message,) = error_dialogs(window)
    assert "disk is full" in message
    assert controller.dirty and not (tmp_path / "model.unet").exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".model.unet.tmp")] == []


def test_export_to_a_read_only_disk_shows_a_dialog(qtbot, settings, stack_file, tmp_path, monkeypatch):
    path, _, labels = stack_file
    window = add_window(qtbot, settings)
    window.open_image(path)
    window.document.set_plane_labels(0, labels[0])
    simulate_read_only_disk(monkeypatch)
    assert window.export_to(tmp_path / "out.tif", "labels", whole_stack=True) is None
    monkeypatch.undo()
    (message,) = error_dialogs(window)
    assert "read-only" in message


def test_a_zero_size_tiff_is_refused_with_a_dialog(qtbot, settings, tmp_path):
    from tests.hostile_files import raw_tiff

    zero = tmp_path / "zero.tif"
    zero.write_bytes(raw_tiff(0, 0))
    window = add_window(qtbot, settings)
    assert not window.open_image(zero)
    (message,) = error_dialogs(window)
    assert "no pixels" in message and window.stack is None


def test_labels_with_ids_above_2_to_the_32_are_refused_with_a_dialog(qtbot, settings, stack_file, tmp_path):
    path, _, _ = stack_file
    big = np.zeros((3, 96, 128), np.uint64)
    big[0, :4, :4] = 2**40
    tifffile.imwrite(tmp_path / "big.tif", big, photometric="minisblack")
    window = add_window(qtbot, settings)
    window.open_image(path)
    assert not window.session.import_labels(tmp_path / "big.tif")
    (message,) = error_dialogs(window)
    assert "above 4294967295" in message
    assert not window.document.labels_of(0).any()


@pytest.mark.parametrize("field,value", [("config", "[" * 100_000 + "]" * 100_000),
                                         ("config", json.dumps({"depth": 2.5})), ("info", "[1]")])
def test_a_hostile_model_file_gets_a_dialog(qtbot, settings, tmp_path, field, value):
    from tests.hostile_files import model_with_metadata

    path = model_with_metadata(tmp_path / "m.unet", **{field: value})
    window = add_window(qtbot, settings)
    before = window.models.model
    assert not window.models.open_model(path)
    (message,) = error_dialogs(window)
    assert "m.unet" in message
    assert window.models.model is before


def test_an_unexpected_error_writes_a_crash_log_and_the_window_says_where(qtbot, settings, tmp_path, monkeypatch):
    import sys
    import threading

    from unetgui.gui import crash

    window = add_window(qtbot, settings)
    hooks = sys.excepthook, threading.excepthook
    try:
        crash.install(lambda text: window.show_error("unetgui hit a problem", text), fault_log=False)
        try:
            raise ZeroDivisionError("a bug")
        except ZeroDivisionError:
            sys.excepthook(*sys.exc_info())
        qtbot.waitUntil(lambda: bool(error_dialogs(window)), timeout=5000)
    finally:
        sys.excepthook, threading.excepthook = hooks
    (message,) = error_dialogs(window)
    (log,) = (tmp_path / "user-data" / "logs").glob("crash-*.log")
    assert str(log) in message and "annotations are saved" in message
    text = log.read_text()
    assert "ZeroDivisionError: a bug" in text and "Python" in text and "unetgui" in text
