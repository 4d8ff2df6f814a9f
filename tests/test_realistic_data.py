"""The realistic question set of bench/data/realistic (issue #12): its answer labels are text of
the documents it names, and it holds the kinds of questions the issue asks for."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data" / "realistic"
DOCS = {p.name: p for p in [*(ROOT / "corpus").glob("*.txt"), *(DATA / "docs").glob("*.txt")]}


def rows() -> list[dict[str, object]]:
    with open(DATA / "questions.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_every_answer_label_is_text_of_its_document():
    texts = {name: p.read_text(encoding="utf-8") for name, p in DOCS.items()}
    for r in rows():
        if r["doc"] is None:
            assert r["answer"] == "unanswerable", r
        else:
            assert r["doc"] in texts, r
            assert r["answer"] in texts[r["doc"]], r


def test_the_set_has_what_the_issue_asks_for():
    data = rows()
    assert len(data) >= 150
    assert len({r["id"] for r in data}) == len(data)
    unanswerable = [r for r in data if r["doc"] is None]
    assert len(unanswerable) >= 60
    kinds = Counter(r["kind"] for r in unanswerable)
    assert kinds["near_miss"] and kinds["off_topic"] and kinds["english"]
    assert sum(bool(r["contradiction"]) for r in unanswerable) >= 20
    answerable = Counter(r["kind"] for r in data if r["doc"] is not None)
    assert {"reworded", "yesno", "why_how", "list", "keyword"} <= set(answerable)
    assert len({r["doc"] for r in data if r["doc"] is not None}) >= 3
