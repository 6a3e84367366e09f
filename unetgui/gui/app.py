"""Starting the window: QApplication, the main window, the file from the command line."""

from __future__ import annotations

import sys

import unetgui.gui  # noqa: F401  (pins the Qt binding before pyqtgraph loads)


def application_icon():
    """The unetgui icon (resources/unetgui.svg), or an empty icon if it is missing."""
    from PySide6 import QtGui

    from unetgui.core.starter import bundled_file

    path = bundled_file("unetgui.svg")
    return QtGui.QIcon(str(path)) if path.is_file() else QtGui.QIcon()


def run_app(argv: list[str]) -> int:
    """Open the window (with ``argv[0]`` as the image, if given) and run until it closes."""
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    from unetgui.core import runtime
    from unetgui.gui import crash
    from unetgui.gui.main_window import MainWindow

    runtime.tune_allocator()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([sys.argv[0], *argv[1:]])
    app.setApplicationName("unetgui")
    app.setDesktopFileName("unetgui")  # matches packaging/unetgui.desktop
    app.setOrganizationName("unetgui")
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    collector = collect_garbage_on_gui_thread()  # noqa: F841 - its timer runs while the app does
    window = MainWindow()
    window.setWindowIcon(application_icon())
    crash.install(lambda text: window.show_error("unetgui hit a problem", text))
    # however the application ends, worker threads stop before Qt tears them down
    app.aboutToQuit.connect(window.shutdown)
    window.show()
    report = _startup_report()
    report("window shown")
    if argv == ["--sample"]:
        window.open_sample()
    elif argv:
        window.open_image(argv[0])
    else:
        window.offer_recovery()

    def model_ready(_model=None) -> None:
        report("model loaded")
        runtime.freeze_collector()  # start-up's long-lived objects (torch's too), out of the collector's way
        runtime.preload_training_modules()

    if window.models.ready:
        model_ready()
    else:
        window.models.loaded.connect(model_ready)
    return app.exec()


def collect_garbage_on_gui_thread():
    """Turn Python's automatic cyclic collection off and collect on a GUI-thread timer
    instead (pyqtgraph's GarbageCollector); keep the returned object alive.

    The collector runs in whichever thread allocates when its thresholds trip. In the
    training thread, freeing garbage that holds Qt objects (a closed dialog's) deadlocks:
    ``QObject::~QObject`` there waits for the GIL while the GUI thread, holding it, waits
    on the same Qt mutex. The GUI tests met this (tests/gui/conftest.py, gdb traces)."""
    from pyqtgraph.util.garbage_collector import GarbageCollector

    return GarbageCollector(interval=1.0)


def _startup_report():
    """With UNETGUI_STARTUP_REPORT=1, a line on stderr at each start-up milestone, for
    benchmarks/bench_startup.py to time from outside (as a bundle, too)."""
    import os
    import time

    if os.environ.get("UNETGUI_STARTUP_REPORT") != "1":
        return lambda _what: None
    return lambda what: print(f"unetgui: {what} at {time.process_time():.2f} s CPU", file=sys.stderr, flush=True)
