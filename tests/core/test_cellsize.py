"""Cell size: measuring it, estimating it from an image, rescaling and coming back exactly."""

import numpy as np
import pytest

from unetgui.core import cellsize
from unetgui.core.cellsize import (
    CellSize,
    estimate_diameter,
    scale_for,
    typical_diameter,
)
from unetgui.core.errors import InvalidInputError, ModelFileError
from unetgui.core.model import load_model, model_cell_size, new_model, save_model
from unetgui.core.predict import iter_predict_sized, predict_sized
from unetgui.core.synthetic import SyntheticConfig, synthetic_cells
from unetgui.core.train import TrainingConfig, TrainingPlane, train
from unetgui.core.unet import UNetConfig

TINY = UNetConfig(depth=2, base_channels=4, dropout=0.0)


def disks(shape, radius, spacing, value=1.0):
    """A grid of separate disks; labels and a blurred image of them."""
    from scipy import ndimage as ndi

    labels = np.zeros(shape, np.uint16)
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    n = 0
    for r in range(spacing // 2, shape[0] - radius, spacing):
        for c in range(spacing // 2, shape[1] - radius, spacing):
            n += 1
            labels[(rows - r) ** 2 + (cols - c) ** 2 <= radius**2] = n
    image = ndi.gaussian_filter((labels > 0).astype(np.float32) * value, 1.0)
    return image, labels


def test_typical_diameter_is_the_equivalent_circle_diameter():
    _, labels = disks((200, 200), 10, 40)
    assert typical_diameter([labels]) == pytest.approx(20, rel=0.05)
    assert typical_diameter([np.zeros((5, 5), np.uint8)]) is None


@pytest.mark.parametrize("diameter", [(12.0, 14.0), (30.0, 36.0), (70.0, 90.0)])
def test_the_diameter_is_estimated_from_the_image_within_its_stated_precision(diameter):
    """Synthetic microscopy (seeds outside the calibration's): within about +-40 %."""
    import dataclasses

    from unetgui.core.synthetic import SyntheticDomain, domain_images

    domain = dataclasses.replace(SyntheticDomain(), diameter=diameter, shape=(512, 512))
    for image, labels in domain_images(domain, ([11, k] for k in range(2))):
        found = estimate_diameter(image[None])
        assert 0.6 < found / typical_diameter([labels]) < 1.6


def test_images_inside_the_models_range_are_left_alone_others_brought_to_its_size():
    size = CellSize(25.0, 14.0, 43.0)
    assert scale_for(30.0, size) == 1.0 and scale_for(None, size) == 1.0 and scale_for(80.0, None) == 1.0
    assert scale_for(100.0, size) == pytest.approx(np.sqrt(25 * 43) / 100)  # halfway between 43 and 25
    assert scale_for(5.0, size) == pytest.approx(np.sqrt(25 * 14) / 5)
    assert scale_for(1.0, size) == cellsize.MAX_SCALE


def test_cells_outside_the_range_are_brought_inside_it_as_little_as_a_margin_allows():
    size = CellSize(16.0, 10.0, 36.0)
    assert size.target(50.0) == pytest.approx(24.0) and size.target(500.0) == pytest.approx(24.0)
    assert size.target(5.0) == pytest.approx(np.sqrt(160))
    assert size.low < size.target(5.0) < size.typical < size.target(50.0) < size.high


@pytest.mark.parametrize("shape,scale", [((97, 131), 0.37), ((64, 64), 2.6), ((1, 9), 0.2)])
def test_resizing_round_trips_to_the_original_shape_exactly(shape, scale):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, shape).astype(np.uint32)
    small = cellsize.resize_labels(labels, cellsize.scaled_shape(shape, scale))
    assert small.dtype == labels.dtype and set(np.unique(small)) <= set(np.unique(labels))
    back = cellsize.resize_labels(small, shape)
    assert back.shape == shape
    probabilities = rng.random((2, *cellsize.scaled_shape(shape, scale))).astype(np.float32)
    assert cellsize.resize_to(probabilities, shape).shape == (2, *shape)
    np.testing.assert_array_equal(cellsize.resize_labels(labels, shape), labels)  # no-op at scale 1


def test_a_model_file_records_its_cell_size_and_refuses_a_damaged_one(tmp_path):
    image, labels = synthetic_cells(SyntheticConfig(shape=(80, 90), n_cells=8, radius_range=(5, 9)),
                                    np.random.default_rng(0))
    model = new_model(TINY, seed=0)
    list(train(model, [TrainingPlane(image[None], labels)], TrainingConfig(steps=1, tile_size=92)))
    recorded = model_cell_size(model)
    assert recorded.typical == pytest.approx(typical_diameter([labels]))
    assert recorded.low <= recorded.typical <= recorded.high
    assert model_cell_size(load_model(save_model(model, tmp_path / "m.unet"))) == recorded
    model.info["cell_size"] = {"typical": -3}
    save_model(model, tmp_path / "bad.unet")
    with pytest.raises(ModelFileError, match="cell"):
        load_model(tmp_path / "bad.unet")
    with pytest.raises(InvalidInputError):
        CellSize.from_dict({"typical": 10, "low": 20, "high": 30})


def test_a_given_diameter_resizes_the_image_and_the_answer_comes_at_its_shape():
    image, _ = disks((240, 250), 40, 110)
    model = new_model(TINY, seed=0, info={"cell_size": {"typical": 12.0, "low": 10.0, "high": 15.0}})
    given = list(iter_predict_sized(model, image[None], diameter=80.0))
    assert given[-1].probabilities.shape == (2, 240, 250)
    assert given[-1].scale == pytest.approx(np.sqrt(12 * 15) / 80) and all(p.boxes == () for p in given)
    assert predict_sized(model, image[None], diameter=14.0).scale == 1.0  # in the range: as it is
    assert predict_sized(model, image[None], diameter=20.0).scale == pytest.approx(np.sqrt(12 * 15) / 20)
    plain = new_model(TINY, seed=0)  # records no size: never resized
    assert predict_sized(plain, image[None]).scale == 1.0


def test_the_measured_diameter_counts_cells_by_the_area_they_cover():
    labels = np.zeros((60, 60), np.uint16)
    labels[5:25, 5:25] = 1  # 400 px: 22.6 px across
    labels[40, 40], labels[50, 50], labels[40, 50] = 2, 3, 4  # three specks of debris
    assert cellsize.measured_diameter(labels) == pytest.approx(2 * np.sqrt(400 / np.pi))
    assert typical_diameter([labels]) < 2  # the plain median is a speck's
    assert cellsize.measured_diameter(np.zeros((4, 4), np.uint8)) is None


def test_another_prediction_only_for_cells_outside_the_models_range_as_it_saw_them():
    size = CellSize(15.0, 10.0, 20.0)
    assert cellsize.next_scale(18.0, 1.0, size) is None
    assert cellsize.next_scale(None, 1.0, size) is None
    assert cellsize.next_scale(60.0, 1.0, size) == pytest.approx(size.target(60.0) / 60)
    assert cellsize.next_scale(60.0, 0.25, size) is None  # seen at 15 px: in range
    # measured again: still too large
    assert cellsize.next_scale(90.0, 0.25, size) == pytest.approx(size.target(90.0) / 90)
    assert cellsize.next_scale(500.0, 1 / 8, size) is None  # the smallest scale already
    assert cellsize.next_scale(4.0, 1.0, size) == pytest.approx(size.target(4.0) / 4)


def test_without_a_diameter_the_models_own_cells_decide_the_scale():
    """The starter model (cells of 10-30 px) on disks of 80 px: predicted, measured, and
    predicted again smaller; on disks of its own size, predicted once, as they are."""
    from unetgui.core.starter import load_starter_model

    model = load_starter_model()
    size = model_cell_size(model)
    image, labels = disks((240, 250), 40, 110, value=1000.0)
    progress = list(iter_predict_sized(model, image[None]))
    result = progress[-1]
    assert result.probabilities.shape == (2, 240, 250)
    assert [p.probabilities is not None for p in progress] == [False] * (len(progress) - 1) + [True]
    assert result.scale < 0.6 and 50 < result.diameter < 110
    assert size.low <= result.diameter * result.scale <= size.high
    assert [p.done for p in progress] == sorted(p.done for p in progress) and result.done == result.total
    small, _ = disks((240, 250), 9, 40, value=1000.0)
    one_pass = list(iter_predict_sized(model, small[None]))
    assert one_pass[-1].scale == 1.0 and one_pass[-1].diameter == pytest.approx(18, rel=0.25)
    assert one_pass[-1].total == len(one_pass)  # one tile per item, one pass


def test_fine_tuning_on_larger_cells_trains_at_the_models_cell_size():
    image, labels = disks((200, 200), 30, 80)
    model = new_model(TINY, seed=0, info={"cell_size": {"typical": 15.0, "low": 10.0, "high": 20.0}})
    model.history.append({"ended": "finished"})
    list(train(model, [TrainingPlane(image[None], labels)], TrainingConfig(steps=1, auto_validation=0)))
    entry = model.history[-1]
    assert entry["cell_diameter"] == pytest.approx(60, rel=0.05)
    assert entry["scale"] == pytest.approx(np.sqrt(15 * 20) / entry["cell_diameter"])
    assert model_cell_size(model).typical == 15.0  # the model keeps the size it knows


def test_a_model_fine_tuned_on_resized_planes_first_predicts_at_that_scale():
    """Fine-tuned on cells of 80 px (its planes resized to the size it knows), the model
    starts from that scale, and keeps it when the cells found there are in its range."""
    from unetgui.core.starter import load_starter_model

    model = load_starter_model()
    size = model_cell_size(model)
    model.history.append({"ended": "finished", "steps": 1, "cell_diameter": 80.0, "scale": scale_for(80.0, size)})
    image, _ = disks((240, 250), 40, 110, value=1000.0)
    progress = list(iter_predict_sized(model, image[None]))
    assert progress[-1].scale == pytest.approx(scale_for(80.0, size))
    assert all(p.boxes == () for p in progress)  # resized from the first pass: no tiles at the plane's size
    one_pass = list(iter_predict_sized(model, image[None], diameter=80.0))
    assert progress[-1].total == one_pass[-1].total  # one prediction, as with the diameter given


def test_a_run_that_kept_the_starting_weights_does_not_choose_the_first_scale():
    """The weights are those of before the run, so the model measures as before it; an
    earlier run that did change them still counts."""
    from unetgui.core.starter import load_starter_model

    model = load_starter_model()
    size = model_cell_size(model)
    image, _ = disks((240, 250), 40, 110, value=1000.0)
    measured = list(iter_predict_sized(model, image[None]))
    kept = {"ended": "no improvement", "steps": 9, "cell_diameter": 60.0, "scale": scale_for(60.0, size),
            "kept_the_starting_weights": True}
    model.history.append(kept)
    assert list(iter_predict_sized(model, image[None]))[-1].scale == measured[-1].scale
    assert any(p.boxes for p in measured)  # the first pass at the plane's own size, tiles shown
    model.history[-1:] = [{"ended": "finished", "steps": 1, "cell_diameter": 80.0, "scale": scale_for(80.0, size),
                           "kept_the_starting_weights": False}, kept]
    assert list(iter_predict_sized(model, image[None]))[-1].scale == pytest.approx(scale_for(80.0, size))
