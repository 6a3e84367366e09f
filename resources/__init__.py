"""Files that ship with unetgui: the bundled starter model (``starter.unet``).

This folder is installed as the package ``unetgui.resources`` (see pyproject.toml), so
``importlib.resources.files("unetgui.resources")`` finds its files in an installed wheel
as well as in an editable checkout. Use :mod:`unetgui.core.starter` to locate the model.
"""
