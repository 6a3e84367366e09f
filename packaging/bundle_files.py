"""The files a bundle must carry besides code: what ``resources/`` ships (the starter
model, the sample image and its licence, the icon), as pyproject's package data says.
The spec puts them in the bundle's ``resources/`` folder, where ``core.starter.bundled_file``
looks when the installed package data is not there."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATTERNS = ("*.unet", "*.tif", "*.txt", "*.svg")  # pyproject.toml: [tool.setuptools.package-data]


def resource_files() -> list[tuple[str, str]]:
    """(source path, folder in the bundle) for every resource file."""
    return [(str(path), "resources") for pattern in PATTERNS for path in sorted((ROOT / "resources").glob(pattern))]
