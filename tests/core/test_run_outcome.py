from unetgui.core.run_outcome import describe_run, judged_on_own_planes

BEFORE, BEST = {"ap50": 0.8, "foreground_iou": 0.8}, {"ap50": 0.9, "foreground_iou": 0.85}


def test_a_run_that_kept_its_start_says_so_with_the_score_to_beat():
    text = describe_run({"validation_before": BEFORE, "best_validation": BEFORE, "kept_the_starting_weights": True,
                         "blended_with_start": None})
    assert "did not beat" in text and "AP@0.5 0.800 before" in text and "kept unchanged" in text


def test_a_better_run_says_from_what_to_what_and_whether_it_was_blended():
    alone = describe_run({"validation_before": BEFORE, "best_validation": BEST, "blended_with_start": None})
    assert alone == "Training improved validation AP@0.5 from 0.800 to 0.900; the new model is the best of the run."
    blended = describe_run({"validation_before": BEFORE, "best_validation": BEST,
                            "blended_with_start": {"start_share": 0.5, "validation": {"ap50": 0.875}}})
    assert blended.startswith("Training improved validation AP@0.5 from 0.800 to 0.900; the new model blends "
                              "the run half and half with the model you started from (AP@0.5 0.875 on the same")


def test_a_run_without_validation_says_only_how_it_ended():
    assert describe_run({"blended_with_start": None}) == "Training ended."
    quarter = describe_run({"blended_with_start": {"start_share": 0.25, "validation": None}})
    assert quarter.startswith("Training ended; the new model blends the run 75% to 25% with the model you")
    assert "on the same cells" not in quarter


def test_only_a_band_of_the_training_planes_counts_as_judged_on_its_own_planes():
    assert judged_on_own_planes({"held_back": [{"plane": "plane 0", "cells": 12}]})
    assert not judged_on_own_planes({"held_back": []}) and not judged_on_own_planes({})
