"""Files that ship with unetgui: the bundled starter model (``starter.unet``) and a small
sample image (``sample_nuclei.tif``, licence in ``SAMPLE-LICENSE.txt``).

This folder is installed as the package ``unetgui.resources`` (see pyproject.toml), so
``importlib.resources.files("unetgui.resources")`` finds its files in an installed wheel
as well as in an editable checkout. Use :mod:`unetgui.core.starter` and
:mod:`unetgui.core.sample` to locate them.
"""
