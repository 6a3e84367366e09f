"""The core and the headless command line never import Qt (rule 1 of the house)."""

import subprocess
import sys

BLOCK_QT = """
import importlib.abc, sys
class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'pyqtgraph'}:
            raise ImportError('Qt imported by the core: ' + name)
sys.meta_path.insert(0, BlockQt())
import pkgutil, importlib, unetgui.core, unetgui.cli
for module in pkgutil.iter_modules(unetgui.core.__path__):
    importlib.import_module('unetgui.core.' + module.name)
loaded = sorted(m for m in sys.modules if m.startswith('unetgui'))
print(len(loaded))
"""


def test_core_and_cli_import_without_qt():
    result = subprocess.run([sys.executable, "-c", BLOCK_QT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 15
