"""Start-up: the window opens before torch is imported, and the starter model arrives
from a thread (gui/model_controller.py) into the panels that show it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from unetgui.core import recipes

BLOCK_TORCH = """
import sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not importable in this test")

sys.meta_path.insert(0, NoTorch())
"""


def _run(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "UNETGUI_DATA_DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_the_window_opens_without_torch_and_a_broken_torch_is_said_plainly(tmp_path):
    """Everything the window needs to appear is importable with torch missing; the model
    thread's failure is then said in a dialog, and again to whoever asks for the model."""
    result = _run(BLOCK_TORCH + textwrap.dedent("""
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication([])
    from unetgui.gui.main_window import MainWindow
    from unetgui.core.errors import ModelFileError

    import time

    window = MainWindow()
    window.show()
    print("panel:", window.model_panel.model_name.text())
    end = time.monotonic() + 60
    while "No model" not in window.model_panel.model_name.text() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    print("then:", window.model_panel.model_name.text())
    dialog = window.findChild(QtWidgets.QMessageBox, "error-dialog")
    print("dialog:", dialog.windowTitle() if dialog else None)
    try:
        window.models.model
    except ModelFileError as error:
        print("error:", error)
    print("torch loaded:", "torch" in sys.modules)
    window.session.autosaver.detach()
    """), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "panel: <b>Loading the starter model...</b>" in result.stdout
    assert "then: <b>No model</b>: it could not be loaded." in result.stdout
    assert "dialog: Cannot load the model" in result.stdout
    assert "error: The model could not be loaded (ImportError: torch is not importable" in result.stdout
    assert "torch loaded: False" in result.stdout


def test_the_starter_model_arrives_in_the_panels(qtbot, settings):
    from tests.gui.conftest import add_window

    window = add_window(qtbot, settings)
    window.training_panel.steps.setValue(7)  # not the recipe's: the recipe comes with the model
    window.show()
    qtbot.waitUntil(lambda: window.models.ready, timeout=60_000)
    assert "starter model" in window.model_panel.model_name.text()
    assert "M parameters" in window.model_panel.model_name.text()
    assert window.model_panel.device_label.text().startswith("Using CPU")
    assert window.training_panel.steps.value() == recipes.FINE_TUNE.steps


def test_asking_for_the_model_early_waits_for_it(qtbot, settings):
    """A user who acts before the model thread ends gets the starter model, not None, and
    the late arrival does not replace a model opened meanwhile."""
    from tests.gui.conftest import add_window
    from unetgui.core.model import new_model

    window = add_window(qtbot, settings)
    assert window.models.model.info.get("name") == "unetgui starter model"
    assert window.models.ready
    mine = new_model(recipes.SCRATCH_NETWORK, seed=1, info={"name": "mine"})
    window.models.set_model(mine, "mine")
    qtbot.wait(50)  # any queued arrival from the thread is handled now
    assert window.models.model is mine
    assert "mine" in window.model_panel.model_name.text()
