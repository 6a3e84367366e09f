"""The questions before a model is shared as a bioimage.io package: its name, what it
segments, who made it and under which licence (bioimage.io shows them with the model)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtWidgets

if TYPE_CHECKING:  # the export module needs torch, which the window loads after it opens
    from unetgui.core.bioimageio_export import PackageInfo

LICENSES = ("CC-BY-4.0", "CC0-1.0", "MIT", "BSD-3-Clause", "Apache-2.0")


class ShareDialog(QtWidgets.QDialog):
    def __init__(self, name: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Share as a bioimage.io package")
        self.setMinimumWidth(460)
        form = QtWidgets.QFormLayout(self)
        self.name = QtWidgets.QLineEdit(name)
        self.description = QtWidgets.QLineEdit()
        self.description.setPlaceholderText("e.g. Nuclei in HeLa cells, Hoechst, 20x widefield")
        self.authors = QtWidgets.QLineEdit()
        self.authors.setPlaceholderText("Names, separated by commas")
        self.license = QtWidgets.QComboBox()
        self.license.addItems(LICENSES)
        self.license.setEditable(True)  # any SPDX identifier
        form.addRow("Name", self.name)
        form.addRow("What it segments", self.description)
        form.addRow("Authors", self.authors)
        form.addRow("Licence", self.license)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def info(self) -> PackageInfo:
        from unetgui.core.bioimageio_export import PackageInfo

        authors = tuple(a.strip() for a in self.authors.text().split(",") if a.strip())
        return PackageInfo(name=self.name.text().strip() or "unetgui model", description=self.description.text().strip(),
                           authors=authors or ("unetgui user",), license=self.license.currentText().strip() or "CC-BY-4.0")
