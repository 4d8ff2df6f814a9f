"""The shipped confidence model (qa/data/confidence.json, written by bench/train_confidence.py):
it loads, its cross-script sub-model reads the features qa.confidence.DENSE_ONLY says, and its
predictions move the right way. No model, no index, no network."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest

from qa.confidence import (
    CONFIDENCE_FEATURES,
    DENSE_ONLY,
    ConfidenceModel,
    chunk_chars,
    factoid,
    missing_name,
    question_names,
    question_units,
    sentence_coverage,
)

pytestmark = pytest.mark.unit


def features(**kw: float) -> np.ndarray:
    """A feature vector: a middling top hit, with ``kw`` overriding named features (values in
    the range CMRC hits have; the defaults are about the medians of English questions' top hits
    over Chinese text)."""
    base = {
        "dense": 0.77,
        "lexical_coverage": 0.0,
        "margin": 0.2,
        "sentence": 0.25,
        "top": 1.0,
        "dense_z": 2.5,
        "dense_gap": 0.5,
        "chunk_chars": 0.85,
        "missing_name": 0.0,
        "translated_coverage": 0.0,
        "sentence_coverage": 0.5,
        "factoid": 1.0,
    }
    base.update(kw)
    assert set(base) == set(CONFIDENCE_FEATURES)
    return np.array([base[n] for n in CONFIDENCE_FEATURES], dtype=np.float64)


@pytest.fixture(scope="module")
def model() -> ConfidenceModel:
    return ConfidenceModel()


def test_file_matches_the_code():
    data = json.loads(ConfidenceModel.PATH.read_text(encoding="utf-8"))
    assert set(data["features"]) <= set(CONFIDENCE_FEATURES)
    assert len(data["weights"]) == len(data["features"])
    # the same-script model reads a passage's own lexical coverage, not the translated one
    assert "lexical_coverage" in data["features"]
    assert "translated_coverage" not in data["features"]
    # predict(..., cross_script=True) indexes the features with DENSE_ONLY: the sub-model must
    # have been trained on exactly those (retrain with bench/train_confidence.py if not)
    assert data["dense_only"]["features"] == [CONFIDENCE_FEATURES[i] for i in DENSE_ONLY]
    assert len(data["dense_only"]["weights"]) == len(DENSE_ONLY)
    assert all(np.isfinite(data["weights"])) and all(np.isfinite(data["dense_only"]["weights"]))


@pytest.mark.parametrize("cross", [False, True])
def test_probabilities(model, cross):
    for z in (-5.0, 0.0, 2.5, 10.0, 1e6):
        p = model.predict(features(dense_z=z, dense_gap=z / 2), cross)
        assert 0.0 <= p <= 1.0


@pytest.mark.parametrize("cross", [False, True])
def test_a_passage_that_stands_out_is_more_likely_to_answer(model, cross):
    ps = [model.predict(features(dense_z=z), cross) for z in (0.5, 1.5, 2.5, 3.5, 4.5, 5.5)]
    assert all(a < b for a, b in pairwise(ps)), ps


@pytest.mark.parametrize("cross", [False, True])
def test_the_top_hit_is_not_less_likely(model, cross):
    assert model.predict(features(top=1.0), cross) >= model.predict(features(top=0.0), cross)


def test_lexical_evidence_counts_for_same_script_passages(model):
    ps = [model.predict(features(lexical_coverage=c)) for c in (0.0, 0.3, 0.6, 0.9)]
    assert all(a < b for a, b in pairwise(ps)), ps


def test_cross_script_ignores_lexical_evidence(model):
    # a passage in another script than the question cannot match its words: whatever the
    # coverage feature says, the cross-script model must not read it
    assert "lexical_coverage" not in [CONFIDENCE_FEATURES[i] for i in DENSE_ONLY]
    a = model.predict(features(lexical_coverage=0.0), cross_script=True)
    b = model.predict(features(lexical_coverage=1.0), cross_script=True)
    assert a == b


def test_translated_evidence_counts_for_cross_script_passages(model):
    # an English question over Chinese text: the share of its translated words the passage
    # holds (qa.translate) raises the confidence; the same-script model does not read it
    ps = [
        model.predict(features(translated_coverage=c), cross_script=True)
        for c in (0.0, 0.1, 0.2, 0.4)
    ]
    assert all(a < b for a, b in pairwise(ps)), ps
    same = [model.predict(features(translated_coverage=c)) for c in (0.0, 1.0)]
    assert same[0] == same[1]


def test_cross_script_typical_hits(model):
    # about the medians of English CMRC questions' top hits with the dictionary bridge on
    # (bench/train_confidence.py examples): a right one is trusted, the top hit of a question
    # whose paragraph is not in the corpus is not
    right = features(dense_z=3.15, dense_gap=0.8, margin=0.54, translated_coverage=0.15)
    miss = features(dense_z=1.4, dense_gap=-0.1, margin=0.11, translated_coverage=0.04)
    assert model.predict(right, cross_script=True) > 0.4
    assert model.predict(miss, cross_script=True) < 0.2


def test_cross_script_extremes(model):
    # an English question's top hit over Chinese text that stands far out (CMRC: about the
    # 90th percentile of right top hits) is confidently an answer; a typical top hit of a
    # question whose paragraph is not in the corpus (about the median) is refused
    clear = features(
        dense_z=5.5, dense_gap=3.5, sentence=0.7, margin=0.5, dense=0.81, translated_coverage=0.38
    )
    assert model.predict(clear, cross_script=True) > 0.8
    typical_miss = features(dense_z=2.2, dense_gap=0.4, sentence=0.18, margin=0.1, dense=0.757)
    assert model.predict(typical_miss, cross_script=True) < 0.3
    assert model.predict(features(dense_z=1.0, dense_gap=-1.0, top=0.0), cross_script=True) < 0.1


@pytest.mark.parametrize("cross", [False, True])
def test_a_name_the_passage_and_its_document_lack_lowers_confidence(model, cross):
    # 深圳 asked of the report on 广州, 2018 of a passage on 2019
    assert model.predict(features(missing_name=1.0), cross) < model.predict(features(), cross)


def test_a_short_chunk_is_less_likely_to_answer_across_scripts(model):
    # a photo credit or a byline: its vector is near many unrelated questions, and across
    # scripts there is no lexical evidence to tell (same-script hits have it: the full model
    # learns its own weight for the length)
    short = model.predict(features(chunk_chars=0.5), cross_script=True)
    assert short < 0.5 * model.predict(features(chunk_chars=0.9), cross_script=True)


def test_chunk_chars_counts_letters_and_digits():
    assert chunk_chars("") == 0.0
    assert chunk_chars("图/通讯员提供") < 0.4 < chunk_chars("广州" * 100) <= 1.0
    assert chunk_chars("……  ——") == 0.0


def test_question_names_and_what_is_missing():
    assert question_names("深圳的刑事立案数下降了多少？") == ("深圳",)
    assert question_names("东莞市2014年的地区生产总值是多少？") == ("2014", "东莞")
    report = "全市刑事立案数同比2019年下降15.2%。"
    assert missing_name("深圳的刑事立案数下降了多少？", report, False) == 1.0
    # the passage does not name the city, its document does
    assert missing_name("深圳的刑事立案数下降了多少？", report, False, {"深圳"}) == 0.0
    assert missing_name("2018年的刑事立案数下降了多少？", report, False) == 1.0
    assert missing_name("2019年的刑事立案数下降了多少？", report, False) == 0.0
    # a number must be in the passage: that the document has 2018 somewhere does not answer
    assert missing_name("2018年的刑事立案数下降了多少？", report, False, {"2018"}) == 1.0
    # a one-character word jieba tags as a name (连, "person") is not looked for
    assert question_names("电动自行车连电池最重能有多重？") == ()
    # across scripts only numbers are looked for
    assert missing_name("What about Shenzhen in 2019?", report, True) == 0.0
    assert missing_name("What about Shenzhen in 2018?", report, True) == 1.0


def test_question_units_are_content_characters_and_whole_latin_words():
    # question words (多久) and particles are not looked for; a Latin word counts whole
    units = question_units("电动车充电要多久？")
    assert set(units) >= {"电", "动", "车", "充"} and "久" not in units
    units = question_units("Should I charge the batteries?")
    assert "charge" in units and "the" not in units and not any(len(u) == 1 for u in units)


def test_sentence_coverage_counts_one_sentence():
    q = "电动车充电要多久？"
    together = "电动车一般充电8小时。别的话。"
    scattered = "电动车停在楼下。别的话。夜里要充电。"
    assert sentence_coverage(q, together) == 1.0
    # the same characters spread over two sentences: one sentence holds only part of them
    assert 0.0 < sentence_coverage(q, scattered) < 1.0
    assert sentence_coverage(q, "今天天气很好。") == 0.0
    assert sentence_coverage("什么？", together) == 0.0  # no content: no evidence
    # a reworded question keeps the characters it loses as words: 牌子 / 品牌
    assert sentence_coverage("能用别的牌子的充电器吗？", "不要混用其他品牌的充电器。") > 0.5


def test_sentence_coverage_matches_latin_words_not_substrings():
    assert sentence_coverage("Which cards are valid?", "A car is parked.") == 0.0
    assert sentence_coverage("Which cards are valid?", "Those cards are valid here.") == 1.0


def test_factoid_questions():
    assert factoid("广州有多少名公安民警？") == 1.0
    assert factoid("Who wrote the report?") == 1.0
    assert factoid("为什么电动车停在楼道里很危险？") == 0.0
    assert factoid("能用别的牌子的充电器吗？") == 0.0


def test_a_sentence_holding_the_question_raises_confidence(model):
    ps = [model.predict(features(sentence_coverage=c)) for c in (0.2, 0.5, 0.8, 1.0)]
    assert all(a < b for a, b in pairwise(ps)), ps
