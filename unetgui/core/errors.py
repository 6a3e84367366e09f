"""Errors that carry a message meant for the person using the program.

Everything the core raises on bad input derives from :class:`UnetguiError`; the command
line prints its message as one line and exits non-zero, the window shows it in a dialog.
Programming errors stay ordinary exceptions and keep their tracebacks.
"""


class UnetguiError(Exception):
    """Base class: ``str(error)`` is a complete sentence a biologist understands."""


class ImageFileError(UnetguiError):
    """An image or label file cannot be read or written (corrupt, unsupported, wrong shape)."""


class ModelFileError(UnetguiError):
    """A file is not a unetgui model, is damaged, or does not fit the image."""


class InvalidInputError(UnetguiError):
    """Arguments or data that cannot be used: bad tile size, no cells, NaN pixels, ..."""


class DeviceError(UnetguiError):
    """The requested compute device (CUDA, MPS) is not available on this computer."""
