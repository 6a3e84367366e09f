"""The starter model that ships with unetgui, so a first prediction is useful at once.

``resources/starter.unet`` is a U-Net (16 base channels) trained on synthetic and real
fluorescence nuclei by ``packaging/train_starter_model.py``, which records its whole
recipe and its training data in the file (``UNetModel.info["recipe"]``,
``info["training_data"]``; packaging/STARTER-MODEL.md). It is installed as package data of
``unetgui.resources``, so an installed wheel finds it as well as a source checkout.
"""

from __future__ import annotations

from pathlib import Path

from unetgui.core.errors import ModelFileError

STARTER_FILE = "starter.unet"
#: The cell diameters (px) of the starter's training domain (SyntheticDomain()): per-image
#: median diameters over 40 drawn images, 10th / 50th / 90th percentile (the domain's own
#: setting is 11-62 px; at its ends there are few images). Starter v2 predates model files
#: recording their cell size, so it is added when such a file is loaded; v3 records the
#: diameters of all the cells it was trained on (typical 16 px, 10-30 px).
STARTER_CELL_SIZE = {"typical": 25.6, "low": 14.0, "high": 43.2}
_RESOURCE_PACKAGE = "unetgui.resources"
_SOURCE_TREE = Path(__file__).resolve().parents[2] / "resources"


def starter_model_path() -> Path:
    """Where the bundled starter model file is (whether or not it exists).

    Returns
    -------
    Path
        The path of ``starter.unet`` (:func:`bundled_file`); check ``is_file()`` before
        reading it.
    """
    return bundled_file(STARTER_FILE)


def bundled_file(name: str) -> Path:
    """Where a file of ``resources/`` is: the installed package data (``unetgui.resources``)
    first; in a source checkout whose install predates that package, the repository's
    ``resources/`` folder.

    Parameters
    ----------
    name : the file's name in ``resources/``

    Returns
    -------
    Path
        Its path, whether or not it exists.
    """
    from importlib import resources

    source_tree = _SOURCE_TREE / name
    try:
        candidate = Path(str(resources.files(_RESOURCE_PACKAGE) / name))
    except (ModuleNotFoundError, TypeError, ValueError):
        candidate = None
    if candidate is not None and candidate.is_file():
        return candidate
    if source_tree.is_file() or candidate is None:
        return source_tree
    return candidate


def load_starter_model(device="cpu"):
    """The bundled starter model, as a :class:`~unetgui.core.model.UNetModel` on ``device``.

    Raises ModelFileError with a plain explanation when the file is missing (an
    incomplete installation) or damaged.

    Parameters
    ----------
    device : str or torch.device
        Where to put the network's weights (default the CPU).

    Returns
    -------
    UNetModel
        The starter model, its ``info["cell_size"]`` set to :data:`STARTER_CELL_SIZE` when
        the file does not record one.
    """
    from unetgui.core.model import load_model

    path = starter_model_path()
    if not path.is_file():
        raise ModelFileError(
            f"The bundled starter model is missing (looked for '{path}'). The installation is "
            "incomplete: reinstall unetgui, or open a model file of your own."
        )
    model = load_model(path, device=device)
    model.info.setdefault("cell_size", dict(STARTER_CELL_SIZE))
    return model
