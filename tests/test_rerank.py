"""Reranking by a passage's best sentence (qa/rerank.py): the share of the question's terms one
sentence holds, the reranked order, and the retriever with a real index of two passages on
the same subject where only one has the question's words in one sentence."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qa.lexical import analyze
from qa.rerank import question_weights, rerank, sentence_share, sentence_terms
from qa.settings import DEFAULTS

QUESTION = "青石镇的陶艺节每年在什么季节举办？"
# the answer: the question's words together in one sentence
GATHERED = (
    "青石镇位于江南丘陵之间，以制陶闻名。"
    "镇上的陶艺节每年在秋季举办，吸引大批游客。"
    "镇东有一座老窑，至今仍在使用。"
)
# the same subject, the same words, scattered over sentences that answer something else
SCATTERED = (
    "青石镇的陶艺历史可以追溯到明代。"
    "每年都有学者来镇上考察古窑遗址，研究陶器的烧制工艺。"
    "镇上的陶艺作坊在春季招收学徒，陶艺节的筹备也由作坊负责。"
    "青石镇的季节分明，夏季多雨，适合举办户外活动。"
)


def weights(question: str) -> dict[str, float]:
    return {t: 1.0 for t in set(analyze(question))}


@pytest.mark.unit
def test_sentence_share_counts_one_sentence_not_the_whole_text():
    q = {"#青石": 1.0, "#石镇": 1.0, "#陶艺": 2.0, "#秋季": 4.0}
    text = "青石镇很小。陶艺很有名。秋季多雨。"
    assert sentence_share(q, text) == pytest.approx(4.0 / 8.0)  # 秋季 alone: the heaviest
    assert sentence_share(q, "青石镇的陶艺节在秋季。") == pytest.approx(1.0)
    assert sentence_share(q, "没有关系的句子。") == 0.0
    assert sentence_share({}, text) == 0.0
    assert len(sentence_terms(text)) == 3


@pytest.mark.unit
def test_the_gathered_passage_has_the_larger_share():
    q = weights(QUESTION)
    assert sentence_share(q, GATHERED) > sentence_share(q, SCATTERED) + 0.1


@pytest.mark.unit
def test_rerank_moves_only_the_top_candidates_and_keeps_the_rest_behind():
    q = weights(QUESTION)
    texts = [SCATTERED, GATHERED, "无关。", "无关。"]
    scores = np.array([1.50, 1.45, 1.40, 0.2])
    order, new = rerank(scores, texts.__getitem__, q, 1.0, 3)
    assert order[0] == 1  # the gathered passage passes the scattered one
    assert sorted(order.tolist()) == [0, 1, 2, 3] and order[3] == 3
    assert np.all(np.diff(new) <= 0)  # still sorted best first
    # weight 0 (or 0 for every candidate: another script) changes nothing
    for off in (0.0, np.zeros(4)):
        order, new = rerank(scores, texts.__getitem__, q, off, 3)
        assert order.tolist() == [0, 1, 2, 3] and np.array_equal(new, scores)
    # a weight per candidate: only the first may get a bonus
    order, _ = rerank(scores, texts.__getitem__, q, np.array([1.0, 0.0, 0.0]), 3)
    assert order.tolist() == [0, 1, 2, 3]


@pytest.mark.unit
def test_question_weights_leave_out_terms_no_chunk_has():
    idf = {"#青石": 2.0, "#石镇": 3.0}.get
    out = question_weights(["#青石", "#石镇", "#青石", "#火星"], lambda t: idf(t) or 9.0)
    assert out == {"#青石": 2.0, "#石镇": 3.0}


@pytest.fixture(scope="module")
def town(tmp_path_factory, embedder):
    """A real index of the two passages (one file each) and a few unrelated ones."""
    from qa.index import build_index

    work = tmp_path_factory.mktemp("rerank")
    corpus = work / "corpus"
    corpus.mkdir()
    (corpus / "gathered.txt").write_text(GATHERED + "\n", "utf-8")
    (corpus / "scattered.txt").write_text(SCATTERED + "\n", "utf-8")
    (corpus / "tea.txt").write_text("白沙村以种植茶叶为主，每年春天采摘明前茶。\n", "utf-8")
    (corpus / "river.txt").write_text("清河发源于北部山区，全长一百二十公里。\n", "utf-8")
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=work / "index")
    build_index(corpus, st.index_dir, settings=st, embedder=embedder)
    return st


@pytest.mark.integration
def test_retriever_ranks_the_passage_whose_sentence_holds_the_question(town, embedder):
    from qa.search import Retriever

    off = Retriever(town.index_dir, dataclasses.replace(town, sentence_weight=0.0), embedder)
    on = Retriever(town.index_dir, dataclasses.replace(town, sentence_weight=1.0), embedder)
    f_off, f_on = off.rank(QUESTION), on.rank(QUESTION)
    docs = [c.doc for c in on.index.chunks]
    assert docs[int(f_off.ids[0])] == "scattered.txt"  # BM25 and the vector prefer it
    assert docs[int(f_on.ids[0])] == "gathered.txt"
    assert sorted(f_on.ids.tolist()) == sorted(f_off.ids.tolist())
    assert np.all(np.diff(f_on.fused) <= 0)
    # the confidence model's margin reads the fusion's own scores, in the new order
    assert f_off.base is None and f_on.base is not None
    assert sorted(f_on.base.tolist()) == sorted(f_off.fused.tolist())
    assert on.run(QUESTION, 1)[0].doc == "gathered.txt"
