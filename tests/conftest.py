"""Shared test set-up: no network at run time, and one real model and index per session."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

# Nothing may be fetched from a model hub: fail fast instead of hanging on the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def embedder():
    """The real embedded e5 model, converted once into the user cache and shared."""
    from qa.embed import get_embedder
    from qa.settings import DEFAULTS

    emb = get_embedder(DEFAULTS.model, DEFAULTS)
    emb.warm_up()
    return emb


@pytest.fixture(scope="session")
def default_index(tmp_path_factory, embedder):
    """A real index of the default corpus, built once per test session in a temp folder."""
    from qa.index import build_index
    from qa.settings import DEFAULTS

    work = tmp_path_factory.mktemp("default-index")
    corpus = work / "corpus"
    shutil.copytree(DEFAULT_CORPUS, corpus)
    settings = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=work / "index")
    build_index(corpus, settings.index_dir, settings=settings, embedder=embedder)
    return settings
