"""The same documents in every format: does the top passage still hold the answer?

The CMRC 2018 trial paragraphs (each under its article's title as a heading), eight to a
document, are written as .txt, as a web page with navigation, a related-links list, an advert and a footer
around the article (.html), as a Word file (.docx, python-docx), as a PDF printed by chromium
with its running header and footer (.pdf), and as a scanned copy of that PDF with no text layer
(.scan.pdf: pages rendered to grey images by pdftoppm, read back by OCR). Each format gets its
own index; every trial question is asked through ``Retriever.run`` (k=1) and counts when the top
passage holds the gold answer (whitespace ignored; and again with both sides NFKC-folded, so that
OCR's half-width "(1562年)" matches the source's "（1562年）"). Also: the build time per format and pages
per second for PDF text extraction and for OCR (from the build of that format alone).

    python bench/bench_formats.py [--limit N] [--formats txt,pdf,...] [--dpi 150]
        [--out bench/results/formats.json]

Needs chromium, poppler-utils and fonts-noto-cjk (as the tests do).
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import platform
import resource
import sys
import time
import unicodedata
from collections import OrderedDict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from cmrc import Paragraph, load_cmrc  # noqa: E402
from common import DATA, WORK, write_results  # noqa: E402
from documents import print_pdf, scan_pdf  # noqa: E402

from qa.index import build_index, load_index  # noqa: E402
from qa.search import Retriever  # noqa: E402
from qa.settings import DEFAULTS  # noqa: E402

FORMATS = ("txt", "html", "docx", "pdf", "scan.pdf")


def documents(paras: list[Paragraph], per_doc: int) -> OrderedDict[str, list[Paragraph]]:
    """The paragraphs in documents of ``per_doc``, in order, each named after its first."""
    out: OrderedDict[str, list[Paragraph]] = OrderedDict()
    for i in range(0, len(paras), per_doc):
        out[paras[i].title] = paras[i : i + per_doc]
    return out


def article_html(title: str, paras: list[Paragraph], chrome: bool) -> str:
    body = "".join(f"<h2>{html.escape(p.title)}</h2><p>{html.escape(p.context)}</p>" for p in paras)
    nav = aside = footer = ""
    if chrome:
        nav = (
            "<nav><a href='/'>首页</a> | <a href='/wiki'>百科</a> | <a href='/help'>帮助</a></nav>"
        )
        aside = (
            "<aside><h3>相关条目</h3><ul><li><a href='/x'>随机条目</a></li>"
            "<li><a href='/y'>最近更改</a></li></ul><div class='ad'>广告：夏季特惠</div></aside>"
        )
        footer = (
            "<footer>本页面最后修订于2018年。内容以知识共享署名-相同方式共享协议授权。</footer>"
        )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:'Noto Serif CJK SC',"
        "serif;font-size:13pt;line-height:1.6;margin:0 2em}p{text-indent:2em}</style></head>"
        f"<body>{nav}<article><h1>{html.escape(title)}</h1>{body}</article>{aside}{footer}"
        "</body></html>"
    )


def safe(title: str, i: int) -> str:
    return f"{i:03d}-" + "".join(c for c in title if c.isalnum())[:20]


def write_format(fmt: str, groups: OrderedDict[str, list[Paragraph]], corpus: Path, dpi: int):
    corpus.mkdir(parents=True, exist_ok=True)
    pdfs = WORK / "formats" / "pdf-corpus"
    for i, (title, paras) in enumerate(groups.items()):
        name = safe(title, i)
        out = corpus / f"{name}.{fmt}"
        if out.exists():
            continue
        if fmt == "txt":
            out.write_text("".join(f"{p.title}\n\n{p.context}\n\n" for p in paras))
        elif fmt == "html":
            out.write_text(article_html(title, paras, chrome=True), encoding="utf-8")
        elif fmt == "docx":
            import docx

            d = docx.Document()
            for p in paras:
                d.add_heading(p.title, level=1)
                d.add_paragraph(p.context)
            d.save(str(out))
        elif fmt == "pdf":
            print_pdf(article_html(title, paras, chrome=False), out)
        elif fmt == "scan.pdf":
            src = pdfs / f"{name}.pdf"
            if not src.exists():
                pdfs.mkdir(parents=True, exist_ok=True)
                print_pdf(article_html(title, paras, chrome=False), src)
            scan_pdf(src, out, dpi=dpi)


def squash(s: str) -> str:
    return "".join(s.split())


def folded(s: str) -> str:
    """``s`` without spaces, NFKC-folded: full-width and half-width forms alike (OCR reads
    "（1562年）" as "(1562年)", "50％" as "50%")."""
    return unicodedata.normalize("NFKC", squash(s))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="first N documents only")
    ap.add_argument("--per-doc", type=int, default=8, help="paragraphs per document")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--dpi", type=int, default=150, help="scan resolution")
    ap.add_argument("--out", default=str(HERE / "results" / "formats.json"))
    args = ap.parse_args()
    groups = documents(load_cmrc(DATA), args.per_doc)
    if args.limit:
        groups = OrderedDict(list(groups.items())[: args.limit])
    questions = [
        (q, p) for ps in groups.values() for p in ps for q in p.questions if q.question.strip()
    ]
    results: dict = {
        "machine": f"{platform.machine()}, {platform.processor() or ''} 2 cores",
        "documents": len(groups),
        "paragraphs_per_document": args.per_doc,
        "questions": len(questions),
        "scan_dpi": args.dpi,
        "formats": {},
    }
    for fmt in args.formats.split(","):
        work = WORK / "formats" / fmt.replace(".", "-")
        st = dataclasses.replace(DEFAULTS, corpus_dir=work / "corpus", index_dir=work / "index")
        t0 = time.perf_counter()
        write_format(fmt, groups, st.corpus_dir, args.dpi)
        made = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = build_index(st.corpus_dir, st.index_dir, settings=st, show_progress_bar=True)
        build_s = time.perf_counter() - t0
        print(report.summary(), file=sys.stderr)
        idx = load_index(st.index_dir)
        pages = sum(d.pages for d in idx.documents())
        r = Retriever(st.index_dir, st)
        hits = hits_folded = 0
        for q, _p in questions:
            top = r.run(q.question, k=1)
            text = top[0].text if top else ""
            hits += any(squash(a) in squash(text) for a in q.answers)
            hits_folded += any(folded(a) in folded(text) for a in q.answers)
        n = max(len(questions), 1)
        row = {
            "top_passage_holds_answer": round(hits / n, 4),
            "top_passage_holds_answer_nfkc": round(hits_folded / n, 4),
            "files": report.files_read,
            "skipped": [f"{s.path}: {s.reason}" for s in report.skipped],
            "chunks": report.chunks,
            "pages": pages,
            "ocr_pages": report.ocr_pages,
            "build_seconds": round(build_s, 1),
            "files_made_seconds": round(made, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        if report.files_reused:
            row["note"] = f"{report.files_reused} file(s) reused from an earlier build"
        print(fmt, row, file=sys.stderr)
        results["formats"][fmt] = row
    write_results(results, args.out)


if __name__ == "__main__":
    main()
