"""PDF text extraction: qa's reader (``qa.formats.pdf.read_pdf``: pypdfium2 + layout + margins)
against the plain text of pypdfium2, pdfplumber and pypdf, on PDFs printed by chromium.

Two PDFs, made once under ``bench/results/pdf/`` (re-made when their HTML changes):

* ``report.pdf``: the default corpus's Chinese report (tests/documents.py), 6 pages with
  chromium's header (date, title) and footer (file URL, "n/6");
* ``cmrc.pdf``: the 256 CMRC 2018 trial paragraphs, each under its title, ~300 pages.

Each (method, PDF) runs in a fresh subprocess that reports the wall time and its peak RSS
(VmHWM; ``resource.getrusage`` where there is no /proc); the text it extracted is scored against the source text:

* ``pages_s``: pages per second (median of ``--repeat`` runs);
* ``char_f1``: F1 of the character-trigram multisets of source and extracted text, whitespace
  removed (missing text, junk such as headers, scrambled order all cost);
* ``similarity`` (report only: quadratic): difflib's ratio of the two, whitespace removed;
* ``paras_exact``: share of source paragraphs found verbatim (whitespace removed) in the
  extracted text: lines in order, joined without loss, no header inside;
* ``in_order``: share of source paragraphs whose first 12 characters are found after those of
  the paragraph before (reading order; both texts NFKC-folded, see ``radicals``);
* ``cjk_spaces``: spaces inside a line between two CJK characters, beyond the source's;
* ``radicals``: CJK radical code points (U+2E80-U+2FDF) in the text (pdfminer and pypdf give
  "⼴" U+2F34 for "广" with chromium's fonts), and ``paras_nfkc``: ``paras_exact`` once NFKC
  has folded them back.

``qa x3`` reads the long PDF three times in one process: its RSS after the first and the
third read shows whether memory grows with use (leaks).

    python bench/bench_pdf_extract.py [--repeat 3] [--skip-slow] [--out bench/results/pdf_extract.json]
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import html
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

RESULTS = HERE / "results"
PDF_DIR = RESULTS / "pdf"
METHODS = ("qa.read_pdf", "pypdfium2", "pdfplumber", "pypdf")
_CJK = r"[\u4e00-\u9fff]"


# ----------------------------------------------------------------------------- documents


def cmrc_source() -> list[str]:
    """The CMRC paragraphs as (title, context, title, context, ...)."""
    from cmrc import load_cmrc

    out = []
    for p in load_cmrc(HERE / "data" / "cmrc2018" / "cmrc2018_trial.json"):
        out += [p.title, p.context]
    return out


def cmrc_html(source: list[str]) -> str:
    body = "".join(
        f"<h2>{html.escape(t)}</h2><p>{html.escape(c)}</p>"
        for t, c in zip(source[::2], source[1::2], strict=True)
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>CMRC 2018 trial</title>"
        "<style>body{font-family:'Noto Serif CJK SC',serif;font-size:19pt;line-height:1.8;"
        "margin:0 3em}p{margin:0 0 0.8em;text-indent:2em}h2{font-size:20pt}</style></head>"
        f"<body>{body}</body></html>"
    )


def documents() -> dict[str, tuple[Path, list[str]]]:
    """``name: (pdf, source paragraphs)``, the PDFs printed if missing or stale."""
    from documents import REPORT_TITLE, print_pdf, report_blocks, report_html

    report = [REPORT_TITLE] + [t for _, t in report_blocks()]
    cmrc = cmrc_source()
    docs = {"report": (report_html(), report), "cmrc": (cmrc_html(cmrc), cmrc)}
    out = {}
    PDF_DIR.mkdir(parents=True, exist_ok=True)
    for name, (page, source) in docs.items():
        pdf, stamp = PDF_DIR / f"{name}.pdf", PDF_DIR / f"{name}.sha256"
        digest = hashlib.sha256(page.encode()).hexdigest()
        if not pdf.exists() or not stamp.exists() or stamp.read_text() != digest:
            print(f"printing {pdf} with chromium...", file=sys.stderr)
            print_pdf(page, pdf)
            stamp.write_text(digest)
        out[name] = (pdf, source)
    return out


# ----------------------------------------------------------------------------- workers


def extract(method: str, pdf: Path) -> tuple[list[str], float]:
    """The text of each page by ``method``, and the seconds it took."""
    start = time.perf_counter()
    if method == "qa.read_pdf":
        from qa.formats.pdf import read_pdf

        pages = list(read_pdf(pdf).pages)
    elif method == "pypdfium2":
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(pdf)
        pages = []
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        doc.close()
    elif method == "pdfplumber":
        import pdfplumber

        with pdfplumber.open(pdf) as doc:
            pages = []
            for page in doc.pages:
                pages.append(page.extract_text() or "")
                page.close()  # drops the page's cached objects
    elif method == "pypdf":
        import pypdf

        pages = [p.extract_text() for p in pypdf.PdfReader(pdf).pages]
    else:
        raise ValueError(method)
    return pages, time.perf_counter() - start


def rss_mb() -> float:
    """Peak RSS of this process so far, MB: VmHWM (Linux), else ``getrusage``'s ru_maxrss,
    which on Linux also counts the parent's RSS at fork time (it survives exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(method: str, pdf: Path, out: Path, passes: int) -> None:
    """One measurement in this fresh process: JSON on stdout, the text in ``out``."""
    import pypdfium2  # noqa: F401  (imports are not what is measured)

    if method == "qa.read_pdf":
        import qa.formats.pdf  # noqa: F401
    base = rss_mb()
    peaks, seconds = [], []
    for _ in range(passes):
        pages, dt = extract(method, pdf)
        seconds.append(dt)
        peaks.append(rss_mb())
    out.write_text("\f".join(pages), encoding="utf-8")
    print(json.dumps({"seconds": seconds, "pages": len(pages), "rss_base": base, "rss": peaks}))


def run_worker(method: str, pdf: Path, passes: int = 1) -> dict:
    out = RESULTS / "pdf" / f"{pdf.stem}.{method}.txt"
    cmd = [sys.executable, __file__, "--worker", method, str(pdf), str(out), str(passes)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["text"] = out.read_text(encoding="utf-8").split("\f")
    return result


# ----------------------------------------------------------------------------- scores


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def trigram_f1(source: str, got: str) -> float:
    a = Counter(source[i : i + 3] for i in range(len(source) - 2))
    b = Counter(got[i : i + 3] for i in range(len(got) - 2))
    common = sum((a & b).values())
    if not common:
        return 0.0
    p, r = common / sum(b.values()), common / sum(a.values())
    return 2 * p * r / (p + r)


def cjk_spaces(text: str) -> int:
    return len(re.findall(f"{_CJK}[ \u3000]+{_CJK}", text))


def in_order(source: list[str], got: str) -> float:
    """Share of ``source`` paragraphs whose first 12 characters follow the previous one's."""
    at = found = 0
    for para in source:
        where = got.find(para[:12], at)
        if where >= 0:
            found += 1
            at = where
    return found / len(source)


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def scores(source: list[str], pages: list[str], quadratic: bool) -> dict:
    """The quality scores of ``pages`` against ``source`` (module docstring)."""
    src = flat("".join(source))
    got = flat("".join(pages))
    paras = [flat(p) for p in source]
    # pdfminer (pdfplumber) and pypdf map some glyphs of chromium's CJK fonts to Kangxi
    # radicals ("⼴" U+2F34 for "广"): NFKC folds them back (both sides: it also folds "，")
    folded_paras = [nfkc(p) for p in paras]
    folded = nfkc(got)
    result = {
        "char_f1": round(trigram_f1(src, got), 4),
        "paras_exact": round(sum(p in got for p in paras) / len(paras), 4),
        "paras_nfkc": round(sum(p in folded for p in folded_paras) / len(paras), 4),
        "in_order": round(in_order(folded_paras, folded), 4),
        "radicals": len(re.findall(r"[\u2e80-\u2fdf]", got)),
        "cjk_spaces": cjk_spaces("\n".join(pages)) - cjk_spaces("\n".join(source)),
    }
    if quadratic:
        matcher = difflib.SequenceMatcher(None, src, got, autojunk=False)
        result["similarity"] = round(matcher.ratio(), 4)
    return result


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per fast case (median)")
    parser.add_argument("--skip-slow", action="store_true", help="no pdfplumber on cmrc.pdf")
    parser.add_argument("--out", type=Path, default=RESULTS / "pdf_extract.json")
    args = parser.parse_args()

    results: dict = {"load_average": os.getloadavg(), "cases": []}
    rows = []
    for name, (pdf, source) in documents().items():
        for method in METHODS:
            if args.skip_slow and method == "pdfplumber" and name == "cmrc":
                continue
            slow = method == "pdfplumber" or name == "cmrc"
            runs = [run_worker(method, pdf) for _ in range(1 if slow else args.repeat)]
            seconds = statistics.median(r["seconds"][0] for r in runs)
            case = {
                "pdf": name,
                "method": method,
                "pages": runs[0]["pages"],
                "seconds": round(seconds, 3),
                "pages_s": round(runs[0]["pages"] / seconds, 1),
                "rss_mb": round(max(r["rss"][0] for r in runs), 1),
                "rss_base_mb": round(runs[0]["rss_base"], 1),
                **scores(source, runs[0]["text"], quadratic=name == "report"),
            }
            results["cases"].append(case)
            rows.append(case)
            print(f"{name} {method}: {case}", file=sys.stderr)
        if name == "cmrc":
            three = run_worker("qa.read_pdf", pdf, passes=3)
            results["qa_x3"] = {
                "pdf": name,
                "seconds": [round(s, 3) for s in three["seconds"]],
                "rss_base_mb": round(three["rss_base"], 1),
                "rss_after_each_mb": [round(r, 1) for r in three["rss"]],
                "text_chars": sum(len(p) for p in three["text"]),
            }

    head = f"{'pdf':7} {'method':12} {'pages':>5} {'pages/s':>8} {'RSS MB':>7} {'char F1':>8}"
    head += f" {'paras':>6} {'nfkc':>6} {'order':>6} {'radic':>6} {'cjk sp':>6} {'simil':>6}"
    print(head)
    for c in rows:
        print(
            f"{c['pdf']:7} {c['method']:12} {c['pages']:5} {c['pages_s']:8.1f} {c['rss_mb']:7.1f}"
            f" {c['char_f1']:8.4f} {c['paras_exact']:6.3f} {c['paras_nfkc']:6.3f}"
            f" {c['in_order']:6.3f} {c['radicals']:6} {c['cjk_spaces']:6}"
            f" {c.get('similarity', float('nan')):6.3f}"
        )
    if "qa_x3" in results:
        x3 = results["qa_x3"]
        print(
            f"qa.read_pdf x3 on cmrc.pdf: RSS base {x3['rss_base_mb']} MB, after each read "
            f"{x3['rss_after_each_mb']} MB, seconds {x3['seconds']}"
        )
    from common import write_results

    write_results(results, args.out)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
