"""qa: ask questions of a folder of documents.

The data path, one module each: ``corpus`` (read files) -> ``chunk`` (paragraph chunks) ->
``embed`` (sentence-transformers) -> ``index`` (FAISS + BM25, saved atomically) ->
``search`` (``retrieve``: fused retrieval) -> ``highlight`` (answering sentence and words) ->
``cli`` / ``ui``. Settings live in ``settings``.

    >>> import qa
    >>> qa.build_index()                      # corpus/ -> index/
    >>> hits = qa.retrieve("扫黑除恶成绩连续几年排名全省第一？")
    >>> hits[0].sentence, hits[0].answer_text
    >>> qa.retrieve("...", store="milvus:qa.db")   # the same index published to Milvus
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["DEFAULTS", "BuildReport", "Hit", "Settings", "build_index", "load_index", "retrieve"]

if TYPE_CHECKING:
    from qa.index import BuildReport, build_index, load_index
    from qa.search import Hit, retrieve
    from qa.settings import DEFAULTS, Settings

_LAZY = {
    "build_index": "qa.index",
    "load_index": "qa.index",
    "BuildReport": "qa.index",
    "retrieve": "qa.search",
    "Hit": "qa.search",
    "Settings": "qa.settings",
    "DEFAULTS": "qa.settings",
}


def __getattr__(name: str) -> Any:
    """Import the heavy modules (torch, faiss) only when their names are first used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
