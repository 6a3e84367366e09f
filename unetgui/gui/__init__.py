"""The window: a thin PySide6 + pyqtgraph shell over :mod:`unetgui.core`."""

import os

# Pin the Qt binding before pyqtgraph is imported anywhere (rule 7 of the house).
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
