"""CMRC 2018 (SQuAD-format) loader and the official exact-match / F1 metric.

``load_cmrc(path)`` reads a SQuAD-style json (``{"data": [{"title", "paragraphs": [{"context",
"qas": [{"id", "question", "answers": [{"text", "answer_start"}]}]}]}]}``) into a flat list of
:class:`Paragraph` with their :class:`Question` s.

``cmrc_em`` and ``cmrc_f1`` re-implement ``cmrc2018_evaluate.py`` of the CMRC 2018 repository
(ymcui/cmrc2018):

* the text is lower-cased and stripped;
* ``mixed_segmentation``: every Chinese character (U+4E00..U+9FA5) and every punctuation mark of
  the official list is a token of its own; runs of anything else are tokenised like English
  (the official script calls ``nltk.word_tokenize``; here a regex that splits words from
  punctuation stands in for it, which gives the same tokens on ordinary text);
* for F1 the punctuation of the official list is removed, and the overlap is the longest common
  *substring* of the two token lists (``find_lcs``), not a bag-of-tokens overlap;
  precision = lcs / len(prediction), recall = lcs / len(answer);
* EM compares the two strings after removing that punctuation;
* both take the maximum over the gold answers.

Note that the official punctuation list contains ``"……"`` (two characters), which never equals
a single character, so a lone ``…`` is kept as in the official script.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

#: The punctuation list of the official script (``sp_char``), kept verbatim.
SP_CHAR = frozenset(
    [
        "-",
        ":",
        "_",
        "*",
        "^",
        "/",
        "\\",
        "~",
        "`",
        "+",
        "=",
        "，",
        "。",
        "：",
        "？",
        "！",
        "“",
        "”",
        "；",
        "’",
        "《",
        "》",
        "……",
        "·",
        "、",
        "「",
        "」",
        "（",
        "）",
        "－",
        "～",
        "『",
        "』",
    ]
)

_ZH_RE = re.compile(r"[\u4e00-\u9fa5]")
# stand-in for nltk.word_tokenize: words (with inner apostrophes/dots of numbers) or single marks
_EN_TOKEN_RE = re.compile(r"\w+(?:[.,']\w+)*|[^\w\s]")


@dataclass
class Question:
    """One question with its gold answers (texts and start offsets in the paragraph)."""

    id: str
    question: str
    answers: list[str]
    starts: list[int]


@dataclass
class Paragraph:
    """One context paragraph of an article, with the questions asked about it."""

    id: str
    title: str
    context: str
    questions: list[Question] = field(default_factory=list)


def load_cmrc(path: str | Path) -> list[Paragraph]:
    """Read a SQuAD/CMRC-format json file into paragraphs with their questions."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    out: list[Paragraph] = []
    for art in data["data"]:
        title = art.get("title", "")
        for k, par in enumerate(art["paragraphs"]):
            pid = par.get("id") or f"{art.get('id', title)}_{k}"
            p = Paragraph(id=str(pid), title=title, context=par["context"])
            for qa in par["qas"]:
                answers = [a["text"] for a in qa.get("answers", [])]
                starts = [int(a.get("answer_start", -1)) for a in qa.get("answers", [])]
                p.questions.append(Question(str(qa["id"]), qa["question"], answers, starts))
            out.append(p)
    return out


def mixed_segmentation(text: str, rm_punc: bool = False) -> list[str]:
    """Chinese characters one by one, other runs tokenised like English (official behaviour)."""
    text = str(text).lower().strip()
    segs: list[str] = []
    buf = ""
    for ch in text:
        if rm_punc and ch in SP_CHAR:
            continue
        if _ZH_RE.match(ch) or ch in SP_CHAR:
            if buf:
                segs.extend(_EN_TOKEN_RE.findall(buf))
                buf = ""
            segs.append(ch)
        else:
            buf += ch
    if buf:
        segs.extend(_EN_TOKEN_RE.findall(buf))
    return segs


def remove_punctuation(text: str) -> str:
    """Lower-case, strip and drop the official punctuation marks."""
    return "".join(ch for ch in str(text).lower().strip() if ch not in SP_CHAR)


def _lcs_len(a: list[str], b: list[str]) -> int:
    """Length of the longest common contiguous run of tokens (official ``find_lcs``)."""
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                cur[j + 1] = prev[j] + 1
                if cur[j + 1] > best:
                    best = cur[j + 1]
        prev = cur
    return best


def cmrc_f1(pred: str | None, answers: list[str]) -> float:
    """Official CMRC 2018 F1 (0..1) of ``pred`` against the gold ``answers`` (max over them)."""
    if not answers:
        return 0.0
    pred_segs = mixed_segmentation(pred or "", rm_punc=True)
    best = 0.0
    for ans in answers:
        ans_segs = mixed_segmentation(ans, rm_punc=True)
        lcs = _lcs_len(ans_segs, pred_segs)
        if lcs == 0:
            continue
        p = lcs / len(pred_segs)
        r = lcs / len(ans_segs)
        best = max(best, 2 * p * r / (p + r))
    return best


def cmrc_em(pred: str | None, answers: list[str]) -> float:
    """Official CMRC 2018 exact match (0 or 1) after removing punctuation."""
    p = remove_punctuation(pred or "")
    return float(any(remove_punctuation(a) == p for a in answers))
