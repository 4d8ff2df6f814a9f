"""qa.formats.word: Word .docx files made by python-docx and by pandoc read into the shared text
conventions (headings, paragraphs in order, tables as rows, list items), and every kind of bad
file skipped with a reason, zip bombs before anything is unpacked."""

from __future__ import annotations

import dataclasses
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from documents import REPORT_TITLE, report_blocks, report_docx

from qa.corpus import UnreadableError
from qa.formats import word
from qa.formats.base import READER_WORD
from qa.formats.word import read_docx
from qa.settings import DEFAULTS

pytestmark = pytest.mark.unit

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


def _reason(path: Path, settings=DEFAULTS) -> str:
    with pytest.raises(UnreadableError) as err:
        read_docx(path, settings)
    return err.value.reason


# ----------------------------------------------------------------------------- good files


def test_report_docx_headings_paragraphs_in_order(tmp_path):
    got = read_docx(report_docx(tmp_path / "report.docx"))
    assert got.reader == READER_WORD and not got.paged and len(got.pages) == 1
    paras = _paragraphs(got.pages[0])
    assert paras[0] == f"# {REPORT_TITLE}"
    expected = [f"## {text}" if kind == "h" else text for kind, text in report_blocks()]
    assert paras[1:] == expected
    assert "## A/政治建警 深植对党忠诚信念" in paras
    assert any(p.startswith("五年来，广州市公安机关深入学习贯彻") for p in paras)


def _xml(fragment: str):
    from docx.oxml.parser import parse_xml

    return parse_xml(
        f'<w:body xmlns:w="{W_NS}" xmlns:mc="{MC_NS}" '
        'xmlns:v="urn:schemas-microsoft-com:vml">'
        f"{fragment}</w:body>"
    )[0]


def _rich_docx(path: Path) -> Path:
    """A document with what python-docx's own API reads badly or not at all: a Title, merged
    and nested table cells, a text box with its VML fallback, a content control, tracked
    changes, list styles."""
    import docx

    d = docx.Document()
    d.add_heading("年度报告", level=0)  # "Title"
    d.add_heading("第一部分", level=1)
    d.add_paragraph("开头的段落。")
    d.add_paragraph("苹果", style="List Bullet")
    d.add_paragraph("香蕉", style="List Number")
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row.cells):
            cell.text = f"r{r}c{c}"
    table.cell(0, 0).merge(table.cell(0, 1)).text = "合并标题"
    table.cell(1, 2).merge(table.cell(2, 2)).text = "纵向合并"
    table.cell(2, 0).add_table(rows=1, cols=2).rows[0].cells[1].text = "嵌套单元"
    body = d.element.body
    sect = body[-1]
    for fragment in (
        # a text box: DrawingML choice + VML fallback holding the same text
        '<w:p><w:r><w:t>锚定段落</w:t></w:r><w:r><mc:AlternateContent><mc:Choice Requires="wps">'
        "<w:drawing><w:txbxContent><w:p><w:r><w:t>文本框里的话</w:t></w:r></w:p></w:txbxContent>"
        "</w:drawing></mc:Choice><mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent><w:p>"
        "<w:r><w:t>文本框里的话</w:t></w:r></w:p></w:txbxContent></v:textbox></v:shape></w:pict>"
        "</mc:Fallback></mc:AlternateContent></w:r></w:p>",
        # a block content control
        "<w:sdt><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>控件里的段落</w:t></w:r></w:p>"
        "</w:sdtContent></w:sdt>",
        # tracked changes, an inline content control and a hyperlink
        '<w:p><w:r><w:t xml:space="preserve">保留 </w:t></w:r><w:del w:id="1" w:author="a">'
        "<w:r><w:delText>删除的</w:delText></w:r></w:del>"
        '<w:ins w:id="2" w:author="a"><w:r><w:t>插入的</w:t></w:r></w:ins>'
        "<w:sdt><w:sdtContent><w:r><w:t>和控件</w:t></w:r></w:sdtContent></w:sdt>"
        "<w:r><w:br/><w:t>第二行</w:t></w:r></w:p>",
        # a heading by outline level only (how a localized heading style may look)
        '<w:p><w:pPr><w:outlineLvl w:val="1"/></w:pPr><w:r><w:t>大纲标题</w:t></w:r></w:p>',
        "<w:p><w:r><w:t>结尾。</w:t></w:r></w:p>",
    ):
        sect.addprevious(_xml(fragment))
    d.save(str(path))
    return path


def test_rich_docx(tmp_path):
    text = read_docx(_rich_docx(tmp_path / "rich.docx")).pages[0]
    paras = _paragraphs(text)
    assert paras[:3] == ["# 年度报告", "## 第一部分", "开头的段落。"]
    assert "- 苹果\n- 香蕉" in paras
    table = next(p for p in paras if p.startswith("|")).split("\n")
    assert table == [
        "| 合并标题 | r0c2 |",  # a horizontal merge once
        "| r1c0 | r1c1 | 纵向合并 |",
        "| r2c0 嵌套单元 | r2c1 |  |",  # nested table flattened; the vertical merge not repeated
    ]
    assert text.count("文本框里的话") == 1  # the VML fallback copy is left out
    assert paras.index("锚定段落") + 1 == paras.index("文本框里的话")
    assert "控件里的段落" in paras
    assert "保留 插入的和控件\n第二行" in paras
    assert "删除的" not in text
    assert "### 大纲标题" in paras  # outline level 1 = Heading 2, below the Title
    assert paras[-1] == "结尾。"


def test_localized_heading_style(tmp_path):
    """A style with a localized name ("标题 1") or id is a heading by its name."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    d = docx.Document()
    d.styles.add_style("标题 1", WD_STYLE_TYPE.PARAGRAPH)
    d.add_paragraph("总则", style="标题 1")
    d.add_paragraph("正文内容。")
    d.save(str(tmp_path / "zh.docx"))
    assert read_docx(tmp_path / "zh.docx").pages[0] == "# 总则\n\n正文内容。"


PANDOC_MD = """---
title: 测试文档标题
---

# 第一章 总则

这是第一段正文，带有脚注。[^1]

## 1.1 表格

| 项目 | 数量 | 备注 |
|------|-----:|------|
| 苹果 | 3 | 红色 |
| 香蕉 | 5 | 黄色 |

- 第一项
- 第二项

# 第二章 附则

最后一段。

[^1]: 这是脚注的内容。
"""


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("pandoc") is None, reason="pandoc is not installed")
def test_pandoc_docx(tmp_path):
    src = tmp_path / "doc.md"
    src.write_text(PANDOC_MD, encoding="utf-8")
    out = tmp_path / "doc.docx"
    subprocess.run(["pandoc", str(src), "-o", str(out)], check=True, timeout=60)
    assert _paragraphs(read_docx(out).pages[0]) == [
        "# 测试文档标题",
        "## 第一章 总则",
        "这是第一段正文，带有脚注。[1]",
        "[1] 这是脚注的内容。",
        "### 1.1 表格",
        "| 项目 | 数量 | 备注 |\n| 苹果 | 3 | 红色 |\n| 香蕉 | 5 | 黄色 |",
        "- 第一项\n- 第二项",
        "## 第二章 附则",
        "最后一段。",
    ]


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("pandoc") is None, reason="pandoc is not installed")
def test_pandoc_report_docx(tmp_path):
    """The report written as Markdown and converted by pandoc."""
    md = [f"# {REPORT_TITLE}"]
    md += [f"## {text}" if kind == "h" else text for kind, text in report_blocks()]
    src = tmp_path / "report.md"
    src.write_text("\n\n".join(md), encoding="utf-8")
    out = tmp_path / "report.docx"
    subprocess.run(
        ["pandoc", "-f", "markdown-auto_identifiers", str(src), "-o", str(out)],
        check=True,
        timeout=60,
    )
    paras = _paragraphs(read_docx(out).pages[0])
    assert paras == md


# ----------------------------------------------------------------------------- bad files


def _cfb(*streams: str) -> bytes:
    """A minimal OLE compound file (what .doc files and encrypted .docx files are) whose
    directory names ``streams``: header, one FAT sector, one directory sector."""
    end, free = 0xFFFFFFFE, 0xFFFFFFFF
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
    header += struct.pack(
        "<HHHHH6xIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, 0, 1, 1, 0, 4096, end, 0, end, 0
    )
    header += struct.pack("<109I", 0, *([free] * 108))
    fat = struct.pack("<128I", 0xFFFFFFFD, end, *([free] * 126))

    def entry(name: str, kind: int, child: int = free, right: int = free) -> bytes:
        raw = (name + "\0").encode("utf-16-le")
        return struct.pack(
            "<64sHBBIII16sIQQIQ",
            raw,
            len(raw),
            kind,
            1,
            free,
            right,
            child,
            bytes(16),
            0,
            0,
            0,
            end,
            0,
        )

    names = list(streams)
    entries = [entry("Root Entry", 5, child=1 if names else free)]
    for i, name in enumerate(names):
        entries.append(entry(name, 2, right=i + 2 if i + 1 < len(names) else free))
    directory = b"".join(entries).ljust(512, b"\0")
    return header + fat + directory


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty file"),
        (b"This is plain text saved with a .docx name.", word.NOT_ZIP),
        (b"{\\rtf1\\ansi Hello}", word.RTF),
        (_cfb("WordDocument", "1Table", "\x05SummaryInformation"), word.LEGACY_DOC),
        (_cfb("\x06DataSpaces", "EncryptionInfo", "EncryptedPackage"), word.ENCRYPTED),
        (_cfb("Workbook"), word.OLE_OTHER),
    ],
)
def test_not_a_docx(tmp_path, content, expected):
    path = tmp_path / "bad.docx"
    path.write_bytes(content)
    assert _reason(path) == expected


def test_zip_without_document(tmp_path):
    path = tmp_path / "book.docx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    assert _reason(path) == word.NO_DOCUMENT


def test_zip_bomb_ratio(tmp_path):
    """A part declared 11 MB that packs into a few KB is refused before it is unpacked."""
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w") as f:
            block = bytes(1 << 20)
            for _ in range(11):
                f.write(block)
    assert path.stat().st_size < 100_000
    reason = _reason(path)
    assert reason.startswith("possible zip bomb: word/document.xml unpacks to 11 MB")


def test_zip_bomb_total(tmp_path):
    """Parts that unpack to more than max_file_bytes in all are refused."""
    path = report_docx(tmp_path / "report.docx")
    small = dataclasses.replace(DEFAULTS, max_file_bytes=20_000)
    assert _reason(path, small).startswith("possible zip bomb: unpacks to")


def test_encrypted_zip_entries(tmp_path):
    """Zip entries encrypted with a zip password (general purpose flag bit 0)."""
    plain = report_docx(tmp_path / "plain.docx")
    data = bytearray(plain.read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            data[at + flag_at] |= 0x1
            at = data.find(signature, at + 4)
    path = tmp_path / "locked.docx"
    path.write_bytes(bytes(data))
    assert _reason(path) == word.ENCRYPTED


def test_damaged_document_xml(tmp_path):
    good = report_docx(tmp_path / "good.docx")
    bad = tmp_path / "bad.docx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, b"<w:document" if info.filename == "word/document.xml" else data)
    assert _reason(bad).startswith("damaged Word file")


def test_no_text(tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("   ")
    d.add_table(rows=2, cols=2)
    d.save(str(tmp_path / "empty.docx"))
    assert _reason(tmp_path / "empty.docx") == word.NO_TEXT


def test_import_is_cheap():
    """Importing the reader does not import python-docx (the CLI starts fast)."""
    code = "import sys, qa.formats.word; print('docx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
