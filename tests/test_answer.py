"""Tests of the answer-span ranker (qa/answer.py): candidate generation, features, the weights
file, clear cases in simplified and traditional script, and the fallback without weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa import answer as qa_answer
from qa import highlight as hl

pytestmark = pytest.mark.unit

ZH_TEXT = (
    "长城是中国古代的军事防御工程。"
    "它始建于春秋战国时期，秦始皇统一中国后把各国的长城连接起来。"
    "明长城东起鸭绿江，西至嘉峪关，全长约8851公里。"
    "1987年，长城被列入世界文化遗产名录。"
    "山海关位于河北省秦皇岛市，被称为天下第一关。"
)
TW_TEXT = (
    "長城是中國古代的軍事防禦工程。"
    "它始建於春秋戰國時期，秦始皇統一中國後把各國的長城連接起來。"
    "明長城東起鴨綠江，西至嘉峪關，全長約8851公里。"
    "1987年，長城被列入世界文化遺產名錄。"
    "山海關位於河北省秦皇島市，被稱為天下第一關。"
)


def sentence_with(question: str, text: str, words: str):  # type: ignore[no-untyped-def]
    q, _, _, sents = hl.prepare(question, text)
    sent = next(s for s in sents if words in text[s.start : s.end])
    return q, sent


def cands(question: str, text: str, words: str) -> tuple[qa_answer.Candidates, list[str], str]:
    q, sent = sentence_with(question, text, words)
    c = qa_answer.candidates(q, text, sent)
    s = text[sent.start : sent.end]
    return c, [s[a:b] for a, b in c.spans], s


# --------------------------------------------------------------------------------------------
# candidates


def test_candidates_are_runs_clauses_and_the_sentence() -> None:
    c, texts, s = cands("长城全长多少公里？", ZH_TEXT, "8851")
    assert len(texts) == len(set(c.spans))  # no duplicates
    assert all(0 <= a < b <= len(s) for a, b in c.spans)
    for want in ("鸭绿江", "嘉峪关", "8851公里", "西至嘉峪关", "明长城东起鸭绿江"):
        assert want in texts, want
    # consecutive clauses and the whole sentence (without its final mark)
    assert "东起鸭绿江，西至嘉峪关" in texts
    assert texts[c.whole] == "明长城东起鸭绿江，西至嘉峪关，全长约8851公里"
    # runs of words never cross clause punctuation unless they run to a clause end
    for t in texts:
        if "，" in t:
            assert t.endswith(("江", "关", "公里")), t
    # a run cut inside a word is not a candidate
    assert "鸭绿" not in texts and "851公里" not in texts


def test_candidates_take_in_enclosing_brackets() -> None:
    text = "2016年以公路电影《一路顺风》入围第53届金马奖最佳男配角奖。"
    _, texts, _ = cands("林郁智以什么电影入围金马奖？", text, "一路顺风")
    assert "《一路顺风》" in texts
    assert "一路顺风" not in texts


def test_candidate_features() -> None:
    c, texts, _ = cands("长城全长多少公里？", ZH_TEXT, "8851")
    assert c.x.shape == (len(texts), len(qa_answer.FEATURES))
    assert np.isfinite(c.x).all()
    col = {n: k for k, n in enumerate(qa_answer.FEATURES)}
    row = {t: c.x[i] for i, t in enumerate(texts)}
    # the number of the expected type, not the question's own words
    assert row["8851公里"][col["typed_eq"]] == 1
    assert row["8851公里"][col["number_q_has_number"]] == 1
    assert row["鸭绿江"][col["typed_eq"]] == 0
    assert row["全长约"][col["q_cover"]] > 0.5  # 全长 is in the question
    assert row["8851"][col["q_cover"]] == 0
    assert row["8851公里"][col["q_cover"]] == pytest.approx(2 / 6)  # 公里 is in the question
    # shape
    assert row[texts[c.whole]][col["is_sentence"]] == 1
    assert sum(c.x[:, col["is_sentence"]]) == 1
    assert row["西至嘉峪关"][col["is_clause"]] == 1
    assert row["8851公里"][col["ends_clause"]] == 1
    assert row["嘉峪关"][col["starts_clause"]] == 0
    # next to a question piece: 全长约 [8851公里]
    assert row["8851公里"][col["anchor_left_adj"]] == 1
    # one part of speech for the first and for the last word of a candidate
    first = [col[f"first_{p}"] for p in qa_answer._POS]
    last = [col[f"last_{p}"] for p in qa_answer._POS]
    assert (c.x[:, first].sum(axis=1) == 1).all() and (c.x[:, last].sum(axis=1) == 1).all()


def test_slot_features_mark_the_slot() -> None:
    c, texts, _ = cands("山海关被称为什么？", ZH_TEXT, "天下第一关")
    col = {n: k for k, n in enumerate(qa_answer.FEATURES)}
    i = texts.index("天下第一关")
    assert c.x[i, col["slot_eq"]] == 1 and c.x[i, col["slot_eq_left"]] == 1
    assert c.x[i, col["q_tail_ends_clause"]] == 1
    j = texts.index("河北省秦皇岛市")
    assert c.x[j, col["slot_in"]] == 0


def test_english_question_features() -> None:
    text = "The museum opened in 1998 and holds about 40,000 objects."
    c, texts, _ = cands("When did the museum open?", text, "1998")
    col = {n: k for k, n in enumerate(qa_answer.FEATURES)}
    i = texts.index("1998")
    assert c.x[i, col["typed_eq_time"]] == 1
    assert c.x[i, col["english_q_typed_eq"]] == 1
    assert c.x[:, col["english_q_log_chars"]].max() > 0


def test_probabilities_are_a_softmax() -> None:
    c, _, _ = cands("长城全长多少公里？", ZH_TEXT, "8851")
    w, _ = qa_answer._model()  # type: ignore[misc]
    p = qa_answer.probabilities(c, w)
    assert p.shape == (len(c.spans),) and abs(p.sum() - 1) < 1e-9 and (p >= 0).all()


# --------------------------------------------------------------------------------------------
# the ranker's choices


@pytest.mark.parametrize(
    "question, text, words, gold",
    [
        ("长城是哪一年被列入世界文化遗产的？", ZH_TEXT, "1987", "1987年"),
        ("这座桥建于哪一年？", "这座桥长约两公里，建于1957年，是当时最长的桥。", "1957", "1957年"),
        ("长城始建于什么时期？", ZH_TEXT, "春秋", "春秋战国时期"),
        ("明长城东起哪里？", ZH_TEXT, "鸭绿江", "鸭绿江"),
        pytest.param(
            "明長城東起哪裡？",
            TW_TEXT,
            "鴨綠江",
            "鴨綠江",
            # known weakness: jieba splits traditional script into other words and its
            # dictionary tags miss them; highlight() still answers 鴨綠江 by alignment
            marks=pytest.mark.xfail(strict=True, reason="traditional script: picks 西至嘉峪關"),
        ),
        ("長城是哪一年被列入世界文化遺產的？", TW_TEXT, "1987", "1987年"),
    ],
)
def test_ranker_clear_cases(question: str, text: str, words: str, gold: str) -> None:
    q, sent = sentence_with(question, text, words)
    got = qa_answer.answer_words(q, text, sent)
    assert got is not None and got.span is not None, got
    assert text[got.span[0] : got.span[1]] == gold
    assert sent.start <= got.span[0] < got.span[1] <= sent.end


@pytest.mark.parametrize(
    "question, text, words",
    [
        ("长城是什么？", ZH_TEXT, "军事防御"),
        ("光合作用是什么？", "光合作用是植物利用光能把二氧化碳和水合成有机物的过程。", "光能"),
        ("長城是什麼？", TW_TEXT, "軍事防禦"),
    ],
)
def test_definitions_are_the_sentence(question: str, text: str, words: str) -> None:
    """An "X是什么" definition: on CMRC the gold answer is most often the whole defining
    sentence, so the ranker's best candidate is the sentence and it gives no words (the reader
    sees the highlighted sentence)."""
    q, sent = sentence_with(question, text, words)
    got = qa_answer.answer_words(q, text, sent)
    assert got is not None and got.span is None
    assert got.best is not None
    assert words in text[got.best[0] : got.best[1]]


def test_highlight_answers_the_traditional_case_by_alignment() -> None:
    h = hl.highlight("明長城東起哪裡？", TW_TEXT)
    assert TW_TEXT[h.answer[0] : h.answer[1]] == "鴨綠江"  # type: ignore[index]


def test_highlight_falls_back_to_the_heuristic_without_weights(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(qa_answer, "_weights", lambda: None)
    q, sent = sentence_with("明长城东起哪里？", ZH_TEXT, "鸭绿江")
    assert qa_answer.answer_words(q, ZH_TEXT, sent) is None
    h = hl.highlight("长城全长多少公里？", ZH_TEXT)
    assert ZH_TEXT[h.answer[0] : h.answer[1]] == "8851公里"  # type: ignore[index]


def test_weights_file_is_valid() -> None:
    data = json.loads(qa_answer.WEIGHTS_PATH.read_text(encoding="utf-8"))
    assert set(data["features"]) <= set(qa_answer.FEATURES)
    assert len(data["features"]) == len(data["weights"])
    assert 0.0 <= data["threshold"] < 1.0
    assert all(np.isfinite(data["weights"]))


def test_odd_sentences_do_not_crash() -> None:
    for question, text in [
        ("什么？", "。。。"),
        ("长城", "没有标点的一段中文文字长城很长"),
        ("x", "😀😀😀。👍"),
        ("How?", "ＦＵＬＬ　ＷＩＤＴＨ text here."),
    ]:
        q, _, _, sents = hl.prepare(question, text)
        for s in sents:
            got = qa_answer.answer_words(q, text, s)
            if got is not None and got.span is not None:
                assert s.start <= got.span[0] < got.span[1] <= s.end
