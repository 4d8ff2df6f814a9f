"""Chunking: paragraphs, layout breaks, headings as sections, sizes, offsets and coverage."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import statistics
from pathlib import Path

import pytest

from qa.chunk import (
    PARAGRAPH_SEPARATOR,
    SECTION_SEPARATOR,
    Chunk,
    chunk_document,
    chunk_text,
    iter_chunks,
    join_chunks,
)
from qa.corpus import read_corpus
from qa.settings import DEFAULTS, Settings

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).parents[1] / "corpus"
REPORT = "guangzhou-police-five-year-work-report.txt"


def _bare(s: str) -> str:
    """Non-space characters only, without the heading marks that sections leave out."""
    return re.sub(r"[\s#›]", "", s)


def assert_covers(text: str, chunks: list[Chunk], settings: Settings = DEFAULTS) -> None:
    """Every non-space character of ``text`` lies, in order, in exactly one chunk, except the
    heading lines, which are carried by the ``section`` of the chunk that follows them; every
    chunk's text is ``text[start:end]`` with only white space changed; sizes, ordinals and
    hashes are consistent."""
    pos = 0
    for i, c in enumerate(chunks):
        assert c.ordinal == i
        assert pos <= c.start < c.end <= len(text), (pos, c)
        gap = _bare(text[pos : c.start])
        assert _bare(c.section).endswith(gap), f"text {gap!r} before chunk {i} is lost"
        assert _bare(c.text) == _bare(text[c.start : c.end]), c
        assert c.text == c.text.strip() and c.text
        assert len(c.text) <= settings.max_chunk_chars, c
        assert c.hash == hashlib.sha256(c.text.encode("utf-8", "surrogatepass")).hexdigest()
        pos = c.end
    assert _bare(text[pos:]) == "", "text after the last chunk is lost"


@pytest.fixture(scope="module")
def report() -> tuple[str, list[Chunk]]:
    docs, _ = read_corpus(CORPUS)
    doc = next(d for d in docs if d.path == REPORT)
    return doc.text, chunk_document(doc)


def find(chunks: list[Chunk], needle: str) -> Chunk:
    hits = [c for c in chunks if needle in c.text]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


# ----------------------------------------------------------------------------- default corpus


def test_report_covers_the_text(report: tuple[str, list[Chunk]]) -> None:
    text, chunks = report
    assert_covers(text, chunks)
    assert {c.doc for c in chunks} == {REPORT}


@pytest.mark.parametrize(
    "joined",
    [
        "社会主义思想凝心铸魂",  # "思\n\n想凝心铸魂"
        "成为广东省“数字政府”改革的基础性支撑平台",  # lines 72-74
        "以专业化保障规范化",  # lines 108-110
        "科学规划“1、3、5分钟”防控处置圈",  # lines 34-36
        "集中发力点。广州公安大力推进",  # lines 52-54
        "▶广州公安聚焦城市轨道交通运安全，创新公安交安防控模块化应急处置机制",  # one row a line
        "▶广州警方开展“清湾行动”",
    ],
)
def test_report_layout_breaks_are_repaired(report: tuple[str, list[Chunk]], joined: str) -> None:
    find(report[1], joined)


def test_report_headings_become_sections(report: tuple[str, list[Chunk]]) -> None:
    chunks = report[1]
    assert find(chunks, "高密度巡逻防控").section == "B/平安建设 利剑出鞘保民安"
    assert find(chunks, "扫黑除恶专项斗争").section == "B/平安建设 利剑出鞘保民安"
    assert find(chunks, "两队一室").section == "C/改革强警 新质公安战斗力释放新动能"
    assert find(chunks, "微警认证").section == "D/政务服务 创新模式提升效能"
    assert find(chunks, "以专业化").section == "E/法治建设 擦亮规范执法“金名片”"
    assert find(chunks, "金色盾牌").section == "F/从严治警 锻造作风强硬铁军"
    # a title, a subtitle and a section heading in a row form one section path
    assert find(chunks, "凝心铸魂").section == SECTION_SEPARATOR.join(
        ["永葆就平安广州新底色 勇立潮头精气神", "A/政治建警 深植对党忠诚信念"]
    )
    # the lead paragraphs before any heading have no section
    assert find(chunks, "殷殷期许").section == ""
    # the last item of section B, cut at "2023", is not joined to the heading C that follows
    assert find(chunks, "2023").section == "B/平安建设 利剑出鞘保民安"
    assert find(chunks, "2023").text.endswith("同比下降；2023")


def test_report_no_chunk_is_a_heading(report: tuple[str, list[Chunk]]) -> None:
    headings = {
        "广州公安亮五年工作「成绩单」",
        "永葆就平安广州新底色 勇立潮头精气神",
        "A/政治建警 深植对党忠诚信念",
        "B/平安建设 利剑出鞘保民安",
        "C/改革强警 新质公安战斗力释放新动能",
        "D/政务服务 创新模式提升效能",
        "E/法治建设 擦亮规范执法“金名片”",
        "F/从严治警 锻造作风强硬铁军",
    }
    for c in report[1]:
        assert c.text not in headings
        assert not any(h in c.text for h in headings), c
    sections = {part for c in report[1] for part in c.section.split(SECTION_SEPARATOR)}
    assert sections - {""} == headings


def test_report_credits_are_kept_in_a_chunk(report: tuple[str, list[Chunk]]) -> None:
    credits = find(report[1], "图/通讯员提供")
    assert "文/羊城晚报记者 鄢敏 通讯员 公新文" in credits.text
    assert credits.section == "广州公安亮五年工作「成绩单」"


def test_report_sizes_offsets_and_hashes(report: tuple[str, list[Chunk]]) -> None:
    text, chunks = report
    sizes = [len(c.text) for c in chunks]
    assert 20 <= len(chunks) <= 40
    assert max(sizes) <= DEFAULTS.max_chunk_chars
    assert statistics.median(sizes) >= DEFAULTS.min_chunk_chars
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
    for c in chunks:
        assert text[c.start] == c.text[0] and text[c.end - 1] == c.text[-1]
    assert len({c.hash for c in chunks}) == len(chunks)


def test_report_chunking_is_deterministic(report: tuple[str, list[Chunk]]) -> None:
    text, chunks = report
    assert chunk_text(text, REPORT) == chunks
    assert list(iter_chunks(text, REPORT)) == chunks


# ----------------------------------------------------------------------------- English, Markdown

MARKDOWN = """# User Guide

This guide explains how to install
and use the tool. It is
short.

## Install

Run the installer from the command line. The program is well-
known for being easy to set up, and the installation takes less than a minute.

## Usage ##

Ask a question in plain English and read the answer together with the passage it came from.

### Tips

Short questions work best.

# Appendix

Nothing else to add here, the guide ends with this paragraph, thank you for reading it.
"""


def test_markdown_headings_nest_into_sections() -> None:
    chunks = chunk_text(MARKDOWN, "guide.md")
    assert_covers(MARKDOWN, chunks)
    by_text = {c.text.split()[0]: c for c in chunks}
    assert by_text["This"].section == "User Guide"
    assert by_text["This"].text.startswith("This guide explains how to install and use the tool.")
    assert by_text["Run"].section == "User Guide › Install"
    assert "well-known" in by_text["Run"].text
    assert by_text["Ask"].section == "User Guide › Usage"
    assert by_text["Short"].section == "User Guide › Usage › Tips"
    assert by_text["Nothing"].section == "Appendix"
    assert all(not c.text.startswith("#") for c in chunks)


def test_english_layout_break_and_plain_headings() -> None:
    text = (
        "Annual Report\n\n"
        "The committee met twelve times during the year and reviewed all of the\n\n"
        "proposals that were submitted by the members before the deadline.\n\n"
        "Finances\n\n"
        "The budget was balanced for the third year in a row, thanks to careful spending.\n"
    )
    chunks = chunk_text(text)
    assert_covers(text, chunks)
    assert [c.section for c in chunks] == ["Annual Report", "Finances"]
    assert "reviewed all of the proposals that were" in chunks[0].text


def test_short_line_followed_by_lowercase_is_a_layout_break() -> None:
    text = "The quick brown fox\n\njumps over the lazy dog and keeps running far away.\n"
    (chunk,) = chunk_text(text)
    assert chunk.section == ""
    assert chunk.text == "The quick brown fox jumps over the lazy dog and keeps running far away."


def test_lines_are_joined_by_script() -> None:
    text = "中文第一行\n中文第二行，English words\ncontinue here\n2023\n年结束。"
    (chunk,) = chunk_text(text)
    assert chunk.text == "中文第一行中文第二行，English words continue here 2023年结束。"


def test_chinese_section_markers() -> None:
    text = (
        "第一章 总则\n\n为了规范管理，制定本办法。本办法适用于全体员工和所有部门的日常工作。\n\n"
        "一、基本原则\n坚持依法办事，坚持公开透明，坚持以人为本，坚持问题导向和目标导向。\n\n"
        "（一）适用范围\n\n本办法适用于本单位的全部业务活动，以及与之相关的各类管理活动。\n"
    )
    chunks = chunk_text(text)
    assert_covers(text, chunks)
    assert [c.section for c in chunks] == ["第一章 总则", "一、基本原则", "（一）适用范围"]
    assert chunks[1].text.startswith("坚持依法办事")


def test_heading_at_the_end_is_kept_as_text() -> None:
    text = "A paragraph that ends properly and is long enough to stand alone as a chunk.\n\n# The End\n"
    chunks = chunk_text(text)
    assert_covers(text, chunks)
    assert "# The End" in chunks[-1].text


def test_long_run_of_short_lines_is_not_one_long_section() -> None:
    names = [f"Name{i}" for i in range(8)]
    text = "\n\n".join(names) + "\n\nThe list above names the people who helped with this work.\n"
    chunks = chunk_text(text)
    assert_covers(text, chunks)
    assert chunks[-1].section == "Name7"
    assert all(SECTION_SEPARATOR not in c.section for c in chunks)
    assert "Name0" in chunks[0].text


def test_markdown_code_and_lists_are_not_headings() -> None:
    text = (
        "# Setup\n\n"
        "Install it with the commands below, then run the tests to check everything works.\n\n"
        "```sh\n# install the package\npip install qa\n\n# run the tests\npytest\n```\n\n"
        "1. Download the file\n\n2. Run the installer\n\n"
        "The installer asks no questions and finishes within a minute on most machines.\n\n"
        "2. Usage\n\n"
        "Ask a question and read the answer with the passage it came from, then ask another.\n"
    )
    chunks = chunk_text(text)
    assert_covers(text, chunks)
    assert {c.section for c in chunks} == {"Setup", "Setup › 2. Usage"}
    code = find(chunks, "pip install qa")
    assert "# install the package" in code.text and "# run the tests" in code.text
    assert "1. Download the file" in find(chunks, "Download").text


# ----------------------------------------------------------------------------- sizes


def test_long_paragraph_is_split_at_sentence_ends() -> None:
    sentence = "广州公安持续深化改革，不断提升群众的安全感和满意度。"  # 26 characters
    text = sentence * 40
    chunks = chunk_text(text)
    assert_covers(text, chunks)
    assert len(chunks) > 1
    assert all(len(c.text) <= DEFAULTS.max_chunk_chars for c in chunks)
    assert all(c.text.endswith("。") for c in chunks)
    assert all(len(c.text) > DEFAULTS.max_chunk_chars - len(sentence) for c in chunks[:-1])


def test_long_sentence_is_split_at_clauses_then_hard() -> None:
    clause = "这是一个没有句号的很长的分句" * 3 + "，"
    settings = dataclasses.replace(DEFAULTS, max_chunk_chars=100, min_chunk_chars=20)
    text = clause * 10
    chunks = chunk_text(text, settings=settings)
    assert_covers(text, chunks, settings)
    assert all(c.text.endswith("，") for c in chunks)
    text = "字" * 1000
    chunks = chunk_text(text, settings=settings)
    assert_covers(text, chunks, settings)
    assert [len(c.text) for c in chunks] == [100] * 10


def test_hard_split_prefers_spaces() -> None:
    text = " ".join(["word"] * 400)
    chunks = chunk_text(text)
    assert_covers(text, chunks)
    assert all(not c.text.startswith("ord") for c in chunks)


def test_small_paragraphs_merge_within_their_section_only() -> None:
    text = "短段一。\n\n短段二。\n\n二、下一节\n\n短段三。\n"
    chunks = chunk_text(text)
    assert [(c.section, c.text) for c in chunks] == [
        ("", "短段一。\n短段二。"),
        ("二、下一节", "短段三。"),
    ]


def test_sections_with_the_same_name_are_not_merged() -> None:
    text = (
        "Intro\n\nShort text.\n\nIntro\n\nShort text two.\n\n一、小结\n\n短。\n\n一、小结\n\n短。\n"
    )
    chunks = chunk_text(text)
    assert_covers(text, chunks)
    assert [(c.section, c.text) for c in chunks] == [
        ("Intro", "Short text."),
        ("Intro", "Short text two."),
        ("一、小结", "短。"),
        ("一、小结", "短。"),
    ]
    assert chunks[2].hash == chunks[3].hash  # same text, same content hash


def test_small_piece_is_not_merged_beyond_the_limit() -> None:
    settings = dataclasses.replace(DEFAULTS, max_chunk_chars=48, min_chunk_chars=10)
    text = "甲" * 45 + "。\n\n乙乙。\n\n" + "丙" * 45 + "。"
    chunks = chunk_text(text, settings=settings)
    assert_covers(text, chunks, settings)
    assert [len(c.text) for c in chunks] == [46, 3, 46]


def test_empty_and_blank_text() -> None:
    assert chunk_text("") == []
    assert chunk_text(" \n\n\t \n") == []


def test_crlf_offsets_point_into_the_original_text() -> None:
    text = "第一段的内容比较长，需要足够多的字才能单独成为一个块，这里再多写一些字吧。\r\n\r\n第二段。\r\n"
    chunks = chunk_text(text)
    assert_covers(text, chunks)
    (chunk,) = chunks
    assert (
        chunk.text
        == "第一段的内容比较长，需要足够多的字才能单独成为一个块，这里再多写一些字吧。\n第二段。"
    )
    assert text[chunk.start : chunk.end].replace("\r\n\r\n", "\n") == chunk.text


# ----------------------------------------------------------------------------- large input


def _large(n_chars: int) -> str:
    """Very long lines without punctuation: CJK and Latin runs, a few blank lines."""
    line = ("数据处理系统" * 500 + " alpha beta gamma " * 200) * 10
    parts = []
    size = 0
    while size < n_chars:
        parts.append(line)
        size += len(line) + 2
    return "\n\n".join(parts)


def test_large_input_is_chunked_whole() -> None:
    """Big inputs keep the size limit and the chunk count grows with the text (time is
    measured in bench/bench_memory.py, not asserted here)."""
    small, big = _large(500_000), _large(4_000_000)
    chunks_small = chunk_text(small)
    chunks_big = chunk_text(big)
    assert max(len(c.text) for c in chunks_big) <= DEFAULTS.max_chunk_chars
    ratio = len(big) / len(small)
    assert len(chunks_big) > ratio * len(chunks_small) * 0.8
    assert_covers(small, chunks_small)


def test_iter_chunks_is_lazy() -> None:
    text = _large(2_000_000)
    first = next(iter_chunks(text, "big.txt"))
    assert first.ordinal == 0 and first.doc == "big.txt"


# --------------------------------------------------------------------------- paragraph windows
LONG_ZH = "".join(
    f"第{i}句说明了一件事情，其中提到编号{i:03d}的设备在工厂运行良好。" for i in range(30)
)
LONG_EN = " ".join(
    f"Sentence {i} says that machine number {i:03d} ran well in the plant." for i in range(30)
)


@pytest.mark.unit
@pytest.mark.parametrize("para", [LONG_ZH, LONG_EN])
def test_pieces_of_a_long_paragraph_continue_it(para):
    text = f"Short opening paragraph that stands on its own as a chunk.\n\n{para}\n\nA last paragraph, also long enough to be a chunk of its own here."
    chunks = chunk_text(text)
    inner = [c for c in chunks if c.text in para]
    assert len(inner) >= 3  # the long paragraph was cut
    assert [c.continues for c in chunks] == [False, False] + [True] * (len(inner) - 1) + [False]
    # joined again, the pieces are the paragraph exactly
    assert join_chunks(inner) == para
    # across a paragraph break they join with one
    assert join_chunks(chunks[:2]) == chunks[0].text + PARAGRAPH_SEPARATOR + chunks[1].text


@pytest.mark.unit
def test_join_chunks_of_one_chunk_is_its_text():
    (c,) = chunk_text("一段不长的文字。")
    assert join_chunks([c]) == c.text
    assert join_chunks([]) == ""


def test_table_rows_are_paragraphs_of_their_own() -> None:
    text = (
        "## 各区立案数\n\n"
        "下表列出各区的刑事立案数：\n\n"
        "| 区 | 2019年 | 2023年 |\n| 越秀 | 1200 | 980 |\n| 天河 | 1500 | 1100 |\n\n"
        "立案数普遍下降"
    )
    chunks = chunk_text(text, "t.md")
    assert_covers(text, chunks)
    joined = "\n".join(c.text for c in chunks)
    # rows are never glued to each other nor to the paragraph before or after them
    assert "| 越秀 | 1200 | 980 |\n| 天河 | 1500 | 1100 |" in joined
    assert "立案数：|" not in joined and "|立案数" not in joined
    assert all(c.section == "各区立案数" for c in chunks)
    # a row is never a heading, even a short one without punctuation
    assert not any("|" in c.section for c in chunks)


def test_long_table_is_cut_between_rows() -> None:
    rows = [f"| 第{i}行 | 数值{i * 37} | 说明文字说明文字说明文字说明文字 |" for i in range(40)]
    chunks = chunk_text("\n".join(rows), "t.md")
    assert len(chunks) > 1
    for c in chunks:
        assert all(line.startswith("| ") and line.endswith(" |") for line in c.text.split("\n"))


def test_chunks_know_their_page() -> None:
    page1 = "第一页的内容说明了会议的背景。" * 3
    page2 = "第二页讲述了具体的措施和成果，包括多项改革。" * 3
    page3 = "第三页是结论。" * 20
    text = "\n\n".join([page1, page2, page3])
    starts = (0, len(page1) + 2, len(page1) + 2 + len(page2) + 2)
    chunks = chunk_text(text, "r.pdf", dataclasses.replace(DEFAULTS, min_chunk_chars=1), starts)
    for c in chunks:
        assert c.page == 1 + sum(1 for s in starts[1:] if c.start >= s)
    assert {c.page for c in chunks} == {1, 2, 3}
    assert all(c.page is None for c in chunk_text(text, "r.txt"))


def test_a_paragraph_over_a_page_break_knows_both_pages() -> None:
    page1 = "第一段很短。\n\n第二段从第一页开始，讲述了广州公安五年来的"
    page2 = "工作成绩，并且在第二页结束。\n\n第三段在第二页。"
    page4 = "第四页的内容。"
    text = "\n\n".join([page1, page2, "", page4])
    starts = (0, len(page1) + 2, len(page1) + 2 + len(page2) + 2, len(text) - len(page4))
    settings = dataclasses.replace(DEFAULTS, min_chunk_chars=1)
    chunks = chunk_text(text, "r.pdf", settings, starts)
    over = next(c for c in chunks if "第二段" in c.text)
    assert "的工作成绩" in over.text  # one paragraph again
    assert over.page == 1 and over.page_breaks == (over.text.index("工作成绩"),)
    assert over.page_at(0) == 1 and over.page_at(over.text.index("第二页结束")) == 2
    last = next(c for c in chunks if "第四页" in c.text)
    assert last.page == 4 and last.page_at(0) == 4
    # the blank third page counts: a break repeated for it
    both = chunk_text(
        page2 + "\n\n\n\n" + page4, "r.pdf", settings, (0, len(page2) + 2, len(page2) + 2)
    )
    assert any(c.page_at(len(c.text) - 1) == 3 for c in both)
