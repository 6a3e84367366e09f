"""Overlap-tile prediction: one plane tile by tile, and the one loop over a stack's planes.

:func:`iter_predict` predicts one plane as a generator that reports each tile; the window
shows tiles as they arrive and can stop between them. :func:`iter_predict_planes` is the
loop every caller that predicts several planes uses: the window's Predict all, the
command line's ``predict`` and validation during training. Tiles are placed by
:mod:`unetgui.core.tiling`, so the stitched result equals one forward pass over the whole
mirrored image. :func:`model_input` is the rule for what a model reads of a plane.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from unetgui.core import memory, tiling
from unetgui.core.cellsize import (
    SIZE_PASSES,
    measured_diameter,
    next_scale,
    resize_image,
    resize_to,
    scale_for,
)
from unetgui.core.device import check_tile_fits, cuda_amp_dtype
from unetgui.core.errors import InvalidInputError
from unetgui.core.model import UNetModel, model_cell_size
from unetgui.core.postprocess import foreground_probability, probabilities_to_labels
from unetgui.core.unet import (
    UNetConfig,
    input_size_for_output,
    input_step,
    output_size,
    valid_input_sizes,
)

DEFAULT_MAX_TILE = {"cpu": 572, "mps": 572, "cuda": 1084}


@dataclass(frozen=True)
class PredictionProgress:
    """Tiles done so far; the last item of the generator carries the probabilities.

    ``partial`` is the result array being filled (read it only between items) and
    ``boxes`` the (row0, row1, col0, col1) regions the last batch wrote, so a viewer can
    show tiles as they arrive.
    """

    done: int
    total: int
    probabilities: np.ndarray | None = None  # (n_classes, Y, X) float32, softmax
    partial: np.ndarray | None = None
    boxes: tuple[tuple[int, int, int, int], ...] = ()
    scale: float = 1.0  # the image was resized by this for the model's cell size
    diameter: float | None = None  # the image's cell diameter (px) that decided the scale


def choose_tile_size(config: UNetConfig, image_shape: tuple[int, int], max_tile: int) -> tuple[int, int]:
    """Input tile (rows, cols) that covers the image with the least computation.

    Per axis, among valid sizes up to ``max_tile``, minimise tiles x tile size (the pixels
    pushed through the network): a 1024 px axis gets 2 tiles of 700 rather than 3 of 572,
    and a 300 px image one tile just big enough for it.

    Parameters
    ----------
    config : UNetConfig
        The network, which decides the valid tile sizes.
    image_shape : tuple of int
        (Y, X) of the plane to cover.
    max_tile : int
        Largest input tile side allowed, in px.

    Returns
    -------
    tuple of int
        (rows, cols) input tile size, each a valid size <= ``max_tile``.

    Raises
    ------
    InvalidInputError
        When no valid tile size is <= ``max_tile``.
    """
    sizes = valid_input_sizes(config, 1, max_tile)
    if not sizes:
        raise InvalidInputError(
            f"The largest tile allowed ({max_tile} px) is smaller than this network's smallest "
            f"valid tile ({valid_input_sizes(config, 1, 10**5)[0]} px)."
        )
    align = input_step(config)
    best = []
    for length in image_shape:
        costs = [
            (len(tiling.axis_offsets(length, output_size(config, s), align)) * s, s)
            for s in sizes
            if output_size(config, s) >= align
        ]
        best.append(min(costs)[1])
    return best[0], best[1]


def iter_predict(
    model: UNetModel,
    plane: np.ndarray,
    *,
    tile_size: int | tuple[int, int] | None = None,
    max_tile: int | None = None,
    batch_size: int = 1,
    focus: tuple[float, float] | None = None,
    mixed_precision: bool | None = None,
    tta: bool = False,
) -> Iterator[PredictionProgress]:
    """Predict class probabilities for one plane, tile by tile, on the model's device.

    Closing the generator stops between batches.

    Parameters
    ----------
    model : UNetModel
        The model, on the device to predict on.
    plane : ndarray
        (C, Y, X) raw pixel values (any dtype); normalised here as the model was trained.
    tile_size : int or (int, int), optional
        Input tile size (validated; InvalidInputError names the nearest valid ones); by
        default :func:`choose_tile_size` with ``max_tile``.
    max_tile : int, optional
        Largest side of the default tile (default: 572 on CPU, 1084 on CUDA).
    batch_size : int
        Tiles per forward pass (1 is fastest on a CPU; more can help on a GPU).
    focus : (float, float), optional
        (row, col) to predict first, e.g. the centre of what is on screen.
    mixed_precision : bool, optional
        Autocast on CUDA (default: on for CUDA, off elsewhere).
    tta : bool
        Test-time augmentation: average the probabilities of the 8 rotations and flips of
        each tile (8x the time). The average is exactly equivariant: a rotated image gets
        the rotated prediction.

    Yields
    ------
    PredictionProgress
        One after each batch; the last one holds the (n_classes, Y, X) float32 softmax
        probabilities.
    """
    config = model.config
    if plane.ndim != 3:
        raise InvalidInputError(f"Expected a (channels, rows, cols) plane, got shape {plane.shape}.")
    model.check_channels(plane.shape[0])
    device = model.device
    image_shape = plane.shape[1:]
    if tile_size is None:
        tile_size = choose_tile_size(config, image_shape, max_tile or DEFAULT_MAX_TILE.get(device.type, 572))
    else:  # beyond what the image needs, a tile only mirrors more border: same result
        tile_size = tuple(min(size, input_size_for_output(config, length))
                          for size, length in zip(tiling.as_pair(tile_size), image_shape))
    in_size = tiling.as_pair(tile_size)
    check_tile_fits(config, max(in_size), device, batch_size=max(1, int(batch_size)))
    out_size = (output_size(config, in_size[0]), output_size(config, in_size[1]))
    plan = tiling.plan_tiles(image_shape, in_size, out_size, align=input_step(config))

    (top, bottom), (left, right) = plan.pad_width
    padded_pixels = (image_shape[0] + top + bottom) * (image_shape[1] + left + right)
    memory.require(4 * (plane.shape[0] * (image_shape[0] * image_shape[1] + padded_pixels)
                        + config.n_classes * image_shape[0] * image_shape[1]),
                   f"Predicting a plane of {image_shape[1]} x {image_shape[0]} pixels")
    normalised = model.normalization.apply(plane)
    padded = tiling.mirror_pad(normalised, plan.pad_width)
    tiles = tiling.order_tiles(plan, focus) if focus is not None else plan.tiles
    result = np.empty((config.n_classes, *image_shape), dtype=np.float32)
    batches = iter_tile_batches(model, padded, plan, tiles, result, batch_size=batch_size,
                                mixed_precision=mixed_precision, tta=tta)
    for done, boxes in batches:
        if done < len(tiles):
            yield PredictionProgress(done, len(tiles), None, result, boxes)
    yield PredictionProgress(len(tiles), len(tiles), result, result, boxes)


def iter_tile_batches(model: UNetModel, padded: np.ndarray, plan: tiling.TilePlan, tiles: Sequence[tiling.Tile],
                      result: np.ndarray, *, batch_size: int = 1, mixed_precision: bool | None = None,
                      tta: bool = False) -> Iterator[tuple[int, tuple[tuple[int, int, int, int], ...]]]:
    """The forward passes of overlap-tile prediction: fill ``result`` tile by tile.

    The one loop behind :func:`iter_predict` (a whole plane) and the blockwise prediction
    of images larger than memory (:mod:`unetgui.core.blocks`), so both give the same
    numbers.

    Parameters
    ----------
    model : UNetModel
        The model, on the device to predict on.
    padded : ndarray
        (C, Y', X') normalised input, mirror-padded by ``plan.pad_width``.
    plan : TilePlan
        Where the tiles go.
    tiles : sequence of Tile
        The plan's tiles, in the order to predict them.
    result : ndarray
        (n_classes, Y, X) float32, filled in place with softmax probabilities.
    batch_size, mixed_precision, tta
        As :func:`iter_predict` takes them.

    Yields
    ------
    tuple
        (tiles done, the (row0, row1, col0, col1) boxes the batch wrote) after each batch.
    """
    device = model.device
    in_size = plan.in_size
    use_amp = device.type == "cuda" if mixed_precision is None else mixed_precision and device.type == "cuda"
    net = model.net.eval().to(memory_format=torch.channels_last)
    batch_size = max(1, int(batch_size))
    with torch.inference_mode(), _autocast(device, use_amp):
        for start in range(0, len(tiles), batch_size):
            batch = tiles[start : start + batch_size]
            inputs = np.stack([padded[:, t.row : t.row + in_size[0], t.col : t.col + in_size[1]] for t in batch])
            x = torch.from_numpy(inputs).to(device, memory_format=torch.channels_last)
            probs = (_dihedral_mean(net, x) if tta else torch.softmax(net(x).float(), dim=1)).cpu().numpy()
            boxes = []
            for tile, prob in zip(batch, probs):
                rows, cols, tile_rows, tile_cols = plan.output_window(tile)
                result[:, rows, cols] = prob[:, tile_rows, tile_cols]
                boxes.append((rows.start, rows.stop, cols.start, cols.stop))
            yield start + len(batch), tuple(boxes)


def predict(model: UNetModel, plane: np.ndarray, **options) -> np.ndarray:
    """Exhaust :func:`iter_predict`; returns (n_classes, Y, X) float32 probabilities.

    Parameters
    ----------
    model : UNetModel
        The model, on the device to predict on.
    plane : ndarray
        (C, Y, X) raw pixel values.
    **options
        Passed to :func:`iter_predict` (``tile_size``, ``tta``, ...).

    Returns
    -------
    ndarray
        (n_classes, Y, X) float32 softmax probabilities.
    """
    return _last(iter_predict(model, plane, **options)).probabilities


def iter_predict_sized(model: UNetModel, plane: np.ndarray, *, diameter: float | None = None,
                       **options) -> Iterator[PredictionProgress]:
    """:func:`iter_predict` at the scale that suits the model's cell size (core.cellsize).

    A resized prediction comes back at the plane's own shape; its tiles are not shown as
    they arrive (they are at another scale), only the result. Models that record no cell
    size are never resized.

    Parameters
    ----------
    model : UNetModel
        The model, on the device to predict on.
    plane : ndarray
        (C, Y, X) raw pixel values.
    diameter : float, optional
        The image's cell diameter in px. None: the cells the model finds are measured,
        and when they lie outside its range the plane is predicted again at the scale
        that suits them (up to ``cellsize.SIZE_PASSES`` predictions; ``done`` and
        ``total`` then count the tiles of all of them). The first prediction is at the
        plane's own size, or, for a model whose last training run that changed its
        weights resized its planes, at that run's scale (:func:`_first_scale`).
    **options
        Passed to :func:`iter_predict`; ``focus`` is dropped when the plane is resized.

    Yields
    ------
    PredictionProgress
        One after each batch, each with the ``scale`` and the ``diameter`` that decided it
        (for a measured plane, the measurement behind the kept prediction);
        the last one holds the (n_classes, Y, X) float32 probabilities at the plane's shape.
    """
    size = model_cell_size(model)
    if size is None or diameter is not None:
        scale = scale_for(diameter, size)
        yield from _predict_at(model, plane, scale, diameter, 0, options)
        return
    scale, tiles_before = _first_scale(model, size), 0
    for attempt in range(1, SIZE_PASSES + 1):
        result = None
        for progress in _predict_at(model, plane, scale, None, tiles_before, options):
            if progress.probabilities is None:
                yield progress
            else:
                result = progress
        # every cell the model found, fragments too: the size decides the scale, which decides
        # what a fragment is, so the measure must not depend on that rule; not grown back into
        # the gaps between cells (half the post-processing's time, and 1 px hardly moves a size)
        cells = probabilities_to_labels(foreground_probability(result.probabilities), min_relative_area=0,
                                        grow_back=None)
        measured = measured_diameter(cells)
        again = next_scale(measured, scale, size) if attempt < SIZE_PASSES else None
        if again is None:
            yield dataclasses.replace(result, diameter=measured)
            return
        # the last batch of this pass, without its result: the next pass follows
        yield dataclasses.replace(result, probabilities=None)
        scale, tiles_before = again, result.total


def _first_scale(model: UNetModel, size) -> float:
    """The scale of the model's last training run that changed its weights (its planes'
    cells against the size it knows), else 1.0.

    A model fine-tuned on cells far larger than it knew was trained on resized planes;
    at the images' own size it never saw such cells, and may cut them into pieces that
    measure like cells it knows (a fine-tuned starter on cells of 100 px: AP@0.5 0.25
    measured from its own size). Its user's next images are most likely like the ones
    it was fine-tuned on, so the first prediction is at that scale, and measured as any.
    A run that kept its starting weights changed nothing about the model, so it says
    nothing either (a starter that kept its weights on cells of 100 px lost AP@0.5 0.964 ->
    0.918 on them when predicting at that run's scale instead of measuring)."""
    for entry in reversed(model.history):
        if entry.get("cell_diameter") and not entry.get("kept_the_starting_weights"):
            return scale_for(float(entry["cell_diameter"]), size)
    return 1.0


def _predict_at(model: UNetModel, plane: np.ndarray, scale: float, diameter: float | None, tiles_before: int,
                options: dict) -> Iterator[PredictionProgress]:
    """:func:`iter_predict` of ``plane`` resized by ``scale``, its result at the plane's
    shape; tiles counted after ``tiles_before`` of earlier passes."""
    if scale == 1.0:
        for progress in iter_predict(model, plane, **options):
            yield dataclasses.replace(progress, done=tiles_before + progress.done,
                                      total=tiles_before + progress.total, diameter=diameter)
        return
    resized = resize_image(plane, scale)
    for progress in iter_predict(model, resized, **{k: v for k, v in options.items() if k != "focus"}):
        done, total = tiles_before + progress.done, tiles_before + progress.total
        if progress.probabilities is None:
            yield PredictionProgress(done, total, scale=scale, diameter=diameter)
        else:
            result = resize_to(progress.probabilities, plane.shape[1:])
            yield PredictionProgress(done, total, result, result, scale=scale, diameter=diameter)


def predict_sized(model: UNetModel, plane: np.ndarray, **options) -> PredictionProgress:
    """Exhaust :func:`iter_predict_sized`; the last item (probabilities, scale, diameter).

    Parameters
    ----------
    model : UNetModel
        The model, on the device to predict on.
    plane : ndarray
        (C, Y, X) raw pixel values.
    **options
        Passed to :func:`iter_predict_sized` (``diameter``, ``tile_size``, ...).

    Returns
    -------
    PredictionProgress
        The last item: ``probabilities`` (n_classes, Y, X) float32 at the plane's shape,
        with its ``scale`` and ``diameter``.
    """
    return _last(iter_predict_sized(model, plane, **options))


def model_input(plane: np.ndarray, model: UNetModel, channel: int | None = None) -> np.ndarray:
    """The plane as the model reads it: a one-channel model on a multi-channel image gets
    one channel, or the channels' mean when none is chosen (the window's composite).

    Parameters
    ----------
    plane : (C, Y, X) raw pixel values
    model : the model that will read it
    channel : 0-based channel index for a one-channel model; None: the mean of all channels

    Returns
    -------
    (C', Y, X) array, C' the model's input channels (the plane itself when it fits)

    Raises
    ------
    InvalidInputError
        When ``channel`` does not exist, or the channel counts cannot be matched.
    """
    wanted = model.config.in_channels
    if channel is not None and not 0 <= channel < plane.shape[0]:
        raise InvalidInputError(f"Channel {channel} does not exist: the image has {plane.shape[0]} channel(s) "
                                f"(0-{plane.shape[0] - 1}).")
    if plane.shape[0] == wanted:
        return plane
    if wanted == 1:
        if channel is not None:
            return plane[channel : channel + 1]
        return plane.astype(np.float32).mean(axis=0, keepdims=True)
    model.check_channels(plane.shape[0])  # raises with a clear message
    return plane


@dataclass(frozen=True)
class PlanePrediction:
    """One plane's result from :func:`iter_predict_planes`."""

    plane: int  # its index, as given in ``planes``
    foreground: np.ndarray  # (Y, X) float32 probability of being in a cell
    done: int  # planes finished so far, this one included
    total: int
    diameter: float | None = None  # the cell diameter (px) that decided the scale
    scale: float = 1.0  # the plane was predicted resized by this


def iter_predict_planes(
    model: UNetModel,
    read_plane: Callable[[int], np.ndarray],
    planes: Sequence[int],
    *,
    channel: int | None = None,
    rescale: bool = True,
    diameter: float | None = None,
    on_tile: Callable[[int, int], None] | None = None,
    **options,
) -> Iterator[PlanePrediction]:
    """Predict planes one after the other: the loop the window, the command line and
    validation during training share.

    One experiment, one cell size: without a ``diameter``, a model that records its cell
    size measures the cells of the first plane that has any (:func:`iter_predict_sized`),
    and that diameter holds for the planes after it.

    Parameters
    ----------
    model : the model, on the device to predict on
    read_plane : index -> (C, Y, X) raw plane (e.g. ``ImageStack.read_plane``)
    planes : indices to predict, in order
    channel : what a one-channel model reads of a multi-channel image (:func:`model_input`)
    rescale : resize for the model's cell size (:func:`iter_predict_sized`); False
        predicts every plane at its own size
    diameter : the cells' diameter in px; None: measured on the first plane with cells
    on_tile : called with (tiles done, tiles) after each batch of tiles, e.g. for a
        progress bar
    **options : passed to :func:`iter_predict` (``tile_size``, ``tta``, ...)

    Yields
    ------
    PlanePrediction
        One per plane; closing the generator stops between planes.
    """
    sized = rescale and model_cell_size(model) is not None
    for done, index in enumerate(planes, start=1):
        image = model_input(read_plane(index), model, channel)
        run = (iter_predict_sized(model, image, diameter=diameter, **options) if sized
               else iter_predict(model, image, **options))
        last = None
        for progress in run:
            if on_tile is not None:
                on_tile(progress.done, progress.total)
            last = progress
        if sized and diameter is None and last.diameter is not None:
            diameter = last.diameter  # measured: the planes after it are resized exactly alike
        yield PlanePrediction(index, foreground_probability(last.probabilities).astype(np.float32, copy=False),
                              done, len(planes), last.diameter, last.scale)


def _last(items: Iterator[PredictionProgress]) -> PredictionProgress:
    for progress in items:
        if progress.probabilities is not None:
            return progress
    raise AssertionError("the prediction ended without a result")


def _dihedral_mean(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities averaged over the 8 rotations and flips of the tiles ``x``
    (N, C, H, W). With valid convolutions and even pooling sizes, a rotated tile's output
    covers the rotated output window exactly, so each is turned back and added."""
    total = None
    for quarter_turns in range(4):
        for flip in (False, True):
            tiles = torch.rot90(x, quarter_turns, dims=(2, 3))
            if flip:
                tiles = torch.flip(tiles, dims=(3,))
            probs = torch.softmax(net(tiles.contiguous(memory_format=torch.channels_last)).float(), dim=1)
            if flip:
                probs = torch.flip(probs, dims=(3,))
            probs = torch.rot90(probs, -quarter_turns, dims=(2, 3))
            total = probs if total is None else total + probs
    return total / 8


def _autocast(device: torch.device, enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=cuda_amp_dtype())
