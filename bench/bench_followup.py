"""Follow-up questions in a conversation: does ``contextualize`` (prefix a follow-up with the
previous question) help, and how often does the rule fire on a question that is not one?

Chinese: on CMRC 2018, every question that names its article's title gets a follow-up version
with the title replaced by 它 (it); the previous question is another question about the same
paragraph. Reported: recall@1 of the original question, of the pronoun question alone, and of
the pronoun question through ``contextualize``; and, for the original questions asked after a
question about another article, how often the rule fires and recall@1 with it.

English, with the rule of ``qa.search.is_followup`` and, in the same run, the rule it replaced
(:data:`OLD_EN`):

* false fires: the 1,000 English CMRC questions (``bench/data/cmrc2018/questions_en.jsonl``),
  ordinary self-contained questions, each asked after an English question about another
  article; recall@1 with and without that history;
* true fires: English follow-ups written by hand (``bench/data/followups/``): one set the rule
  was fixed against, one written after it was fixed and never used to change it;
* retrieval: English CMRC questions whose subject is a name right after the question word and
  auxiliary ("When did Zhan Xugang end …") with the name replaced by "it", asked alone and read
  with another English question about the same paragraph.

Top documents come from ``Retriever.rank`` (the order ``Retriever.run`` returns, without the
highlighting).

    python bench/bench_followup.py [--out bench/results/followup.json]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_english import load_english
from common import cmrc_index, doc_name, write_results

from qa.search import Retriever, clean_question, contextualize, is_followup

HERE = Path(__file__).resolve().parent
FOLLOWUPS = HERE / "data" / "followups"
#: The English rule before issue #12: any of these pronouns anywhere in the question.
OLD_EN = re.compile(
    r"^(and|also|what about|how about)\b|\b(it|its|they|their|them|he|she|his|her|"
    r"this|that|these|those)\b",
    re.IGNORECASE,
)
#: "When did Zhan Xugang end …": a question word, an auxiliary, then a capitalised name.
_NAMED_SUBJECT = re.compile(
    r"^((?:When|Where|Why|How|What|Which \w+|Who)\s+(?:did|was|is|does|were|has|had)\s+)"
    r"((?:the\s+)?(?:[A-Z][\w.-]*\s+)+)(?=[a-z])"
)


def old_contextualize(question: str, previous: list[str]) -> str:
    """``contextualize`` with the English rule before issue #12."""
    if previous and OLD_EN.search(question.strip()):
        return f"{previous[-1].strip()} {question.strip()}"
    return question


def read_lines(path: Path) -> list[str]:
    return [
        ln.strip()
        for ln in path.read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench/results/followup.json")
    args = ap.parse_args()
    paras, settings = cmrc_index()
    r = Retriever(settings.index_dir, settings)
    r.warm_up()
    cache: dict[str, str] = {}

    def top_doc(q: str) -> str:
        if q not in cache:
            f = r.rank(clean_question(q, settings))
            cache[q] = r.index.chunks[int(f.ids[0])].doc
        return cache[q]

    res: dict[str, object] = {}
    # Chinese
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
            orig += top_doc(q) == gold
            alone += top_doc(pron) == gold
            ctx += top_doc(contextualize(pron, [prev])) == gold
    rng = random.Random(0)
    allq = [(q.question, doc_name(p)) for p in paras for q in p.questions if q.question.strip()]
    fired = kept = plain = 0
    for q, gold in allq:
        prev, pdoc = rng.choice(allq)
        while pdoc == gold:
            prev, pdoc = rng.choice(allq)
        fired += is_followup(q)
        plain += top_doc(q) == gold
        kept += top_doc(contextualize(q, [prev])) == gold
    res["zh"] = {
        "followups": n,
        "recall@1_original": orig / n,
        "recall@1_pronoun_alone": alone / n,
        "recall@1_pronoun_contextualized": ctx / n,
        "questions": len(allq),
        "rule_fires_on_non_followups": fired / len(allq),
        "recall@1_no_history": plain / len(allq),
        "recall@1_after_unrelated_question": kept / len(allq),
    }
    print("zh", res["zh"], file=sys.stderr)

    # English: false fires on ordinary questions, and what they cost
    english = load_english()
    en = [
        (english[q.id], doc_name(p), p.id)
        for p in paras
        for q in p.questions
        if q.question.strip() and q.id in english
    ]
    rng = random.Random(0)
    new_fired = old_fired = new_kept = old_kept = plain = 0
    fired_examples = []
    for q, gold, _ in en:
        prev, pdoc, _ = rng.choice(en)
        while pdoc == gold:
            prev, pdoc, _ = rng.choice(en)
        new_fired += is_followup(q)
        old_fired += bool(OLD_EN.search(q))
        if is_followup(q):
            fired_examples.append(q)
        plain += top_doc(q) == gold
        new_kept += top_doc(contextualize(q, [prev])) == gold
        old_kept += top_doc(old_contextualize(q, [prev])) == gold
    m = len(en)
    fires = {}
    for name in ("followups_en.txt", "followups_en_heldout.txt"):
        qs = read_lines(FOLLOWUPS / name)
        fires[name] = {
            "questions": len(qs),
            "fires_new_rule": sum(map(is_followup, qs)) / len(qs),
            "fires_old_rule": sum(bool(OLD_EN.search(q)) for q in qs) / len(qs),
            "missed_new_rule": [q for q in qs if not is_followup(q)],
        }
    # English: retrieval of pronoun follow-ups made from named-subject questions
    by_para: dict[str, list[str]] = {}
    for q, _, pid in en:
        by_para.setdefault(pid, []).append(q)
    k = orig = alone = new_ctx = old_ctx = pron_fired = 0
    for q, gold, pid in en:
        mt = _NAMED_SUBJECT.match(q)
        others = [x for x in by_para[pid] if x != q]
        if not mt or not others:
            continue
        pron = mt.group(1) + "it " + q[mt.end() :]
        k += 1
        pron_fired += is_followup(pron)
        orig += top_doc(q) == gold
        alone += top_doc(pron) == gold
        new_ctx += top_doc(contextualize(pron, [others[0]])) == gold
        old_ctx += top_doc(old_contextualize(pron, [others[0]])) == gold
    res["en"] = {
        "questions": m,
        "rule_fires_on_non_followups": new_fired / m,
        "old_rule_fires_on_non_followups": old_fired / m,
        "fired_on": fired_examples,
        "recall@1_no_history": plain / m,
        "recall@1_after_unrelated_question": new_kept / m,
        "recall@1_after_unrelated_question_old_rule": old_kept / m,
        "handwritten_followups": fires,
        "pronoun_followups": k,
        "pronoun_followups_fired": pron_fired / max(k, 1),
        "recall@1_original": orig / max(k, 1),
        "recall@1_pronoun_alone": alone / max(k, 1),
        "recall@1_pronoun_contextualized": new_ctx / max(k, 1),
        "recall@1_pronoun_contextualized_old_rule": old_ctx / max(k, 1),
    }
    write_results(res, args.out)


if __name__ == "__main__":
    main()
