"""Work over a project's images: their state, the training set, predicting and exporting.

Everything here reads images one plane at a time and keeps only what the job needs: the
training set holds the annotated planes (never whole stacks), prediction and export hold
one image's results at a time. Predicting and exporting are generators that yield after
every plane or image, so the window can show progress and stop between them, and a file
that cannot be read is reported and skipped, never the end of the batch.

What an image exports: for each plane, the user's annotation when the plane is annotated
(role train or validation), else the project's latest prediction of it, else whatever
labels the plane holds (none: background).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from unetgui.core import annotations as sidecar
from unetgui.core.cell_files import IMAGE_KINDS, write_cells, write_label_image
from unetgui.core.errors import InvalidInputError, ModelFileError, UnetguiError
from unetgui.core.io import (
    ImageStack,
    open_image,
    plane_axis_for,
    write_probabilities,
)
from unetgui.core.outputs import CELL_KINDS, output_name
from unetgui.core.postprocess import (
    MIN_RELATIVE_AREA,
    decode_probability,
    encode_probability,
    probabilities_to_labels,
)
from unetgui.core.project import Project
from unetgui.core.stored_prediction import (
    load_prediction,
    prediction_info,
    save_prediction,
)

if TYPE_CHECKING:  # torch, imported by the jobs that run a model: the window's project list opens without it
    from unetgui.core.model import UNetModel
    from unetgui.core.train import TrainingPlane

THUMBNAIL_SIZE = 96  # px, the longer side


# ------------------------------------------------------------------ state of each image


@dataclass(frozen=True)
class ImageStatus:
    """What has been done to one image of a project."""

    name: str
    roles: dict[int, str] = field(default_factory=dict)  # annotated planes: plane -> train | validation
    predicted: bool = False
    exported: bool = False

    @property
    def text(self) -> str:
        """'not annotated', '2 planes annotated, predicted, exported'."""
        n = len(self.roles)
        parts = [f"{n} plane{'s' if n != 1 else ''} annotated" if n else "not annotated"]
        if self.predicted:
            parts.append("predicted")
        if self.exported:
            parts.append("exported")
        return ", ".join(parts)


def image_status(project: Project, name: str) -> ImageStatus:
    """The state of ``name`` from its sidecar (the json only) and the output folder."""
    path = project.path_of(name)
    roles = sidecar.saved_roles(path) or {}
    exported = (project.output_folder / output_name(name, "labels")).exists()
    return ImageStatus(name, roles, prediction_info(path) is not None, exported)


def thumbnail(path: str | Path, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """A small 8-bit picture of the image's first plane: (h, w) grey, or (h, w, 3) for RGB.

    The mean of the channels otherwise (the window's composite), contrast stretched
    between the 1st and 99.8th percentiles.
    """
    with open_image(path) as stack:
        plane = stack.read_plane(0)
        rgb = stack.is_rgb
    step = max(1, int(np.ceil(max(plane.shape[1:]) / size)))
    small = plane[:, ::step, ::step].astype(np.float32)
    small = np.moveaxis(small, 0, -1) if rgb else small.mean(axis=0)
    low, high = np.percentile(small, (1, 99.8))
    scaled = (small - low) / (high - low) if high > low else np.zeros_like(small)
    return np.ascontiguousarray(np.clip(scaled * 255, 0, 255).astype(np.uint8))


# ------------------------------------------------------------------ training set


@dataclass(frozen=True)
class TrainingSet:
    training: list[TrainingPlane]
    validation: list[TrainingPlane]
    sources: dict[str, int]  # image name -> planes it gave
    notes: tuple[str, ...] = ()  # images left out, and why


def training_set(project: Project, model: UNetModel, channel: int | None = None, *,
                 skip: Iterable[str] = (), images: Sequence[str] | None = None) -> TrainingSet:
    """The annotated planes of a project's images: those marked for training, and those
    marked for validation.

    Only annotated planes are read (one plane at a time, from each image's file and
    sidecar); images may differ in size, bit depth and data type.

    Parameters
    ----------
    project : the project
    model : the model to train (its channels decide what each image must have)
    channel : what a one-channel model reads of a multi-channel image
    skip : image names left out (the window adds the one on screen from its document)
    images : the names to look at (default: all the project's)

    Returns
    -------
    TrainingSet
        Planes named 'NAME plane P'; notes for images whose annotations could not be read.

    Raises
    ------
    InvalidInputError
        Images whose channels the model cannot read, all named in one message.
    """
    from unetgui.core.predict import model_input
    from unetgui.core.train import TrainingPlane

    skipped = set(skip)
    training, validation, sources, notes, misfits = [], [], {}, [], []
    for name in images if images is not None else project.images:
        if name in skipped:
            continue
        path = project.path_of(name)
        roles = sidecar.saved_roles(path)
        if not roles:
            continue
        try:
            with open_image(path) as stack:
                state = sidecar.load_annotations(path, stack.shape)
                if state is None:
                    continue
                try:
                    model_input(np.zeros((stack.n_channels, 1, 1), np.float32), model, channel)
                except (InvalidInputError, ModelFileError):
                    misfits.append(f"{name} ({stack.n_channels} channel{'s' if stack.n_channels != 1 else ''})")
                    continue
                for plane, role in sorted(state.roles.items()):
                    labels = state.labels.get(plane, np.zeros(stack.shape[2:], np.uint32))
                    item = TrainingPlane(model_input(stack.read_plane(plane), model, channel), labels,
                                         state.ignore.get(plane), f"{name} plane {plane}")
                    (training if role == "train" else validation).append(item)
                    sources[name] = sources.get(name, 0) + 1
        except UnetguiError as error:
            notes.append(f"{name} was left out: {error}")
    if misfits:
        wanted = model.config.in_channels
        raise InvalidInputError(
            f"The model reads {wanted} channel{'s' if wanted != 1 else ''}, but these images do not fit it: "
            f"{', '.join(misfits)}. Remove their annotations from training (mark their planes as not "
            "annotated), or fine-tune a model made for them.")
    return TrainingSet(training, validation, sources, tuple(notes))


# ------------------------------------------------------------------ predicting


@dataclass(frozen=True)
class ImageProgress:
    """One step of a project job: a plane of an image done, an image done, or an image that failed."""

    name: str
    image: int  # images finished before this one
    images: int  # images in the job
    plane: int = 0  # planes of this image done
    planes: int = 0
    done: bool = False  # the image is finished (written)
    error: str | None = None  # the image was skipped: why
    written: tuple[Path, ...] = ()


def predict_images(project: Project, names: Sequence[str], model: UNetModel, model_name: str, *,
                   channel: int | None = None, threshold: float = 0.5, min_size: int = 16,
                   min_relative_area: float = MIN_RELATIVE_AREA,
                   **options) -> Iterator[ImageProgress]:
    """Predict every plane of each named image and keep the result in its sidecar
    (core/stored_prediction.py), for export and for the window.

    Parameters
    ----------
    project, names : the project and the images to predict, in order
    model, model_name : the model (on its device) and its name, stored with the prediction
    channel : what a one-channel model reads of a multi-channel image
    threshold, min_size, min_relative_area : turning probabilities into cells (core.postprocess)
    **options : for :func:`core.predict.iter_predict_planes` (rescale, tile_size, tta...)

    Yields
    ------
    ImageProgress
        After each plane; once per image with ``done`` (or ``error``: it is skipped and
        the job goes on). Closing the generator stops between planes.
    """
    from unetgui.core.predict import iter_predict_planes

    for index, name in enumerate(names):
        try:
            with open_image(project.path_of(name)) as stack:
                labels = np.zeros((stack.n_planes, stack.height, stack.width), np.uint32)
                probability = np.zeros(labels.shape, np.uint8)
                for result in iter_predict_planes(model, stack.read_plane, range(stack.n_planes), channel=channel,
                                                  **options):
                    probability[result.plane] = encode_probability(result.foreground)
                    labels[result.plane] = probabilities_to_labels(result.foreground, threshold=threshold,
                                                                   min_size=min_size,
                                                                   min_relative_area=min_relative_area)
                    yield ImageProgress(name, index, len(names), result.done, result.total)
            folder = save_prediction(project.path_of(name), labels, probability, model_name)
        except UnetguiError as error:
            yield ImageProgress(name, index, len(names), error=str(error))
            continue
        yield ImageProgress(name, index + 1, len(names), labels.shape[0], labels.shape[0], done=True,
                            written=(folder,))


# ------------------------------------------------------------------ exporting


def image_labels(path: Path, stack: ImageStack) -> tuple[np.ndarray, np.ndarray | None]:
    """What an image exports: (P, Y, X) uint32 labels (annotation, else prediction, per
    plane) and the stored (P, Y, X) uint8 probability, or None when it was not predicted."""
    shape = (stack.n_planes, stack.height, stack.width)
    state = sidecar.load_annotations(path, stack.shape)
    prediction = load_prediction(path, shape)
    labels = np.zeros(shape, np.uint32) if prediction is None else prediction.labels.copy()
    if state is not None:
        for plane, plane_labels in state.labels.items():
            if state.roles.get(plane) or prediction is None:
                labels[plane] = plane_labels
    return labels, None if prediction is None else prediction.probability


def export_images(project: Project, names: Sequence[str], kinds: Sequence[str], *,
                  overwrite: bool = True) -> Iterator[ImageProgress]:
    """Write each image's exports into the project's output folder, named by
    :func:`core.outputs.output_name` (``NAME_labels.tif``, ``NAME_rois.zip``...).

    Parameters
    ----------
    project, names : the project and the images to export
    kinds : any of "labels", "mask", "probabilities", "rois", "geojson", "measurements",
        "ome-zarr"; probabilities are written for predicted images only
    overwrite : replace existing outputs (False: an image whose outputs all exist is skipped)

    Yields
    ------
    ImageProgress
        One per image, ``done`` with the files written, or ``error`` (skipped; the job goes on).
    """
    folder = project.output_folder
    for index, name in enumerate(names):
        targets = {kind: folder / output_name(name, kind) for kind in kinds}
        if not overwrite and all(t.exists() for t in targets.values()):
            yield ImageProgress(name, index + 1, len(names), done=True)
            continue
        path = project.path_of(name)
        try:
            with open_image(path) as stack:
                labels, probability = image_labels(path, stack)
                written = tuple(_write_exports(targets, labels, probability, stack))
        except UnetguiError as error:
            yield ImageProgress(name, index, len(names), error=str(error))
            continue
        yield ImageProgress(name, index + 1, len(names), done=True, written=written)


def _write_exports(targets: dict[str, Path], labels: np.ndarray, probability: np.ndarray | None,
                   stack: ImageStack) -> Iterator[Path]:
    plane_axis = plane_axis_for(stack.plane_axes)
    single = labels.shape[0] == 1
    for kind, target in targets.items():
        if kind in IMAGE_KINDS:
            write_label_image(target, kind, labels, stack)
        elif kind == "probabilities":
            if probability is None:
                continue
            values = decode_probability(probability)
            write_probabilities(target, values[0] if single else values, plane_axis=plane_axis,
                                pixel_size=stack.pixel_size)
        elif kind in CELL_KINDS:
            if not labels.any():
                continue  # no cells: nothing to list
            write_cells(target, kind, labels, plane_axis=None if single else plane_axis, read_plane=stack.read_plane)
        else:
            raise InvalidInputError(f"Unknown export '{kind}'.")
        yield target


def summary(progress: Sequence[ImageProgress], verb: str) -> str:
    """'Predicted 18 of 20 images; 2 failed: a.tif (why), b.tif (why).'"""
    done = [p for p in progress if p.done]
    failed = [p for p in progress if p.error]
    total = progress[-1].images if progress else 0
    text = f"{verb} {len(done)} of {total} image{'s' if total != 1 else ''}."
    if failed:
        text += f" {len(failed)} failed: " + "; ".join(f"{p.name} ({p.error})" for p in failed)
    return text
