"""The sample image that ships with unetgui, to try it at once (Help > Open sample,
``unetgui --sample``): three planes of a fluorescence time-lapse of nuclei, 511 x 511,
8 bit (``resources/sample_nuclei.tif``; licence in ``resources/SAMPLE-LICENSE.txt``).

The window opens a copy in the user's data folder, so the annotations saved beside it
never land inside the installed package.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from unetgui.core.errors import ImageFileError
from unetgui.core.io import atomic_write
from unetgui.core.starter import bundled_file
from unetgui.core.userdata import data_dir

SAMPLE_FILE = "sample_nuclei.tif"


def sample_path() -> Path:
    """The bundled sample image.

    Returns
    -------
    Path
        ``sample_nuclei.tif`` in the installed resources.

    Raises
    ------
    ImageFileError
        When the file is missing (an incomplete installation).
    """
    path = bundled_file(SAMPLE_FILE)
    if not path.is_file():
        raise ImageFileError(f"The sample image is missing (looked for '{path}'). The installation is "
                             "incomplete: reinstall unetgui.")
    return path


def sample_copy(folder: str | Path | None = None) -> Path:
    """A copy of the sample to work on (made once; kept with its annotations after that).

    Parameters
    ----------
    folder : where the copy goes (default: ``DATA_DIR/sample``)

    Returns
    -------
    Path
        The copy's path.
    """
    target = Path(folder or data_dir() / "sample") / SAMPLE_FILE
    if not target.is_file():
        source = sample_path()
        with atomic_write(target) as tmp:
            shutil.copyfile(source, tmp)
    return target
