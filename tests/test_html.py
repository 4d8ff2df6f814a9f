"""qa.formats.html: a saved news page read down to its article (no navigation, adverts,
related links or footer), headings as "#" lines, the page decoded in the charset it declares
unless that declaration is wrong, nothing of scripts or styles in the text, and bad pages
skipped with a reason."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from documents import REPORT_TITLE, report_blocks, report_html

from qa.corpus import UnreadableError
from qa.formats import html as html_reader
from qa.formats.base import READER_HTML
from qa.formats.html import decode_html, read_html

pytestmark = pytest.mark.unit

#: Text of the page chrome report_html(chrome=True) puts around the article.
CHROME = [
    "首页",
    "新闻中心",
    "体育频道",
    "相关阅读",
    "深圳交警",
    "佛山",
    "房多多",
    "版权所有",
    "ICP",
]
#: The report in the reader's layout: the title, then "##" headings and paragraphs.
EXPECTED = [f"# {REPORT_TITLE}"] + [f"## {t}" if k == "h" else t for k, t in report_blocks()]
ZH = "这是一段用于测试编码的中文正文，广州公安五年来坚持不懈，群众的安全感不断提升。"
TW = "這是一段用於測試編碼的中文正文，廣州公安五年來堅持不懈，群眾的安全感不斷提升。"


def _page(body: str, head: str = "", title: str = "") -> str:
    title_tag = f"<title>{title}</title>" if title else ""
    return f"<!DOCTYPE html><html><head>{head}{title_tag}</head><body>{body}</body></html>"


def _text(data: bytes | str) -> str:
    return read_html(data.encode("utf-8") if isinstance(data, str) else data).pages[0]


def _reason(data: bytes) -> str:
    with pytest.raises(UnreadableError) as err:
        read_html(data)
    return err.value.reason


# ----------------------------------------------------------------------------- main text


def test_report_page_article_only():
    got = read_html(report_html(chrome=True).encode("utf-8"))
    assert got.reader == READER_HTML and not got.paged and got.encoding == "utf-8"
    text = got.pages[0]
    assert text.split("\n\n") == EXPECTED  # every paragraph, in order; the title once
    assert [w for w in CHROME if w in text] == []


def test_report_page_chrome_without_semantic_tags():
    """Navigation, related links and footer in plain <div>s are left out too."""
    page = report_html(chrome=True)
    for old, new in (
        ("<nav>", "<div class='menu'>"),
        ("</nav>", "</div>"),
        ("<aside class='related'>", "<div class='sidebar'>"),
        ("</aside>", "</div>"),
        ("<footer>", "<div id='foot'>"),
        ("</footer>", "</div>"),
        ("<article>", "<div class='content'>"),
        ("</article>", "</div>"),
    ):
        page = page.replace(old, new)
    text = _text(page)
    assert all(t in text for _, t in report_blocks())
    assert [w for w in CHROME if w in text] == []


def test_short_article_with_chrome():
    """A short article: trafilatura's default would dump the whole page, navigation too."""
    article = "<article><h1>小标题</h1><p>这是一段很短的正文。</p><h2>第二部分</h2><p>第二段。</p></article>"
    page = re.sub(r"<article>.*</article>", article, report_html(chrome=True), flags=re.S)
    text = _text(page)
    assert text.split("\n\n") == [
        f"# {REPORT_TITLE}",
        "## 小标题",
        "这是一段很短的正文。",
        "### 第二部分",
        "第二段。",
    ]


def test_bare_pages():
    assert _text("<p>Only one short paragraph here.</p>") == "Only one short paragraph here."
    assert _text("just some words, no tags") == "just some words, no tags"
    assert _text("<html><body>line one<br>line two</body></html>") == "line one\nline two"


def test_tables_and_lists():
    body = (
        "<article><h2>数据</h2><p>下表列出了各项数据，供读者参考和比较。</p><table>"
        "<tr><th colspan='2'>合并表头</th></tr><tr><td>苹果</td><td>3</td></tr>"
        "<tr><td>香蕉</td><td>5</td></tr></table>"
        "<ul><li>第一项</li><li>第二项<ul><li>嵌套项</li></ul></li></ul></article>"
    )
    paras = _text(_page(body)).split("\n\n")
    assert "| 合并表头 |  |\n| 苹果 | 3 |\n| 香蕉 | 5 |" in paras
    assert "- 第一项\n- 第二项\n- 嵌套项" in paras


def test_scripts_and_styles_never_in_text():
    head = (
        "<script>var secret = 'SCRIPT_TEXT';</script><style>.x{color:red} /* STYLE_TEXT */</style>"
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"articleBody": "JSONLD_TEXT is the body of the article according to the metadata, '
        'long enough to be taken as the article by a baseline extraction of the page."}</script>'
    )
    body = (
        "<p>Visible paragraph text that is here.</p><script>document.write('INLINE_TEXT')</script>"
        "<noscript>NOSCRIPT_TEXT</noscript><template>TEMPLATE_TEXT</template>"
        "<p style='color:red' onclick='alert(1)'>Second <b>visible</b> paragraph.</p>"
    )
    text = _text(_page(body, head))
    assert "Visible paragraph text that is here." in text
    assert "Second visible paragraph." in text
    for hidden in ("SCRIPT", "STYLE", "JSONLD", "INLINE", "NOSCRIPT", "TEMPLATE", "alert", "color"):
        assert hidden not in text


# ----------------------------------------------------------------------------- title


BODY = "<p>The article's first paragraph, with a few words in it.</p>"


def test_title_added_when_no_h1():
    assert _text(_page(BODY, title="Page title")).split("\n\n")[0] == "# Page title"


def test_title_not_repeated():
    page = _page(f"<article><h1>Big headline</h1>{BODY}</article>", title="Big headline")
    assert _text(page).count("Big headline") == 1
    # "Headline - Site name": the article's own <h1> is the heading
    page = _page(f"<article><h1>Big headline</h1>{BODY}</article>", title="Big headline - News")
    assert _text(page).split("\n\n")[0] == "# Big headline"
    assert "News" not in _text(page)


def test_title_above_another_h1():
    page = _page(f"<article><h1>Headline</h1>{BODY}<h2>Part</h2>{BODY}</article>", title="Site")
    headings = [p for p in _text(page).split("\n\n") if p.startswith("#")]
    assert headings == ["# Site", "## Headline", "### Part"]


# ----------------------------------------------------------------------------- encodings


def _zh_page(charset_tag: str, text: str = ZH, heading: str = "标题") -> str:
    return _page(f"<article><h1>{heading}</h1><p>{text}</p><p>{text}</p></article>", charset_tag)


@pytest.mark.parametrize(
    ("head", "codec", "expected"),
    [
        ("<meta charset='gbk'>", "gbk", "gb18030"),
        ('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">', "gbk", "gb18030"),
        ("<meta charset='utf-8'>", "gbk", "gb18030"),  # a wrong declaration: not UTF-8
        ("<meta charset='iso-8859-1'>", "gbk", "gb18030"),  # decodes, but as mojibake
        ("<meta charset='iso-8859-1'>", "utf-8", "utf-8"),
        ("<meta charset='gbk'>", "utf-8", "utf-8"),  # UTF-8 bytes also decode as GB18030
        ("<meta charset='x-unknown'>", "gbk", "gb18030"),
        ("", "gbk", "gb18030"),
        ("<meta charset='utf-16'>", "utf-16", "utf-16"),  # the BOM decides
    ],
)
def test_declared_and_wrong_charsets(head, codec, expected):
    got = read_html(_zh_page(head).encode(codec))
    assert got.encoding == expected
    assert ZH in got.pages[0] and "# 标题" in got.pages[0]


@pytest.mark.parametrize("head", ["<meta charset='big5'>", "<meta charset='gbk'>", ""])
def test_big5_page(head):
    got = read_html(_zh_page(head, TW, "標題").encode("big5"))
    assert got.encoding == "big5"
    assert TW in got.pages[0] and "# 標題" in got.pages[0]


def test_xml_declaration():
    page = "<?xml version='1.0' encoding='gbk'?>" + _zh_page("").replace(
        "<html>", "<html xmlns='http://www.w3.org/1999/xhtml'>"
    )
    got = read_html(page.encode("gbk"))
    assert got.encoding == "gb18030" and ZH in got.pages[0]


def test_declared_charset_found():
    assert html_reader.declared_charset(b"<meta charset=GBK>") == "gbk"
    assert html_reader.declared_charset(b'<meta content="text/html;charset=Big5">') == "big5"
    assert html_reader.declared_charset(b"<?xml version='1.0' encoding='EUC-KR'?>") == "euc-kr"
    assert html_reader.declared_charset(b"<p>no declaration</p>") is None
    assert decode_html("<meta charset='latin1'><p>café</p>".encode("cp1252")) == (
        "<meta charset='latin1'><p>café</p>",
        "cp1252",
    )


# ----------------------------------------------------------------------------- bad pages


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", html_reader.EMPTY),
        (b" \n\t ", html_reader.EMPTY),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "binary file"),
        (_page("<img src='a.png'><script>var a = 'SCRIPT';</script>").encode(), "no text"),
        (_page("", title="Only a title").encode(), "no text"),
    ],
)
def test_bad_pages(data, reason):
    assert _reason(data).startswith(reason)


def test_cheap_import():
    """trafilatura (and lxml) load only when a web page is read."""
    code = "import sys, qa.formats.html; print('trafilatura' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
