"""Follow-up questions in a conversation: does ``contextualize`` (prefix a follow-up with the
previous question) help, and what does it cost when it fires on a question that is not one?

On CMRC 2018, every question that names its article's title gets a follow-up version with the
title replaced by 它 (it); the previous question is another question about the same paragraph.
Reported: recall@1 of the original question, of the pronoun question alone, and of the pronoun
question through ``contextualize``; and, for the original questions asked after a question
about another article, how often the rule fires and recall@1 with it.

    python bench/bench_followup.py
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cmrc_index, doc_name

from qa.search import Retriever, contextualize, is_followup


def top_doc(r: Retriever, q: str) -> str:
    return r.run(q, 1)[0].doc


def main() -> None:
    paras, settings = cmrc_index()
    r = Retriever(settings.index_dir, settings)
    r.warm_up()
    n = orig = alone = ctx = 0
    for p in paras:
        qs = [q.question for q in p.questions if q.question.strip()]
        title = p.title.strip()
        if len(title) < 2:
            continue
        for q in qs:
            if title not in q:
                continue
            others = [x for x in qs if x != q and title in x]
            if not others:
                continue
            prev = others[0]
            pron = q.replace(title, "它", 1)
            gold = doc_name(p)
            n += 1
            orig += top_doc(r, q) == gold
            alone += top_doc(r, pron) == gold
            ctx += top_doc(r, contextualize(pron, [prev])) == gold
    rng = random.Random(0)
    allq = [(q.question, doc_name(p)) for p in paras for q in p.questions if q.question.strip()]
    fired = kept = 0
    for q, gold in allq:
        prev, pdoc = rng.choice(allq)
        while pdoc == gold:
            prev, pdoc = rng.choice(allq)
        fired += is_followup(q)
        kept += top_doc(r, contextualize(q, [prev])) == gold
    res = {
        "followups": n,
        "recall@1_original": orig / n,
        "recall@1_pronoun_alone": alone / n,
        "recall@1_pronoun_contextualized": ctx / n,
        "questions": len(allq),
        "rule_fires_on_non_followups": fired / len(allq),
        "recall@1_after_unrelated_question": kept / len(allq),
    }
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
