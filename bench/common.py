"""Shared benchmark set-up: the CMRC 2018 trial paragraphs as a corpus (one file each) and a
reusable index of it under ``bench/.work/`` (incremental rebuilds make re-runs cheap)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cmrc import Paragraph, load_cmrc  # noqa: E402

from qa.index import BuildReport, build_index  # noqa: E402
from qa.settings import DEFAULTS, Settings  # noqa: E402

DATA = HERE / "data" / "cmrc2018" / "cmrc2018_trial.json"
WORK = HERE / ".work"
#: the reports of the builds this process ran (the benchmark reads the last one)
BUILD_REPORTS: list[BuildReport] = []


def doc_name(p: Paragraph) -> str:
    """The corpus file name of a paragraph."""
    return f"{p.id}.txt"


def write_corpus(paras: list[Paragraph], corpus: Path) -> None:
    """One UTF-8 file per paragraph."""
    corpus.mkdir(parents=True, exist_ok=True)
    for p in paras:
        f = corpus / doc_name(p)
        text = p.context + "\n"
        if not f.exists() or f.read_text(encoding="utf-8") != text:
            f.write_text(text, encoding="utf-8")


def cmrc_index(work: Path = WORK / "cmrc", limit: int = 0) -> tuple[list[Paragraph], Settings]:
    """The CMRC paragraphs and settings whose index (built or updated now) covers them all."""
    paras = load_cmrc(DATA)
    if limit:
        paras = paras[:limit]
    settings = dataclasses.replace(DEFAULTS, corpus_dir=work / "corpus", index_dir=work / "index")
    write_corpus(paras, settings.corpus_dir)
    report = build_index(settings.corpus_dir, settings.index_dir, settings=settings)
    BUILD_REPORTS.append(report)
    print(report.summary(), file=sys.stderr)
    return paras, settings


def write_results(results: dict, out: Path | str) -> None:
    """Print a benchmark's results as JSON and write them to ``out`` (folders made as needed)."""
    text = json.dumps(results, indent=1)
    print(text)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
