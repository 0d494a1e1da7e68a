"""Content digests of model files: cache keys that change when a model's weights change.

A local model is named by its directory, but the directory's contents can change under the same name (a
re-saved fine-tune). The disk cache of answers is keyed by a SHA-256 over the files' contents instead; each
file is read once per ``(path, size, mtime)`` and its digest kept in the interspect cache directory, so a
500 MB model costs one read the first time and nothing later.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

DIGEST_FILE = "file-digests.json"  # in the cache directory: {"<path>|<size>|<mtime_ns>": sha256}
_DIGESTS: dict[str, str] = {}  # this process's file digests, keyed like DIGEST_FILE


def _file_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _file_digest(path: Path, store: dict[str, str]) -> str:
    key = _file_key(path)
    if key not in store:
        with open(path, "rb") as handle:
            store[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    return store[key]


def _read_digest_store(path: Path) -> dict[str, str]:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing or half-written by a concurrent process: recompute
        return {}
    return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}


def model_files_digest(path: str | os.PathLike, cache: str | os.PathLike | None = None) -> str:
    """SHA-256 over the contents of a model: one file, or every file at the top of a model directory
    (config, weights, tokenizer; sub-directories such as old checkpoints are not loaded and not hashed).

    Each file is hashed once per ``(path, size, mtime)``: the digests are memoised in the process and kept in
    ``<cache>/file-digests.json``, so a 500 MB model costs one read the first time and nothing later.
    """
    root = Path(path).expanduser()
    files = sorted(p for p in root.iterdir() if p.is_file()) if root.is_dir() else [root]
    if not files:
        raise ValueError(f"{root} holds no model files")
    from .offline import cache_dir  # offline imports this module: resolved at call time

    store_path = cache_dir(cache) / DIGEST_FILE
    known = len(_DIGESTS)
    if any(_file_key(f) not in _DIGESTS for f in files):
        _DIGESTS.update(_read_digest_store(store_path))
    total = hashlib.sha256()
    for f in files:
        total.update(f"{f.name}\0{_file_digest(f, _DIGESTS)}\0".encode())
    if len(_DIGESTS) > known:
        merged = {**_read_digest_store(store_path), **_DIGESTS}
        tmp = store_path.with_name(f".{DIGEST_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(merged), encoding="utf-8")
        os.replace(tmp, store_path)  # atomic; a concurrent writer at worst drops entries, recomputed later
    return total.hexdigest()
