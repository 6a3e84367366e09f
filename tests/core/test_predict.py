"""Overlap-tile prediction equals one forward pass over the whole mirrored image."""

import numpy as np
import pytest
import torch

from unetgui.core import tiling
from unetgui.core.errors import InvalidInputError, ModelFileError
from unetgui.core.model import new_model
from unetgui.core.predict import choose_tile_size, iter_predict, predict
from unetgui.core.unet import UNetConfig, input_size_for_output, margin, output_size


def whole_image_reference(model, plane):
    """Mirror-pad the whole plane by the margin (plus what makes its size valid), run the
    network once, and crop: what the paper says tiling must reproduce."""
    config = model.config
    m = margin(config)
    rows, cols = plane.shape[1:]
    height, width = input_size_for_output(config, rows), input_size_for_output(config, cols)
    padded = tiling.mirror_pad(model.normalization.apply(plane), ((m, height - m - rows), (m, width - m - cols)))
    with torch.inference_mode():
        logits = model.net.eval()(torch.from_numpy(padded)[None])
    return torch.softmax(logits, dim=1)[0, :, :rows, :cols].numpy()


@pytest.mark.parametrize(
    ("depth", "shape", "tile"),
    [(2, (100, 130), 60), (3, (150, 97), 124), (3, (20, 13), 124), (4, (300, 260), 252), (4, (300, 260), 220)],
)
def test_tiled_equals_whole_mirrored_forward(depth, shape, tile):
    model = new_model(UNetConfig(depth=depth, base_channels=4, in_channels=2, n_classes=3), seed=1)
    plane = np.random.default_rng(depth).normal(100, 20, size=(2, *shape)).astype(np.float32)
    result = predict(model, plane, tile_size=tile)
    plan = tiling.plan_tiles(shape, tile, output_size(model.config, tile), align=2**depth)
    assert len(plan.tiles) >= 1
    assert result.shape == (3, *shape) and result.dtype == np.float32
    np.testing.assert_allclose(result.sum(axis=0), 1.0, atol=1e-5)
    assert np.abs(result - whole_image_reference(model, plane)).max() <= 1e-4


def test_unaligned_tiles_would_show_seams():
    """Why tiles are aligned to 2**depth: at other offsets the pooling grid shifts."""
    model = new_model(UNetConfig(depth=3, base_channels=4), seed=2)
    plane = np.random.default_rng(0).normal(size=(1, 120, 120)).astype(np.float32)
    normalised = tiling.mirror_pad(model.normalization.apply(plane), ((44, 44), (44, 44)))
    x = torch.from_numpy(normalised)[None]
    with torch.inference_mode():
        aligned = model.net.eval()(x[..., 8:8 + 124, :124])[..., 0, :]
        reference = model.net(x[..., :132, :124])[..., 8, :]
        shifted = model.net(x[..., 4:4 + 124, :124])[..., 4, :]
    assert torch.allclose(aligned, reference, atol=1e-5)
    assert not torch.allclose(shifted, reference, atol=1e-5)


def test_progress_is_reported_per_tile_and_can_be_stopped():
    model = new_model(UNetConfig(depth=2, base_channels=2), seed=0)
    plane = np.zeros((1, 90, 90), np.uint8)
    plane[0, 20:40, 20:40] = 200
    steps = list(iter_predict(model, plane, tile_size=60))
    assert [p.done for p in steps] == list(range(1, len(steps) + 1))
    assert all(p.total == len(steps) for p in steps)
    assert steps[-1].probabilities is not None and all(p.probabilities is None for p in steps[:-1])
    covered = np.zeros((90, 90), int)
    for p in steps:
        for r0, r1, c0, c1 in p.boxes:
            covered[r0:r1, c0:c1] += 1
    assert covered.min() >= 1  # the reported boxes cover the plane
    generator = iter_predict(model, plane, tile_size=60)
    first = next(generator)
    generator.close()  # a stop between tiles leaves nothing running
    assert first.done == 1 and first.probabilities is None


def test_batched_tiles_and_focus_order_give_the_same_result():
    model = new_model(UNetConfig(depth=2, base_channels=4), seed=3)
    plane = np.random.default_rng(3).integers(0, 4096, size=(1, 77, 150)).astype(np.uint16)
    one = predict(model, plane, tile_size=60)
    batched = predict(model, plane, tile_size=60, batch_size=4, focus=(70, 140))
    np.testing.assert_allclose(one, batched, atol=1e-5)


def test_tile_choice_covers_the_image_with_little_waste():
    config = UNetConfig()
    rows, cols = choose_tile_size(config, (300, 500), 572)
    assert output_size(config, rows) >= 300 and output_size(config, rows - 16) < 300
    assert output_size(config, cols) < 500  # two tiles of <= 572 beat one that cannot exist
    assert max(choose_tile_size(config, (4096, 4096), 572)) <= 572


def test_bad_inputs_have_clear_messages():
    model = new_model(UNetConfig(depth=2, base_channels=2), seed=0)
    with pytest.raises(InvalidInputError, match="Nearest valid tile sizes: 60, 64"):
        predict(model, np.zeros((1, 50, 50), np.float32), tile_size=62)
    with pytest.raises(ModelFileError, match="expects images with 1 channel"):
        predict(model, np.zeros((3, 50, 50), np.float32))
    nan_plane = np.zeros((1, 50, 50), np.float32)
    nan_plane[0, 3, 3] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        predict(model, nan_plane)
    inf_plane = np.zeros((1, 50, 50), np.float32)
    inf_plane[0, 3, 3] = np.inf
    with pytest.raises(InvalidInputError, match="infinite"):
        predict(model, inf_plane)


def test_a_plane_whose_results_cannot_fit_is_refused_before_allocating(monkeypatch):
    from unetgui.core import memory

    model = new_model(UNetConfig(depth=1, base_channels=2), seed=0)
    monkeypatch.setattr(memory, "available_bytes", lambda: 64 * 2**20)
    plane = np.zeros((1, 4000, 4000), np.uint8)  # ~200 MiB of float32 working arrays
    with pytest.raises(InvalidInputError, match=r"Predicting a plane of 4000 x 4000 pixels needs about"):
        next(iter_predict(model, plane))


def test_test_time_augmentation_is_equivariant_and_a_symmetric_input_gives_a_symmetric_output():
    model = new_model(UNetConfig(depth=2, base_channels=4), seed=1)
    rng = np.random.default_rng(0)
    half = rng.random((1, 70, 40)).astype(np.float32)
    symmetric = np.concatenate([half, half[:, :, ::-1]], axis=2)  # mirror-symmetric left-right
    out = predict(model, symmetric, tta=True)
    np.testing.assert_allclose(out, out[:, :, ::-1], atol=1e-5)
    plain = predict(model, symmetric)
    assert np.abs(plain - plain[:, :, ::-1]).max() > 1e-3  # the network alone is not symmetric
    image = rng.random((1, 64, 72)).astype(np.float32)
    rotated = predict(model, np.rot90(image, 1, axes=(1, 2)).copy(), tta=True)
    np.testing.assert_allclose(rotated, np.rot90(predict(model, image, tta=True), 1, axes=(1, 2)), atol=1e-5)
