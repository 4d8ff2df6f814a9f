"""Tests of the highlighter (qa/highlight.py): spans, question words, answer types, answers
in Chinese (simplified and traditional) and English, odd inputs, and a floor on the CMRC 2018
trial set."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa import highlight as hl
from qa.highlight import Highlight, answer_type, highlight, question_terms
from qa.text import split_sentences

ROOT = Path(__file__).resolve().parents[1]
CMRC = ROOT / "bench" / "data" / "cmrc2018" / "cmrc2018_trial.json"

pytestmark = pytest.mark.unit


def first(h: Highlight, text: str) -> str:
    s, e = h.spans[0]
    return text[s:e]


def answer(h: Highlight, text: str) -> str | None:
    return text[h.answer[0] : h.answer[1]] if h.answer else None


def check_invariants(h: Highlight, text: str) -> None:
    # the first highlight is a run of adjacent sentences (the block), then every other sentence
    sents = split_sentences(text)
    if not sents:
        assert h.spans == [] and h.scores == [] and h.answer is None
        return
    s0, e0 = h.spans[0]
    inside = [sp for sp in sents if s0 <= sp[0] and sp[1] <= e0]
    assert inside and inside[0][0] == s0 and inside[-1][1] == e0
    assert len(inside) <= hl.BLOCK_MAX
    assert sorted(h.spans[1:]) == [sp for sp in sents if sp not in inside]
    assert len(h.scores) == len(h.spans)
    assert all(0.0 <= p <= 1.0 for p in h.scores)
    assert h.scores == sorted(h.scores, reverse=True)
    if h.answer is not None:
        s, e = h.spans[0]
        assert s <= h.answer[0] < h.answer[1] <= e


# --------------------------------------------------------------------------------------------
# question words and answer types

ZH_TEXT = (
    "长城是中国古代的军事防御工程。"
    "它始建于春秋战国时期，秦始皇统一中国后把各国的长城连接起来。"
    "明长城东起鸭绿江，西至嘉峪关，全长约8851公里。"
    "1987年，长城被列入世界文化遗产名录。"
    "山海关位于河北省秦皇岛市，被称为天下第一关。"
)


@pytest.mark.parametrize(
    "question, expected",
    [
        ("长城全长多少公里？", "number"),
        ("这座山有多高？", "number"),
        ("长城是哪一年被列入世界文化遗产的？", "time"),
        ("长城是什么时候开始修建的？", "time"),
        ("谁统一了中国？", "person"),
        ("山海关位于哪里？", "place"),
        ("他毕业于哪所大学？", "org"),
        ("为什么要修建长城？", "reason"),
        ("这种鱼被称为什么？", "other"),  # 称为+什么, not 为什么
        ("长城是什么？", "other"),
        ("How long is the Great Wall?", "number"),
        ("How many people live in Paris?", "number"),
        ("When was the telephone invented?", "time"),
        ("In which year did the war end?", "time"),
        ("Who invented the telephone?", "person"),
        ("Where is the Eiffel Tower?", "place"),
        ("Which company makes the iPhone?", "org"),
        ("Why is the sky blue?", "reason"),
        ("What is the capital of France?", "other"),
        ("長城是哪一年被列入世界文化遺產的？", "time"),
        ("誰統一了中國？", "person"),
        ("", "other"),
    ],
)
def test_answer_type(question: str, expected: str) -> None:
    assert answer_type(question) == expected


def test_question_words_carry_no_evidence() -> None:
    for q in ["什么是什么？", "哪里？", "谁是谁？", "为什么呢？", "多少？", "是否吗？"]:
        assert question_terms(q) == [], q
    assert question_terms("What is it? Who? Where? How many?") == []
    terms = question_terms("长城全长多少公里？")
    assert "长城" in terms and "公里" in terms and "多少" not in terms
    en = question_terms("Who invented the telephone?")
    assert en == ["invented", "telephone"]
    # 多高: 多 asks, 高 (height) is evidence
    assert "高" in question_terms("这座山有多高？")


def test_question_words_do_not_move_the_highlight() -> None:
    """A sentence full of question words must not beat the sentence with the content."""
    text = "什么是什么，谁知道为什么呢？哪里有多少？玛丽·居里发现了镭元素。"
    h = highlight("谁发现了镭？", text)
    assert "居里" in first(h, text)


# --------------------------------------------------------------------------------------------
# Chinese, traditional, English

ZH_CASES = [
    ("长城全长多少公里？", "8851公里"),
    ("长城是哪一年被列入世界文化遗产的？", "1987年"),
    ("山海关位于哪里？", "河北省秦皇岛市"),
    ("山海关被称为什么？", "天下第一关"),
    ("明长城西至哪里？", "嘉峪关"),
]


@pytest.mark.parametrize("question, gold", ZH_CASES)
def test_chinese_answer_in_first_span(question: str, gold: str) -> None:
    h = highlight(question, ZH_TEXT)
    check_invariants(h, ZH_TEXT)
    assert gold in first(h, ZH_TEXT)
    assert h.scores[0] > 0.3


def test_chinese_exact_answers() -> None:
    assert answer(highlight("长城全长多少公里？", ZH_TEXT), ZH_TEXT) == "8851公里"
    assert answer(highlight("长城是哪一年被列入世界文化遗产的？", ZH_TEXT), ZH_TEXT) == "1987年"
    assert answer(highlight("谁统一了中国？", ZH_TEXT), ZH_TEXT) == "秦始皇"
    assert answer(highlight("山海关位于哪里？", ZH_TEXT), ZH_TEXT) == "河北省秦皇岛市"
    # an untyped question: the open stretch is found, but the method is one that CMRC showed
    # to be less precise than the sentence, so highlight() says None
    assert answer(highlight("山海关被称为什么？", ZH_TEXT), ZH_TEXT) in (None, "天下第一关")


@pytest.mark.parametrize(
    "question, gold",
    [
        ("山海关被称为什么？", "天下第一关"),  # after the words before the question word
        ("什么被称为天下第一关？", "山海关位于河北省秦皇岛市"),  # before the words after it
        ("长城东起什么地方？", "鸭绿江"),  # between them
    ],
)
def test_open_stretch_left_by_the_question(question: str, gold: str) -> None:
    from qa import highlight as hl

    q, _, _, sents = hl.prepare(question, ZH_TEXT)
    best = next(s for s in sents if gold in ZH_TEXT[s.start : s.end])
    span, _ = hl.answer_candidate(q, ZH_TEXT, best)
    assert span is not None
    got = ZH_TEXT[span[0] : span[1]]
    assert got in gold or gold in got, got


TW_TEXT = (
    "長城是中國古代的軍事防禦工程。"
    "它始建於春秋戰國時期，秦始皇統一中國後把各國的長城連接起來。"
    "明長城東起鴨綠江，西至嘉峪關，全長約8851公里。"
    "1987年，長城被列入世界文化遺產名錄。"
    "山海關位於河北省秦皇島市，被稱為天下第一關。"
)

TW_CASES = [
    ("長城全長多少公里？", "8851公里"),
    ("長城是哪一年被列入世界文化遺產的？", "1987年"),
    ("山海關位於哪裡？", "河北省秦皇島市"),
    ("山海關被稱為什麼？", "天下第一關"),
    ("誰統一了中國？", "秦始皇"),
]


@pytest.mark.parametrize("question, gold", TW_CASES)
def test_traditional_answer_in_first_span(question: str, gold: str) -> None:
    h = highlight(question, TW_TEXT)
    check_invariants(h, TW_TEXT)
    assert gold in first(h, TW_TEXT)


EN_CASES = [
    (
        "Who invented the telephone?",
        "The telegraph was improved by many engineers. Alexander Graham Bell invented the "
        "telephone in 1876. He later founded a company. The device changed communication.",
        "Bell",
    ),
    (
        "When was the Eiffel Tower completed?",
        "The Eiffel Tower is a wrought-iron tower in Paris. It was completed in 1889 for the "
        "World's Fair. It is 330 metres tall. Millions of people visit it every year.",
        "1889",
    ),
    (
        "How tall is the Eiffel Tower?",
        "The Eiffel Tower is a wrought-iron tower in Paris. It was completed in 1889 for the "
        "World's Fair. The tower is 330 metres tall. Millions of people visit it every year.",
        "330",
    ),
    (
        "How many people visit the tower each year?",
        "The Eiffel Tower is a wrought-iron tower in Paris. It was completed in 1889. "
        "About 7 million people visit the tower each year. It was designed by Gustave Eiffel's "
        "company.",
        "7 million",
    ),
    (
        "Where is the Louvre located?",
        "The Louvre is the world's most visited museum. It is located in Paris, on the Right "
        "Bank of the Seine. It holds the Mona Lisa.",
        "Paris",
    ),
    (
        "What is the capital of Australia?",
        "Australia is a country in the southern hemisphere. Sydney is its largest city. "
        "Canberra is the capital of Australia. Its currency is the dollar.",
        "Canberra",
    ),
    (
        "Why do leaves change colour in autumn?",
        "Trees grow leaves in spring. In autumn leaves change colour because the chlorophyll "
        "breaks down. Then the leaves fall. Snow covers the ground in winter.",
        "chlorophyll",
    ),
    (
        "Which company developed the Windows operating system?",
        "Windows is an operating system. It was developed by Microsoft in 1985. "
        "Linux is another operating system. Many servers run Linux.",
        "Microsoft",
    ),
    (
        "What does the heart pump?",
        "The heart is a muscular organ. It pumps blood through the blood vessels. "
        "The lungs supply oxygen. The brain controls the body.",
        "blood",
    ),
    (
        "How long is the Nile river?",
        "The Nile is a major river in Africa. The Nile river is about 6650 kilometres long. "
        "It flows into the Mediterranean Sea. Egypt depends on it.",
        "6650",
    ),
]


@pytest.mark.parametrize("question, text, gold", EN_CASES)
def test_english_answer_in_first_span(question: str, text: str, gold: str) -> None:
    h = highlight(question, text)
    check_invariants(h, text)
    assert gold in first(h, text)


def test_english_exact_answers() -> None:
    q, text, _ = EN_CASES[1]
    assert answer(highlight(q, text), text) == "1889"
    q, text, _ = EN_CASES[0]
    assert "Bell" in (answer(highlight(q, text), text) or "")


def test_english_question_over_chinese_text_uses_sims() -> None:
    """No shared words: the dense similarities decide (the lexical features are all zero)."""
    sims = [0.1, 0.2, 0.9, 0.3, 0.2]
    h = highlight("How long is the Great Wall?", ZH_TEXT, sentence_sims=sims)
    check_invariants(h, ZH_TEXT)
    assert "8851" in first(h, ZH_TEXT)
    h = highlight("How long is the Great Wall?", ZH_TEXT)  # without sims: no crash
    check_invariants(h, ZH_TEXT)


def test_sims_help_but_do_not_override_strong_lexical_evidence() -> None:
    sims = [0.3, 0.3, 0.3, 0.35, 0.3]
    h = highlight("山海关被称为什么？", ZH_TEXT, sentence_sims=sims)
    assert "天下第一关" in first(h, ZH_TEXT)


# --------------------------------------------------------------------------------------------
# odd inputs


@pytest.mark.parametrize(
    "question, text",
    [
        ("什么？", ""),
        ("", ""),
        ("", ZH_TEXT),
        ("？？？", ZH_TEXT),
        ("!!!", "no punctuation at all here just words"),
        ("长城", "没有标点的一段中文文字长城很长"),
        ("长城多长", "   \n\n  "),
        ("a" * 3000, ZH_TEXT),
        ("长城", "。。。！！！"),
        ("x", "😀😀😀。👍"),
        ("ｆｕｌｌ　ｗｉｄｔｈ？", "ＦＵＬＬ　ＷＩＤＴＨ text here. another one."),
    ],
)
def test_odd_inputs_do_not_crash(question: str, text: str) -> None:
    h = highlight(question, text)
    check_invariants(h, text)
    if not text.strip():
        assert h.spans == [] and h.answer is None


def test_sims_of_wrong_length_are_tolerated() -> None:
    h = highlight("长城全长多少公里？", ZH_TEXT, sentence_sims=[0.5])
    check_invariants(h, ZH_TEXT)
    h = highlight("长城全长多少公里？", ZH_TEXT, sentence_sims=[0.5] * 20)
    check_invariants(h, ZH_TEXT)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40), st.text(max_size=200))
def test_random_inputs_keep_the_invariants(question: str, text: str) -> None:
    check_invariants(highlight(question, text), text)


# --------------------------------------------------------------------------------------------
# the CMRC 2018 trial floor

#: bench/train_highlight.py measured a 5-fold cross-validated first-highlight hit rate of 85.0%
#: (85.1% in-sample with the shipped weights; 84.7% on the same text in traditional script);
#: the floors sit a few points under.
CMRC_FLOOR = 0.81
TRADITIONAL_FLOOR = 0.79


def _hit(h: Highlight, context: str, answers: list[str], starts: list[int]) -> bool:
    """The first span overlaps a gold answer, or contains its text (2+ characters) elsewhere."""
    s, e = h.spans[0]
    gold = [(st, st + len(a)) for a, st in zip(answers, starts, strict=True) if a]
    return any(a < e and s < b for a, b in gold) or any(
        len(a) >= 2 and a in context[s:e] for a in answers
    )


def _cmrc():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "bench"))
    from cmrc import load_cmrc

    return load_cmrc(CMRC)


@pytest.mark.skipif(not CMRC.exists(), reason="CMRC 2018 trial data not present")
def test_cmrc_trial_first_span_hit_rate() -> None:
    hits = n = 0
    for p in _cmrc():
        for q in p.questions:
            hits += _hit(highlight(q.question, p.context), p.context, q.answers, q.starts)
            n += 1
    assert n > 900
    assert hits / n >= CMRC_FLOOR, hits / n


@pytest.mark.skipif(not CMRC.exists(), reason="CMRC 2018 trial data not present")
def test_cmrc_trial_traditional_script_hit_rate() -> None:
    opencc = pytest.importorskip("opencc")
    cc = opencc.OpenCC("s2t")
    hits = n = 0
    for p in _cmrc()[:80]:
        ctx = cc.convert(p.context)
        if len(ctx) != len(p.context):
            continue
        for q in p.questions:
            answers = [cc.convert(a) for a in q.answers]
            hits += _hit(highlight(cc.convert(q.question), ctx), ctx, answers, q.starts)
            n += 1
    assert n > 250
    assert hits / n >= TRADITIONAL_FLOOR, hits / n


def test_weights_file_is_valid_and_names_known_features() -> None:
    import json

    from qa import highlight as hl

    data = json.loads(hl.WEIGHTS_PATH.read_text(encoding="utf-8"))
    known = set(hl.FEATURES_BASE) | set(hl.FEATURES_SIMS)
    for key in ("base", "sims"):
        model = data[key]
        assert set(model["features"]) <= known
        assert len(model["features"]) == len(model["weights"])
    assert set(data.get("answer_methods", [])) <= set(hl.ANSWER_METHODS)
    assert hl.TRUSTED_METHODS <= set(hl.ANSWER_METHODS)


# --------------------------------------------------------------------------------------------
# answer words by alignment: what stands where the question word stands

GZ_SENTENCE = (
    "——推进大要案件攻坚，集中开展为期三年的扫黑除恶专项斗争，累计打掉涉黑组织32个、"
    "涉恶犯罪集团115个，扫黑除恶成绩连续五年排名全省第一。"
)
GZ_SUMMARY = (
    "全市刑事立案数同比2019年下降15.2%，扫黑除恶成绩连续五年排名全省第一，全国首创“随时随地、"
    "刷脸办事、无证办事”特色政务服务模式……广州市民的安全感、治安满意度连续多年提升并保持在高位。"
)


@pytest.mark.parametrize(
    "question, text, gold",
    [
        # 连续 [几]年 排名全省第一 aligns with 连续 [五年] 排名全省第一, not the first number
        ("扫黑除恶成绩连续几年排名全省第一？", GZ_SENTENCE, "五年"),
        ("全市刑事立案数同比2019年下降了多少？", GZ_SUMMARY, "15.2%"),
        (
            "掃黑除惡成績連續幾年排名全省第一？",
            GZ_SENTENCE.replace("扫黑除恶成绩连续", "掃黑除惡成績連續"),
            "五年",
        ),
        ("累计打掉涉黑组织多少个？", GZ_SENTENCE, "32个"),
        # the noun after the question word belongs to the answer
        ("昌昌是什么王国的首都？", "昌昌为奇穆王国的首都，于850年至1470年间逐渐建成。", "奇穆王国"),
        # a range is one answer
        ("非洲猴面包树的果实长多少厘米？", "非洲猴面包树的果实长约15至20厘米。", "15至20厘米"),
        # a name runs longer than the dictionary's tags: the short slot holding it
        (
            "克伦贝格尔的妻子是谁？",
            "克伦贝格尔先生的妻子是伊丽莎白·克伦贝格尔-乔西，育有两子。",
            "伊丽莎白·克伦贝格尔-乔西",
        ),
        # a title keeps its brackets
        (
            "2016年林郁智以公路电影什么入围第53届金马奖最佳男配角奖？",
            "2016年以公路电影《一路顺风》入围第53届金马奖最佳男配角奖。",
            "《一路顺风》",
        ),
        ("山海關位於哪裡？", TW_TEXT, "河北省秦皇島市"),
        (
            "When did the museum open?",
            "The museum opened in 1998 and holds about 40,000 objects.",
            "1998",
        ),
        (
            "Who founded the company?",
            "Steve Jobs founded the company in a garage. It grew fast.",
            "Steve Jobs",
        ),
        (
            "Who founded Microsoft?",
            "Microsoft was founded by Bill Gates and Paul Allen in 1975. It is based in Redmond.",
            "Bill Gates and Paul Allen",
        ),
    ],
)
def test_answer_words_by_alignment(question: str, text: str, gold: str) -> None:
    h = highlight(question, text)
    check_invariants(h, text)
    assert answer(h, text) == gold


@pytest.mark.parametrize(
    "question, text",
    [
        ("丙烯颜料有毒吗？", "丙烯颜料有轻微毒性。"),  # yes or no: the sentence answers
        ("长城为什么很长？", "长城很长，因为它连接了各国的城墙。"),  # why: a clause
        ("美庐别墅是怎么得名的？", "蒋中正在巨石上题刻“美庐”二字，这幢别墅由此得名。"),
    ],
)
def test_no_answer_words_for_yes_no_how_and_why(question: str, text: str) -> None:
    h = highlight(question, text)
    check_invariants(h, text)
    assert h.answer is None


@pytest.mark.skipif(not CMRC.exists(), reason="CMRC 2018 trial data not present")
def test_cmrc_trial_answers_lie_in_the_first_span() -> None:
    for p in _cmrc()[:60]:
        for q in p.questions:
            check_invariants(highlight(q.question, p.context), p.context)


# ------------------------------------------------------------------ scorer and highlight block
@pytest.mark.unit
def test_shipped_tree_scorers_load_and_match_the_features():
    trees = hl.tree_models()
    assert set(trees) == {"base", "sims"}
    x, _ = hl.features("广州公安五年破获了多少刑事案件？", "第一句。第二句说破获刑事案件三万宗。")
    assert trees["base"].n_features == hl.tree_features(x).shape[1]
    assert trees["sims"].n_features == hl.tree_features(x, [0.8, 0.9]).shape[1]
    p = hl.sentence_probabilities(x)
    assert p.shape == (2,) and np.all((p > 0) & (p < 1)) and p[1] > p[0]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("p", "best", "expected"),
    [
        ([0.9, 0.1, 0.1], 0, (0, 0)),  # nothing near it
        ([0.1, 0.9, 0.5, 0.1], 1, (1, 2)),  # the next sentence scores half as much: joins
        ([0.6, 0.9, 0.7, 0.8], 1, (1, 3)),  # three at most, the stronger side first
        ([0.3, 0.2, 0.9, 0.44, 0.9], 2, (2, 2)),  # 0.44 < 0.5 * 0.9: does not join
    ],
)
def test_block_joins_adjacent_sentences_that_score_nearly_as_well(p, best, expected):
    assert hl.block(p, best) == expected


@pytest.mark.unit
def test_first_highlight_is_the_block_and_holds_the_answer_words():
    text = (
        "该植物生长在高山草甸。"
        "特征：茎直立，高约一米，叶片狭长，边缘有锯齿。"
        "花黄色，顶生，排成伞房状。"
        "它的种子可以入药。"
    )
    h = hl.highlight("该植物有什么特征？", text)
    s, e = h.spans[0]
    assert "茎直立" in text[s:e]
    # every other sentence is listed once, none overlapping the first highlight
    rest = h.spans[1:]
    assert all(b <= s or a >= e for a, b in rest)
    covered = sum(b - a for a, b in h.spans)
    assert covered <= len(text)
    assert len(h.scores) == len(h.spans)
    if h.answer:
        assert s <= h.answer[0] < h.answer[1] <= e
