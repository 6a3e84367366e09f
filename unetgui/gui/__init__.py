"""The window: a thin PySide6 + pyqtgraph shell over :mod:`unetgui.core`.

State lives in models that emit signals; widgets mirror them; controllers do the work
and talk by signals; ``main_window.py`` only wires them (see its docstring). Where a new
thing goes, in one sentence each:

- a new **layer**: an image item in ``canvas.py`` (``Canvas.LAYERS``) with its title and
  defaults in ``view_state.py`` (``LAYER_TITLES``, ``DEFAULT_OPACITY``, ``DEFAULT_VISIBLE``);
  the Layers panel and the View state pick it up from there;
- a new **tool**: a ``Tool`` subclass in ``tools.py`` added to ``TOOL_TYPES``; the Tools
  panel, the Edit > Tool menu and the F1 list are built from it;
- a new **export**: a function in ``export.py`` taking what it writes (document, stack,
  predictions), plus a row in ``actions.COMMANDS`` and its slot in
  ``MainWindow.command_slots``;
- a new **training option**: a field of ``core.train.TrainingConfig`` (with its default
  in ``core.recipes``), a widget in ``panels/training.py`` returned by ``settings()``;
  ``training.TrainingController.training_config`` passes it on, and the command line
  gets an option in ``cli.py``.

Every worker thread type is in ``workers.py``; pure rules (which channel feeds a model,
probability encoding, CPU shares, predicting a stack) are in the core.
"""

import os

# Pin the Qt binding before pyqtgraph is imported anywhere (rule 7 of the house).
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
