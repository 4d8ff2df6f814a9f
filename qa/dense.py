"""The index's dense side: the passage vectors in a FAISS index file, exact or approximate.

Up to ``Settings.ann_above`` chunks the file is an exact ``IndexFlatIP`` (inner product of
normalised vectors: cosine), which loads with ``mmap`` (FAISS' ``IO_FLAG_MMAP_IFC``: nothing is
read until a question needs it, and the page cache is shared between processes). Past that size
a question scanning every vector gets slow (``bench/bench_ann.py``), and the file is an HNSW
graph (``IndexHNSWFlat``, ``ann_m`` links a node, searched with ``ann_ef``), whose recall@10
against exact search is measured there and in BENCHMARKS.md."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from qa.settings import Settings

FLAT = "flat"
HNSW = "hnsw"
#: Vectors added to an HNSW graph at a time (bounded memory: the graph copies them anyway).
_ADD_ROWS = 65536


def kind_for(n: int, settings: Settings) -> str:
    """Which index ``n`` vectors get: ``"flat"`` (exact) or ``"hnsw"``."""
    return HNSW if settings.ann_above and n > settings.ann_above else FLAT


def build_dense(vectors: np.ndarray, settings: Settings) -> tuple[Any, dict[str, Any]]:
    """A FAISS index of ``vectors`` (rows normalised, float32; may be a memmap) and its
    description for the manifest."""
    import faiss

    n, dim = vectors.shape
    kind = kind_for(n, settings)
    if kind == FLAT:
        index = faiss.IndexFlatIP(dim)
        info: dict[str, Any] = {"kind": FLAT}
    else:
        index = faiss.IndexHNSWFlat(dim, settings.ann_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.ann_ef_construction
        info = {"kind": HNSW, "m": settings.ann_m, "ef_construction": settings.ann_ef_construction}
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # a server may have set one for questions
    try:
        if kind == FLAT:
            # in one add FAISS grows its copy once, to the exact size; added a block at a
            # time, its buffer's doublings cost up to 1.9x the vectors more (288,768 vectors,
            # 443 MB: peak RSS 1,291 -> 907 MB)
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        else:
            for lo in range(0, n, _ADD_ROWS):
                index.add(np.ascontiguousarray(vectors[lo : lo + _ADD_ROWS], dtype=np.float32))
    finally:
        faiss.omp_set_num_threads(threads)
    return index, info


def write_dense(index: Any, path: Path) -> None:
    """Write a FAISS index, failing as a Python write does (``OSError``): faiss raises
    ``RuntimeError`` when a write fails, and a failed last flush (a full disk) it only prints,
    leaving a cut file; so the size written is checked against the serialised size too."""
    import faiss

    try:
        faiss.write_index(index, str(path))
    except RuntimeError as e:
        raise OSError(f"cannot write {path}: {str(e).split('failed: ')[-1]}") from None
    if isinstance(index, faiss.IndexFlat):
        header = int(faiss.serialize_index(type(index)(index.d)).size)  # an empty flat index
        expected = header + 4 * index.d * index.ntotal
    else:
        expected = int(faiss.serialize_index(index).size)
    if path.stat().st_size != expected:
        raise OSError(f"cannot write {path}: the file is incomplete (is the disk full?)")


def load_dense(path: Path, settings: Settings) -> Any:
    """Open a saved dense index: a flat one memory-mapped, an HNSW one read (its search
    breadth set to ``settings.ann_ef``)."""
    import faiss

    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = max(settings.ann_ef, settings.candidates)
    return index
