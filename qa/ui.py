"""The web page: layout and rendering only. Ask questions of the corpus in a browser, read the
answers in context, list the indexed documents and, when the server allows it, upload new ones
and rebuild the index.

``build_app(service)`` returns the :class:`gradio.Blocks` over a :class:`qa.service.QAService`
(which answers, lists, saves uploads and rebuilds: the same core as the CLI and the HTTP API);
:mod:`qa.api` serves it. A read-only service gets a page without upload and rebuild (their
events do not exist, so they cannot be called through Gradio's API either).

Safety: every piece of document text, file name and question goes through :func:`esc`
(``html.escape``) before it is put into HTML. Highlighted passages are built by escaping each
segment of the raw text separately and inserting our own ``<mark>``/``<strong>`` tags between
them (the spans are character offsets in the raw text, so they are never applied to escaped
text). Uploaded file names are checked by :func:`qa.service.sanitize_upload_name`.

The pure rendering functions import neither gradio nor torch, so their unit tests stay fast."""

from __future__ import annotations

import html
import itertools
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qa.service import (
    DEFAULT_K,
    MAX_UPLOAD_BYTES,
    QAService,
    ReadOnlyError,
    error_message,
    shown_answer,
    size_text,
)

if TYPE_CHECKING:  # pragma: no cover
    import gradio as gr

    from qa.search import Hit

log = logging.getLogger("qa")

#: Shown when the best passage's confidence is below ``settings.answer_threshold``.
NO_ANSWER = "文档中似乎没有这个问题的答案 / The documents do not seem to answer this question."
#: Questions about the default corpus that a new user can click.
EXAMPLES: tuple[str, ...] = (
    "全市刑事立案数同比2019年下降了多少？",
    "微警认证服务平台累计提供认证服务多少次？",
    "扫黑除恶成绩连续几年排名全省第一？",
    "How many registered users does the WeChat police authentication platform have?",
)
#: The document of the default corpus the examples are about (examples show when it is there).
EXAMPLE_DOC = "guangzhou-police-five-year-work-report.txt"
#: Questions kept in one session's history (oldest dropped first).
MAX_HISTORY = 20
#: The passages slider's maximum (the API allows up to :data:`qa.service.MAX_K`).
SLIDER_MAX_K = 10


# ------------------------------------------------------------------------------------------
# escaping and highlighting
# ------------------------------------------------------------------------------------------
def _safe_char(c: str) -> str:
    o = ord(c)
    if 0xD800 <= o <= 0xDFFF:  # a lone surrogate cannot be encoded as UTF-8
        return "\ufffd"
    if (o < 32 and c not in "\t\n\r") or o == 0x7F:
        return "\ufffd"
    return c


_UNSAFE_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def safe_text(s: str) -> str:
    """``s`` with lone surrogates and control characters (but tab and newlines) replaced by
    U+FFFD, one character for one, so offsets into ``s`` stay valid."""
    return _UNSAFE_RE.sub(lambda m: _safe_char(m.group()), s)


def esc(s: object) -> str:
    """Text -> HTML text: ``html.escape`` (quotes too) after :func:`safe_text`."""
    return html.escape(safe_text(str(s)), quote=True)


def _span(span: Sequence[int] | None, n: int) -> tuple[int, int] | None:
    """A ``(start, end)`` span clamped to ``[0, n]``; ``None`` if absent or empty."""
    if not span or len(span) != 2:
        return None
    try:
        s, e = max(0, min(int(span[0]), n)), max(0, min(int(span[1]), n))
    except (TypeError, ValueError):
        return None
    return (s, e) if s < e else None


def highlight_html(
    text: str,
    sentence: Sequence[int] | None = None,
    answer: Sequence[int] | None = None,
) -> str:
    """``text`` as escaped HTML with the ``sentence`` span in ``<mark class="sent">`` and the
    ``answer`` span in ``<strong class="ans">`` (inside the mark where they overlap).

    Spans are character offsets into the raw ``text``; each segment between span boundaries is
    escaped on its own, so a span can never cut an entity or a tag. Invalid spans are clamped
    or ignored; the tags always nest properly."""
    n = len(text)
    sent, ans = _span(sentence, n), _span(answer, n)
    cuts = sorted({0, n, *(sent or ()), *(ans or ())})
    out: list[str] = []
    in_mark = in_strong = False
    for a, b in itertools.pairwise(cuts):
        want_mark = sent is not None and sent[0] <= a and b <= sent[1]
        want_strong = ans is not None and ans[0] <= a and b <= ans[1]
        if in_strong and (not want_strong or want_mark != in_mark):
            out.append("</strong>")
            in_strong = False
        if in_mark != want_mark:
            out.append('<mark class="sent">' if want_mark else "</mark>")
            in_mark = want_mark
        if want_strong and not in_strong:
            out.append('<strong class="ans">')
            in_strong = True
        out.append(esc(text[a:b]))
    if in_strong:
        out.append("</strong>")
    if in_mark:
        out.append("</mark>")
    return "".join(out)


# ------------------------------------------------------------------------------------------
# rendering answers
# ------------------------------------------------------------------------------------------
def _where(doc: str, section: str, page: int | None = None) -> str:
    where = f'<span class="qa-doc">{esc(doc)}</span>'
    if page:
        where += f' <span class="qa-page">p. {int(page)}</span>'
    if section:
        where += f' <span class="qa-section">› {esc(section)}</span>'
    return where


def _confidence(c: float) -> str:
    pct = max(0, min(100, round(float(c) * 100)))
    cls = "hi" if c >= 0.7 else "mid" if c >= 0.4 else "lo"
    return f'<span class="qa-conf qa-conf-{cls}">置信度 / confidence {pct}%</span>'


def _sentence_span(hit: Hit) -> tuple[int, int] | None:
    return tuple(hit.highlights[0]) if hit.highlights else None  # type: ignore[return-value]


def render_context(hit: Hit, chunks: Sequence[Any] | None) -> str:
    """A ``<details>`` with the passage among its neighbouring chunks in the document (empty
    string when there are none to show)."""
    if not chunks or len(chunks) < 2:
        return ""
    parts = []
    section = hit.section if chunks[0].text == hit.text else None
    for c in chunks:
        sec = ""
        if c.section and c.section != section:
            sec = f'<div class="qa-ctx-sec">› {esc(c.section)}</div>'
        section = c.section
        if c.text == hit.text:
            body = highlight_html(c.text, _sentence_span(hit), hit.answer)
            parts.append(f'{sec}<div class="qa-ctx-self">{body}</div>')
        else:
            parts.append(f'{sec}<div class="qa-ctx-other">{esc(c.text)}</div>')
    return (
        '<details class="qa-context"><summary>上下文 / Read around this passage</summary>'
        f'<div class="qa-ctx">{"".join(parts)}</div></details>'
    )


def render_passage(hit: Hit, rank: int, context: Sequence[Any] | None = None) -> str:
    """One passage: source, section, confidence, highlighted text and its context."""
    body = highlight_html(hit.text, _sentence_span(hit), hit.answer)
    return (
        f'<div class="qa-meta"><span class="qa-rank">#{rank}</span> '
        f"{_where(hit.doc, hit.section, hit.page)} {_confidence(hit.confidence)}</div>"
        f'<div class="qa-passage">{body}</div>'
        f"{render_context(hit, context)}"
    )


def _snippet(text: str, n: int = 48) -> str:
    one = " ".join(text.split())
    return one if len(one) <= n else one[: n - 1] + "…"


def render_answer(
    hits: Sequence[Hit],
    threshold: float,
    context_for: Callable[[Hit], Sequence[Any] | None] | None = None,
) -> str:
    """The answer to one question: the best passage as the answer (an "Answer: …" line with
    the answer words, the passage larger), the others folded. When the best confidence is
    below ``threshold`` it says the documents do not seem to answer, and still shows the
    closest passages."""
    if not hits:
        return (
            '<div class="qa-notice">索引是空的 / The index is empty: add documents '
            "in the Documents tab and rebuild.</div>"
        )

    def ctx(h: Hit) -> Sequence[Any] | None:
        if context_for is None:
            return None
        try:
            return context_for(h)
        except Exception:  # context is a nicety: never fail the answer for it
            log.exception("cannot read the context of chunk %s", h.chunk)
            return None

    best = hits[0]
    out = []
    shown = shown_answer(hits, threshold)
    if not shown.confident:
        out.append(f'<div class="qa-notice qa-noanswer">{esc(NO_ANSWER)}</div>')
        out.append('<div class="qa-closest">最接近的段落 / The closest passages:</div>')
        best_cls = "qa-best qa-weak"
    else:
        out.append(
            f'<div class="qa-answer-line">答案 / Answer: <strong class="ans">{esc(shown.text)}'
            "</strong></div>"
        )
        best_cls = "qa-best"
    out.append(f'<div class="{best_cls}">{render_passage(best, 1, ctx(best))}</div>')
    for rank, h in enumerate(hits[1:], 2):
        out.append(
            '<details class="qa-more"><summary>'
            f'<span class="qa-rank">#{rank}</span> {_where(h.doc, h.section)} '
            f'{_confidence(h.confidence)} <span class="qa-snippet">{esc(_snippet(h.text))}'
            f"</span></summary>{render_passage(h, rank, ctx(h))}</details>"
        )
    return "".join(out)


def render_error(message: str) -> str:
    """An error as a clear message in the page."""
    return f'<div class="qa-notice qa-error">⚠ {esc(message)}</div>'


@dataclass(frozen=True)
class Turn:
    """One question and its rendered answer in a session's history."""

    question: str
    answer_html: str
    at: float


def render_history(turns: Sequence[Turn]) -> str:
    """A session's questions and answers, the newest first."""
    if not turns:
        return (
            '<div class="qa-empty">在上面输入问题，按回车 / Type a question above and press '
            "Enter.</div>"
        )
    parts = []
    for i, t in reversed(list(enumerate(turns, 1))):
        when = time.strftime("%H:%M:%S", time.localtime(t.at))
        parts.append(
            f'<div class="qa-turn" data-turn="{i}"><div class="qa-q"><span class="qa-qlabel">'
            f'问 / Q{i}</span> {esc(t.question)} <span class="qa-time">{when}</span></div>'
            f'<div class="qa-a">{t.answer_html}</div></div>'
        )
    return "".join(parts)


# ------------------------------------------------------------------------------------------
# the documents tab
# ------------------------------------------------------------------------------------------
def _reader(d: Any) -> str:
    """How a document was read, e.g. "pdf text layer + ocr (2 of 6 pages by OCR)"."""
    reader = str(getattr(d, "reader", "text"))
    ocr, pages = int(getattr(d, "ocr_pages", 0)), int(getattr(d, "pages", 0))
    if ocr and ocr != pages:
        reader += f" ({ocr} of {pages} pages by OCR)"
    return reader


def render_documents(
    documents: Iterable[Any],
    skipped: Iterable[dict[str, Any]] = (),
    stale: str | None = None,
    error: str | None = None,
) -> str:
    """The indexed documents (name, chunks, encoding, size, last indexed), the skipped files
    with their reasons, and whether the index is behind the corpus folder."""
    out = []
    if error:
        out.append(render_error(error))
    elif stale:
        out.append(
            f'<div class="qa-notice qa-stale">索引需要重建 / The index is out of date '
            f"({esc(stale)}): press Rebuild to include the changes.</div>"
        )
    else:
        out.append('<div class="qa-ok">✓ 索引是最新的 / The index is up to date.</div>')
    docs = list(documents)
    rows = "".join(
        f"<tr><td>{esc(d.path)}</td><td class='num'>{int(d.pages) or '—'}</td>"
        f"<td>{esc(_reader(d))}</td><td class='num'>{int(d.chunks)}</td>"
        f"<td>{esc(d.encoding or '—')}</td><td class='num'>{size_text(int(d.size))}</td>"
        f"<td>{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(d.indexed_at))}</td></tr>"
        for d in docs
    )
    out.append(
        f'<h3>已索引的文档 / Indexed documents ({len(docs)})</h3><table class="qa-docs">'
        "<thead><tr><th>文件 / File</th><th>页数 / Pages</th><th>读取方式 / Read by</th>"
        "<th>段落 / Chunks</th><th>编码 / Encoding</th>"
        "<th>大小 / Size</th><th>索引时间 / Last indexed</th></tr></thead>"
        f"<tbody>{rows or '<tr><td colspan=7>—</td></tr>'}</tbody></table>"
    )
    sk = list(skipped)
    if sk:
        rows = "".join(
            f"<tr><td>{esc(s.get('path', ''))}</td><td>{esc(s.get('reason', ''))}</td></tr>"
            for s in sk
        )
        out.append(
            f'<h3>跳过的文件 / Skipped files ({len(sk)})</h3><table class="qa-docs qa-skipped">'
            "<thead><tr><th>文件 / File</th><th>原因 / Reason</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    return "".join(out)


# ------------------------------------------------------------------------------------------
# uploads
# ------------------------------------------------------------------------------------------
def render_upload_result(saved: Sequence[str], refused: Sequence[str]) -> str:
    """The upload outcome as HTML."""
    out = []
    if saved:
        out.append(
            '<div class="qa-ok">✓ 已添加 / Added to the corpus: '
            + ", ".join(f"<code>{esc(s)}</code>" for s in saved)
            + " — 请重建索引 / press Rebuild to index them.</div>"
        )
    for r in refused:
        out.append(f'<div class="qa-notice qa-error">✗ 未添加 / Not added: {esc(r)}</div>')
    return "".join(out) or '<div class="qa-empty">没有文件 / No file.</div>'


# ------------------------------------------------------------------------------------------
# the app
# ------------------------------------------------------------------------------------------
CSS = """
.qa-results { font-size: 15px; }
.qa-turn { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 12px 16px;
  margin: 0 0 14px 0; background: var(--background-fill-primary); }
.qa-q { font-weight: 600; margin-bottom: 8px; font-size: 1.05em; }
.qa-qlabel { background: var(--color-accent-soft); border-radius: 6px; padding: 1px 6px;
  margin-right: 4px; font-size: .85em; }
.qa-time { color: var(--body-text-color-subdued); font-weight: normal; font-size: .8em;
  float: right; }
.qa-answer-line { font-size: 1.25em; margin: 6px 0 10px 0; }
.qa-answer-line strong.ans { padding: 1px 4px; }
.qa-best { font-size: 1.06em; border-left: 4px solid #f59e0b; padding: 4px 0 4px 12px;
  margin-bottom: 10px; }
.qa-best.qa-weak { border-left-color: var(--border-color-primary); }
.qa-passage { white-space: pre-wrap; line-height: 1.75; margin: 4px 0; }
.qa-meta, details.qa-more > summary { color: var(--body-text-color-subdued); font-size: .88em; }
.qa-doc { font-family: var(--font-mono); }
.qa-rank { font-weight: 600; }
.qa-conf { border-radius: 6px; padding: 0 6px; margin-left: 6px; white-space: nowrap; }
.qa-conf-hi { background: #dcfce7; color: #166534; }
.qa-conf-mid { background: #fef9c3; color: #854d0e; }
.qa-conf-lo { background: #f3f4f6; color: #4b5563; }
mark.sent { background: #fff3a3; color: #1f2937; padding: 1px 0; border-radius: 3px; }
strong.ans { background: #fbbf24; color: #111827; border-radius: 3px; font-weight: 700; }
details.qa-more { font-size: .95em; margin: 4px 0; padding: 4px 8px;
  border: 1px dashed var(--border-color-primary); border-radius: 8px; }
details.qa-more > summary, details.qa-context > summary { cursor: pointer; }
.qa-snippet { color: var(--body-text-color); margin-left: 6px; }
details.qa-context { margin: 4px 0 2px 0; font-size: .92em; }
details.qa-context > summary { color: var(--link-text-color); }
.qa-ctx { border-left: 3px solid var(--border-color-primary); padding-left: 10px;
  margin-top: 4px; }
.qa-ctx > div { white-space: pre-wrap; line-height: 1.7; margin: 6px 0; }
.qa-ctx-other { color: var(--body-text-color-subdued); }
.qa-ctx-sec { font-weight: 600; }
.qa-ctx-self { background: var(--background-fill-secondary); border-radius: 6px; padding: 4px; }
.qa-notice { background: #fef2f2; border-left: 4px solid #dc2626; color: #7f1d1d;
  padding: 8px 12px; border-radius: 6px; margin: 6px 0; }
.qa-notice.qa-noanswer, .qa-notice.qa-stale { background: #fffbeb; border-left-color: #d97706;
  color: #78350f; }
.qa-closest { color: var(--body-text-color-subdued); margin: 4px 0; font-size: .9em; }
.qa-ok { background: #f0fdf4; border-left: 4px solid #16a34a; color: #14532d;
  padding: 8px 12px; border-radius: 6px; margin: 6px 0; }
.qa-empty { color: var(--body-text-color-subdued); padding: 8px 0; }
table.qa-docs { border-collapse: collapse; width: 100%; font-size: .92em; }
table.qa-docs th, table.qa-docs td { border-bottom: 1px solid var(--border-color-primary);
  padding: 4px 8px; text-align: left; }
table.qa-docs td.num { text-align: right; }
pre.qa-summary { white-space: pre-wrap; font-size: .9em; }
"""

#: Fonts: Chinese first where the system has it (no web fonts: the app works offline).
FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "ui-sans-serif",
    "system-ui",
    "sans-serif",
)


def theme() -> Any:
    """The app's theme: gradio's default with system fonts that cover Chinese."""
    import gradio as gr

    return gr.themes.Default(font=list(FONTS), font_mono=["ui-monospace", "monospace"])


# ------------------------------------------------------------------------------------------
# the service's answers as HTML
# ------------------------------------------------------------------------------------------
def answer_html(svc: QAService, question: str, k: int, previous: Sequence[str] = ()) -> str:
    """The rendered answer to ``question`` (a follow-up read with the ``previous`` ones), or
    the error as a message."""
    try:
        answer = svc.ask(question, k, previous)
    except Exception as e:
        return render_error(error_message(e))
    out = render_answer(answer.hits, svc.settings.answer_threshold, svc.context)
    if answer.read_as != question:
        out = f'<div class="qa-readas">理解为 / read as: {esc(answer.read_as)}</div>' + out
    return out


def documents_html(svc: QAService) -> str:
    """The Documents tab's listing."""
    view = svc.documents()
    return render_documents(view.documents, view.skipped, view.stale, view.error)


def rebuild_html(svc: QAService, progress: Callable[[float, str], None] | None = None) -> str:
    """Rebuild the index; the summary (or why not) as HTML."""
    try:
        report = svc.rebuild(progress)
    except Exception as e:
        return render_error(f"the rebuild failed: {error_message(e)}")
    status = svc.rebuild_status()
    return (
        '<div class="qa-ok">✓ 索引已重建 / The index was rebuilt.</div>'
        f'<pre class="qa-summary">{esc(status.summary or report.summary())}</pre>'
    )


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def build_app(svc: QAService, examples: Sequence[str] | None = None) -> gr.Blocks:
    """The Gradio app over ``svc``: an Ask tab (question box, passages slider, history,
    examples) and a Documents tab (indexed and skipped files; upload and rebuild when
    ``svc.writable``), plus the ``/ask`` Gradio API endpoint returning the same JSON as
    ``qa ask --json``.

    ``examples`` defaults to :data:`EXAMPLES` when the corpus holds :data:`EXAMPLE_DOC`."""
    import gradio as gr

    settings = svc.settings
    if examples is None:
        examples = EXAMPLES if (settings.corpus_dir / EXAMPLE_DOC).exists() else ()
    ext_list = " / ".join(settings.extensions)

    def chat(question: str, k: float, turns: list[Turn] | None) -> tuple[Any, ...]:
        turns = list(turns or [])
        q = question if isinstance(question, str) else ""
        if not q.strip():
            msg = render_error(
                "请输入问题 / The question is empty: type a question about the documents."
            )
            return turns, gr.skip(), msg, gr.skip()
        answer = answer_html(svc, q, int(k), previous=[t.question for t in turns])
        turns = [*turns, Turn(" ".join(q.split())[:500], answer, time.time())][-MAX_HISTORY:]
        return turns, render_history(turns), "", ""

    def ask_api(question: str, k: int = DEFAULT_K) -> list[dict]:
        """The passages that best answer ``question``, best first, as the list of hit dicts
        that ``qa ask --json`` prints (text, score, doc, section, start, end, highlights,
        answer, confidence, chunk, chunks, page)."""
        try:
            answer = svc.ask(question, k)
        except Exception as e:
            # the caller's message; gradio would also print a traceback of every gr.Error
            # (a bad k included) to the server's log. Unexpected errors error_message logs.
            raise gr.Error(error_message(e), print_exception=False) from None
        return [h.to_dict() for h in answer.hits]

    def clear() -> tuple[Any, ...]:
        return [], render_history([]), ""

    def upload(files: Any, replace: bool) -> tuple[Any, ...]:
        if not files:
            return gr.skip(), gr.skip(), gr.skip()
        try:
            saved, refused = svc.save_uploads(
                files if isinstance(files, list) else [files], replace=bool(replace)
            )
        except ReadOnlyError as e:
            return render_error(str(e)), None, gr.skip()
        return render_upload_result(saved, refused), None, documents_html(svc)

    def rebuild(progress: gr.Progress = gr.Progress()) -> tuple[str, str]:  # noqa: B008
        def cb(fraction: float, message: str) -> None:
            progress(max(0.0, min(1.0, fraction)), desc=message)

        progress(0.0, desc="starting the rebuild")
        summary = rebuild_html(svc, cb)
        return summary, documents_html(svc)

    def list_documents() -> str:
        return documents_html(svc)

    # uploaded files are copied into the corpus at once: drop gradio's copies after an hour
    with gr.Blocks(
        title="文档问答 / Document QA", analytics_enabled=False, delete_cache=(3600, 3600)
    ) as demo:
        mode = "" if svc.writable else " · 只读 / read-only"
        gr.HTML(
            "<h1 style='margin:0'>文档问答 / Ask the documents</h1>"
            f"<div class='qa-meta'>语料 / corpus: <code>{esc(settings.corpus_dir)}</code> · "
            f"索引 / index: <code>{esc(settings.index_dir)}</code>{mode}</div>",
            js_on_load=None,
        )
        gr.api(ask_api, api_name="ask")  # first, so that no UI event takes the name
        turns = gr.State([])
        with gr.Tabs():
            with gr.Tab("提问 / Ask", id="ask"):
                with gr.Row(equal_height=True):
                    question = gr.Textbox(
                        label="问题 / Question",
                        placeholder="例如 / e.g. 扫黑除恶成绩连续几年排名全省第一？ (Enter to ask)",
                        lines=1,
                        max_lines=4,
                        max_length=settings.max_question_chars,
                        scale=6,
                        autofocus=True,
                        elem_id="question",
                    )
                    ask_btn = gr.Button("提问 / Ask", variant="primary", scale=1, elem_id="ask")
                with gr.Row():
                    k = gr.Slider(
                        1,
                        SLIDER_MAX_K,
                        value=DEFAULT_K,
                        step=1,
                        label="显示段落数 / Passages to show",
                        scale=4,
                        elem_id="k",
                    )
                    clear_btn = gr.Button("清空记录 / Clear history", scale=1, size="sm")
                example_btns = []
                if examples:
                    with gr.Row(elem_id="examples"):
                        gr.HTML("<span class='qa-meta'>试试 / Try:</span>", js_on_load=None)
                        for ex in examples:
                            example_btns.append((ex, gr.Button(ex, size="sm", variant="secondary")))
                status = gr.HTML("", elem_id="status", js_on_load=None)
                history = gr.HTML(
                    render_history([]),
                    elem_id="history",
                    elem_classes=["qa-results"],
                    js_on_load=None,
                )
            with gr.Tab("文档 / Documents", id="docs") as docs_tab:
                docs = gr.HTML("", elem_id="documents", js_on_load=None)
                with gr.Row():
                    refresh_btn = gr.Button("刷新 / Refresh list", size="sm")
                if svc.writable:
                    gr.Markdown(
                        f"#### 添加文档 / Add documents\n{ext_list} files, at most "
                        f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB each. They are saved into the "
                        "corpus folder; press Rebuild to index them."
                    )
                    files = gr.File(
                        label="上传 / Upload",
                        height=150,
                        file_count="multiple",
                        file_types=list(settings.extensions),
                        type="filepath",
                        elem_id="upload",
                    )
                    replace = gr.Checkbox(
                        label="替换同名文件 / Replace existing files with the same name",
                        value=False,
                    )
                    upload_status = gr.HTML("", elem_id="upload-status", js_on_load=None)
                    rebuild_btn = gr.Button(
                        "重建索引 / Rebuild the index", variant="primary", elem_id="rebuild"
                    )
                    build_status = gr.HTML("", elem_id="build-status", js_on_load=None)
                else:
                    gr.HTML(
                        '<div class="qa-meta" id="read-only">只读 / This server is read-only: '
                        "documents cannot be added and the index cannot be rebuilt here.</div>",
                        js_on_load=None,
                    )

        ask_io: dict[str, Any] = {
            "fn": chat,
            "inputs": [question, k, turns],
            "outputs": [turns, history, status, question],
            "api_visibility": "undocumented",
            "show_progress_on": [history],
        }
        question.submit(api_name="chat", **ask_io)
        ask_btn.click(api_name="chat_button", **ask_io)
        for ex, btn in example_btns:
            btn.click(_constant(ex), None, question, api_visibility="private", queue=False).then(
                **ask_io
            )
        clear_btn.click(clear, None, [turns, history, status], api_visibility="private")
        if svc.writable:
            files.upload(
                upload,
                [files, replace],
                [upload_status, files, docs],
                api_visibility="undocumented",
                concurrency_limit=1,
                concurrency_id="corpus",
            )
            rebuild_btn.click(
                rebuild,
                None,
                [build_status, docs],
                api_visibility="undocumented",
                concurrency_limit=1,
                concurrency_id="corpus",
            )
        refresh_btn.click(list_documents, None, docs, api_visibility="private")
        # the listing compares the corpus with the index: only when looked at (and the
        # service re-reads the files only when their sizes or times changed)
        docs_tab.select(list_documents, None, docs, api_visibility="private")
    demo.qa_service = svc  # type: ignore[attr-defined]
    return demo
