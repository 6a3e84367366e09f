"""The training recipes: one definition that the window, the command line and the
benchmarks all start from.

Two situations differ enough to need two recipes:

* :data:`FINE_TUNE`: the model was trained before (the starter model, or a model of the
  user's). It already knows cells, and the aim is to adapt it without destroying that.
  Adam at 1e-3 does this; the paper's SGD with momentum 0.99 does not: measured on real
  fluorescence nuclei held out for independent evaluation (issue 13), 150 steps from the
  starter gave AP@0.5 0.76 with Adam and 0.47 with that SGD (below the starter's 0.68),
  and 500 Adam steps gave 0.85. Among Adam variants, ``benchmarks/recipes.py`` (one
  annotated plane of cells 4x larger than the starter knows, 160 steps, about 3 minutes
  of a 2-core CPU) measured AP@0.5 0.176 for a constant 1e-3, 0.173 with a 20-step
  warm-up and cosine decay, 0.154 for 3e-4; the paper's SGD did not beat the start
  (0.106, the starter's own) and its run stopped early with the starting weights kept.
* :data:`SCRATCH`: a new network, :data:`SCRATCH_NETWORK`: 16 base channels, which a
  laptop CPU trains in minutes (64, the paper's, stays an option), with batch
  normalisation. On the same plane, 300 steps (about 5 minutes of a 2-core CPU),
  ``benchmarks/recipes.py`` measured AP@0.5 0.175 with batch norm and Adam 1e-3, 0.103
  without batch norm, 0.091 with warm-up and cosine decay, 0.068 with the paper's SGD;
  threshold + watershed scored 0.082.

Both hold back part of the annotation to judge the run when the user marks no
validation plane (``TrainingConfig.auto_validation``).
"""

from __future__ import annotations

import dataclasses

from unetgui.core.train import TrainingConfig
from unetgui.core.unet import UNetConfig

FINE_TUNE = TrainingConfig(steps=500, optimizer="adam", learning_rate=1e-3)
SCRATCH = TrainingConfig(steps=1500, optimizer="adam", learning_rate=1e-3)
SCRATCH_NETWORK = UNetConfig(base_channels=16, depth=4, batch_norm=True)  # what `unetgui train`
# builds without --init, and the window's New network


def recipe_for(model) -> TrainingConfig:
    """FINE_TUNE for a model that has been trained (it has a training history), else SCRATCH."""
    return FINE_TUNE if model.history else SCRATCH


def with_choices(recipe: TrainingConfig, *, optimizer: str | None = None,
                 learning_rate: float | None = None, **changes) -> TrainingConfig:
    """``recipe`` with the user's choices. Choosing another optimiser without a learning
    rate takes that optimiser's default rate, not the recipe's rate for its own."""
    if optimizer is not None and optimizer != recipe.optimizer and learning_rate is None:
        changes["learning_rate"] = None
    elif learning_rate is not None:
        changes["learning_rate"] = learning_rate
    if optimizer is not None:
        changes["optimizer"] = optimizer
    return dataclasses.replace(recipe, **{k: v for k, v in changes.items() if v is not None or k == "learning_rate"})
