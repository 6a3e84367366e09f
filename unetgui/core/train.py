"""Training and fine-tuning as a generator: one yield per step, stoppable between steps.

The loss is the paper's pixel-wise softmax with a weighted cross-entropy, the weights
being the border weight map of the annotated cells (zero on ignored pixels). Tiles are
sampled from the annotated planes with random elastic deformation and friends, and the
optimiser is Adam or the paper's SGD with momentum 0.99.

The model is trained in place. When the generator ends, is closed, or ``should_stop``
says so, the model is left usable: with the best weights seen on the validation planes
(the user's, or a band held back from the training planes, core/holdout.py), where the
weights before training compete too, so a run that only degrades keeps the model it
started from; and a history entry describing the run. With ``config.start_share`` (the
fine-tuning recipe's), the best weights are then averaged with the starting ones: see
:func:`_blend_with_start` for when the average is kept. Planes whose cells lie outside
the cell size the model knows are resized to it first (core/cellsize.py); a model that
knows none learns this annotation's. The recipes that the window and the command line
start from are in core/recipes.py.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from unetgui.core import cellsize, holdout, weightmap
from unetgui.core.augment import AugmentConfig, sample_tile  # noqa: F401  (AugmentConfig: as before)
from unetgui.core.configs import DEFAULT_LEARNING_RATE, LR_FLOOR, TrainingConfig  # noqa: F401
from unetgui.core.device import check_tile_fits, cuda_amp_dtype
from unetgui.core.errors import InvalidInputError
from unetgui.core.metrics import evaluate
from unetgui.core.model import UNetModel, model_cell_size
from unetgui.core.postprocess import probabilities_to_labels
from unetgui.core.predict import iter_predict_planes
from unetgui.core.step_layout import layout_name, training_memory_format
from unetgui.core.unet import (
    input_size_for_output,
    margin,
    output_size,
    valid_input_sizes,
)


@dataclass(frozen=True)
class TrainingPlane:
    """One annotated plane: raw image, instance labels and the pixels to leave out."""

    image: np.ndarray  # (C, Y, X), any real dtype, raw (normalised here like the model says)
    labels: np.ndarray  # (Y, X) int, 0 = background, 1..N = cells
    ignore: np.ndarray | None = None  # (Y, X) bool, True = not annotated, weight 0
    name: str = ""


@dataclass(frozen=True)
class ValidationScore:
    """How well the model segments the validation cells: foreground IoU and AP at IoU 0.5."""

    foreground_iou: float
    ap50: float

    @property
    def key(self) -> tuple[float, float]:
        """What ranks scores: AP at IoU 0.5 first, foreground IoU breaks ties.

        Returns
        -------
        tuple of float
            (ap50, foreground_iou); the larger tuple is the better score.
        """
        return (self.ap50, self.foreground_iou)


@dataclass(frozen=True)
class TrainingProgress:
    """What :func:`train` yields after each step (and once before the first, step 0, with
    the starting model's validation score and a NaN loss)."""

    step: int  # steps done so far
    total_steps: int
    loss: float  # this step's loss
    elapsed: float  # seconds since training started
    validation: ValidationScore | None = None  # set on steps where validation ran
    best_validation: ValidationScore | None = None
    message: str | None = None  # something the user should read (e.g. a smaller tile after OOM)


def train(
    model: UNetModel,
    planes: Sequence[TrainingPlane],
    config: TrainingConfig | None = None,
    *,
    validation: Sequence[TrainingPlane] = (),
    should_stop: Callable[[], bool] | None = None,
    note: dict | None = None,
    updates: Callable[[], dict[int, TrainingPlane]] | None = None,
) -> Iterator[TrainingProgress]:
    """Train ``model`` in place on ``planes``; yields after every step.

    Reproducible for a given seed and memory layout on the CPU (without ``updates``,
    whose timing counts; ``config.memory_layout`` "auto" may pick another layout in
    another process, which changes the rounding and the dropout masks: the history entry
    records the one used).
    Bad input raises InvalidInputError here,
    before the first step, not when the generator is first advanced.

    Parameters
    ----------
    model : UNetModel
        A 2-class model, on the device to train on; changed in place.
    planes : sequence of TrainingPlane
        Annotated planes: image (C, Y, X) raw, labels (Y, X) int, ignore (Y, X) bool or None.
    config : TrainingConfig, optional
        How to train; default ``TrainingConfig()``.
    validation : sequence of TrainingPlane
        Held-back planes, scored (AP at IoU 0.5, foreground IoU) every
        ``config.validation_every`` steps and at the end; the best weights are kept.
    should_stop : callable, optional
        Called before every step; True ends the run there.
    note : dict, optional
        Extra facts for the history entry (data files, initial model).
    updates : callable, optional
        Called before every step; returns ``{index: plane}`` for training planes whose
        labels or ignore mask the user has edited since (an empty dict when none). They
        replace ``planes[index]`` from that step on; one that is no longer usable (no
        cells left, another shape) is skipped, and the step's progress says so.

    Returns
    -------
    Iterator of TrainingProgress
        The run: one item per step, plus one at step 0 with the starting weights' score
        when the run validates, and one after a GPU out-of-memory error (smaller tiles).

    Raises
    ------
    InvalidInputError
        For unusable planes, or a tile size that is not valid or does not fit, before the first step.
    """
    config = config or TrainingConfig()
    _check_planes(model, planes, "training")
    _check_planes(model, validation, "validation")
    scale, diameter = _cell_size_scale(model, planes, config)
    if scale != 1.0:
        planes = [_rescaled(p, scale) for p in planes]
        validation = [_rescaled(p, scale) for p in validation]
        if updates is not None:
            edits = updates
            updates = lambda: {i: _rescaled(p, scale) for i, p in edits().items()}  # noqa: E731
    note = {**(note or {}), "cell_diameter": diameter, "scale": scale}
    in_size = _training_tile_size(model, planes, config)
    return _training_loop(model, list(planes), list(validation), config, in_size, should_stop, note, updates)


def _cell_size_scale(model: UNetModel, planes: Sequence[TrainingPlane], config: TrainingConfig):
    """(scale, the annotation's typical diameter): planes are resized so their cells suit
    the model's cell size; a model that records none learns this annotation's."""
    labels = [p.labels if p.ignore is None else np.where(p.ignore, 0, p.labels) for p in planes]
    diameter = cellsize.typical_diameter(labels)
    size = model_cell_size(model)
    if size is None:
        learned = cellsize.cell_size_of(labels)
        if learned is not None:
            model.info["cell_size"] = learned.to_dict()
        return 1.0, diameter
    return (cellsize.scale_for(diameter, size) if config.match_cell_size else 1.0), diameter


def _rescaled(plane: TrainingPlane, scale: float) -> TrainingPlane:
    """``plane`` resized by ``scale``: image linear, labels and ignore mask nearest."""
    if scale == 1.0:
        return plane
    image = cellsize.resize_image(plane.image, scale)
    shape = image.shape[1:]
    ignore = None if plane.ignore is None else cellsize.resize_labels(plane.ignore.astype(np.uint8), shape) > 0
    return dataclasses.replace(plane, image=image, labels=cellsize.resize_labels(plane.labels, shape), ignore=ignore)


def _training_loop(
    model: UNetModel,
    planes: list[TrainingPlane],
    validation: list[TrainingPlane],
    config: TrainingConfig,
    in_size: int,
    should_stop: Callable[[], bool] | None,
    note: dict,
    updates: Callable[[], dict[int, TrainingPlane]] | None = None,
) -> Iterator[TrainingProgress]:
    """The generator behind :func:`train`; its arguments are already checked."""
    device = model.device
    held: list[holdout.HeldBack] = []
    start_message = None
    if not validation and config.auto_validation > 0:
        whole = list(planes)
        planes, validation, held = holdout.hold_back(whole, margin(model.config), config.auto_validation)
        start_message = holdout.describe(held, whole, config.auto_validation) or None
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)  # dropout
    prepared = [_PreparedPlane(p, model, config) for p in planes]
    plane_weights = _plane_weights(prepared)
    layout = training_memory_format(model.net, in_size, config.batch_size, device, config.memory_layout,
                                    should_stop)
    net = model.net.to(memory_format=layout)
    optimizer = _make_optimizer(net, config)
    amp_dtype = _amp_dtype(device, config)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    batch_size = config.batch_size

    start_state = _copy_state(net) if config.start_share > 0 else None
    start = time.perf_counter()
    step, losses, best, best_state = 0, [], None, None
    before, worse_in_a_row = None, 0
    stopped_by = "finished"
    try:
        if validation:  # the model before training: the first point, and the one to beat
            before = best = _validate(model, validation, layout)
            best_state = start_state if start_state is not None else _copy_state(net)  # never changed in place
            yield TrainingProgress(0, config.steps, math.nan, time.perf_counter() - start, before, best,
                                   start_message)
        while step < config.steps:
            if should_stop is not None and should_stop():
                stopped_by = "stopped"
                break
            if config.max_seconds is not None and time.perf_counter() - start >= config.max_seconds:
                stopped_by = "time limit"
                break
            message = None
            if updates is not None and (changed := updates()):
                message = _take_updates(_held_back_too(changed, held), planes, prepared, model, config)
                plane_weights = _plane_weights(prepared)
            for group in optimizer.param_groups:
                group["lr"] = config.lr * lr_factor(config, step)
            out_size = output_size(model.config, in_size)
            tiles = [
                prepared[rng.choice(len(prepared), p=plane_weights)].sample(in_size, out_size, rng)
                for _ in range(batch_size)
            ]
            try:
                loss = _step(net, optimizer, tiles, device, amp_dtype, scaler, layout)
            except torch.cuda.OutOfMemoryError:
                in_size, batch_size, oom = _shrink_after_oom(model, in_size, batch_size, device)
                message = f"{message} {oom}" if message else oom
                yield TrainingProgress(step, config.steps, math.nan, time.perf_counter() - start, message=message)
                continue
            step += 1
            losses.append(loss)
            score = None
            if validation and (step % config.validation_every == 0 or step == config.steps):
                score = _validate(model, validation, layout)
                net.train()
                if best is None or score.key > best.key:
                    best = score
                    best_state = _copy_state(net)
                worse_in_a_row = worse_in_a_row + 1 if before is not None and score.key < before.key else 0
            yield TrainingProgress(step, config.steps, loss, time.perf_counter() - start, score, best, message)
            if config.stop_if_worse_after and worse_in_a_row >= config.stop_if_worse_after:
                stopped_by = "no improvement"
                break
    except (GeneratorExit, KeyboardInterrupt):  # close(), or Ctrl+C during a step
        stopped_by = "stopped"
        raise
    except Exception:  # a diverged run, or a failing device: nothing worth averaging
        stopped_by = "failed"
        raise
    finally:
        if best_state is not None:
            net.load_state_dict(best_state)
        kept_start = before is not None and best is before
        blended = None
        if start_state is not None and step > 0 and not kept_start and stopped_by != "failed":
            blended = _blend_with_start(model, best_state, start_state, config.start_share, validation, best,
                                        judged_by_band=bool(held), layout=layout)
        net.eval()
        model.history.append(
            {
                "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "ended": stopped_by,
                "steps": step,
                "seconds": round(time.perf_counter() - start, 2),
                "optimizer": config.optimizer,
                "learning_rate": config.lr,
                "warmup_steps": config.warmup_steps,
                "lr_decay": config.lr_decay,
                "tile_size": in_size,
                "batch_size": batch_size,
                "memory_layout": layout_name(layout),
                "w0": config.w0,
                "sigma": config.sigma,
                "augment": dataclasses.asdict(config.augment),
                "seed": config.seed,
                "training_planes": [p.name for p in planes],
                "validation_planes": [p.name for p in validation],
                "final_loss": float(np.mean(losses[-20:])) if losses else None,
                "best_validation": dataclasses.asdict(best) if best else None,
                "validation_before": dataclasses.asdict(before) if before else None,
                "kept_the_starting_weights": kept_start,
                "start_share": config.start_share,
                "blended_with_start": blended,
                "held_back": [{"plane": planes[b.plane_index].name, "cells": b.n_cells} for b in held],
                "device": str(device),
                **note,
            }
        )


def _copy_state(net: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def averaged_weights(state: dict, start_state: dict, start_share: float) -> dict:
    """``start_share`` of ``start_state`` plus the rest of ``state``, tensor by tensor:
    weight-space ensembling of a fine-tuned network with the one it started from (WiSE-FT,
    Wortsman et al., CVPR 2022). Integer buffers are taken from ``state``."""
    return {k: start_share * start_state[k] + (1 - start_share) * v if v.is_floating_point() else v
            for k, v in state.items()}


def _blend_with_start(model: UNetModel, best_state: dict | None, start_state: dict, share: float,
                      validation: list[TrainingPlane], best: ValidationScore | None, *, judged_by_band: bool,
                      layout) -> dict | None:
    """Average the run's weights (in ``model``; ``best_state`` when validation chose them)
    with the starting ones, ``share`` of the latter; what was done, for the history entry,
    or None when the run's own weights stay.

    Kept when the run was judged on a band held back from its own planes, or on nothing:
    such a band is like the planes trained on and cannot see what the run loses on other
    kinds of image, which the average keeps (benchmarks/README.md: fine-tuned on two
    unusual images, AP@0.5 on four others 0.876 -> 0.916 on average, while the band
    scored the two alike within a cell). Validation planes the user chose are trusted to
    show that: there the average is kept only if it scores at least as well as the run's
    best weights."""
    net = model.net
    own = best_state if best_state is not None else _copy_state(net)  # what net holds; never changed in place
    net.load_state_dict(averaged_weights(own, start_state, share))
    score = _validate(model, validation, layout) if validation else None
    if score is not None and not judged_by_band and best is not None and score.key < best.key:
        net.load_state_dict(own)
        return None
    return {"start_share": share, "validation": dataclasses.asdict(score) if score else None}


def _held_back_too(changed: dict[int, TrainingPlane], held: Sequence[holdout.HeldBack]):
    """Edited planes keep their held-back band out of training."""
    bands = {b.plane_index: b for b in held}
    return {i: holdout.apply_hold_back(p, bands[i]) if i in bands else p for i, p in changed.items()}


def lr_factor(config: TrainingConfig, step: int) -> float:
    """The share of ``config.lr`` used for step ``step`` (0-based): warm-up, then decay.

    Parameters
    ----------
    config : TrainingConfig
        Its ``warmup_steps``, ``lr_decay`` and ``steps`` set the schedule.
    step : int
        The step, 0-based.

    Returns
    -------
    float
        The factor, in (0, 1].
    """
    factor = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps else 1.0
    if config.lr_decay == "cosine":
        progress = min(1.0, step / max(config.steps - 1, 1))
        factor *= LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def _plane_weights(prepared: list[_PreparedPlane]) -> np.ndarray:
    """How often each plane is drawn: in proportion to its annotated pixels."""
    weights = np.array([len(p.annotated) for p in prepared], dtype=np.float64)
    return weights / weights.sum()


def _take_updates(changed: dict[int, TrainingPlane], planes: list[TrainingPlane],
                  prepared: list[_PreparedPlane], model: UNetModel, config: TrainingConfig) -> str:
    """Swap in edited planes (weight map made again); a message that says what happened."""
    used, skipped = [], []
    for index, plane in sorted(changed.items()):
        known = 0 <= index < len(planes)
        name = plane.name or (planes[index].name if known else "") or f"training plane {index}"
        problem = _unusable_update(plane, planes[index]) if known else "it is not a plane of this run"
        if problem:
            skipped.append(f"{name}, as {problem}")
            continue
        planes[index], prepared[index] = plane, _PreparedPlane(plane, model, config)
        used.append(name)
    parts = []
    if used:
        parts.append(f"Training now uses your edits of {', '.join(used)}.")
    if skipped:
        parts.append(f"It goes on with the earlier labels of {'; '.join(skipped)}.")
    return " ".join(parts)


def _unusable_update(plane: TrainingPlane, before: TrainingPlane) -> str | None:
    """Why an edited plane cannot replace ``before`` in a running training, or None."""
    if plane.image.shape != before.image.shape or plane.labels.shape != before.labels.shape:
        return "its size changed"
    if plane.ignore is not None and plane.ignore.shape != plane.labels.shape:
        return "its ignore mask does not match its labels"
    if not _has_cells(plane):
        return "it has no cells left"
    return None


def _has_cells(plane: TrainingPlane) -> bool:
    """Whether any cell pixel lies outside the plane's ignore mask."""
    annotated = plane.labels if plane.ignore is None else np.where(plane.ignore, 0, plane.labels)
    return bool(annotated.any())


class _PreparedPlane:
    """A plane ready for sampling: normalised image, targets and weights, made once."""

    def __init__(self, plane: TrainingPlane, model: UNetModel, config: TrainingConfig) -> None:
        self.image = model.normalization.apply(plane.image)
        self.ignore = plane.ignore if plane.ignore is not None else np.zeros(plane.labels.shape, bool)
        self.target, self.weights = weightmap.training_targets(
            plane.labels, self.ignore, w0=config.w0, sigma=config.sigma, class_balance=config.class_balance
        )
        self.augment = config.augment
        # Tile centres are drawn from annotated pixels, so partly annotated planes work.
        self.annotated = np.flatnonzero(~self.ignore.ravel())

    def sample(self, in_size: int, out_size: int, rng: np.random.Generator):
        flat = self.annotated[rng.integers(len(self.annotated))]
        center = divmod(int(flat), self.image.shape[2])
        return sample_tile(
            self.image,
            self.target,
            self.weights,
            self.ignore,
            center=center,
            in_size=in_size,
            out_size=out_size,
            config=self.augment,
            rng=rng,
        )


def _step(net, optimizer, tiles, device, amp_dtype, scaler, layout) -> float:
    images = torch.from_numpy(np.stack([t.image for t in tiles])).to(device, memory_format=layout)
    target = torch.from_numpy(np.stack([t.target for t in tiles])).to(device)
    weights = torch.from_numpy(np.stack([t.weights for t in tiles])).to(device)
    net.train()
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        logits = net(images)
    per_pixel = F.cross_entropy(logits.float(), target, reduction="none")
    # Mean over the annotated pixels: the loss scale does not depend on tile size or ignore.
    loss = (per_pixel * weights).sum() / (weights > 0).sum().clamp(min=1)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    value = float(loss.detach())
    if not math.isfinite(value):
        raise InvalidInputError(
            "Training diverged (the loss became infinite or NaN). Lower the learning rate and try again."
        )
    return value


def _validate(model: UNetModel, planes: Sequence[TrainingPlane], layout: torch.memory_format) -> ValidationScore:
    """Scores on ``planes``; the network is left in the training ``layout`` (prediction
    turns it channels-last in place)."""
    truths, preds = [], []
    # the planes were already resized for the model's cell size: predicted as they are
    results = iter_predict_planes(model, lambda i: planes[i].image, range(len(planes)), rescale=False)
    for plane, result in zip(planes, results):
        labels = probabilities_to_labels(result.foreground)
        truth = np.asarray(plane.labels)
        if plane.ignore is not None:
            labels = np.where(plane.ignore, 0, labels)
            truth = np.where(plane.ignore, 0, truth)
        truths.append(truth)
        preds.append(labels)
    model.net.to(memory_format=layout)
    iou = ap = 0.0
    for truth, pred in zip(truths, preds):
        scores = evaluate(truth, pred, thresholds=(0.5,))
        iou += scores.foreground_iou
        ap += scores.ap[0.5]
    return ValidationScore(iou / len(planes), ap / len(planes))


def _check_planes(model: UNetModel, planes: Sequence[TrainingPlane], role: str) -> None:
    if role == "training" and not planes:
        raise InvalidInputError("There are no annotated planes to train on.")
    if model.config.n_classes != 2:
        raise InvalidInputError(
            f"Training from cell labels needs a 2-class network (background, cell); this one has "
            f"{model.config.n_classes} classes."
        )
    for plane in planes:
        name = plane.name or f"a {role} plane"
        if plane.image.ndim != 3 or plane.labels.shape != plane.image.shape[1:]:
            raise InvalidInputError(
                f"The labels of {name} ({plane.labels.shape}) do not match its image ({plane.image.shape[1:]})."
            )
        model.check_channels(plane.image.shape[0])
        if plane.ignore is not None and plane.ignore.shape != plane.labels.shape:
            raise InvalidInputError(f"The ignore mask of {name} does not match its labels.")
        if not _has_cells(plane):
            raise InvalidInputError(
                f"{name[:1].upper() + name[1:]} has no cells. Draw at least one cell, or mark the "
                "plane as not annotated."
            )


def _training_tile_size(model: UNetModel, planes: Sequence[TrainingPlane], config: TrainingConfig) -> int:
    largest = max(max(p.labels.shape) for p in planes)
    if config.tile_size is not None:
        output_size(model.config, config.tile_size)  # validates, naming the nearest valid sizes
        # a tile larger than the planes need only mirrors more border: same data, more memory
        size = min(config.tile_size, input_size_for_output(model.config, largest))
        check_tile_fits(model.config, size, model.device, batch_size=config.batch_size, training=True)
        return size
    allowed = valid_input_sizes(model.config, 1, config.max_tile)
    if not allowed:
        raise InvalidInputError(f"No valid tile size up to {config.max_tile} px for this network.")
    size = min(allowed[-1], input_size_for_output(model.config, largest))
    check_tile_fits(model.config, size, model.device, batch_size=config.batch_size, training=True)
    return size


def _make_optimizer(net: torch.nn.Module, config: TrainingConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def _amp_dtype(device: torch.device, config: TrainingConfig) -> torch.dtype | None:
    if device.type != "cuda" or config.mixed_precision is False:
        return None
    return cuda_amp_dtype()


def _shrink_after_oom(model: UNetModel, in_size: int, batch_size: int, device: torch.device):
    """Halve the batch, else step down to a smaller tile; give up below the smallest tile."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if batch_size > 1:
        batch_size //= 2
        return in_size, batch_size, f"The GPU ran out of memory; continuing with batches of {batch_size} tiles."
    smaller = [s for s in valid_input_sizes(model.config, 1, in_size - 1) if s <= in_size * 0.75]
    if not smaller:
        raise InvalidInputError(
            "The GPU ran out of memory even with the smallest tile. Close other programs that use "
            "the GPU, choose a narrower network, or train on the CPU."
        )
    return smaller[-1], batch_size, f"The GPU ran out of memory; continuing with {smaller[-1]} px tiles."
