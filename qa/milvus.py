"""The index in Milvus: publish a built index to a Milvus collection and read it back with the
surface the :class:`qa.search.Retriever` reads, so that ``qa`` runs on Milvus Lite (a local
``.db`` path) or on a Milvus server or cluster (``http(s)://host:19530``) with the same answers.

A store is named ``milvus:URI`` (``milvus:URI#name`` for another collection than ``qa``); URI is
what ``pymilvus.MilvusClient(uri=...)`` takes. A server's token comes from the environment
(``QA_MILVUS_TOKEN``), never from the command line, and is never logged.

Layout, for the collection ``qa``:

* ``qa``: one row per chunk: the chunk record (JSON), its dense vector (FLAT index below
  :data:`HNSW_FROM` chunks, HNSW above, inner product over normalised vectors: cosine) and its
  lexical side as a sparse vector of BM25 document weights ``tf (k1 + 1) / (tf + k1 (1 - b + b
  dl / avgdl))`` by term id (a 32-bit hash of the term, stable across builds). The IDF is put
  on the query side: a question's sparse vector holds each term's IDF, so the inner product is
  exactly the local BM25 score, and adding documents does not make stored weights stale.
* ``qa_aux``: the document frequency of each term id (what the query side's IDF needs) as
  sparse vectors in :data:`SHARDS` rows by term id (a publish rewrites the rows whose terms
  changed, a reader gets the rows of a question's terms by key), the manifest, and the
  ``current`` pointer.

Versions: every row carries the generation it was written in (``born``) and the one it was
removed in (``died``, :data:`ALIVE` while in force). A reader reads the pointer (one row) and
then sees only the rows of that generation (``born <= g and died > g``). A publish writes the
rows of the chunks that changed (by content: the chunk's record and its vector's content hash)
with ``born = g + 1``, marks removed rows ``died = g + 1``, and only then switches the pointer,
a single-row upsert: readers never see a half-written version, and a publish killed at any
point leaves the previous generation in force (the next publish clears its leftovers). Rows
that no reader can see any more (dead before the previous generation) are deleted after the
switch, as the local index keeps its previous version folder.

BM25's average document length is fixed when a collection is first written (stored weights
depend on it) and is written anew, with every row's weights, once the corpus' average drifts by
more than :data:`AVGDL_DRIFT` from it."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from qa.chunk import Chunk
from qa.embed import Embedder
from qa.index import (
    DocumentInfo,
    IndexProblem,
    LoadedIndex,
    MissingIndexError,
    ModelMismatchError,
    chunker_settings,
)
from qa.lexical import ChunkTerms, analyze
from qa.settings import DEFAULTS, Settings

log = logging.getLogger("qa")

PREFIX = "milvus:"
TOKEN_ENV = "QA_MILVUS_TOKEN"
DEFAULT_COLLECTION = "qa"
#: The layout of the collections (bumped when it changes: a reader refuses another).
SCHEMA_VERSION = 1
#: ``died`` of a row that is in force.
ALIVE = 2**62
#: Chunk counts from which the dense field gets an HNSW index instead of an exact (FLAT) one.
HNSW_FROM = 100_000
HNSW_PARAMS = {"M": 16, "efConstruction": 200}
#: The stored weights are rewritten when the corpus' average chunk length moves this far from
#: the one they were computed with.
AVGDL_DRIFT = 0.05
K1, B = 1.2, 0.75
#: Sparse dimensions: term ids are < TERM_SPACE; the last one marks a chunk with no terms.
TERM_SPACE = 2**32 - 2
EMPTY_DIM = TERM_SPACE
BATCH = 256
#: How many chunks' term ids a reader keeps (for the lexical coverage of candidates).
TERM_SET_CACHE = 20_000
#: Manifest text is stored in pieces of this many (ASCII) characters.
PIECE = 60_000
CHUNK_FIELDS = {"pk", "key", "born", "died", "dl", "chunk", "dense", "sparse"}
AUX_FIELDS = {"pk", "kind", "born", "died", "part", "data", "dfs"}
#: The document frequencies are kept in this many rows (by term id modulo SHARDS).
SHARDS = 256


class MilvusProblem(IndexProblem):
    """The Milvus store cannot be used; the message says why and what to do."""


class MissingMilvusIndexError(MissingIndexError, MilvusProblem):
    """The store holds no qa index yet."""


@dataclass(frozen=True)
class MilvusStore:
    """Where an index lives in Milvus: the client URI and the collection name."""

    uri: str
    collection: str = DEFAULT_COLLECTION

    @property
    def aux(self) -> str:
        """The collection of term frequencies, manifest and pointer."""
        return f"{self.collection}_aux"

    @property
    def is_lite(self) -> bool:
        """True for a Milvus Lite file (a local path), False for a server URI."""
        return "://" not in self.uri

    def shown(self) -> str:
        """The store as ``milvus:URI[#name]``, with any password in the URI left out."""
        uri = self.uri
        if not self.is_lite:
            parts = urlsplit(uri)
            if parts.password or parts.username:
                host = parts.hostname or ""
                netloc = f"{host}:{parts.port}" if parts.port else host
                uri = urlunsplit(parts._replace(netloc=netloc))
        name = "" if self.collection == DEFAULT_COLLECTION else f"#{self.collection}"
        return f"{PREFIX}{uri}{name}"

    def __str__(self) -> str:
        return self.shown()


def parse_store(text: str | None) -> MilvusStore | None:
    """``"milvus:URI[#name]"`` -> :class:`MilvusStore`; ``""``/``None`` -> ``None`` (the
    local index files). Raises ``ValueError`` for anything else."""
    if not text:
        return None
    if not text.startswith(PREFIX) or not text[len(PREFIX) :].strip():
        raise ValueError(
            f"unknown store {text!r}: use milvus:PATH.db (Milvus Lite) or "
            "milvus:http://HOST:19530 (a Milvus server), optionally with #COLLECTION"
        )
    uri, _, name = text[len(PREFIX) :].partition("#")
    name = name or DEFAULT_COLLECTION
    if not name.replace("_", "a").isalnum() or not name[0].isalpha() or len(name) > 200:
        raise ValueError(
            f"bad collection name {name!r}: letters, digits and _ only, starting with a letter"
        )
    store = MilvusStore(uri.strip(), name)
    parts = urlsplit(store.uri)
    if not store.is_lite and (parts.username or parts.password):  # never repeated
        raise ValueError(
            f"credentials in the URI of {store}: put them in the environment instead, "
            f"export {TOKEN_ENV}=user:password (or an API key), and use --store {store}"
        )
    return store


# -- connecting and errors ---------------------------------------------------------------------
_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _quiet_libraries() -> None:
    """pymilvus and Milvus Lite (and its in-process gRPC server) log every failed call with a
    traceback; the errors are turned into one-line messages here instead."""
    for name in ("pymilvus", "milvus_lite", "grpc"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        for h in logging.getLogger(name).handlers:
            h.setLevel(logging.CRITICAL + 1)


def _lite_locked(path: str) -> bool:
    """True if another process holds the Milvus Lite file's lock."""
    lock = Path(path) / "LOCK"
    if not lock.exists():
        return False
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError as e:
        return e.errno in (errno.EAGAIN, errno.EACCES)
    finally:
        os.close(fd)


def _refused(e: BaseException) -> bool:
    """True if the server refused the token somewhere in ``e``'s chain: pymilvus reports a
    gRPC UNAUTHENTICATED at connection as "Fail connecting ... server unavailable" (code 2),
    with the gRPC error as its cause."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        status = getattr(cur, "code", None)
        if callable(status):  # a grpc.RpcError
            with contextlib.suppress(Exception):
                if getattr(status(), "name", "") in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
                    return True
            with contextlib.suppress(Exception):
                if "auth" in str(cur.details()).lower():  # type: ignore[attr-defined]
                    return True
        cur = cur.__cause__ or cur.__context__
    return False


def error_message(store: MilvusStore, e: BaseException, connecting: bool = False) -> str:
    """The one-line message for a failed Milvus call (never showing the token)."""
    text = str(getattr(e, "message", "") or e)
    low = text.lower()
    code = getattr(e, "code", None)
    if connecting and store.is_lite and _lite_locked(store.uri):
        return (
            f"the Milvus Lite file {store.uri} is open in another process (Milvus Lite allows one "
            "process per file): stop that process, or serve both from a Milvus server "
            "(--store milvus:http://HOST:19530)"
        )
    if _refused(e) or any(
        w in low for w in ("auth", "credential", "password", "token", "permission denied")
    ):
        if not os.environ.get(TOKEN_ENV):
            return (
                f"the Milvus server of {store} wants a token: set {TOKEN_ENV} "
                "(user:password or an API key)"
            )
        return (
            f"the Milvus server of {store} refused the token in {TOKEN_ENV}: set the right one "
            "(user:password or an API key)"
        )
    if code == 2 or "fail connecting" in low or "unavailable" in low or "deadline" in low:
        return (
            f"cannot reach the Milvus server of {store}: start it, or check the URI and the network"
        )
    if store.is_lite and "open local milvus failed" in low:
        return f"cannot open the Milvus Lite file {store.uri}: check the path and its permissions"
    return f"Milvus error on {store}: {text.splitlines()[0] if text else type(e).__name__}"


@contextlib.contextmanager
def _errors(store: MilvusStore, connecting: bool = False) -> Iterator[None]:
    """Turn pymilvus' and Milvus Lite's exceptions into :class:`MilvusProblem`."""
    try:
        yield
    except IndexProblem:
        raise
    except Exception as e:
        if type(e).__module__.split(".")[0] not in ("pymilvus", "milvus_lite", "grpc"):
            raise
        raise MilvusProblem(error_message(store, e, connecting)) from None


def client(store: MilvusStore) -> Any:
    """The process' ``MilvusClient`` of ``store.uri`` (one per URI, made on first use)."""
    with _CLIENTS_LOCK:
        c = _CLIENTS.get(store.uri)
        if c is not None:
            return c
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise MilvusProblem(
                "the Milvus client is not installed: pip install 'qa[milvus]' "
                "(pymilvus, and milvus-lite for a local .db file)"
            ) from None
        _quiet_libraries()
        if store.is_lite:
            Path(store.uri).parent.mkdir(parents=True, exist_ok=True)
        with _errors(store, connecting=True):
            c = MilvusClient(uri=store.uri, token=os.environ.get(TOKEN_ENV, ""), timeout=30)
        _CLIENTS[store.uri] = c
        return c


_LOADED: set[tuple[str, str]] = set()


def _ensure_loaded(c: Any, store: MilvusStore, name: str) -> None:
    """Load a collection for searching and querying (once per process: a collection is
    released when the server, or the Milvus Lite process, starts)."""
    if (store.uri, name) not in _LOADED:
        c.load_collection(name)
        _LOADED.add((store.uri, name))


def close(store: MilvusStore) -> None:
    """Close the process' client of ``store.uri`` (a Milvus Lite file is released)."""
    with _CLIENTS_LOCK:
        c = _CLIENTS.pop(store.uri, None)
        _LOADED.difference_update({k for k in _LOADED if k[0] == store.uri})
    if c is not None:
        with contextlib.suppress(Exception):
            c.close()
        if store.is_lite:
            with contextlib.suppress(Exception):
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(os.path.abspath(store.uri))


# -- rows ----------------------------------------------------------------------------------------
def term_id(term: str) -> int:
    """The sparse dimension of a term: a 32-bit hash (the same in every build and process)."""
    digest = hashlib.blake2b(term.encode("utf-8", "surrogatepass"), digest_size=4).digest()
    return int.from_bytes(digest, "big") % TERM_SPACE


def idf(df: int, n: int) -> float:
    """BM25 IDF as :class:`qa.lexical.LexicalIndex` computes it (Lucene's)."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def chunk_terms(c: Chunk) -> Counter[int]:
    """Term id -> count in a chunk, over the text the local lexical index analyses."""
    return Counter(term_id(t) for t in analyze(c.section + "\n" + c.text))


class IndexTerms:
    """:func:`chunk_terms` of each chunk of a local index, read from its lexical index's saved
    term frequencies when it has them instead of analysing every chunk's text again (jieba:
    most of a first publish's time) — the same counts either way."""

    def __init__(self, index: LoadedIndex) -> None:
        self._index = index
        self._view = ChunkTerms(index.lexical) if index.lexical.tfs is not None else None
        self._ids = np.full(len(self._view.vocab) if self._view else 0, -1, dtype=np.int64)

    def __call__(self, i: int) -> Counter[int]:
        """Term id -> count in chunk ``i``."""
        view = self._view
        if view is None:
            return chunk_terms(self._index.chunks[i])
        old, tfs = view[i]
        ids = self._ids[old]
        for j in np.flatnonzero(ids < 0):  # first time this term is met: hash its text
            ids[j] = self._ids[old[j]] = term_id(view.vocab.term(int(old[j])))
        out: Counter[int] = Counter()
        for t, n in zip(ids.tolist(), tfs.tolist(), strict=True):
            out[t] += n  # two terms may share a 32-bit id
        return out


def doc_weights(tf: Counter[int], avgdl: float) -> dict[int, float]:
    """A chunk's sparse vector: the BM25 document side of each of its terms."""
    dl = sum(tf.values())
    if not tf:
        return {EMPTY_DIM: 1e-6}
    norm = K1 * (1.0 - B + B * dl / avgdl)
    return {t: float(n * (K1 + 1.0) / (n + norm)) for t, n in tf.items()}


def chunk_key(c: Chunk, vector_hash: str) -> str:
    """What identifies a row's content: the chunk record and the vector's model."""
    raw = json.dumps([asdict(c), vector_hash], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _chunk(record: dict[str, Any]) -> Chunk:
    record = dict(record)
    record["page_breaks"] = tuple(record.get("page_breaks", ()))
    return Chunk(**record)


def _visible(gen: int) -> str:
    return f"born <= {gen} and died > {gen}"


def _query_all(
    c: Any, store: MilvusStore, name: str, flt: str, fields: list[str]
) -> Iterator[dict[str, Any]]:
    """Every row matching ``flt``. A server caps one query's result (16,384 rows), so it is
    read by an iterator; Milvus Lite returns every row at once and has no iterator timestamps."""
    if store.is_lite:
        yield from c.query(name, filter=flt, output_fields=fields)
        return
    it = c.query_iterator(name, batch_size=1000, filter=flt, output_fields=fields)
    try:
        while True:
            rows = it.next()
            if not rows:
                break
            yield from rows
    finally:
        it.close()


def read_pointer(store: MilvusStore) -> dict[str, Any] | None:
    """The ``current`` pointer of ``store`` (None if nothing was published yet)."""
    c = client(store)
    with _errors(store):
        if not c.has_collection(store.aux):
            return None
        try:
            _ensure_loaded(c, store, store.aux)
            rows = c.get(store.aux, ids=["current"], output_fields=["data"])  # by key: fastest
            return json.loads(rows[0]["data"]) if rows else None
        except Exception:
            _check_layout(c, store)  # a collection qa did not make: say so
            raise


def _check_layout(c: Any, store: MilvusStore) -> None:
    for name, want in ((store.collection, CHUNK_FIELDS), (store.aux, AUX_FIELDS)):
        if c.has_collection(name):
            have = {f["name"] for f in c.describe_collection(name)["fields"]}
            if have != want:
                raise MilvusProblem(
                    f"the collection {name!r} of {store} was not made by qa: publish to another "
                    f"one with --store {PREFIX}{store.uri}#NAME"
                )


def _create(c: Any, store: MilvusStore, dim: int, n: int) -> None:
    from pymilvus import DataType

    if not c.has_collection(store.collection):
        s = c.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=64)
        s.add_field("key", DataType.VARCHAR, max_length=64)
        s.add_field("born", DataType.INT64)
        s.add_field("died", DataType.INT64)
        s.add_field("dl", DataType.INT64)
        s.add_field("chunk", DataType.JSON)
        s.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        ip = c.prepare_index_params()
        if n >= HNSW_FROM:
            ip.add_index("dense", index_type="HNSW", metric_type="IP", params=HNSW_PARAMS)
        else:
            ip.add_index("dense", index_type="FLAT", metric_type="IP")
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        c.create_collection(store.collection, schema=s, index_params=ip, consistency_level="Strong")
    if not c.has_collection(store.aux):
        s = c.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=64)
        s.add_field("kind", DataType.VARCHAR, max_length=8)  # d: frequencies, m: manifest, p
        s.add_field("born", DataType.INT64)
        s.add_field("died", DataType.INT64)
        s.add_field("part", DataType.INT64)  # the shard of a d row, the piece of an m row
        s.add_field("data", DataType.VARCHAR, max_length=PIECE + 64)
        # term id -> document frequency (exact in float32 up to 16.7 million chunks); a
        # vector field is what Milvus requires in every collection anyway
        s.add_field("dfs", DataType.SPARSE_FLOAT_VECTOR)
        ip = c.prepare_index_params()
        ip.add_index("dfs", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        c.create_collection(store.aux, schema=s, index_params=ip, consistency_level="Strong")


# -- what built a collection ---------------------------------------------------------------------
#: The chunker entries that this qa's code decides, not a setting (labels for messages).
CODE_KEYS = {"version": "chunker version", "readers": "readers version"}


def _chunker_differences(have: dict[str, Any] | None, want: dict[str, Any] | None) -> list[str]:
    """The chunker entries that differ; none when a side does not record them (a collection
    published before the pointer recorded its chunker: unknown, not different)."""
    if not have or not want:
        return []
    return [k for k in want if k in have and have[k] != want[k]]


def _built_with(model: str, chunker: dict[str, Any], keys: Iterable[str]) -> str:
    """``the model 'x', max_chunk_chars=200``: what an index was built with, for messages."""
    parts = [model] if model else []
    parts += [
        f"{CODE_KEYS[k]} {chunker[k]}" if k in CODE_KEYS else f"{k}={chunker[k]}" for k in keys
    ]
    return ", ".join(parts)


def _model_label(model: dict[str, Any], other: dict[str, Any]) -> str:
    """``the model 'x'``, with its fingerprint when the other one has the same name."""
    label = f"the model {model.get('name')!r}"
    if model.get("name") == other.get("name"):
        label += f" (fingerprint {str(model.get('fingerprint'))[:16]})"
    return label


def _check_same_build(
    store: MilvusStore, pointer: dict[str, Any], manifest: dict[str, Any]
) -> None:
    """Refuse to publish an index built with another model or chunker over ``store``'s (every
    row would be replaced: a collection that another build, or another corpus, publishes to)."""
    theirs, ours = pointer.get("model", {}), manifest["model"]
    other_model = theirs.get("fingerprint", ours["fingerprint"]) != ours["fingerprint"]
    keys = _chunker_differences(pointer.get("chunker"), manifest.get("chunker"))
    if not other_model and not keys:
        return
    had = _built_with(
        _model_label(theirs, ours) if other_model else "", pointer["chunker"] if keys else {}, keys
    )
    has = _built_with(
        _model_label(ours, theirs) if other_model else "", manifest.get("chunker") or {}, keys
    )
    raise MilvusProblem(
        f"{store} holds an index built with {had}, this one is built with {has}: publish to "
        f"another collection (--store {PREFIX}{store.uri}#NAME), or pass --replace to qa build "
        "to overwrite it"
    )


def _warn_other_build(store: MilvusStore, manifest: dict[str, Any], settings: Settings) -> None:
    """Say (one line) when ``store`` was built with a chunker or model other than ``settings``
    choose. It answers with its own chunks and model, as a local index does, so only what
    ``settings`` set away from the defaults, or this qa's chunker version, counts: ``qa ask``
    has no chunking or model options to be told apart from them."""
    want, defaults = chunker_settings(settings), chunker_settings(DEFAULTS)
    have = manifest.get("chunker") or {}
    keys = [
        k for k in _chunker_differences(have, want) if k in CODE_KEYS or want[k] != defaults.get(k)
    ]
    model = manifest["model"]
    other_model = settings.model not in (model["name"], DEFAULTS.model)
    if not keys and not other_model:
        return
    asked = {"name": settings.model}
    log.warning(
        "%s was built with %s, not %s: it answers with its own chunks and model (to rebuild it "
        "with these settings: qa build --store %s --replace)",
        store,
        _built_with(_model_label(model, asked) if other_model else "", have, keys),
        _built_with(f"the model {settings.model!r}" if other_model else "", want, keys),
        store,
    )


# -- publishing ----------------------------------------------------------------------------------
@dataclass
class PublishReport:
    """What a publish did."""

    store: str
    generation: int
    chunks: int = 0
    added: int = 0
    removed: int = 0
    terms: int = 0  # document-frequency rows (shards) written
    seconds: float = 0.0
    rewritten: str = ""  # why every row was written again ("" if only changes were)

    def summary(self) -> str:
        """One line for the CLI."""
        line = (
            f"published {self.chunks} chunk(s) to {self.store} (generation {self.generation}): "
            f"{self.added} written, {self.removed} removed, {self.seconds:.1f} s"
        )
        return line + (f"; every chunk written again: {self.rewritten}" if self.rewritten else "")


def _clear_leftovers(c: Any, store: MilvusStore, gen: int) -> None:
    """Undo what a publish killed before switching the pointer to ``gen + 1`` left."""
    for name in (store.collection, store.aux):
        c.delete(name, filter=f"born > {gen}")
        marked = [
            r["pk"]
            for r in _query_all(c, store, name, f"died > {gen} and died < {ALIVE}", ["pk"])
            if r["pk"] != "current"
        ]
        for i in range(0, len(marked), BATCH):
            rows = [{"pk": pk, "died": ALIVE} for pk in marked[i : i + BATCH]]
            c.upsert(name, rows, partial_update=True)


def _mark_dead(c: Any, name: str, pks: Sequence[str], gen: int) -> None:
    for i in range(0, len(pks), BATCH):
        c.upsert(name, [{"pk": pk, "died": gen} for pk in pks[i : i + BATCH]], partial_update=True)


def publish(
    index: LoadedIndex, store: MilvusStore | str, progress: Any = None, replace: bool = False
) -> PublishReport:
    """Make ``index`` (a loaded local version: the build cache) the current version of
    ``store``, writing only the chunks that changed since the version it holds. A store built
    with another model or chunker is refused unless ``replace`` (then every row is written
    again, readers still see whole versions)."""
    t0 = time.perf_counter()
    store = parse_store(store) if isinstance(store, str) else store
    assert store is not None
    c = client(store)
    manifest = index.manifest
    dim = int(manifest["model"]["dim"])
    n = len(index.chunks)

    def report(msg: str) -> None:
        log.info("%s: %s", store, msg)
        if progress is not None:
            progress(msg)

    with _errors(store):
        _check_layout(c, store)
        pointer = read_pointer(store)
        if pointer is not None and pointer.get("schema") != SCHEMA_VERSION:
            raise MilvusProblem(
                f"{store} holds a qa index of layout {pointer.get('schema')}, this qa writes "
                f"layout {SCHEMA_VERSION}: publish to another collection "
                f"(--store {PREFIX}{store.uri}#NAME) or drop {store.collection!r} and "
                f"{store.aux!r}"
            )
        if pointer is not None and int(pointer["model"]["dim"]) != dim:
            raise MilvusProblem(
                f"{store} holds {pointer['model']['dim']}-dimension vectors of the model "
                f"{pointer['model']['name']!r}, this index has {dim} "
                f"({manifest['model']['name']!r}): publish to another collection "
                f"(--store {PREFIX}{store.uri}#NAME)"
            )
        if pointer is not None and not replace:
            _check_same_build(store, pointer, manifest)
        _create(c, store, dim, n)
        for name in (store.collection, store.aux):
            _ensure_loaded(c, store, name)
        cur = int(pointer["generation"]) if pointer else 0
        gen = cur + 1
        _clear_leftovers(c, store, cur)
        fingerprint = manifest["model"]["fingerprint"]
        keys = [chunk_key(ch, fingerprint) for ch in index.chunks]
        wanted = {k: i for i, k in enumerate(keys)}
        held: dict[str, tuple[str, int]] = {}  # key -> (pk, dl) of the rows in force
        if pointer is not None:
            for r in _query_all(c, store, store.collection, _visible(cur), ["pk", "key", "dl"]):
                held[r["key"]] = (r["pk"], int(r["dl"]))
        new_keys = [k for k in wanted if k not in held]
        terms_of = IndexTerms(index)
        terms = {k: terms_of(wanted[k]) for k in new_keys}
        total = sum(dl for k, (_, dl) in held.items() if k in wanted)
        total += sum(sum(terms[k].values()) for k in new_keys)
        avgdl_now = total / n if n and total else 1.0
        avgdl = float(pointer["avgdl"]) if pointer else avgdl_now
        rewritten = ""
        if pointer is None:
            pass
        elif pointer.get("model", {}).get("fingerprint") != fingerprint:
            rewritten = f"the model changed to {manifest['model']['name']!r}"
        elif abs(avgdl_now - avgdl) > AVGDL_DRIFT * avgdl:
            rewritten = f"the average chunk length moved from {avgdl:.1f} to {avgdl_now:.1f} terms"
        if rewritten:
            avgdl = avgdl_now
            new_keys = list(wanted)
            terms.update((k, terms_of(wanted[k])) for k in new_keys if k not in terms)
        new_set = set(new_keys)
        gone = [pk for k, (pk, _) in held.items() if k not in wanted or k in new_set]
        report(f"writing {len(new_keys)} chunk(s), removing {len(gone)}")

        # document frequencies: the terms of the removed rows out, of the new rows in
        delta: Counter[int] = Counter()
        for i in range(0, len(gone), BATCH):
            part = gone[i : i + BATCH]
            for r in c.query(
                store.collection, filter=f"pk in {json.dumps(part)}", output_fields=["sparse"]
            ):
                delta.subtract({t: 1 for t in _sparse_keys(r["sparse"]) if t != EMPTY_DIM})
        for k in new_keys:
            delta.update({t: 1 for t in terms[k]})
        touched = [t for t, d in delta.items() if d != 0]

        vectors = index.vectors() if new_keys else np.zeros((0, dim), dtype=np.float32)
        for i in range(0, len(new_keys), BATCH):
            rows = []
            for k in new_keys[i : i + BATCH]:
                j = wanted[k]
                tf = terms[k]
                rows.append(
                    {
                        "pk": f"{gen:x}-{k}",
                        "key": k,
                        "born": gen,
                        "died": ALIVE,
                        "dl": sum(tf.values()),
                        "chunk": asdict(index.chunks[j]),
                        "dense": np.asarray(vectors[j], dtype=np.float32).tolist(),
                        "sparse": doc_weights(tf, avgdl),
                    }
                )
            c.insert(store.collection, rows)
        _mark_dead(c, store.collection, gone, gen)

        shards = list(pointer.get("shards", [0] * SHARDS)) if pointer else [0] * SHARDS
        by_shard: dict[int, list[int]] = {}
        for t in touched:
            by_shard.setdefault(t % SHARDS, []).append(t)
        changed = sorted(by_shard)
        old_dfs = _shard_rows(c, store, shards, changed)
        _mark_dead(c, store.aux, [_shard_pk(shards[s], s) for s in changed if shards[s]], gen)
        term_rows = []
        for s in changed:
            dfs = dict(old_dfs.get(s, {}))
            for t in by_shard[s]:
                dfs[t] = dfs.get(t, 0) + delta[t]
            dfs = {t: float(d) for t, d in dfs.items() if d > 0}
            shards[s] = gen if dfs else 0
            if dfs:
                term_rows.append(_aux_row(_shard_pk(gen, s), "d", gen, part=s, dfs=dfs))
        for i in range(0, len(term_rows), 16):
            c.insert(store.aux, term_rows[i : i + 16])

        meta = {k: v for k, v in manifest.items() if k != "checksums"}
        text = json.dumps(meta, ensure_ascii=True)
        pieces = [text[i : i + PIECE] for i in range(0, len(text), PIECE)] or [""]
        flt = f'kind == "m" and {_visible(cur)}'
        old_pieces = [r["pk"] for r in _query_all(c, store, store.aux, flt, ["pk"])]
        _mark_dead(c, store.aux, old_pieces, gen)
        c.insert(
            store.aux,
            [_aux_row(f"m{gen:x}-{i}", "m", gen, part=i, data=p) for i, p in enumerate(pieces)],
        )
        new_pointer = {
            "schema": SCHEMA_VERSION,
            "generation": gen,
            "version": index.version,
            "chunks": n,
            "pieces": len(pieces),
            "avgdl": avgdl,
            "shards": shards,
            "model": manifest["model"],
            "chunker": manifest.get("chunker"),
            "published_at": time.time(),
        }
        # Sealed and persisted before the switch; on Milvus Lite this also moves the rows out
        # of its in-memory table, which every sparse search would otherwise rebuild an index
        # of (measured on CMRC: 1.2 s -> 14 ms per lexical search).
        for name in (store.collection, store.aux):
            c.flush(name)
        # the switch: one row
        c.upsert(store.aux, [_aux_row("current", "p", 0, data=json.dumps(new_pointer))])
        for name in (store.collection, store.aux):  # what no reader can see any more
            c.delete(name, filter=f"died < {gen}")
    report("done")
    return PublishReport(
        store=str(store),
        generation=gen,
        chunks=n,
        added=len(new_keys),
        removed=len(gone),
        terms=len(term_rows),
        seconds=time.perf_counter() - t0,
        rewritten=rewritten,
    )


def publish_folder(settings: Settings) -> PublishReport | None:
    """Bring ``settings.store`` up to date with the corpus: build the index folder if it is
    stale (incremental, as ``qa build``), then publish its version unless the store holds it
    already (what ``qa serve --store`` and ``app.py --store`` run before serving)."""
    from qa.index import build_index, load_index, stale_reason

    store = parse_store(settings.store)
    if store is None:
        return None
    if stale_reason(settings.index_dir, settings.corpus_dir, settings) is not None:
        build_index(
            settings.corpus_dir, settings.index_dir, settings=settings, show_progress_bar=True
        )
    index = load_index(settings.index_dir)
    pointer = read_pointer(store)
    if pointer is not None and pointer.get("version") == index.version:
        return None
    report = publish(index, store)
    log.warning("%s", report.summary())
    return report


def _aux_row(
    pk: str, kind: str, born: int, part: int = 0, data: str = "", dfs: dict | None = None
) -> dict[str, Any]:
    return {
        "pk": pk,
        "kind": kind,
        "born": born,
        "died": ALIVE,
        "part": part,
        "data": data,
        "dfs": dfs or {EMPTY_DIM: 1.0},  # a sparse vector may not be empty
    }


def _shard_pk(gen: int, shard: int) -> str:
    return f"d{gen:x}-{shard}"


def _sparse_keys(sparse: dict[int, float]) -> Iterable[int]:
    """The dimensions of a sparse vector as pymilvus returns it (a dict)."""
    return (int(k) for k in sparse)


def _shard_rows(
    c: Any, store: MilvusStore, shards: Sequence[int], wanted: Iterable[int]
) -> dict[int, dict[int, int]]:
    """shard -> {term id: document frequency} of the ``wanted`` shards, read by key (the
    pointer's ``shards`` names the generation each was last written in; 0: no terms)."""
    pks = [_shard_pk(shards[s], s) for s in wanted if shards[s]]
    out: dict[int, dict[int, int]] = {}
    for i in range(0, len(pks), 16):
        for r in c.get(store.aux, ids=pks[i : i + 16], output_fields=["part", "dfs"]):
            items = r["dfs"].items()  # pymilvus gives a sparse vector as a dict
            out[int(r["part"])] = {int(t): round(d) for t, d in items if int(t) != EMPTY_DIM}
    return out


# -- reading -------------------------------------------------------------------------------------
class MilvusDense:
    """The dense side: ``search(qvecs, k)`` as FAISS answers it, over one generation."""

    def __init__(self, store: MilvusStore, gen: int, pks: Sequence[str], dim: int) -> None:
        self.store, self.gen, self.pks, self.d = store, gen, list(pks), dim
        self.position = {pk: i for i, pk in enumerate(self.pks)}
        self.ntotal = len(self.pks)

    def search(self, qvecs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the ``k`` nearest chunks of each query, ids -1 past the end."""
        qvecs = np.asarray(qvecs, dtype=np.float32)
        scores = np.full((len(qvecs), k), -np.inf, dtype=np.float32)
        ids = np.full((len(qvecs), k), -1, dtype=np.int64)
        if not self.ntotal or not k:
            return scores, ids
        c = client(self.store)
        with _errors(self.store):
            res = c.search(
                self.store.collection,
                data=qvecs.tolist(),
                anns_field="dense",
                limit=k,
                filter=_visible(self.gen),
                search_params={"metric_type": "IP", "params": {"ef": max(k, 64)}},
            )
        for q, hits in enumerate(res):
            for j, h in enumerate(hits[:k]):
                ids[q, j] = self.position[h["pk"]]
                scores[q, j] = h["distance"]
        return scores, ids

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        """The vectors of chunks ``start .. start + n - 1``."""
        c = client(self.store)
        out = np.zeros((self.ntotal, self.d), dtype=np.float32)
        with _errors(self.store):
            rows = _query_all(
                c, self.store, self.store.collection, _visible(self.gen), ["pk", "dense"]
            )
            for r in rows:
                out[self.position[r["pk"]]] = r["dense"]
        return out[start : start + n]


class MilvusLexical:
    """The lexical side: BM25 by a sparse inner product, IDF from the stored frequencies."""

    def __init__(
        self,
        store: MilvusStore,
        gen: int,
        pks: Sequence[str],
        candidates: int,
        shards: Sequence[int],
    ) -> None:
        self.store, self.gen, self.pks, self.shards = store, gen, list(pks), list(shards)
        self.position = {pk: i for i, pk in enumerate(self.pks)}
        self.n_docs, self.candidates = len(self.pks), candidates
        self._df: dict[int, int] = {}
        # chunk position -> its term ids and weights
        self._terms: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    def _dfs(self, tids: Iterable[int]) -> dict[int, int]:
        want = set(tids)
        with self._lock:
            missing = [t for t in want if t not in self._df]
        if missing:
            with _errors(self.store):
                rows = _shard_rows(
                    client(self.store), self.store, self.shards, {t % SHARDS for t in missing}
                )
            with self._lock:
                for t in missing:
                    self._df[t] = rows.get(t % SHARDS, {}).get(t, 0)
                if len(self._df) > 200_000:  # a bounded cache
                    self._df.clear()
        with self._lock:
            return {t: self._df.get(t, 0) for t in want}

    def idf(self, term: str) -> float:
        """BM25 IDF of ``term``."""
        t = term_id(term)
        return idf(self._dfs([t])[t], self.n_docs)

    def query_vector(self, terms: Iterable[str]) -> dict[int, float]:
        """The question's sparse vector: the IDF of each of its terms that some chunk has."""
        dfs = self._dfs({term_id(t) for t in set(terms)})
        return {t: idf(df, self.n_docs) for t, df in dfs.items() if df > 0}

    def scores(
        self, terms: Iterable[str], k: int | None = None, include: np.ndarray | None = None
    ) -> np.ndarray:
        """BM25 score of every chunk for ``terms``: the best ``k`` (default: the retrieval
        candidates) and the chunks ``include`` (e.g. the dense side's candidates, whose BM25
        the fusion reads as the local index gives it) scored, the others 0."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        query = self.query_vector(terms)
        if not query or not self.n_docs:
            return out
        if include is not None:
            ids = [int(i) for i in include if i >= 0]
            qt = np.array(list(query), dtype=np.int64)
            qw = np.array(list(query.values()), dtype=np.float64)
            for i, (keys, weights) in zip(ids, self._sparse_rows(ids), strict=True):
                hit = np.isin(keys, qt)
                if hit.any():
                    w = dict(zip(keys[hit].tolist(), weights[hit].tolist(), strict=True))
                    out[i] = float(sum(w.get(int(t), 0.0) * x for t, x in zip(qt, qw, strict=True)))
        with _errors(self.store):
            res = client(self.store).search(
                self.store.collection,
                data=[query],
                anns_field="sparse",
                limit=min(k or self.candidates, self.n_docs),
                filter=_visible(self.gen),
                search_params={"metric_type": "IP"},
            )
        for h in res[0]:
            out[self.position[h["pk"]]] = h["distance"]
        return out

    def upper_bound(self, terms: Iterable[str], k1: float = K1) -> float:
        """The most a chunk could score for ``terms``: every term at saturation."""
        return sum(self.idf(t) * (k1 + 1.0) for t in set(terms))

    def _term_sets(self, ids: list[int]) -> list[np.ndarray]:
        """The term ids of each chunk of ``ids`` (its sparse vector's dimensions)."""
        return [keys for keys, _ in self._sparse_rows(ids)]

    def _sparse_rows(self, ids: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(term ids, BM25 document weights) of each chunk of ``ids``, read from Milvus for the
        chunks not in a bounded cache."""
        with self._lock:
            missing = [self.pks[i] for i in ids if i not in self._terms]
        if missing:
            with _errors(self.store):
                rows = client(self.store).get(
                    self.store.collection, ids=missing, output_fields=["sparse"]
                )
            got = {
                self.position[r["pk"]]: (
                    np.fromiter(_sparse_keys(r["sparse"]), dtype=np.int64),
                    np.fromiter(r["sparse"].values(), dtype=np.float32),
                )
                for r in rows
            }
            with self._lock:
                if len(self._terms) + len(got) > TERM_SET_CACHE:
                    self._terms.clear()
                self._terms.update(got)
        with self._lock:
            empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
            return [self._terms.get(i, empty) for i in ids]

    def coverage(self, terms: Iterable[str], ids: np.ndarray) -> np.ndarray:
        """For each chunk in ``ids``: the share of the query terms' IDF mass it contains
        (1.0: every query term occurs in it; terms no chunk has count against it)."""
        tmap = {t: term_id(t) for t in set(terms)}
        dfs = self._dfs(tmap.values())
        weight = {t: idf(dfs[tid], self.n_docs) for t, tid in tmap.items()}
        total = sum(weight.values())
        out = np.zeros(len(ids), dtype=np.float32)
        if total <= 0 or not len(ids):
            return out
        keys = self._term_sets([int(i) for i in ids])
        tids = np.array(list(tmap.values()), dtype=np.int64)
        w = np.array([weight[t] for t in tmap], dtype=np.float64)
        for j, have in enumerate(keys):
            out[j] = float(w[np.isin(tids, have)].sum())
        return out / total


@dataclass
class MilvusIndex:
    """One generation of a Milvus store, with the surface of :class:`qa.index.LoadedIndex` that
    retrieval reads. The chunk records are held in memory (as the local index does); vectors
    and term weights stay in Milvus."""

    store: MilvusStore
    version: str
    manifest: dict[str, Any]
    chunks: list[Chunk]
    dense: MilvusDense
    lexical: MilvusLexical
    generation: int = 0
    _by_doc: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for i, c in enumerate(self.chunks):
            self._by_doc.setdefault(c.doc, []).append(i)

    @property
    def folder(self) -> str:
        """The store, where the local index has its folder (for messages)."""
        return str(self.store)

    @property
    def model(self) -> str:
        """The name of the embedding model the index was built with."""
        return str(self.manifest["model"]["name"])

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents, in path order."""
        return [DocumentInfo(path=p, **d) for p, d in sorted(self.manifest["files"].items())]

    def chunk_ids(self, doc: str) -> list[int]:
        """The ids of ``doc``'s chunks, in document order."""
        return self._by_doc.get(doc, [])

    def _position(self, i: int) -> tuple[list[int], int]:
        ids = self._by_doc[self.chunks[i].doc]
        pos = self.chunks[i].ordinal
        if not (0 <= pos < len(ids) and ids[pos] == i):
            pos = ids.index(i)
        return ids, pos

    def neighbours(self, i: int, before: int = 1, after: int = 1) -> list[Chunk]:
        """Chunk ``i`` with up to ``before``/``after`` chunks around it in its document."""
        ids, pos = self._position(i)
        return [self.chunks[j] for j in ids[max(0, pos - before) : pos + after + 1]]

    def paragraph_window(self, i: int, each_side: int = 1) -> list[int]:
        """The ids of chunk ``i`` and of up to ``each_side`` chunks before and after it that
        belong to the same paragraph, in order."""
        ids, pos = self._position(i)
        lo = hi = pos
        while pos - lo < each_side and lo > 0 and self.chunks[ids[lo]].continues:
            lo -= 1
        while hi - pos < each_side and hi + 1 < len(ids) and self.chunks[ids[hi + 1]].continues:
            hi += 1
        return ids[lo : hi + 1]

    def vectors(self) -> np.ndarray:
        """All passage vectors, in chunk order."""
        return self.dense.reconstruct_n(0, self.dense.ntotal)

    def check_model(self, embedder: Embedder) -> None:
        """Raise :class:`qa.index.ModelMismatchError` if built with another model."""
        want = self.manifest["model"]
        if want["fingerprint"] != embedder.fingerprint:
            raise ModelMismatchError(
                f"{self.store} was built with the model {want['name']!r}, not "
                f"{embedder.model_name!r}; rebuild it with: qa build --store {self.store} "
                f"--model {embedder.model_name}"
            )


def pointer_bytes(store: MilvusStore) -> bytes | None:
    """The current pointer as bytes (what a reader compares to notice a new version)."""
    p = read_pointer(store)
    return json.dumps(p, sort_keys=True).encode() if p else None


def load(store: MilvusStore | str, settings: Settings = DEFAULTS) -> MilvusIndex:
    """The current generation of ``store``. Raises :class:`MissingMilvusIndexError` when
    nothing was published there and :class:`MilvusProblem` when it cannot be read."""
    store = parse_store(store) if isinstance(store, str) else store
    assert store is not None
    pointer = read_pointer(store)
    if pointer is None:
        raise MissingMilvusIndexError(
            f"no qa index in {store}: build it with: qa build --store {store}"
        )
    if pointer.get("schema") != SCHEMA_VERSION:
        raise MilvusProblem(
            f"{store} holds a qa index of layout {pointer.get('schema')}, this qa reads layout "
            f"{SCHEMA_VERSION}: rebuild it with: qa build --store {store}"
        )
    gen = int(pointer["generation"])
    c = client(store)
    with _errors(store):
        _ensure_loaded(c, store, store.collection)
        rows = list(_query_all(c, store, store.collection, _visible(gen), ["pk", "chunk"]))
        pieces = sorted(
            _query_all(c, store, store.aux, f'kind == "m" and {_visible(gen)}', ["part", "data"]),
            key=lambda r: int(r["part"]),
        )
    if len(rows) != int(pointer["chunks"]) or len(pieces) != int(pointer["pieces"]):
        raise MilvusProblem(
            f"{store} is incomplete ({len(rows)} of {pointer['chunks']} chunks): rebuild it "
            f"with: qa build --store {store}"
        )
    manifest = json.loads("".join(r["data"] for r in pieces))
    _warn_other_build(store, manifest, settings)
    # the local index's order: documents as the build read them (the manifest keeps it)
    order = {path: i for i, path in enumerate(manifest["files"])}
    rows.sort(key=lambda r: (order.get(r["chunk"]["doc"], len(order)), int(r["chunk"]["ordinal"])))
    pks = [r["pk"] for r in rows]
    chunks = [_chunk(r["chunk"]) for r in rows]
    dense = MilvusDense(store, gen, pks, int(pointer["model"]["dim"]))
    lexical = MilvusLexical(store, gen, pks, settings.candidates, pointer["shards"])
    return MilvusIndex(store, str(pointer["version"]), manifest, chunks, dense, lexical, gen)
