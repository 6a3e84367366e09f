"""A finished training run in plain words, from its history entry (core/train.py): what
the window and the command line tell the user. Did it beat the model it started from, was
that model kept, or does the new one blend the run with it?"""

from __future__ import annotations


def describe_run(entry: dict) -> str:
    """One or two sentences: better (from what to what), kept as it was, or blended."""
    before, best = entry.get("validation_before"), entry.get("best_validation")
    if entry.get("kept_the_starting_weights"):
        return (f"Training did not beat the model you started with on the validation cells "
                f"(AP@0.5 {before['ap50']:.3f} before), so that model is kept unchanged.")
    blend = _blend_text(entry.get("blended_with_start"))
    if before and best:
        return (f"Training improved validation AP@0.5 from {before['ap50']:.3f} to {best['ap50']:.3f}; "
                f"{blend or 'the new model is the best of the run.'}")
    return f"Training ended; {blend}" if blend else "Training ended."


def judged_on_own_planes(entry: dict) -> bool:
    """Whether the run was judged on a band held back from the planes it trained on, which
    cannot show what it does on other kinds of image (benchmarks/README.md, section 1b)."""
    return bool(entry.get("held_back"))


def _blend_text(blended: dict | None) -> str:
    """The new model as the trained weights averaged with the starting ones, in words."""
    if not blended:
        return ""
    share = blended["start_share"]
    mix = "half and half" if share == 0.5 else f"{1 - share:.0%} to {share:.0%}"
    score = blended.get("validation")
    scored = f" (AP@0.5 {score['ap50']:.3f} on the same cells)" if score else ""
    return (f"the new model blends the run {mix} with the model you started from{scored}, so it keeps "
            "what it knew of other kinds of image.")
