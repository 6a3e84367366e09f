"""The settings of a network, of training-tile augmentation and of a training run.

Plain checked dataclasses, without torch: the window shows and edits them (and
core/recipes.py defines its recipes with them) before torch is loaded. ``core.unet``,
``core.augment`` and ``core.train`` use them and export them under their old names.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, replace
from typing import ClassVar

from unetgui.core import holdout
from unetgui.core.errors import InvalidInputError

MAX_CHANNELS = 1024  # far above any useful width; refuses absurd settings in a file


@dataclass(frozen=True)
class UNetConfig:
    """Shape of a U-Net. The defaults are the 2015 paper's network."""

    in_channels: int = 1
    n_classes: int = 2
    depth: int = 4  # number of 2x2 max-pools (levels below the top)
    base_channels: int = 64  # feature channels at the top level; doubled per level
    batch_norm: bool = False  # not in the paper; helps small batches train faster
    dropout: float = 0.5  # at the end of the contracting path, as in the paper

    def __post_init__(self) -> None:
        for name in ("in_channels", "n_classes", "depth", "base_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInputError(f"The network setting {name} must be a whole number, not {value!r}.")
        if not isinstance(self.batch_norm, bool):
            raise InvalidInputError(f"The network setting batch_norm must be true or false, not {self.batch_norm!r}.")
        if not isinstance(self.dropout, (int, float)) or isinstance(self.dropout, bool):
            raise InvalidInputError(f"The network setting dropout must be a number, not {self.dropout!r}.")
        if self.in_channels > MAX_CHANNELS or self.base_channels > MAX_CHANNELS or self.n_classes > MAX_CHANNELS:
            raise InvalidInputError(f"Network settings above {MAX_CHANNELS} channels or classes are not supported.")
        if self.in_channels < 1:
            raise InvalidInputError("A U-Net needs at least one input channel.")
        if self.n_classes < 2:
            raise InvalidInputError("A U-Net needs at least two classes (background and cell).")
        if not 1 <= self.depth <= 6:
            raise InvalidInputError(f"The network depth must be between 1 and 6, not {self.depth}.")
        if self.base_channels < 1:
            raise InvalidInputError("The network needs at least one base channel.")
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidInputError(f"Dropout must be in [0, 1), not {self.dropout}.")

    def to_dict(self) -> dict:
        """The settings as stored in a model file.

        Returns
        -------
        dict
            One entry per field of :class:`UNetConfig`.
        """
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> UNetConfig:
        """Settings read from a model file (the inverse of :meth:`to_dict`).

        Parameters
        ----------
        values : dict
            Field names to values; missing fields take their defaults.

        Returns
        -------
        UNetConfig
            The checked config; InvalidInputError for unknown or invalid settings.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise InvalidInputError(f"Unknown network settings: {', '.join(sorted(map(str, unknown)))}.")
        return cls(**values)


@dataclass(frozen=True)
class AugmentConfig:
    """Which random changes a training tile gets, and how strong they are.

    ``AugmentConfig()`` is the paper's setting; ``AugmentConfig.off()`` (also
    ``AugmentConfig.NONE``) changes nothing; ``config.scaled(s)`` follows the GUI's
    "augmentation strength" slider.
    """

    elastic: bool = True
    elastic_sigma: float = 10.0  # px, std of the coarse displacement vectors (paper)
    elastic_grid: int = 3  # coarse grid points per side (paper: 3x3)
    rotate: bool = True  # uniform random angle in [0, 360)
    flip: bool = True  # rows and columns each flipped with probability 1/2
    gray: bool = True  # gamma / contrast / brightness
    gray_strength: float = 0.2  # std of log-gamma, log-contrast and brightness offset
    noise_std: float = 0.0  # Gaussian noise on the normalised image

    NONE: ClassVar[AugmentConfig]

    def __post_init__(self) -> None:
        for name in ("elastic_sigma", "gray_strength", "noise_std"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InvalidInputError(
                    f"The augmentation setting {name} must be a number of 0 or more, not {value}."
                )
        if int(self.elastic_grid) != self.elastic_grid or self.elastic_grid < 2:
            raise InvalidInputError(
                f"The elastic deformation grid needs at least 2 points per side, not {self.elastic_grid}."
            )

    @classmethod
    def off(cls) -> AugmentConfig:
        """No augmentation at all: tiles are plain crops of the plane.

        Returns
        -------
        AugmentConfig
            Elastic deformation, rotation, flips, gray values and noise all off.
        """
        return cls(elastic=False, rotate=False, flip=False, gray=False, noise_std=0.0)

    def scaled(self, strength: float) -> AugmentConfig:
        """This config at another strength: 0 = off, 1 = unchanged, 2 = twice as strong.

        Scales the elastic sigma, the gray-value strength and the noise; rotations and
        flips stay as they are (they have no strength) unless ``strength`` is 0.

        Parameters
        ----------
        strength : float
            Factor >= 0 (the GUI's "augmentation strength" slider).

        Returns
        -------
        AugmentConfig
            A new config; :meth:`off` for strength 0.
        """
        strength = float(strength)
        if not (math.isfinite(strength) and strength >= 0):
            raise InvalidInputError(
                f"The augmentation strength must be a number of 0 or more, not {strength}."
            )
        if strength == 0:
            return AugmentConfig.off()
        return replace(
            self,
            elastic_sigma=self.elastic_sigma * strength,
            gray_strength=self.gray_strength * strength,
            noise_std=self.noise_std * strength,
        )


AugmentConfig.NONE = AugmentConfig.off()


DEFAULT_LEARNING_RATE = {"sgd": 1e-3, "adam": 1e-3}
LR_FLOOR = 0.1  # a cosine decay ends at this share of the learning rate
MEMORY_LAYOUTS = ("auto", "channels_last", "contiguous")


@dataclass(frozen=True)
class TrainingConfig:
    """How to train. The window and the command line start from core/recipes.py, which
    sets these fields for fine-tuning and for training from scratch."""

    steps: int = 500
    max_seconds: float | None = None  # stop after this much wall time, whichever comes first
    optimizer: str = "adam"  # or "sgd" (the paper's, with momentum 0.99): see core/recipes.py
    learning_rate: float | None = None  # None: DEFAULT_LEARNING_RATE[optimizer]
    warmup_steps: int = 0  # the rate rises linearly from ~0 over these first steps
    lr_decay: str = "none"  # "none" or "cosine" (down to LR_FLOOR of the rate by the last step)
    momentum: float = 0.99
    weight_decay: float = 0.0
    tile_size: int | None = None  # input tile; None: up to max_tile, no larger than the planes need
    max_tile: int = 572
    batch_size: int = 1  # the paper prefers one large tile to a batch of small ones
    w0: float = 10.0
    sigma: float = 5.0
    class_balance: bool = True
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    validation_every: int = 50
    # Without validation planes, hold back this share of each training plane to judge the
    # run (0: off); see core/holdout.py.
    auto_validation: float = holdout.DEFAULT_FRACTION
    # Resize planes whose cells lie outside the model's cell size (core/cellsize.py).
    match_cell_size: bool = True
    # Stop when this many validations in a row all scored below the model before training
    # (0: never): a run that only degrades is not worth finishing.
    stop_if_worse_after: int = 4
    # Share of the starting weights in the model a run ends with: the run's best weights
    # are averaged with those it started from (weight-space ensembling, "WiSE-FT",
    # Wortsman et al. 2022), which keeps what the model knew of images unlike the annotated
    # ones. 0: the run's own weights. See core/recipes.py and train.py.
    start_share: float = 0.0
    seed: int = 0
    mixed_precision: bool | None = None  # CUDA only; None = on where it is safe
    # How feature maps lie in memory during training steps: "auto" times both on a CPU
    # and takes the faster (channels-last on GPUs); see core/step_layout.py. A run is
    # reproducible for a given seed and layout (its history entry records the layout).
    memory_layout: str = "auto"

    def __post_init__(self) -> None:
        if self.memory_layout not in MEMORY_LAYOUTS:
            raise InvalidInputError(f"Unknown memory layout {self.memory_layout!r}; choose one of "
                                    f"{', '.join(MEMORY_LAYOUTS)}.")
        if self.optimizer not in DEFAULT_LEARNING_RATE:
            raise InvalidInputError(f"Unknown optimiser {self.optimizer!r}; choose 'sgd' or 'adam'.")
        if self.steps < 1:
            raise InvalidInputError("Training needs at least one step.")
        if self.batch_size < 1:
            raise InvalidInputError("The batch size must be at least 1.")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise InvalidInputError("The learning rate must be positive.")
        if self.lr_decay not in ("none", "cosine"):
            raise InvalidInputError(f"Unknown learning-rate decay {self.lr_decay!r}; choose 'none' or 'cosine'.")
        if self.warmup_steps < 0:
            raise InvalidInputError("The warm-up cannot be negative.")
        if not 0 <= self.auto_validation < 1:
            raise InvalidInputError("The automatic validation share must be in [0, 1).")
        if not 0 <= self.start_share < 1:
            raise InvalidInputError("The share of the starting weights must be in [0, 1).")

    @property
    def lr(self) -> float:
        """The learning rate to use.

        Returns
        -------
        float
            ``learning_rate``, or ``DEFAULT_LEARNING_RATE[optimizer]`` when that is None.
        """
        return self.learning_rate or DEFAULT_LEARNING_RATE[self.optimizer]
