"""unetgui: segment cells in microscopy images with a U-Net you fine-tune yourself.

This module imports neither Qt nor torch, so ``import unetgui`` stays cheap for the
command line and for scripts.
"""

__version__ = "0.1.0"
