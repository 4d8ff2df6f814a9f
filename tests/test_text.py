"""Tests of qa/text.py (sentence splitting around Western abbreviations and initials)."""

from __future__ import annotations

import pytest

from qa.text import split_sentences


def pieces(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [
        "这个计划由Andrew W. Mellon Foundation、麻省理工学院共同主持。",
        "是伊夫林·霍尔以笔名S.G. Tallentyre写作的一部作品。",
        "Dr. Smith met Mr. Jones at St. Paul's.",
        "Use a tool, e.g. a hammer, for this.",
    ],
)
def test_initials_and_titles_do_not_end_a_sentence(text: str) -> None:
    assert pieces(text) == [text]


@pytest.mark.unit
def test_ordinary_western_sentences_still_split() -> None:
    assert pieces("It rained. Then it stopped. He got an A.") == [
        "It rained.",
        "Then it stopped.",
        "He got an A.",
    ]
    assert pieces("中文句子。English one. 3.14 is pi.") == [
        "中文句子。",
        "English one.",
        "3.14 is pi.",
    ]


@pytest.mark.unit
def test_a_numbered_list_item_is_one_sentence():
    text = "三、怎样正确充电\n1. 使用原厂充电器。\n2. 充电不超过8小时。\n共有 3. 再说"
    expected = [
        "三、怎样正确充电",
        "1. 使用原厂充电器。",
        "2. 充电不超过8小时。",
        "共有 3.",
        "再说",
    ]
    assert pieces(text) == expected
