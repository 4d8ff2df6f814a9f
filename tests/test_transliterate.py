"""Names no dictionary holds, matched by sound (qa/transliterate.py) and Wade-Giles names
(qa/translate.py): the phonetic code and distance, the transliteration characters, the
candidates of an index, and English questions over a real Chinese index."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qa import translate as tr
from qa import transliterate as tl


@pytest.mark.unit
def test_codes_and_distance():
    assert tl.latin_code("reyes") == "LeYeS"
    assert tl.latin_code("gordon") == "KoRToN"  # an r before a consonant: R, cheap to drop
    assert tl.latin_code("acquafresca") == "aKuaFLeSKa"
    assert tl.pinyin_code("lei") == "Lei"
    assert tl.pinyin_code("deng") == "TeN"
    assert tl.pinyin_code("er") == "eL"
    assert tl.pinyin_code("xiang") == "JiaN"
    # Gordon -> 戈登 ge-deng is close, Gordon -> 米兰 mi-lan is not
    gordon = tl.latin_code("gordon")
    near = tl.distance(gordon, tl.pinyin_code("ge") + tl.pinyin_code("deng"))
    far = tl.distance(gordon, tl.pinyin_code("mi") + tl.pinyin_code("lan"))
    assert near < 1.0 < far
    assert tl.accepts(gordon, near) and not tl.accepts(gordon, far)
    assert tl.distance("SuP", "SuP") == 0.0
    assert tl.distance("SaP", "SuP") == pytest.approx(tl.distance("SuP", "SaP"))
    assert tl.skeleton("SuPeRWieLe") == "SPL"  # P/W one class, R left out, runs once
    assert not tl.accepts("LeYeS", 0.0)  # too few consonants to tell (L, S)


@pytest.mark.unit
def test_transliteration_chars_from_the_dictionary_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    tl.transliteration_chars.cache_clear()
    try:
        first = tl.transliteration_chars()
        assert list(tmp_path.glob("translit-*.marshal"))
        tl.transliteration_chars.cache_clear()
        again = tl.transliteration_chars()
    finally:
        tl.transliteration_chars.cache_clear()
    assert again == first
    assert {"斯", "尔", "克", "维", "雷"} <= first
    assert not {"是", "人", "在", "了"} & first  # common words' characters are not


@pytest.mark.unit
def test_candidates_match_names_by_sound():
    c = tl.build_candidates(
        [
            "儒勒·苏佩维埃尔是法国诗人，生于乌拉圭的蒙得维的亚。",
            "帕特纳赫峡谷位于德国南部，长七百多米。",
            "埃里克·戈登是一名篮球运动员。",
        ]
    )
    assert "苏佩维埃尔" in c.codes and "法国诗人" not in c.codes
    assert c.match("supervielle")[0][0] == "苏佩维埃尔"
    assert c.match("partnach")[0][0] == "帕特纳赫"
    assert c.match("gordon")[0][0] == "戈登"
    assert all(0 <= d <= 1 for _, d in c.match("gordon"))
    assert c.match("volcano") == []
    assert c.match("leo") == []  # two consonants: too few


@pytest.mark.unit
def test_question_words_leave_out_english_and_pinyin():
    assert tl.question_words("Where was Supervielle born?") == ["supervielle"]
    assert tl.question_words("What is inscribed on Supervielle's tombstone?") == ["supervielle"]
    assert tl.question_words("Whose daughter was Wang Fahui?") == []  # pinyin: name_pairs
    assert tl.question_words("Which school did Yang Chao-hsiang attend?") == []  # Wade-Giles
    assert tl.question_words("Where was the tournament held?") == []  # English words


@pytest.mark.unit
def test_wade_giles_names():
    known = tr.dictionary().syllables
    assert tr.wade_giles("Chao-hsiang", known) == [("zhao", "chao"), ("xiang",)]
    assert tr.wade_giles("Chien-cheng", known) == [("jian", "qian"), ("zheng", "cheng")]
    assert tr.wade_giles("Chih", known) == [("zhi", "chi")]
    assert tr.wade_giles("Tzu-chi", known) == [("zi", "ci"), ("ji", "qi")]
    assert tr.wade_giles("Supervielle", known) is None
    q = "Which school did Yang Chao-hsiang attend?"
    assert tr.name_pairs(q) == []  # not pinyin
    pairs = tr.name_pairs(q, wade_giles_names=True)
    assert len(pairs) == 2 and "杨朝" in pairs[0] and "朝祥" in pairs[1]
    # "Sung" is an English word, but beside a Wade-Giles name it is a surname (宋)
    pairs = tr.name_pairs("What was Sung Chien-cheng's thesis?", wade_giles_names=True)
    assert len(pairs) == 2 and "送建" in pairs[0] and "建成" in pairs[1]
    # pinyin names read as before
    q = "Whose daughter was Wang Fahui?"
    assert tr.name_pairs(q, wade_giles_names=True) == tr.name_pairs(q)


# Chinese passages (written for this test) whose subject English writes in its own spelling
DOCS = {
    "poet.txt": "儒勒·苏佩维埃尔是法国诗人，生于乌拉圭的蒙得维的亚，后来定居巴黎。",
    "gorge.txt": "帕特纳赫峡谷位于德国南部的山区，全长七百多米，冬天结冰。",
    "player.txt": "埃里克·戈登是一名美国篮球运动员，司职得分后卫。",
    "teacher.txt": "杨朝祥毕业于台湾师范大学，曾任教育部长。",
    "volcano.txt": "这座火山最近一次喷发是在1980年，火山灰覆盖了附近的村庄和农田。",
    "club.txt": "这家足球俱乐部成立于1902年，主场位于城市北部，曾三次获得联赛冠军。",
}
QUESTIONS = [
    ("Where was Supervielle born?", "poet.txt"),
    ("Where is the Partnach Gorge?", "gorge.txt"),
    ("Which position does Gordon play?", "player.txt"),
    ("Which university did Yang Chao-hsiang graduate from?", "teacher.txt"),
]


@pytest.fixture(scope="module")
def names_index(tmp_path_factory, embedder):
    from qa.index import build_index
    from qa.settings import DEFAULTS

    work = tmp_path_factory.mktemp("transliterate-index")
    corpus = work / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text + "\n", encoding="utf-8")
    settings = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=work / "index")
    build_index(corpus, settings.index_dir, settings=settings, embedder=embedder)
    return settings


@pytest.mark.integration
@pytest.mark.parametrize(("question", "doc"), QUESTIONS)
def test_names_by_sound_find_the_passage(names_index, embedder, question, doc):
    from qa.search import Retriever, translated_scores

    r = Retriever(names_index.index_dir, names_index, embedder=embedder)
    on = translated_scores(r.index, question, 2.0)
    assert on is not None
    gold = r.index.chunk_ids(doc)[0]
    assert int(np.argmax(on)) == gold  # the lexical side alone points at it
    off = translated_scores(r.index, question, 0.0)
    assert off is None or off[gold] < on[gold]
    assert r.run(question, 3)[0].doc == doc


@pytest.mark.integration
def test_chinese_questions_are_untouched(names_index, embedder):
    from qa.search import Retriever

    on = Retriever(names_index.index_dir, names_index, embedder=embedder)
    off_settings = dataclasses.replace(names_index, phonetic_weight=0.0)
    off = Retriever(names_index.index_dir, off_settings, embedder=embedder)
    for q in ("苏佩维埃尔出生在哪里？", "帕特纳赫峡谷有多长？"):
        a, b = on.rank(q), off.rank(q)
        assert np.array_equal(a.ids, b.ids) and np.allclose(a.fused, b.fused)
