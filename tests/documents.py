"""Real test documents made with real tools: PDFs printed from HTML by Debian's chromium,
scanned PDFs made by rendering those pages to images (poppler's pdftoppm) with no text layer,
Word files made with python-docx, and HTML pages.

The default corpus's report is turned into each format (``report_html``, ``report_docx``,
``print_pdf``, ``scan_pdf``) so the same questions can be asked of every format."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORT_TXT = ROOT / "corpus" / "guangzhou-police-five-year-work-report.txt"
REPORT_TITLE = "广州公安亮五年工作「成绩单」"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
)
needs_pdftoppm = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils is not installed (.ci/run installs it)"
)

#: The default corpus's questions with the words that answer them (asked of every format).
REPORT_QUESTIONS = [
    ("全市刑事立案数同比2019年下降了多少？", "15.2%"),
    ("扫黑除恶成绩连续几年排名全省第一？", "五年"),
    ("微警认证服务平台累计提供认证服务多少次？", "126亿次"),
    ("多少个民生服务事项接入了穗好办App？", "393"),
    ("五年来有多少个集体荣获省部级以上表彰奖励？", "39个集体"),
    ("广州公安连续多少年在全省执法质量考评中获优秀等次？", "13年"),
    ("哪个分局的执法办案管理中心成为公安部标杆中心？", "番禺区分局"),
    ("广州公安在全国首创了什么执法办案权责清单体系？", "2+1+17"),
]

_HEADING = re.compile(r"^[^。，！？；：,.!?;]{1,30}$")


def report_blocks() -> list[tuple[str, str]]:
    """The report as ``(kind, text)`` blocks, kind "h" (a short line without punctuation: a
    heading or title) or "p" (a paragraph, its layout line breaks joined)."""
    text = REPORT_TXT.read_text(encoding="utf-8")
    blocks = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        joined = "".join(lines)
        kind = "h" if len(lines) == 1 and _HEADING.match(joined) else "p"
        blocks.append((kind, joined))
    return blocks


def report_html(title: str = REPORT_TITLE, chrome: bool = False) -> str:
    """The report as an HTML article. With ``chrome``, the page also has what a saved news
    page has around its article: navigation, a related-links list, an advert and a footer."""
    body = []
    for kind, text in report_blocks():
        tag = "h2" if kind == "h" else "p"
        body.append(f"<{tag}>{html.escape(text)}</{tag}>")
    nav = footer = aside = ""
    if chrome:
        nav = (
            "<nav><ul><li><a href='/'>首页</a></li><li><a href='/news'>新闻中心</a></li>"
            "<li><a href='/sport'>体育频道</a></li><li><a href='/ent'>娱乐八卦</a></li></ul></nav>"
        )
        aside = (
            "<aside class='related'><h3>相关阅读</h3><ul>"
            "<li><a href='/a1'>深圳交警发布春运出行提示</a></li>"
            "<li><a href='/a2'>佛山举办美食文化节吸引游客</a></li></ul>"
            "<div class='ad'>广告：买房就上房多多，首付低至一成</div></aside>"
        )
        footer = "<footer>版权所有 © 羊城晚报报业集团 粤ICP备00000000号 联系我们 广告服务</footer>"
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:'Noto Serif CJK SC','Noto Sans CJK SC',serif;"
        "font-size:14pt;line-height:1.6;margin:0 2em}p{margin:0 0 0.8em;text-indent:2em}"
        "h1,h2{font-size:16pt}</style></head><body>"
        f"{nav}<article><h1>{html.escape(title)}</h1>{''.join(body)}</article>{aside}{footer}"
        "</body></html>"
    )


def print_pdf(page_html: str, out: Path, header_footer: bool = True) -> Path:
    """Print ``page_html`` to the PDF ``out`` with chromium. With ``header_footer`` (chromium's
    default) every page carries the date and title at the top and the URL and "n/N" at the
    bottom: the repeated margins a PDF reader must drop."""
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "page.html"
        src.write_text(page_html, encoding="utf-8")
        cmd = [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp}/profile",
            f"--print-to-pdf={out}",
            "--no-pdf-header-footer" if not header_footer else "--virtual-time-budget=1000",
            src.as_uri(),
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    if not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(f"chromium did not print {out}")
    return out


def scan_pdf(pdf: Path, out: Path, dpi: int = 150) -> Path:
    """A scanned copy of ``pdf``: each page rendered to a grey image by pdftoppm, the images
    saved as a PDF with no text layer (what a scanner gives)."""
    from PIL import Image

    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-gray", "-png", str(pdf), f"{tmp}/page"],
            check=True,
            capture_output=True,
            timeout=300,
        )
        pages = [Image.open(p).convert("L") for p in sorted(Path(tmp).glob("page*.png"))]
        pages[0].save(out, "PDF", resolution=float(dpi), save_all=True, append_images=pages[1:])
    return out


def report_docx(out: Path, title: str = REPORT_TITLE) -> Path:
    """The report as a Word file made with python-docx: the title as "Title", the short lines
    as "Heading 2", the paragraphs as body text."""
    import docx

    d = docx.Document()
    d.add_heading(title, level=1)
    for kind, text in report_blocks():
        if kind == "h":
            d.add_heading(text, level=2)
        else:
            d.add_paragraph(text)
    d.save(str(out))
    return Path(out)
