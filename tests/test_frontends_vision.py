"""Image front-end: closed forms with a region-mean model, label maps vs grids, bad input, EfficientNet-Lite0."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.special import logsumexp, softmax

import interspect as isp
from interspect.frontends.vision import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageValueFunction,
    TorchImageClassifier,
    grid_labels,
    load_efficientnet_lite0,
)
from interspect.transforms.exact import all_masks

H, W = 8, 10
IMAGE = np.random.default_rng(0).integers(0, 256, size=(H, W, 3), dtype=np.uint8)
FLOAT_IMAGE = IMAGE.astype(np.float32) / 255
# The 2 x 2 grid's cells, written out by hand: rows 0-3 / 4-7, columns 0-4 / 5-9.
CELLS = [
    (slice(0, 4), slice(0, 5)),
    (slice(0, 4), slice(5, 10)),
    (slice(4, 8), slice(0, 5)),
    (slice(4, 8), slice(5, 10)),
]
WEIGHTS = np.array([2.0, -1.5, 3.0, 0.5])
BIAS = 3.0


def cell_means(images: np.ndarray) -> np.ndarray:
    """``(B, 4)`` mean intensity (over pixels and channels) of each grid cell."""
    return np.stack([images[:, ys, xs, :].mean(axis=(1, 2, 3)) for ys, xs in CELLS], axis=1)


def region_mean_model(images: np.ndarray) -> np.ndarray:
    """Three-class logits ``[0, z, 0.5]`` with ``z = BIAS + WEIGHTS · cell means``: class 1 wins on IMAGE."""
    z = BIAS + cell_means(np.asarray(images, dtype=np.float64)) @ WEIGHTS
    return np.column_stack([np.zeros_like(z), z, np.full_like(z, 0.5)])


def expected_baseline(masking: str) -> np.ndarray | None:
    """The documented baseline, computed independently (None for noise: only its properties are documented)."""
    if masking == "blur":  # default sigma: a tenth of the longer side = 1 pixel
        return gaussian_filter(FLOAT_IMAGE.astype(np.float64), sigma=(1.0, 1.0, 0.0), mode="reflect")
    if masking == "mean":
        return np.broadcast_to(FLOAT_IMAGE.mean(axis=(0, 1), dtype=np.float64), FLOAT_IMAGE.shape)
    if masking == "gray":
        return np.full(FLOAT_IMAGE.shape, 0.5)
    return None


@pytest.mark.parametrize("masking", ["blur", "mean", "gray", "noise"])
def test_region_mean_model_matches_closed_form_for_every_mask_and_exact_shapley(masking):
    calls = []

    def spy(images):
        calls.append(len(images))
        return region_mean_model(images)

    vf = ImageValueFunction(spy, IMAGE, regions=(2, 2), masking=masking, batch_size=5)
    assert vf.class_index == 1 and vf.target == "class 1" and vf.n_features == 4
    assert vf.feature_names == ["r0c0", "r0c1", "r1c0", "r1c1"]
    baseline = expected_baseline(masking)
    if baseline is None:
        assert vf.baseline.min() >= 0 and vf.baseline.max() < 1 and vf.baseline.std() > 0.2
        again = ImageValueFunction(region_mean_model, IMAGE, regions=(2, 2), masking="noise")
        other = ImageValueFunction(region_mean_model, IMAGE, regions=(2, 2), masking="noise", random_state=1)
        np.testing.assert_array_equal(again.baseline, vf.baseline)
        assert not np.allclose(other.baseline, vf.baseline) and again.fingerprint != other.fingerprint
        baseline = vf.baseline.astype(np.float64)
    else:
        np.testing.assert_allclose(vf.baseline, baseline, atol=1e-6)

    masks = all_masks(4)
    kept, removed = cell_means(FLOAT_IMAGE[None].astype(np.float64))[0], cell_means(baseline[None])[0]
    z = BIAS + np.where(masks, kept, removed) @ WEIGHTS
    calls.clear()
    np.testing.assert_allclose(vf(masks), z, atol=1e-5)
    assert calls == [5, 5, 5, 1]  # one model call per batch of masks
    assert vf.full_value == pytest.approx(z[-1], abs=1e-5)

    rendered = vf.render(masks[[5]])[0]  # mask 0101: cells 0 and 2 kept
    for j, (ys, xs) in enumerate(CELLS):
        np.testing.assert_array_equal(rendered[ys, xs], (FLOAT_IMAGE if j in (0, 2) else vf.baseline)[ys, xs])

    logits = np.column_stack([np.zeros_like(z), z, np.full_like(z, 0.5)])
    prob = ImageValueFunction(region_mean_model, IMAGE, regions=(2, 2), masking=masking, output="prob")
    np.testing.assert_allclose(prob(masks), softmax(logits, axis=1)[:, 1], atol=1e-6)
    log_odds = ImageValueFunction(region_mean_model, IMAGE, regions=(2, 2), masking=masking, output="log_odds")
    np.testing.assert_allclose(log_odds(masks), z - logsumexp([0.0, 0.5]), atol=1e-5)

    phi = WEIGHTS * (kept - removed)
    np.testing.assert_allclose(isp.explain(vf, method="exact", max_order=4).shapley_values(), phi, atol=1e-5)
    expl = isp.explain(log_odds, method="exact", max_order=4)
    np.testing.assert_allclose(expl.shapley_values(), phi, atol=1e-5)
    assert expl.metadata["frontend"] == "image" and expl.metadata["masking"] == masking
    json.dumps(vf.describe())


def test_label_map_equal_to_the_grid_gives_the_same_values():
    masks = all_masks(4)
    grid = ImageValueFunction(region_mean_model, IMAGE, regions=(2, 2))
    label_map = np.zeros((H, W), dtype=np.int32)
    for j, (ys, xs) in enumerate(CELLS):
        label_map[ys, xs] = 10 * j + 7  # non-contiguous ids, in grid order
    seg = ImageValueFunction(region_mean_model, IMAGE, regions=label_map)
    assert seg.feature_names == ["seg7", "seg17", "seg27", "seg37"] and seg.region_ids == [7, 17, 27, 37]
    np.testing.assert_array_equal(seg.label_map, grid.label_map)
    np.testing.assert_array_equal(seg(masks), grid(masks))
    assert (
        seg.fingerprint == ImageValueFunction(region_mean_model, IMAGE, regions=label_map.astype(np.uint8)).fingerprint
    )
    # Reversed ids order the features the other way round.
    reverse = ImageValueFunction(region_mean_model, IMAGE, regions=100 - label_map)
    np.testing.assert_array_equal(reverse(masks[:, ::-1]), grid(masks))
    np.testing.assert_array_equal(grid_labels(H, W, 2, 2), seg.label_map)
    json.dumps(seg.describe())


def test_grid_cells_are_balanced_and_default_is_six_by_six():
    labels = grid_labels(7, 11, 3, 4)
    sizes = np.bincount(labels.ravel())
    assert sizes.size == 12 and sizes.min() >= 4 and sizes.max() <= 9  # rows of 2-3 pixels, columns of 2-3
    np.testing.assert_array_equal(labels[:, 0] // 4, [0, 0, 0, 1, 1, 2, 2])
    big = np.random.default_rng(1).random((30, 40, 3))
    vf = ImageValueFunction(lambda x: x.mean(axis=(1, 2)), big, masking="gray")
    assert vf.n_features == 36 and vf.grid == (6, 6) and vf.feature_names[7] == "r1c1"
    assert vf.region_sizes.sum() == 1200 and set(vf.region_sizes.tolist()) == {5 * 7, 5 * 6}  # 40 = 7 + 7 + 6 + …
    np.testing.assert_allclose(vf(np.ones((1, 36), bool)), [vf.full_value])
    gray = ImageValueFunction(region_mean_model, IMAGE[:, :, 0], regions=(2, 2), masking="mean")  # (H, W) image
    assert gray.image.shape == (H, W, 1)


def test_bad_input_errors():
    def make(image=IMAGE, **kw):
        return ImageValueFunction(region_mean_model, image, **{"regions": (2, 2), **kw})

    for image in (
        IMAGE[:, :, :2],
        IMAGE[0, 0],
        IMAGE[None],
        np.zeros((H, W, 4), np.uint8),
        np.zeros((0, W, 3), np.uint8),
    ):
        with pytest.raises(ValueError, match="image must have shape"):
            make(image)
    for image in (IMAGE.astype(np.int64), IMAGE.astype(bool)):
        with pytest.raises(ValueError, match="uint8"):
            make(image)
    for image in (IMAGE.astype(np.float32), np.full((H, W, 3), np.nan)):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            make(image)
    with pytest.raises(ValueError, match="does not match"):
        make(regions=np.zeros((H, W + 1), dtype=int))
    with pytest.raises(ValueError, match="integers"):
        make(regions=np.zeros((H, W)))
    with pytest.raises(ValueError, match="empty regions"):
        make(regions=(H + 1, 2))
    with pytest.raises(ValueError, match="empty regions"):
        make(regions=(0, 2))
    with pytest.raises(ValueError, match="two integers"):
        make(regions=(2.5, 2))
    with pytest.raises(ValueError, match="rows, cols"):
        make(regions=(2, 2, 2))
    with pytest.raises(ValueError, match="masking must be one of"):
        make(masking="zero")
    with pytest.raises(ValueError, match="blur_sigma"):
        make(blur_sigma=0.0)
    with pytest.raises(ValueError, match="output must be one of"):
        make(output="margin")
    with pytest.raises(ValueError, match="batch_size"):
        make(batch_size=0)
    with pytest.raises(ValueError, match="out of range"):
        make(target=3)
    with pytest.raises(ValueError, match="expected"):
        ImageValueFunction(lambda x: x.mean(axis=(1, 2, 3)), IMAGE)
    with pytest.raises(ValueError, match="non-finite"):
        ImageValueFunction(lambda x: np.full((len(x), 2), np.inf), IMAGE)
    vf = make()
    with pytest.raises(ValueError, match="masks must have shape"):
        vf(np.ones((2, 5), bool))
    with pytest.raises(ValueError, match="0/1"):
        vf(np.full((1, 4), 2))


def test_torch_wrapper_resizes_and_normalises():
    import torch

    class ChannelMeansAndSize(torch.nn.Module):
        def forward(self, x):
            size = torch.tensor(x.shape[-2:], dtype=x.dtype).expand(len(x), 2)
            return torch.cat([x.mean(dim=(2, 3)), size], dim=1)

    clf = TorchImageClassifier(ChannelMeansAndSize(), size=32, threads=1)
    colour = np.array([0.2, 0.6, 0.9], dtype=np.float32)
    out = clf(np.broadcast_to(colour, (2, 20, 50, 3)))
    assert out.shape == (2, 5) and out.dtype == np.float64
    np.testing.assert_allclose(out[:, :3], np.tile((colour - IMAGENET_MEAN) / IMAGENET_STD, (2, 1)), atol=1e-5)
    np.testing.assert_array_equal(out[:, 3:], 32)
    gray = clf(np.full((1, 40, 40, 1), 0.5, dtype=np.float32))
    np.testing.assert_allclose(gray[0, :3], (0.5 - np.array(IMAGENET_MEAN)) / IMAGENET_STD, atol=1e-5)
    assert clf.name.startswith("ChannelMeansAndSize:") and "resize32" in clf.name
    named = TorchImageClassifier(ChannelMeansAndSize(), size=32, labels=["r", "g", "b", "h", "w"], threads=1)
    vf = ImageValueFunction(named, IMAGE[:, :, 0], regions=(2, 2), masking="gray", target="G")
    assert vf.class_index == 1 and vf.target == "g" and vf.model_id == named.name
    np.testing.assert_allclose(vf(np.zeros((1, 4), bool)), [(0.5 - IMAGENET_MEAN[1]) / IMAGENET_STD[1]], atol=1e-5)
    with pytest.raises(ValueError, match="images must have shape"):
        clf(np.zeros((20, 20, 3), np.float32))


@pytest.mark.slow
def test_efficientnet_lite0_on_chelsea():
    from skimage.data import chelsea

    image = chelsea()
    clf = load_efficientnet_lite0()
    vf = ImageValueFunction(clf, image, regions=(3, 3))
    assert 281 <= vf.class_index <= 285  # an ImageNet cat class
    direct = clf(image[None].astype(np.float32) / 255)[0, vf.class_index]
    assert vf(np.ones((1, 9), bool))[0] == vf.full_value == direct
    assert vf(np.zeros((1, 9), bool))[0] < vf.full_value - 1.0

    expl = isp.explain(vf, method="proxyspex", budget=64, max_order=2, random_state=0)
    phi = expl.shapley_values()
    assert phi.shape == (9,) and np.isfinite(phi).all() and expl.n_queries <= 64
    assert expl.metadata["target"] == f"class {vf.class_index}" and expl.feature_names[4] == "r1c1"
