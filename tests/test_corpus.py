"""Reading the corpus folder: encodings, skipped files, links, listing."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import pytest

from qa import corpus
from qa.corpus import (
    Document,
    UnreadableError,
    clean_text,
    decode_bytes,
    list_files,
    plausibility,
    read_corpus,
    read_document,
)
from qa.settings import DEFAULTS

pytestmark = pytest.mark.unit

SIMPLIFIED = "广州公安开展高密度巡逻防控，为群众吹响“平安哨”。这是一个简体中文的测试文件。"
TRADITIONAL = "香港特別行政區政府今日宣佈，將於下月起實施新的交通管理措施。這是一個繁體中文的句子。"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def write(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def read(tmp_path: Path, data: bytes, name: str = "doc.txt") -> Document:
    return read_document(write(tmp_path, name, data), tmp_path)


def skip_reason(tmp_path: Path, name: str) -> str:
    docs, skipped = read_corpus(tmp_path)
    reasons = {s.path: s.reason for s in skipped}
    assert name in reasons, (reasons, [d.path for d in docs])
    return reasons[name]


# ----------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("text", "codec", "expected"),
    [
        (SIMPLIFIED, "gbk", "gb18030"),
        (TRADITIONAL, "gbk", "gb18030"),  # GBK also holds the traditional characters
        ("扩展字符㐀与𠀀都不在GBK里。" + SIMPLIFIED, "gb18030", "gb18030"),
        (TRADITIONAL, "big5", "big5"),
        ("台灣的天氣很好，我們明天見。", "big5", "big5"),
        ("繁體中文", "big5", "big5"),  # short: only the character statistics decide
        ("中文", "gbk", "gb18030"),
        ("Café, naïve résumé: façade déjà vu.", "cp1252", "cp1252"),
        ("plain ASCII text.\n", "ascii", "utf-8"),
        ("混合 Chinese 和 English 😀 emoji ✓", "utf-8", "utf-8"),
    ],
)
def test_decode_bytes_detects_the_encoding(text: str, codec: str, expected: str) -> None:
    data = text.encode(codec)
    decoded, encoding = decode_bytes(data)
    assert (decoded, encoding) == (text, expected)
    assert data.decode(encoding) == decoded


def test_gb18030_sample_really_needs_gb18030() -> None:
    with pytest.raises(UnicodeEncodeError):
        "㐀".encode("gbk")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xef\xbb\xbf" + SIMPLIFIED.encode("utf-8"), "utf-8-sig"),
        (b"\xff\xfe" + SIMPLIFIED.encode("utf-16-le"), "utf-16"),
        (b"\xfe\xff" + SIMPLIFIED.encode("utf-16-be"), "utf-16"),
        (b"\xff\xfe\x00\x00" + SIMPLIFIED.encode("utf-32-le"), "utf-32"),
        (b"\x00\x00\xfe\xff" + SIMPLIFIED.encode("utf-32-be"), "utf-32"),
    ],
)
def test_byte_order_marks(data: bytes, expected: str) -> None:
    text, encoding = decode_bytes(data)
    assert (text, encoding) == (SIMPLIFIED, expected)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_recognised_by_its_nul_bytes(codec: str) -> None:
    text = "Hello world, this is mostly ASCII text.\n第二行有中文。\n"
    assert decode_bytes(text.encode(codec)) == (text, codec)


def test_plausibility_prefers_the_right_decoding() -> None:
    for text, codec, wrong in [(SIMPLIFIED, "gbk", "big5"), (TRADITIONAL, "big5", "gb18030")]:
        data = text.encode(codec)
        right = plausibility(text)
        try:
            mis = plausibility(data.decode(wrong))
        except UnicodeDecodeError:
            continue
        assert right > 0.8 > mis + 0.3
    assert plausibility("plain ascii") == 1.0
    assert plausibility("\ue000\ue001\x01") < 0  # private use and control code points


def test_decode_bytes_rejects_binary_and_garbage() -> None:
    with pytest.raises(UnreadableError, match="binary"):
        decode_bytes(PNG)
    with pytest.raises(UnreadableError, match="not valid text"):
        decode_bytes(bytes(range(0x80, 0x100)) * 4)
    assert decode_bytes(b"") == ("", "utf-8")


def test_clean_text_normalises_newlines_and_drops_controls() -> None:
    raw = "\ufeffa\r\nb\rc\x00d\x07e\tf\x1b[0m\x0cg\u2028h\x85i"
    assert clean_text(raw) == "a\nb\ncde\tf[0m\ng\nh\ni"


def test_document_fields(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + "第一行\r\n第二行\r\n".encode()
    doc = read(tmp_path, data, "sub/a.txt")
    assert doc.path == "sub/a.txt"
    assert doc.text == "第一行\n第二行\n"
    assert doc.encoding == "utf-8-sig"
    assert doc.size == len(data)
    import hashlib

    assert doc.sha256 == hashlib.sha256(data).hexdigest()


def test_read_corpus_decodes_every_encoding(tmp_path: Path) -> None:
    write(tmp_path, "gbk.txt", SIMPLIFIED.encode("gbk"))
    write(tmp_path, "gb18030.txt", ("㐀𠀀" + SIMPLIFIED).encode("gb18030"))
    write(tmp_path, "big5.txt", TRADITIONAL.encode("big5"))
    write(tmp_path, "utf16le.txt", b"\xff\xfe" + SIMPLIFIED.encode("utf-16-le"))
    write(tmp_path, "utf16be.txt", b"\xfe\xff" + SIMPLIFIED.encode("utf-16-be"))
    write(tmp_path, "utf16nobom.txt", "ASCII heavy, one 中.\n".encode("utf-16-le"))
    write(tmp_path, "utf8bom.md", b"\xef\xbb\xbf" + "# Title\n\nText 😀.\n".encode())
    write(tmp_path, "mixed.txt", "中文 English 😀 ✓ ﬁ\n".encode())
    docs, skipped = read_corpus(tmp_path)
    assert skipped == []
    got = {d.path: (d.encoding, d.text) for d in docs}
    assert got == {
        "big5.txt": ("big5", TRADITIONAL),
        "gb18030.txt": ("gb18030", "㐀𠀀" + SIMPLIFIED),
        "gbk.txt": ("gb18030", SIMPLIFIED),
        "mixed.txt": ("utf-8", "中文 English 😀 ✓ ﬁ\n"),
        "utf16be.txt": ("utf-16", SIMPLIFIED),
        "utf16le.txt": ("utf-16", SIMPLIFIED),
        "utf16nobom.txt": ("utf-16-le", "ASCII heavy, one 中.\n"),
        "utf8bom.md": ("utf-8-sig", "# Title\n\nText 😀.\n"),
    }


# ----------------------------------------------------------------------------- skipped files


def test_empty_file_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "empty.txt", b"")
    write(tmp_path, "blank.txt", b"  \n\n\t\n")
    assert skip_reason(tmp_path, "empty.txt") == "empty file"
    assert "white space" in skip_reason(tmp_path, "blank.txt")


def test_binary_file_with_txt_name_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "image.txt", PNG + os.urandom(64) + b"\x00")
    write(tmp_path, "good.txt", b"fine.")
    assert skip_reason(tmp_path, "image.txt") == "binary file (contains NUL bytes)"
    assert [d.path for d in read_corpus(tmp_path)[0]] == ["good.txt"]


def test_garbage_without_nul_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "noise.txt", bytes(range(0x80, 0x100)) * 8)
    assert skip_reason(tmp_path, "noise.txt") == "not valid text in any supported encoding"


def test_unreadable_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "secret.txt", b"top secret.")
    write(tmp_path, "open.txt", b"open.")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # running as root: permissions do not apply, simulate them
            real_open = open

            def deny(file: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
                if Path(str(file)).name == "secret.txt":
                    raise PermissionError(13, "Permission denied", str(file))
                return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

            monkeypatch.setattr(corpus, "open", deny, raising=False)
        assert skip_reason(tmp_path, "secret.txt") == "cannot be read: permission denied"
        assert [d.path for d in read_corpus(tmp_path)[0]] == ["open.txt"]
    finally:
        path.chmod(0o644)


def test_directory_named_like_a_text_file(tmp_path: Path) -> None:
    folder = tmp_path / "x.txt"
    folder.mkdir()
    write(folder, "inner.txt", b"inside.")
    with pytest.raises(UnreadableError, match="directory"):
        read_document(folder, tmp_path)
    docs, skipped = read_corpus(tmp_path)
    assert [d.path for d in docs] == ["x.txt/inner.txt"] and skipped == []


def test_too_large_file_is_skipped_without_reading_it(tmp_path: Path) -> None:
    write(tmp_path, "big.txt", b"a" * (1024 * 1024 + 1))
    settings = dataclasses.replace(DEFAULTS, max_file_bytes=1024 * 1024)
    _, skipped = read_corpus(tmp_path, settings)
    assert [(s.path, s.reason) for s in skipped] == [("big.txt", "larger than 1 MB")]
    assert DEFAULTS.max_file_bytes == 200 * 1024 * 1024  # so the default reason says "200 MB"


def test_symlink_outside_the_corpus_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    outside = write(tmp_path, "outside/secret.txt", b"secret outside.")
    inside = write(root, "real.txt", b"real inside.")
    (root / "escape.txt").symlink_to(outside)
    (root / "alias.txt").symlink_to(inside)
    (root / "broken.txt").symlink_to(root / "missing.txt")
    (root / "linked_dir").symlink_to(outside.parent, target_is_directory=True)
    docs, skipped = read_corpus(root)
    assert {d.path: d.text for d in docs} == {
        "alias.txt": "real inside.",
        "real.txt": "real inside.",
    }
    reasons = {s.path: s.reason for s in skipped}
    assert reasons["escape.txt"] == "symbolic link pointing outside the corpus"
    assert reasons["broken.txt"].startswith("cannot be read")
    assert "linked_dir/secret.txt" not in reasons  # folder links are never followed
    with pytest.raises(UnreadableError, match="outside the corpus"):
        read_document(root / "escape.txt", root)


def test_skipped_files_are_logged_and_do_not_stop_the_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "a.txt", b"")
    write(tmp_path, "b.txt", b"\x00\x01\x02")
    write(tmp_path, "c.txt", b"good text.")
    write(tmp_path, "d.txt", b"odd one.")
    real = corpus.decode_bytes

    def explode(data: bytes) -> tuple[str, str]:
        if data == b"odd one.":
            raise RuntimeError("boom")
        return real(data)

    monkeypatch.setattr(corpus, "decode_bytes", explode)
    with caplog.at_level(logging.WARNING, logger="qa"):
        docs, skipped = read_corpus(tmp_path)
    assert [d.path for d in docs] == ["c.txt"]
    assert [s.path for s in skipped] == ["a.txt", "b.txt", "d.txt"]
    assert "RuntimeError" in skipped[2].reason
    for name in ("a.txt", "b.txt", "d.txt"):
        assert any(name in r.getMessage() and r.name == "qa" for r in caplog.records)


def test_undecodable_file_name_is_skipped(tmp_path: Path) -> None:
    name = b"\xd6\xd0\xce\xc4.txt"  # "中文.txt" in GBK, as unzipped from a Windows archive
    with open(os.path.join(os.fsencode(tmp_path), name), "wb") as f:
        f.write("内容。".encode())
    docs, skipped = read_corpus(tmp_path)
    assert docs == []
    (item,) = skipped
    assert item.path == "\ufffd\ufffd\ufffd\ufffd.txt"
    assert "not valid UTF-8" in item.reason
    item.path.encode("utf-8")  # safe to store and print


# ----------------------------------------------------------------------------- listing


def test_list_files_recursive_sorted_filtered(tmp_path: Path) -> None:
    for rel in [
        "b.txt",
        "a/z.md",
        "a/b/deep.TXT",
        "A.Md",
        "notes.pdf",
        "image.png",
        "README",
        ".hidden.txt",
        ".git/config.txt",
        "a/.cache/x.txt",
        "a/b/c/d/e/f.txt",
    ]:
        write(tmp_path, rel, b"text.")
    rels = [p.relative_to(tmp_path).as_posix() for p in list_files(tmp_path)]
    assert rels == ["A.Md", "a/b/c/d/e/f.txt", "a/b/deep.TXT", "a/z.md", "b.txt"]
    docs, skipped = read_corpus(tmp_path)
    assert [d.path for d in docs] == rels and skipped == []


def test_extensions_come_from_settings(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", b"a.")
    write(tmp_path, "b.rst", b"b.")
    settings = dataclasses.replace(DEFAULTS, extensions=(".RST",))
    assert [p.name for p in list_files(tmp_path, settings)] == ["b.rst"]


def test_missing_corpus_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_corpus(tmp_path / "nope")
    with pytest.raises(FileNotFoundError):
        list_files(tmp_path / "nope")


def test_default_corpus_reads_cleanly() -> None:
    root = Path(__file__).parents[1] / "corpus"
    docs, skipped = read_corpus(root)
    assert skipped == []
    doc = next(d for d in docs if d.path == "guangzhou-police-five-year-work-report.txt")
    assert doc.encoding == "utf-8" and "B/平安建设 利剑出鞘保民安" in doc.text
