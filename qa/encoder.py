"""A light sentence encoder: a model's ONNX export run by onnxruntime, its ``tokenizer.json`` by
``tokenizers``; neither torch, transformers nor sentence-transformers is imported.

It computes what sentence-transformers computes for a ``Transformer -> Pooling -> Normalize``
model (the default e5 and most sentence-transformers models): the prompt prepended to the text,
the tokens cut at the model's ``max_seq_length``, the token vectors averaged over the attention
mask (or the first token taken, for CLS pooling), then L2-normalised. ``tests/test_encoder.py``
checks it against sentence-transformers to 1e-5.

Exporting (:func:`export_onnx`, torch and transformers, build time only) writes the model's
``last_hidden_state`` graph, the file sentence-transformers' own ONNX backend uses
(``onnx/model.onnx``); :func:`quantize_onnx` writes its dynamic int8 quantisation with the
settings of sentence-transformers' ``export_dynamic_quantized_onnx_model`` for this CPU
(``onnx/model_qint8_<config>.onnx``). Both write a temporary file and rename it into place, so
concurrent processes never read half a file."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("qa")

#: Where exports live inside a model folder (sentence-transformers' layout).
ONNX_SUBDIR = "onnx"
FP32_FILE = "model.onnx"
#: The ONNX opset of exports (supported by onnxruntime >= 1.14).
OPSET = 17


def int8_file(config: str) -> str:
    """The file name of the int8 export for a quantisation ``config`` (sentence-transformers'
    naming: ``model_qint8_avx512_vnni.onnx``)."""
    return f"model_qint8_{config}.onnx"


def cpu_quantization_config() -> str:
    """The dynamic quantisation preset for this CPU, as sentence-transformers names them:
    ``avx512_vnni``, ``avx512``, ``avx2`` (x86-64) or ``arm64``."""
    import platform

    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return "arm64"
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


# ----------------------------------------------------------------------------- pipeline spec


@dataclass(frozen=True)
class Spec:
    """What a sentence-transformers folder computes, read from its JSON files."""

    folder: Path
    max_seq_length: int
    pooling: str  # "mean" or "cls"
    do_lower_case: bool = False
    prompts: dict[str, str] = field(default_factory=dict)
    pad_token: str | None = None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _pooling_mode(config: dict[str, Any]) -> str | None:
    """``mean`` or ``cls`` if the pooling config is exactly one of them (prompt included)."""
    if config.get("include_prompt", True) is not True:
        return None
    modes = {k for k, v in config.items() if k.startswith("pooling_mode_") and v}
    if modes == {"pooling_mode_mean_tokens"}:
        return "mean"
    if modes == {"pooling_mode_cls_token"}:
        return "cls"
    return config.get("pooling_mode") if config.get("pooling_mode") in ("mean", "cls") else None


def _max_length(folder: Path, st_config: dict[str, Any]) -> int | None:
    """The token limit sentence-transformers applies: ``max_seq_length`` if the folder says,
    else the smaller of the tokenizer's and the position table's."""
    if isinstance(st_config.get("max_seq_length"), int):
        return int(st_config["max_seq_length"])
    limits = [
        _read_json(folder / "tokenizer_config.json").get("model_max_length"),
        _read_json(folder / "config.json").get("max_position_embeddings"),
    ]
    ints = [int(x) for x in limits if isinstance(x, int) and 0 < x < 1_000_000]
    return min(ints) if ints else None


def _plain_transformer(st_config: dict[str, Any]) -> bool:
    """True if the Transformer module feeds the pooling the model's ``last_hidden_state``
    (sentence-transformers 6 may name another task or output)."""
    if st_config.get("transformer_task", "feature-extraction") != "feature-extraction":
        return False
    text = (st_config.get("modality_config") or {}).get("text") or {}
    return text.get("method_output_name", "last_hidden_state") == "last_hidden_state"


def read_spec(folder: Path) -> Spec | None:
    """The :class:`Spec` of a sentence-transformers folder, or ``None`` if this encoder cannot
    reproduce it (other modules than Transformer / mean or CLS Pooling / Normalize, a prompt
    left out of the pooling, no ``tokenizer.json``): such models run through
    sentence-transformers."""
    folder = Path(folder)
    modules = _read_json_list(folder / "modules.json")
    if not modules or not (folder / "tokenizer.json").is_file():
        return None
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
        return None
    if str(modules[0].get("path", "")) not in ("", "."):
        return None
    pooling = _pooling_mode(_read_json(folder / str(modules[1].get("path", "")) / "config.json"))
    st_config = _read_json(folder / "sentence_bert_config.json")
    max_len = _max_length(folder, st_config)
    if pooling is None or max_len is None or not _plain_transformer(st_config):
        return None
    st = _read_json(folder / "config_sentence_transformers.json")
    prompts = {k: v for k, v in (st.get("prompts") or {}).items() if isinstance(v, str)}
    pad = _read_json(folder / "tokenizer_config.json").get("pad_token")
    if isinstance(pad, dict):
        pad = pad.get("content")
    return Spec(
        folder=folder,
        max_seq_length=max_len,
        pooling=pooling,
        do_lower_case=bool(st_config.get("do_lower_case", False)),
        prompts=prompts,
        pad_token=pad if isinstance(pad, str) else None,
    )


def _read_json_list(path: Path) -> list[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return []
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []


# ----------------------------------------------------------------------------- export


def _write_atomically(dest: Path, write: Any) -> Path:
    """Call ``write(tmp_path)`` then rename the temporary file into ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def export_onnx(model: Any, dest: Path) -> Path:
    """Export the transformer of a loaded ``SentenceTransformer`` ``model`` to ``dest``: inputs
    ``input_ids``, ``attention_mask`` (and ``token_type_ids`` if its tokenizer makes them),
    output ``last_hidden_state``, batch and sequence axes dynamic."""
    import torch

    transformer = model[0]
    auto = transformer.auto_model.eval()
    # Plain attention exports as plain ops; the scaled-dot-product path exports masking ops
    # that cost a quarter of the run time (measured: 1.5x faster fp32 and int8 with eager).
    previous = getattr(auto.config, "_attn_implementation", None)
    if previous not in (None, "eager") and hasattr(auto, "set_attn_implementation"):
        auto.set_attn_implementation("eager")
    names = [
        n
        for n in ("input_ids", "attention_mask", "token_type_ids")
        if n in transformer.tokenizer.model_input_names
    ]

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = auto

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

    dummy = transformer.tokenizer(["passage: 导出 export"], return_tensors="pt")
    args = tuple(dummy[n] for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}

    def write(tmp: Path) -> None:
        import warnings

        with torch.no_grad(), warnings.catch_warnings():
            # the TorchScript exporter's deprecation and tracer notes (checked by the tests)
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Hidden(),
                args,
                str(tmp),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
                external_data=False,
            )

    try:
        return _write_atomically(Path(dest), write)
    finally:
        if previous not in (None, "eager") and hasattr(auto, "set_attn_implementation"):
            auto.set_attn_implementation(previous)


def quantize_onnx(src: Path, dest: Path, config: str) -> Path:
    """Write the dynamic int8 quantisation of ``src`` to ``dest`` with sentence-transformers'
    preset ``config`` (optimum's ``AutoQuantizationConfig``: per-channel symmetric weights,
    int8 weights for avx512 / avx512_vnni / arm64, uint8 for avx2; uint8 activations)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weights = QuantType.QUInt8 if config == "avx2" else QuantType.QInt8

    def write(tmp: Path) -> None:
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # onnxruntime advises pre-processing on the root logger
        # quantize_dynamic writes "<src>-inferred.onnx" beside its input and deletes it: two
        # processes quantising the same export at once (two presets, or a build and a server
        # on first use) removed each other's file. Each quantises a hard link of its own.
        private = Path(tempfile.mkdtemp(prefix=".quantize-", dir=Path(dest).parent))
        source = private / Path(src).name
        try:
            try:
                os.link(src, source)
            except OSError:  # another file system: a copy
                shutil.copyfile(src, source)
            quantize_dynamic(
                source,
                tmp,
                per_channel=True,
                reduce_range=False,
                weight_type=weights,
                extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
            )
        finally:
            root.setLevel(level)
            shutil.rmtree(private, ignore_errors=True)

    return _write_atomically(Path(dest), write)


# ----------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class Tokens:
    """One tokenised text: what the model reads."""

    ids: list[int]
    attention_mask: list[int]
    type_ids: list[int]


class SubsetTokenizer:
    """A large Unigram tokenizer (e5's has 250,002 pieces, which ``tokenizers`` takes about
    a second to load) rebuilt per call from only the pieces that occur in the texts.

    Unigram picks the best-scoring split among the vocabulary's pieces that match the text, and
    scores an unknown character from the vocabulary's lowest score; the subset keeps every
    piece that is a substring of the normalised text (with or without the word-start mark),
    the special tokens and the lowest-scoring piece, so it finds the same split, and the ids
    are mapped back. An index of the pieces (``marshal``, about 0.1 s to read) is written once
    beside the export. Texts holding a special token's text go to the full tokenizer."""

    MARK = "\u2581"  # Metaspace's word-start mark

    def __init__(self, source: Path, data: dict[str, Any], max_length: int) -> None:
        self.source = Path(source)
        self.max_length = max_length
        self.pipeline: dict[str, Any] = json.loads(data["pipeline"])
        self.pieces: dict[str, int] = data["pieces"]
        self.scores: list[float] = data["scores"]
        self.keep: dict[int, str] = data["keep"]
        self.max_piece = int(data["max_piece"])
        self.specials = [t["content"] for t in self.pipeline.get("added_tokens", [])]
        self.normalizer = self._build(dict(self.keep))[0].normalizer
        self._full: Any = None
        self._full_lock = threading.Lock()

    @classmethod
    def load(cls, source: Path, index: Path, max_length: int) -> SubsetTokenizer | None:
        """The subset tokenizer of ``source`` (a ``tokenizer.json``) with its piece index in
        ``index``, or ``None`` unless it is a Unigram model split by Metaspace."""
        data = _load_subset_index(Path(source), Path(index))
        return cls(source, data, max_length) if data else None

    def _build(self, vocab: dict[int, str]) -> tuple[Any, list[int]]:
        """A ``tokenizers.Tokenizer`` over the pieces ``vocab`` (original id -> piece), and
        the original id of each of its ids."""
        from tokenizers import Tokenizer

        ids = sorted(vocab)
        local = {orig: i for i, orig in enumerate(ids)}
        spec = json.loads(json.dumps(self.pipeline))  # a deep copy
        spec["model"]["vocab"] = [[vocab[i], self.scores[i]] for i in ids]
        spec["model"]["unk_id"] = local[spec["model"]["unk_id"]]
        for tok in spec.get("added_tokens", []):
            tok["id"] = local[tok["id"]]
        for special in ((spec.get("post_processor") or {}).get("special_tokens") or {}).values():
            special["ids"] = [local[i] for i in special["ids"]]
        tok = Tokenizer.from_str(json.dumps(spec))
        tok.no_padding()
        tok.enable_truncation(max_length=self.max_length)
        return tok, ids

    def _candidates(self, text: str) -> dict[int, str]:
        norm = self.MARK + self.normalizer.normalize_str(text).replace(" ", self.MARK)
        found: dict[int, str] = {}
        pieces, longest, mark = self.pieces, self.max_piece, self.MARK
        for i in range(len(norm)):
            for j in range(i + 1, min(i + longest, len(norm)) + 1):
                sub = norm[i:j]
                for piece in (sub, mark + sub):
                    pid = pieces.get(piece)
                    if pid is not None:
                        found[pid] = piece
        return found

    def encode_batch(self, texts: Sequence[str]) -> list[Tokens]:
        """The tokens of ``texts``, as the full tokenizer gives them."""
        if any(s in t for t in texts for s in self.specials):
            return [Tokens(e.ids, e.attention_mask, e.type_ids) for e in self._full_encode(texts)]
        vocab = dict(self.keep)
        for t in texts:
            vocab.update(self._candidates(t))
        tok, back = self._build(vocab)
        return [
            Tokens([back[i] for i in e.ids], e.attention_mask, e.type_ids)
            for e in tok.encode_batch(list(texts))
        ]

    def _full_encode(self, texts: Sequence[str]) -> list[Any]:
        with self._full_lock:  # made once, configured before any thread encodes with it
            if self._full is None:
                from tokenizers import Tokenizer

                full = Tokenizer.from_file(str(self.source))
                full.no_padding()
                full.enable_truncation(max_length=self.max_length)
                self._full = full
        return self._full.encode_batch(list(texts))


def _subset_key(source: Path) -> str:
    st = source.stat()
    return f"{st.st_size}-{st.st_mtime_ns}-py{sys.version_info[0]}.{sys.version_info[1]}"


def _load_subset_index(source: Path, index: Path) -> dict[str, Any] | None:
    """The piece index of a Unigram ``tokenizer.json`` (built and written once), ``None``
    for another kind of tokenizer."""
    import marshal

    key = _subset_key(source)
    try:
        data = marshal.loads(index.read_bytes())
        if isinstance(data, dict) and data.get("key") == key:
            return data if data.get("pieces") else None
    except (OSError, ValueError, EOFError, TypeError):
        pass
    spec = json.loads(source.read_text(encoding="utf-8"))
    model, pre = spec.get("model") or {}, spec.get("pre_tokenizer") or {}
    if model.get("type") != "Unigram" or pre.get("type") != "Metaspace":
        _save_marshal(index, {"key": key})  # remember: not for this tokenizer
        return None
    vocab = spec["model"]["vocab"]
    if any(int(t["id"]) >= len(vocab) for t in spec.get("added_tokens", [])):
        _save_marshal(index, {"key": key})  # special tokens outside the vocabulary
        return None
    scores = [float(s) for _, s in vocab]
    keep = {int(spec["model"]["unk_id"]): vocab[int(spec["model"]["unk_id"])][0]}
    keep[int(np.argmin(scores))] = vocab[int(np.argmin(scores))][0]
    for tok in spec.get("added_tokens", []):
        keep[int(tok["id"])] = tok["content"]
    for special in ((spec.get("post_processor") or {}).get("special_tokens") or {}).values():
        for i, t in zip(special["ids"], special["tokens"], strict=True):
            keep[int(i)] = t
    spec["model"]["vocab"] = []
    data = {
        "key": key,
        "pipeline": json.dumps(spec, ensure_ascii=False),
        "pieces": {p: i for i, (p, _) in enumerate(vocab)},
        "scores": scores,
        "keep": keep,
        "max_piece": max(len(p) for p, _ in vocab),
    }
    _save_marshal(index, data)
    return data


def _save_marshal(path: Path, data: dict[str, Any]) -> None:
    import marshal

    try:
        _write_atomically(path, lambda tmp: tmp.write_bytes(marshal.dumps(data)))
    except OSError as e:  # a read-only cache: rebuilt at each start, still correct
        log.debug("cannot write the tokenizer index %s: %s", path, e)


# ----------------------------------------------------------------------------- encoding


class OnnxEncoder:
    """Texts -> L2-normalised float32 vectors with one ONNX file of a model (see module doc).

    ``threads`` is onnxruntime's intra-op thread count per run (0: all cores). Runs are cut to
    at most ``max_tokens`` padded tokens (one long text alone, many short ones together): small
    runs stay in the CPU cache (measured on e5-small, int8, 250-token chunks, one core: 22
    chunks/s one at a time against 12 in batches of 8). ``max_tokens=0`` runs every text alone:
    what a dynamically quantised model needs, since it scales a run's activations by their
    range over the whole run (a text's vector would depend on its neighbours and padding).

    Thread-safe without a lock: a call builds its own subset tokenizer, the full tokenizer is
    configured once before use and then only read (``encode_batch``), and onnxruntime's
    ``InferenceSession.run`` may be called from several threads at once. Measured with 16
    threads (bench/bench_threads.py): identical vectors, no error; a lock around ``encode``
    would cost 11% of the throughput."""

    def __init__(
        self, spec: Spec, onnx_file: Path, threads: int = 1, max_tokens: int = 256
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.spec = spec
        self.onnx_file = Path(onnx_file)
        self.max_tokens = max_tokens
        source = spec.folder / "tokenizer.json"
        self.tokenizer: Any
        index = self.onnx_file.parent / "tokenizer-pieces.marshal"
        subset = SubsetTokenizer.load(source, index, spec.max_seq_length)
        if subset is not None:
            self.tokenizer = subset
            pad_id = subset.pieces.get(spec.pad_token) if spec.pad_token else None
        else:
            tok = Tokenizer.from_file(str(source))
            tok.no_padding()
            tok.enable_truncation(max_length=spec.max_seq_length)
            self.tokenizer = tok
            pad_id = tok.token_to_id(spec.pad_token) if spec.pad_token else None
        self.pad_id = int(pad_id) if pad_id is not None else 0
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(int(threads), 0)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(self.onnx_file), opts, providers=["CPUExecutionProvider"]
        )
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.output = self.session.get_outputs()[0].name

    def tokenize(self, texts: Sequence[str]) -> list[Any]:
        """The ``tokenizers`` encodings of ``texts`` (prompts already prepended), truncated."""
        if self.spec.do_lower_case:
            texts = [t.lower() for t in texts]
        return self.tokenizer.encode_batch(list(texts))

    def feeds(self, encs: Sequence[Any]) -> dict[str, np.ndarray]:
        """The padded model inputs of some encodings."""
        width = max((len(e.ids) for e in encs), default=0)
        shape = (len(encs), max(width, 1))
        ids = np.full(shape, self.pad_id, dtype=np.int64)
        mask = np.zeros(shape, dtype=np.int64)
        types = np.zeros(shape, dtype=np.int64)
        for row, e in enumerate(encs):
            n = len(e.ids)
            ids[row, :n] = e.ids
            mask[row, :n] = e.attention_mask
            types[row, :n] = e.type_ids
        all_feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: all_feeds[name] for name in self.inputs}

    def _runs(self, lengths: Sequence[int]) -> list[np.ndarray]:
        """Positions grouped into runs of at most ``max_tokens`` padded tokens, texts of
        similar length together."""
        order = np.argsort([-n for n in lengths], kind="stable")
        runs: list[np.ndarray] = []
        start = 0
        for i in range(1, len(order) + 1):
            # the run's width is its first (longest) text's length
            if i == len(order) or (i + 1 - start) * lengths[order[start]] > self.max_tokens:
                # (max_tokens <= 0: every text alone)
                runs.append(order[start:i])
                start = i
        return runs

    def encode(
        self,
        texts: Sequence[str],
        prompt: str | None = None,
        batch_size: int = 32,
        parallel: int = 1,
    ) -> np.ndarray:
        """Vectors of ``texts`` with the model's prompt named ``prompt`` (or none), in order.
        ``batch_size`` texts are tokenised at a time; ``parallel`` runs go at once on as many
        threads (onnxruntime releases the GIL; a build uses one per core)."""
        prefix = self.spec.prompts.get(prompt, "") if prompt else ""
        out = np.zeros((len(texts), 0), dtype=np.float32)
        pool = None
        if parallel > 1:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(parallel)
        try:
            parts = []
            for i in range(0, len(texts), batch_size):
                encs = self.tokenize([prefix + t for t in texts[i : i + batch_size]])
                runs = self._runs([len(e.ids) for e in encs])
                groups = [[encs[j] for j in run] for run in runs]
                vecs = pool.map(self._run, groups) if pool else map(self._run, groups)
                block = np.empty((len(encs), 0), dtype=np.float32)
                for run, v in zip(runs, vecs, strict=True):
                    if block.shape[1] == 0:
                        block = np.empty((len(encs), v.shape[1]), dtype=np.float32)
                    block[run] = v
                parts.append(block)
            if parts:
                out = np.concatenate(parts)
        finally:
            if pool is not None:
                pool.shutdown()
        return out

    def _run(self, encs: Sequence[Any]) -> np.ndarray:
        feeds = self.feeds(encs)
        hidden = self.session.run([self.output], feeds)[0].astype(np.float32, copy=False)
        mask = feeds.get("attention_mask")
        if mask is None:
            mask = np.ones(hidden.shape[:2], dtype=np.int64)
        if self.spec.pooling == "cls":
            vecs = hidden[:, 0]
        else:
            m = mask[:, :, None].astype(np.float32)
            vecs = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return (vecs / np.maximum(norms, 1e-12)).astype(np.float32)
