"""Reading the corpus folder: encodings, skipped files, links, listing."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import random
import re
from pathlib import Path

import pytest

from qa import corpus
from qa.corpus import (
    BINARY,
    NOT_TEXT,
    Document,
    UnreadableError,
    clean_text,
    decode_bytes,
    list_files,
    plausibility,
    read_corpus,
    read_document,
    stream_document,
)
from qa.settings import DEFAULTS

pytestmark = pytest.mark.unit

SIMPLIFIED = "广州公安开展高密度巡逻防控，为群众吹响“平安哨”。这是一个简体中文的测试文件。"
TRADITIONAL = "香港特別行政區政府今日宣佈，將於下月起實施新的交通管理措施。這是一個繁體中文的句子。"
# Realistic texts, several sentences each, and short one-line files (10-20 characters).
ZH_LONG = (
    "随着城市轨道交通的快速发展，越来越多的市民选择乘坐地铁出行。据统计，去年全市地铁日均客运量"
    "超过八百万人次，比五年前增长了近一倍。为了缓解早晚高峰的拥挤状况，运营公司在主要线路上增加了"
    "列车班次，并延长了部分线路的运营时间。\n"
    "与此同时，相关部门也在加快推进新线路的规划和建设工作。专家认为，完善的公共交通网络不仅能够减少"
    "私家车的使用，还可以有效改善空气质量，提高居民的生活水平。\n"
)
TW_LONG = (
    "臺北市立圖書館自去年起推動數位閱讀計畫，讓市民可以透過手機或電腦免費借閱電子書。館方表示，目前"
    "館藏的電子書已超過十萬冊，涵蓋文學、歷史、科學與生活等各類主題。\n"
    "許多讀者認為這項服務非常方便，尤其是在下雨天或工作忙碌的時候，不必親自到圖書館也能找到想看的書。"
    "館方也計畫在明年舉辦一系列講座，介紹如何善用網路資源進行學習。\n"
)
JA_LONG = (
    "東京都は来年の春から、都内の公立図書館で電子書籍の貸し出しサービスを始めると発表しました。"
    "利用者はスマートフォンやパソコンから、自宅にいながら本を借りることができます。\n"
    "担当者によると、最初は約五万冊の本を用意し、利用状況を見ながら少しずつ増やしていく予定だという"
    "ことです。また、高齢者向けに使い方を説明する講座も各地で開かれます。\n"
)
KO_LONG = (
    "서울시는 내년부터 시내 모든 공공 도서관에서 전자책 대출 서비스를 시작한다고 밝혔습니다. "
    "시민들은 스마트폰이나 컴퓨터를 이용해 집에서도 책을 빌릴 수 있습니다.\n"
    "담당자에 따르면 처음에는 약 오만 권의 책을 준비하고, 이용 상황을 보면서 조금씩 늘려 나갈 "
    "계획이라고 합니다. 또한 어르신들을 위해 사용 방법을 알려 주는 강좌도 곳곳에서 열릴 예정입니다.\n"
)
WESTERN_LONG = (
    "Müller öffnete die Tür und grüßte die Nachbarn. Später gingen sie gemeinsam spazieren.\n"
    "L'été dernier, nous sommes allés à Montréal ; c'était très agréable.\n"
    "¡Hola! ¿Qué tal? El niño comió paella en la playa.\n"
)
ZH_SHORT = [
    "今天下午三点开会，请准时参加。",
    "这个问题我们明天再讨论吧。",
    "北京今天的天气非常好。",
    "请把报告发到我的邮箱里。",
    "图书馆周一到周五开放。",
]
TW_SHORT = ["明天的會議改到下午舉行。", "這本書的內容非常有趣。", "請大家準時到達會場。"]
JA_SHORT = [
    "明日の会議は午後三時からです。",
    "駅の近くに新しい店ができました。",
    "この本はとても面白かったです。",
    "雨が降っているので傘を持っていきます。",
    "週末は家族と買い物に行きました。",
]
KO_SHORT = [
    "내일 회의는 오후 세 시에 시작해요.",
    "역 근처에 새로운 가게가 생겼습니다.",
    "이 책은 정말 재미있었어요.",
    "비가 와서 우산을 가져갑니다.",
    "주말에 가족과 시장에 갔어요.",
]
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


# ------------------------------------------- Japanese, Korean, UTF-16 and UTF-32 without BOM


@pytest.mark.parametrize(
    ("text", "codec", "expected"),
    [
        (JA_LONG, "shift_jis", "shift_jis"),
        (JA_LONG, "cp932", "shift_jis"),  # the same bytes: cp932 extends Shift_JIS
        ("株式会社の説明会は①から③までの三部構成で、㈱山田商事が主催します。", "cp932", "cp932"),
        (JA_LONG, "euc-jp", "euc-jp"),
        (KO_LONG, "euc-kr", "euc-kr"),
        (KO_LONG, "cp949", "euc-kr"),
        (
            "그 사람은 똠방각하라는 별명으로 불렸습니다. 똠방각하는 소설의 제목입니다.",
            "cp949",
            "cp949",
        ),
        (ZH_LONG, "gbk", "gb18030"),  # GBK bytes also fall in the EUC-KR and EUC-JP ranges
        (TW_LONG, "gbk", "gb18030"),
        (TW_LONG, "big5", "big5"),
        (WESTERN_LONG, "cp1252", "cp1252"),
    ],
)
def test_legacy_cjk_encodings(text: str, codec: str, expected: str) -> None:
    assert decode_bytes(text.encode(codec)) == (text, expected)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("text", [ZH_LONG, TW_LONG, JA_LONG, KO_LONG, WESTERN_LONG])
def test_utf16_and_utf32_without_bom(text: str, codec: str) -> None:
    data = text.encode(codec)
    assert b"\x00" in data  # in UTF-16 CJK text, only from line breaks and spaces
    assert decode_bytes(data) == (text, codec)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_nor_nul(codec: str) -> None:
    for text in ["请把报告发到我的邮箱里。北京今天的天气非常好。", *TW_SHORT, *JA_SHORT]:
        data = text.encode(codec)
        assert b"\x00" not in data
        assert decode_bytes(data) == (text, codec), text


@pytest.mark.parametrize(
    ("texts", "codecs"),
    [
        (ZH_SHORT, ["gbk", "utf-16-le", "utf-16-be", "utf-32-le"]),
        (TW_SHORT, ["big5", "utf-16-le", "utf-16-be"]),
        (JA_SHORT, ["shift_jis", "euc-jp", "utf-16-le", "utf-16-be", "utf-32-be"]),
        (KO_SHORT, ["euc-kr", "utf-16-le", "utf-16-be", "utf-32-le"]),
    ],
)
def test_short_one_line_files(texts: list[str], codecs: list[str]) -> None:
    names = {"gbk": "gb18030"}
    for text in texts:
        assert 10 <= len(text) <= 20
        for codec in codecs:
            assert decode_bytes(text.encode(codec)) == (text, names.get(codec, codec)), (
                text,
                codec,
            )


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。.!?])\s*|\n", text) if s]


@pytest.mark.parametrize(
    ("text", "codecs"),
    [
        (ZH_LONG, ["gbk", "utf-16-le", "utf-16-be"]),
        (TW_LONG, ["big5", "gbk", "utf-16-le"]),
        (JA_LONG, ["shift_jis", "euc-jp", "utf-16-le", "utf-16-be"]),
        (KO_LONG, ["euc-kr", "utf-16-be"]),
        (WESTERN_LONG, ["cp1252"]),
    ],
)
def test_never_mojibake(text: str, codecs: list[str]) -> None:
    """Every piece of a text (every run of 6 or 10 characters, each sentence, two sentences
    together), in each encoding: read right or skipped with a reason, never read wrong; and
    each sentence read right.

    Not shorter pieces: a few kanji without kana may well be Chinese, and UTF-16 without BOM
    of a few kana (U+30xx: both bytes ASCII) is also valid ASCII, which wins."""
    sentences = _sentences(text)
    pieces = {s[i : i + n] for s in sentences for n in (6, 10) for i in range(len(s) - n + 1)}
    pieces |= {a + b for a, b in itertools.pairwise(sentences)}
    for codec in codecs:
        for piece in sorted(pieces):
            if codec.startswith("utf-16") and len(piece) < 10:
                continue
            try:
                decoded, encoding = decode_bytes(piece.encode(codec))
            except UnreadableError as err:
                assert err.reason, (piece, codec)
                continue
            assert decoded == piece, (piece, codec, encoding, decoded)
        for sentence in sentences:
            assert decode_bytes(sentence.encode(codec))[0] == sentence, (sentence, codec)


def test_gbk_is_never_read_as_japanese_or_korean() -> None:
    for text in [ZH_LONG, TW_LONG, *ZH_SHORT, *TW_SHORT]:
        for piece in [text, *_sentences(text)]:
            assert decode_bytes(piece.encode("gbk")) == (piece, "gb18030"), piece


def test_japanese_in_kanji_alone_is_skipped_not_misread() -> None:
    """Without kana a Shift_JIS or EUC-JP text cannot be told from Chinese bytes: skipped, and
    the reason says what it probably is."""
    for codec, name in [("euc-jp", "Japanese EUC-JP"), ("shift_jis", "Japanese Shift_JIS")]:
        with pytest.raises(UnreadableError) as err:
            decode_bytes("東京都庁舎新宿区西新宿二丁目".encode(codec))
        assert name in err.value.reason and "UTF-8" in err.value.reason


def test_scores_depend_on_the_language() -> None:
    # kana are typical of Japanese text, frequent Hangul syllables of Korean text
    assert plausibility(JA_LONG) > 0.8 and plausibility(KO_LONG) > 0.8
    assert plausibility(ZH_LONG) > 0.8 and plausibility(WESTERN_LONG) > 0.6
    for text, codec, wrong in [
        (JA_LONG, "euc-jp", "gb18030"),  # the same kana, the wrong ideographs
        (KO_LONG, "euc-kr", "gb18030"),
        (ZH_LONG, "gbk", "euc-kr"),
        (ZH_LONG, "gbk", "utf-16-be"),
        (WESTERN_LONG, "cp1252", "gb18030"),
    ]:
        try:
            mis = text.encode(codec).decode(wrong)
        except UnicodeDecodeError:
            continue
        # EUC-JP read as GB18030 keeps its kana: closer (and ranked lower as kana in GB18030)
        margin = 0.1 if codec == "euc-jp" else 0.3
        assert plausibility(text) > plausibility(mis) + margin, (codec, wrong)
    # CJK bytes read as cp1252: runs of Latin-1 letters and symbols
    assert plausibility(ZH_LONG.encode("gbk").decode("cp1252")) < 0


def test_long_ascii_start_does_not_blind_the_detection() -> None:
    """The sample scored starts at the first non-ASCII character."""
    head = b"An English introduction that goes on for a while.\n" * 1000
    for text, codec in [(JA_LONG, "euc-jp"), (KO_LONG, "euc-kr"), (TW_LONG, "big5")]:
        data = head + text.encode(codec)
        assert decode_bytes(data) == (data.decode(codec), codec)


def test_nul_bytes_mean_binary_unless_utf16_or_utf32() -> None:
    rng = random.Random(0)
    for data in [
        b"\x00\x01" * 5000,  # "ĀĀĀ..." in UTF-16-LE: no text
        bytes(rng.randrange(256) for _ in range(4096)),
        PNG + bytes(rng.randrange(256) for _ in range(1024)),
        b"plain ASCII text with a NUL\x00 in the middle.",
        ZH_LONG.encode("gbk") + b"\x00",
    ]:
        with pytest.raises(UnreadableError, match=re.escape(BINARY)):
            decode_bytes(data)
    # text: mostly ASCII with a few symbols, or mostly CJK
    for text in ["Copyright © 2024 Example™ Corp.\nAll rights reserved.\n", ZH_LONG]:
        for codec in ("utf-16-le", "utf-16-be", "utf-32-le"):
            assert decode_bytes(text.encode(codec)) == (text, codec)


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
        "sheet.xlsx",
        "image.gif",
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


# ----------------------------------------------------------------------------- streaming

_CJK_NO_NUL = "请把报告发到我的邮箱里。北京今天的天气非常好。"  # in UTF-16: no NUL byte at all
#: Files bigger than the streaming prefix (128 KiB), in the encodings detected without BOM,
#: and what reading them gives: an encoding or a skip reason.
_BIG = {
    "utf-16-le": (lambda: (ZH_LONG * 600).encode("utf-16-le"), "utf-16-le"),
    "utf-16-be, no NUL at all": (lambda: (_CJK_NO_NUL * 3000).encode("utf-16-be"), "utf-16-be"),
    "utf-16-le, NUL after the prefix": (
        lambda: (_CJK_NO_NUL * 3000 + "\n").encode("utf-16-le"),
        "utf-16-le",
    ),
    "utf-32-le": (lambda: (KO_LONG * 300).encode("utf-32-le"), "utf-32-le"),
    "utf-32-be": (lambda: (JA_LONG * 300).encode("utf-32-be"), "utf-32-be"),
    "shift_jis": (lambda: (JA_LONG * 600).encode("shift_jis"), "shift_jis"),
    "euc-jp": (lambda: (JA_LONG * 600).encode("euc-jp"), "euc-jp"),
    "euc-kr": (lambda: (KO_LONG * 600).encode("euc-kr"), "euc-kr"),
    "cp949 only at the end": (lambda: (KO_LONG * 600 + "똠방각하\n").encode("cp949"), "cp949"),
    "big5": (lambda: (TW_LONG * 800).encode("big5"), "big5"),
    "ascii, then euc-jp": (
        lambda: b"An English introduction.\n" * 8000 + JA_LONG.encode("euc-jp"),
        "euc-jp",
    ),
    "euc-jp, then NUL": (lambda: (JA_LONG * 600).encode("euc-jp") + b"\x00", BINARY),
    "euc-kr, then invalid": (lambda: (KO_LONG * 600).encode("euc-kr") + b"\xff\xff", NOT_TEXT),
    "kanji only, euc-jp": (
        lambda: ("東京都庁舎新宿区西新宿二丁目" * 6000).encode("euc-jp"),
        "text encoding not recognised with confidence (closest guess: Japanese EUC-JP); "
        "save it as UTF-8",
    ),
}


class _BoundedFile:
    """A file opened by :mod:`qa.corpus` whose reads must be bounded (and none whole)."""

    def __init__(self, f, limit: int) -> None:  # type: ignore[no-untyped-def]
        self.f, self.limit = f, limit

    def read(self, n: int = -1) -> bytes:
        assert 0 <= n <= self.limit, f"unbounded read of {n} bytes"
        return self.f.read(n)

    def seek(self, offset: int) -> int:
        return self.f.seek(offset)

    def __enter__(self) -> _BoundedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()


def _result(read) -> tuple:  # type: ignore[no-untyped-def]
    try:
        return read()
    except UnreadableError as err:
        return ("skipped", err.reason)


def _bounded_open(limit: int):  # type: ignore[no-untyped-def]
    real_open = open
    return lambda *a, **k: _BoundedFile(real_open(*a, **k), limit)


@pytest.mark.parametrize("case", list(_BIG))
def test_stream_detects_like_the_whole_file_in_bounded_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    make, expected = _BIG[case]
    data = make()
    assert len(data) > corpus._PREFIX_BYTES
    path = write(tmp_path, "big.txt", data)

    def whole() -> tuple:
        d = read_document(path, tmp_path)
        return d.encoding, d.sha256, d.size, d.text

    want = _result(whole)
    if want[0] == "skipped":
        assert want[1] == expected
    else:
        assert want[0] == expected and want[3] == data.decode(expected)
    for block in (4093, 1 << 20):
        # no whole-file read: every read is at most the prefix or a block
        monkeypatch.setattr(
            corpus, "open", _bounded_open(max(corpus._PREFIX_BYTES, block)), raising=False
        )

        def streamed() -> tuple:
            meta, pieces = stream_document(path, tmp_path, block_bytes=block)  # noqa: B023
            return meta.encoding, meta.sha256, meta.size, "".join(pieces)

        assert _result(streamed) == want, (case, block)
        monkeypatch.undo()


def test_stream_agrees_with_the_whole_file_on_random_mixtures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a tiny prefix and sample, streaming must still choose what the whole file gives,
    whatever the later bytes hold: other encodings, NUL, invalid bytes."""
    monkeypatch.setattr(corpus, "_PREFIX_BYTES", 64)
    monkeypatch.setattr(corpus, "_SAMPLE_CHARS", 16)
    pieces = [
        lambda r: b"plain ascii text. " * r.randint(1, 8),
        lambda r: ZH_LONG[: r.randint(1, 60)].encode("gbk"),
        lambda r: TW_LONG[: r.randint(1, 60)].encode("big5"),
        lambda r: JA_LONG[: r.randint(1, 60)].encode("euc-jp"),
        lambda r: JA_LONG[: r.randint(1, 60)].encode("shift_jis"),
        lambda r: KO_LONG[: r.randint(1, 60)].encode("euc-kr"),
        lambda r: ZH_LONG[: r.randint(1, 60)].encode("utf-16-le"),
        lambda r: JA_LONG[: r.randint(1, 60)].encode("utf-8"),
        lambda r: WESTERN_LONG[: r.randint(1, 60)].encode("cp1252"),
        lambda r: b"\x00",
        lambda r: bytes([r.randrange(0x80, 0x100)]),
    ]
    rng = random.Random(1)
    path = tmp_path / "f.txt"
    seen = set()
    for _ in range(250):
        if rng.random() < 0.6:  # one encoding
            piece = rng.choice(pieces[:9])
            data = b"".join(piece(rng) for _ in range(rng.randint(3, 12)))
        else:
            data = b"".join(rng.choice(pieces)(rng) for _ in range(rng.randint(2, 8)))
        path.write_bytes(data * (1 + 65 // len(data)))

        def whole() -> tuple:
            d = read_document(path, tmp_path)
            return d.encoding, d.sha256, d.size, d.text

        def streamed() -> tuple:
            meta, parts = stream_document(path, tmp_path, block_bytes=64)
            return meta.encoding, meta.sha256, meta.size, "".join(parts)

        want = _result(whole)
        assert _result(streamed) == want, data[:80]
        seen.add(want[0] if want[0] != "skipped" else want[1][:20])
    assert len(seen) >= 10  # the mixtures reach most outcomes
