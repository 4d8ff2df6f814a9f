"""qa: ask questions of a folder of documents.

The data path, one module each: ``corpus`` (read files) -> ``chunk`` (paragraph chunks) ->
``embed`` (sentence-transformers) -> ``index`` (FAISS + BM25, saved atomically) ->
``search`` (``retrieve``: fused retrieval) -> ``highlight`` (answering sentence and words) ->
``cli`` / ``ui``. Settings live in ``settings``.
"""

from __future__ import annotations

__version__ = "0.1.0"
