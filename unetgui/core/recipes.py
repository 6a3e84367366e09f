"""The training recipes: one definition that the window, the command line and the
benchmarks all start from.

Two situations differ enough to need two recipes:

* :data:`FINE_TUNE`: the model was trained before (the starter model, or a model of the
  user's). It already knows cells, and the aim is to adapt it without destroying that.
  Adam at a constant 1e-3 does this; the paper's SGD with momentum 0.99 does not (it
  fell below the starting model), and warm-up, cosine decay or a lower rate gained nothing.
  The run's weights are then averaged half-and-half with the starting ones
  (``start_share``): fine-tuned on two images unlike most, a model lost on other images
  what the average keeps, and on typical images the average costs next to nothing.
* :data:`SCRATCH`: a new network, :data:`SCRATCH_NETWORK`: 16 base channels, which a
  laptop CPU trains in minutes (64, the paper's, stays an option), with batch
  normalisation and Adam at 1e-3, which beat the same network without batch norm,
  with warm-up and cosine decay, and with the paper's SGD.

The figures behind both choices are in benchmarks/README.md ("Why the code is as it is");
``benchmarks/recipes.py`` measures the candidates.

Both hold back part of the annotation to judge the run when the user marks no
validation plane (``TrainingConfig.auto_validation``).
"""

from __future__ import annotations

import dataclasses

from unetgui.core.configs import TrainingConfig, UNetConfig

FINE_TUNE = TrainingConfig(steps=500, optimizer="adam", learning_rate=1e-3, start_share=0.5)
SCRATCH = TrainingConfig(steps=1500, optimizer="adam", learning_rate=1e-3)
SCRATCH_NETWORK = UNetConfig(base_channels=16, depth=4, batch_norm=True)  # what `unetgui train`
# builds without --init, and the window's New network


def recipe_for(model) -> TrainingConfig:
    """FINE_TUNE for a model that has been trained (it has a training history), else SCRATCH.

    Parameters
    ----------
    model : UNetModel
        The model about to be trained.

    Returns
    -------
    TrainingConfig
        :data:`FINE_TUNE` when ``model.history`` is not empty, else :data:`SCRATCH`.
    """
    return FINE_TUNE if model.history else SCRATCH


def with_choices(recipe: TrainingConfig, *, optimizer: str | None = None,
                 learning_rate: float | None = None, **changes) -> TrainingConfig:
    """``recipe`` with the user's choices.

    Choosing another optimiser without a learning rate takes that optimiser's default rate,
    not the recipe's rate for its own.

    Parameters
    ----------
    recipe : TrainingConfig
        The recipe to start from (:data:`FINE_TUNE` or :data:`SCRATCH`).
    optimizer : str or None
        ``"adam"`` or ``"sgd"``; None keeps the recipe's.
    learning_rate : float or None
        None keeps the recipe's rate, or, with another optimiser, takes that one's default.
    **changes
        Other :class:`TrainingConfig` fields to replace; a None value leaves the field as it is.

    Returns
    -------
    TrainingConfig
        A new config; ``recipe`` is not changed.
    """
    if optimizer is not None and optimizer != recipe.optimizer and learning_rate is None:
        changes["learning_rate"] = None
    elif learning_rate is not None:
        changes["learning_rate"] = learning_rate
    if optimizer is not None:
        changes["optimizer"] = optimizer
    return dataclasses.replace(recipe, **{k: v for k, v in changes.items() if v is not None or k == "learning_rate"})
