"""OCR of scanned PDF pages (``qa.formats.ocr.ocr_pdf_page``): speed, accuracy and memory.

The default corpus's report is printed to a 6-page PDF by chromium and "scanned" by pdftoppm
at 150 and 300 dpi into image-only PDFs (tests/documents.py; kept under bench/.work/ocr/).
Each configuration then runs in a fresh subprocess (so that peak RSS and the engine's threads
are its own) and reads every page as qa does: ``ocr_pdf_page``, running headers and footers
dropped (``iter_without_margins``), ``page_text``. Reported per configuration:

* ``pages_s``: pages per second of ``ocr_pdf_page`` (wall clock; the engine is loaded and
  warmed up first), and ``cpu_s_page``: CPU seconds per page (all threads), which other load
  on the machine disturbs less;
* ``cer``: character error rate of the document's text against the source text
  (tests/documents.py ``REPORT_TXT``), whitespace removed: Levenshtein distance / reference
  length (the running headers, footers and chromium's date line count as errors if kept);
* ``rss_mb``: peak resident set size of the subprocess.

Configurations: each scan at each ``--dpis`` with the module's defaults (threads, angle
classifier), then at ``OCR_DPI`` every combination of ``--threads`` and angle classifier on/off.

    python bench/bench_ocr.py                       # both scans, dpi 100 120 150 200
    python bench/bench_ocr.py --scans 300 --dpis 150 --threads 1 2
    python bench/bench_ocr.py --scans 300 --font-pt 9 --threads 1   # small print

Results: a table on stderr, JSON on stdout and in bench/results/ocr.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work" / "ocr"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def scans(dpis: list[int], font_pt: int = 14) -> dict[int, Path]:
    """The report printed by chromium (body text ``font_pt``; the report's own style is 14 pt)
    and scanned at each of ``dpis`` (made once, kept)."""
    from documents import print_pdf, report_html, scan_pdf

    WORK.mkdir(parents=True, exist_ok=True)
    tag = "" if font_pt == 14 else f"-{font_pt}pt"
    printed = WORK / f"report{tag}.pdf"
    if not printed.exists():
        page = report_html().replace("font-size:14pt", f"font-size:{font_pt}pt")
        print_pdf(page, printed)
    out = {}
    for dpi in dpis:
        out[dpi] = WORK / f"scan{dpi}{tag}.pdf"
        if not out[dpi].exists():
            scan_pdf(printed, out[dpi], dpi)
    return out


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one numpy row at a time: the insertion chain along a row is a
    running minimum of ``cost[k] - k`` (``cur[j] = j + min_{k<=j}(tmp[k] - k)``)."""
    import numpy as np

    if not a or not b:
        return max(len(a), len(b))
    bs = np.array([ord(c) for c in b])
    idx = np.arange(len(b) + 1)
    prev = idx.copy()
    for i, ca in enumerate(a, 1):
        tmp = np.empty_like(prev)
        tmp[0] = i
        tmp[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (bs != ord(ca)))
        prev = np.minimum.accumulate(tmp - idx) + idx
    return int(prev[-1])


def cer(hyp: str, ref: str) -> float:
    """Character error rate with all whitespace removed."""
    h, r = re.sub(r"\s", "", hyp), re.sub(r"\s", "", ref)
    return edit_distance(h, r) / len(r)


def run_one(pdf: Path, dpi: int, threads: int, cls: bool) -> dict:
    """One configuration, in this process (the subprocess side)."""
    import pypdfium2 as pdfium
    from documents import REPORT_TXT

    from qa.formats import ocr
    from qa.formats.layout import iter_without_margins, page_text

    ocr.OCR_DPI = dpi
    ocr.USE_ANGLE_CLASSIFIER = cls
    ocr._engine = ocr._create_engine(threads, cls)
    _warm_up()
    doc = pdfium.PdfDocument(pdf)
    pages, wall, cpu = [], 0.0, 0.0
    for i in range(len(doc)):
        page = doc[i]
        t, c = time.perf_counter(), time.process_time()
        lines = ocr.ocr_pdf_page(page)
        wall += time.perf_counter() - t
        cpu += time.process_time() - c
        pages.append((lines, page.get_size()[1]))
        page.close()
    text = "\n\n".join(page_text(ls) for ls in iter_without_margins(pages, len(pages)))
    ref = REPORT_TXT.read_text(encoding="utf-8")
    return {
        "scan": pdf.stem,
        "dpi": dpi,
        "threads": threads,
        "cls": cls,
        "pages": len(pages),
        "pages_s": round(len(pages) / wall, 3),
        "cpu_s_page": round(cpu / len(pages), 2),
        "cer": round(cer(text, ref), 4),
        "chars": len(re.sub(r"\s", "", text)),
        "ref_chars": len(re.sub(r"\s", "", ref)),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _warm_up() -> None:
    """Load the engine's models (RapidOCR loads them on first use) on a small picture."""
    from PIL import Image, ImageDraw, ImageFont

    from qa.formats import ocr

    img = Image.new("L", (320, 64), 255)
    ImageDraw.Draw(img).text((10, 10), "Warm up 123", fill=0, font=ImageFont.load_default(32))
    ocr.ocr_lines(img)


def configurations(args: argparse.Namespace, pdfs: dict[int, Path]) -> list[tuple]:
    from qa.formats import ocr

    runs = [
        (pdfs[s], d, ocr.OCR_THREADS, ocr.USE_ANGLE_CLASSIFIER)
        for s in args.scans
        for d in args.dpis
    ]
    for s in args.scans:
        for t in args.threads:
            for c in (True, False):
                run = (pdfs[s], ocr.OCR_DPI, t, c)
                if run not in runs:
                    runs.append(run)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scans", type=int, nargs="+", default=[150, 300], help="scan dpis")
    ap.add_argument("--dpis", type=int, nargs="+", default=[100, 120, 150, 200])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--font-pt", type=int, default=14, help="body text size of the printed report")
    ap.add_argument("--out", default=str(HERE / "results" / "ocr.json"))
    ap.add_argument("--one", help=argparse.SUPPRESS)  # subprocess: a JSON configuration
    args = ap.parse_args()
    if args.one:
        conf = json.loads(args.one)
        print(json.dumps(run_one(Path(conf["pdf"]), conf["dpi"], conf["threads"], conf["cls"])))
        return

    pdfs = scans(args.scans, args.font_pt)
    rows = []
    for pdf, dpi, threads, cls in configurations(args, pdfs):
        conf = json.dumps({"pdf": str(pdf), "dpi": dpi, "threads": threads, "cls": cls})
        load = os.getloadavg()[0]
        out = subprocess.run(
            [sys.executable, __file__, "--one", conf], capture_output=True, text=True, check=True
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["load_before"] = round(load, 2)
        rows.append(row)
        print(_format(row), file=sys.stderr, flush=True)

    from common import write_results

    write_results({"runs": rows, "cpus": os.cpu_count()}, args.out)


def _format(r: dict) -> str:
    return (
        f"{r['scan']:12} dpi {r['dpi']:3}  threads {r['threads']}  cls {'on ' if r['cls'] else 'off'}"
        f"  {r['pages_s']:.3f} pages/s  {r['cpu_s_page']:5.2f} cpu-s/page  CER {r['cer']:.4f}"
        f"  ({r['chars']}/{r['ref_chars']} chars)  RSS {r['rss_mb']} MB  (load {r['load_before']})"
    )


if __name__ == "__main__":
    main()
