"""The saved index: FAISS inner-product index over normalised passage vectors, the BM25
lexical index, the chunk records and a manifest, kept in a folder (default ``index/``).

Layout::

    index/
      CURRENT            {"version": "v-...", "manifest_sha256": "..."}, replaced atomically
      .lock              held (flock) by the one build that may run at a time
      v-20261127-.../    one complete version: manifest.json, the chunk store (chunks.bin,
                         chunks_*.npy/json: qa/chunkstore.py), dense.faiss (qa/dense.py), the
                         lexical index (lexical_*: qa/lexical.py)
      partial-<key>.bin  vectors an unfinished build embedded (the next build takes them)

A build writes a new version folder, fsyncs it, then atomically replaces ``CURRENT``: a build
killed at any moment leaves the previous version in force. Loading checks the manifest (format
version, sha256 of every file) and says how to rebuild when anything is missing or damaged.
Rebuilds are incremental: a file whose content hash is unchanged since the previous version
(built with the same chunker and readers) reuses its chunks without being read again (a scanned
PDF is not OCRed again), and a chunk whose content hash is already in the previous version
(built with the same model) reuses its vector instead of being embedded again.

A build streams: each file's chunks go to the new version's chunk store as they are cut (a big
text file's while it is read: no file is held whole, nor its chunks), and the lexical index is
built from the finished store, its postings spilled to disk and written a hash bucket at a time
(:class:`qa.lexical.LexicalBuilder`), so a build's memory does not grow with the corpus beyond
the vocabulary and the vectors (the dense index itself); a served index opens every file with
``mmap``. A file whose reading fails midway (it
changed meanwhile) is taken out of the store again and skipped."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from qa.chunk import CHUNKER_VERSION, Chunk, iter_document_chunks
from qa.chunkstore import ChunkStore, ChunkWriter
from qa.corpus import (
    DocumentMeta,
    Skipped,
    checked_path,
    file_sha256,
    iter_each,
    list_files,
    skip_reason,
)
from qa.dense import build_dense, load_dense, write_dense
from qa.embed import Embedder, get_embedder
from qa.formats import READERS_VERSION, kind_of
from qa.lexical import ANALYZER_VERSION, ChunkTerms, LexicalBuilder, LexicalIndex, analyze
from qa.settings import DEFAULTS, Settings

log = logging.getLogger("qa")

#: 2: the chunk store and an mmap-able vocabulary replaced chunks.jsonl and lexical_vocab.json
FORMAT_VERSION = 2
CURRENT = "CURRENT"
LOCK = ".lock"
MANIFEST = "manifest.json"
CHUNKS = "chunks.bin"  # the chunk texts (qa.chunkstore.TEXTS)
DENSE = "dense.faiss"

#: ``progress(fraction, message)``: fraction in [0, 1] of the whole build.
BuildProgress = Callable[[float, str], None]


class IndexProblem(RuntimeError):
    """The index cannot be used; the message says why and how to rebuild."""


class MissingIndexError(IndexProblem):
    """No index has been built in this folder yet."""


class CorruptIndexError(IndexProblem):
    """The index files are damaged or incomplete."""


class ModelMismatchError(IndexProblem):
    """The index was built with another embedding model than the one asked for."""


class BuildLockedError(IndexProblem):
    """Another build holds the index folder's lock."""


class BuildMemoryError(IndexProblem):
    """A build ran out of memory (the previous index stays in use)."""


def _rebuild_hint(folder: Path) -> str:
    return f"rebuild it with: qa build --index {folder}"


def chunker_settings(settings: Settings) -> dict[str, Any]:
    """The settings that change chunking: an index built with others is stale."""
    return {
        "version": CHUNKER_VERSION,
        "readers": READERS_VERSION,
        "ocr": settings.ocr,
        "max_chunk_chars": settings.max_chunk_chars,
        "min_chunk_chars": settings.min_chunk_chars,
        "heading_max_chars": settings.heading_max_chars,
    }


def lexical_settings() -> dict[str, Any]:
    """What makes the lexical index's terms: a previous version's are copied by a rebuild
    only if they are the same."""
    return {"analyzer": ANALYZER_VERSION}


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document as listed in the manifest."""

    path: str
    sha256: str
    size: int
    encoding: str
    chunks: int
    indexed_at: float
    pages: int = 0  # 0 for a format without pages
    reader: str = "text"  # how the text was read (qa.formats.base READER_*)
    ocr_pages: int = 0


@dataclass
class BuildReport:
    """What a build did: the CLI prints it, the UI shows it."""

    index_dir: str
    version: str
    files_read: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    unchanged: bool = False
    pages: int = 0  # pages of the paged documents (PDF, scans) in the index
    ocr_pages: int = 0  # pages read by OCR in this build (not those of unchanged files)
    files_reused: int = 0  # unchanged files whose chunks were taken from the previous index

    def summary(self) -> str:
        """A short human summary (several lines)."""
        lines = [
            f"indexed {self.files_read} file(s) into {self.chunks} chunk(s) in {self.index_dir}",
            f"embedded {self.embedded} chunk(s), reused {self.reused} unchanged, "
            f"{self.seconds:.1f} s",
        ]
        if self.pages or self.files_reused:
            lines.append(
                f"{self.pages} page(s) in PDFs and scans, {self.ocr_pages} read by OCR in this "
                f"build; {self.files_reused} unchanged file(s) not read again"
            )
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} file(s):")
            lines += [f"  {s.path}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


def _sha256_or_empty(path: Path) -> str:
    """How a skipped file is fingerprinted: a link by its target's name (never followed), a
    file by its sha256, an unreadable one as ""."""
    try:
        if path.is_symlink():
            return "link:" + os.readlink(path)
        return file_sha256(path)
    except OSError:
        return ""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


@dataclass
class LoadedIndex:
    """An index version opened for retrieval (its files memory-mapped)."""

    folder: Path
    version: str
    manifest: dict[str, Any]
    chunks: ChunkStore
    dense: Any  # faiss.Index
    lexical: LexicalIndex

    @property
    def model(self) -> str:
        """The name of the embedding model the index was built with."""
        return str(self.manifest["model"]["name"])

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents, in path order."""
        return [DocumentInfo(path=p, **d) for p, d in sorted(self.manifest["files"].items())]

    def chunk_ids(self, doc: str) -> list[int]:
        """The ids of ``doc``'s chunks, in document order."""
        return list(self.chunks.chunk_range(doc))

    def _position(self, i: int) -> tuple[range, int]:
        ids = self.chunks.chunk_range(self.chunks.docs[int(self.chunks.meta["doc"][i])])
        return ids, i - ids.start

    def neighbours(self, i: int, before: int = 1, after: int = 1) -> list[Chunk]:
        """Chunk ``i`` with up to ``before``/``after`` chunks around it in its document."""
        ids, pos = self._position(i)
        return [self.chunks[j] for j in ids[max(0, pos - before) : pos + after + 1]]

    def paragraph_window(self, i: int, each_side: int = 1) -> list[int]:
        """The ids of chunk ``i`` and of up to ``each_side`` chunks before and after it that
        belong to the same paragraph (a long paragraph cut at the size limit), in order."""
        ids, pos = self._position(i)
        continues = self.chunks.continues
        lo = hi = pos
        while pos - lo < each_side and lo > 0 and continues[ids[lo]]:
            lo -= 1
        while hi - pos < each_side and hi + 1 < len(ids) and continues[ids[hi + 1]]:
            hi += 1
        return list(ids[lo : hi + 1])

    def vectors(self) -> np.ndarray:
        """All passage vectors, in chunk order."""
        return self.dense.reconstruct_n(0, self.dense.ntotal)


# -- locking ---------------------------------------------------------------------------------
@contextlib.contextmanager
def build_lock(folder: Path, wait: bool = False) -> Iterator[None]:
    """Hold the folder's build lock. ``wait=False`` refuses at once if another build has it.
    The lock is an ``flock``: the kernel releases it when its process dies, even by SIGKILL."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise BuildLockedError(
                f"another build is running on {folder} (pid {holder}); wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


# -- reading the pointer and manifest --------------------------------------------------------
def current_version(folder: Path) -> tuple[str, str]:
    """``(version, manifest_sha256)`` named by ``folder/CURRENT``."""
    pointer = folder / CURRENT
    if not pointer.exists():
        raise MissingIndexError(f"no index in {folder}: {_rebuild_hint(folder)}")
    try:
        cur = json.loads(pointer.read_text(encoding="utf-8"))
        return str(cur["version"]), str(cur["manifest_sha256"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise CorruptIndexError(
            f"the index in {folder} is damaged (unreadable {CURRENT}: {e}); {_rebuild_hint(folder)}"
        ) from None


def read_manifest(folder: Path, verify: bool = True) -> tuple[str, dict[str, Any]]:
    """The current version's name and manifest (checked against the pointer's sha256). With
    ``verify``, every file's size and sha256 are checked against the manifest."""
    version, manifest_sha = current_version(folder)
    vdir = folder / version
    hint = _rebuild_hint(folder)
    try:
        raw = (vdir / MANIFEST).read_bytes()
    except OSError as e:
        raise CorruptIndexError(
            f"the index in {folder} is damaged ({e.strerror}: {MANIFEST}); {hint}"
        ) from None
    if hashlib.sha256(raw).hexdigest() != manifest_sha:
        raise CorruptIndexError(f"the index in {folder} is damaged ({MANIFEST} checksum); {hint}")
    manifest = json.loads(raw)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CorruptIndexError(
            f"the index in {folder} has format {manifest.get('format_version')}, "
            f"this version of qa reads format {FORMAT_VERSION}; {hint}"
        )
    if verify:
        _check_files(folder, version, manifest, verify=True)
    return version, manifest


def _check_files(folder: Path, version: str, manifest: dict[str, Any], verify: bool) -> None:
    """Every file of the version is there with its size, and with ``verify`` its sha256."""
    vdir, hint = folder / version, _rebuild_hint(folder)
    sizes = manifest.get("sizes", {})
    for name, sha in manifest["checksums"].items():
        p = vdir / name
        try:
            size = p.stat().st_size
        except OSError:
            raise CorruptIndexError(
                f"the index in {folder} is damaged (missing {name}); {hint}"
            ) from None
        if name in sizes and size != sizes[name]:
            raise CorruptIndexError(f"the index in {folder} is damaged ({name} size); {hint}")
        if verify and file_sha256(p) != sha:
            raise CorruptIndexError(f"the index in {folder} is damaged ({name} checksum); {hint}")


#: Up to this many bytes of index files, opening an index checks every file's sha256 (a full
#: read: about 0.5 s a GB); past it, their sizes and structure only, so that a big index
#: opens in constant time (``qa ask``). Builds always check the version they reuse in full.
VERIFY_FULL_BELOW = 256 * 2**20


def load_index(
    folder: Path | str = DEFAULTS.index_dir,
    verify: bool | None = True,
    settings: Settings = DEFAULTS,
) -> LoadedIndex:
    """Open the current version of the index in ``folder`` (memory-mapped). With ``verify``,
    every file is checked against its sha256 in the manifest first (a full read); with
    ``False``, only its size; with ``None``, in full up to :data:`VERIFY_FULL_BELOW` bytes.

    Raises :class:`MissingIndexError` or :class:`CorruptIndexError` with a message that says how
    to rebuild; never returns a partially loaded index."""
    folder = Path(folder)
    for attempt in range(3):  # a concurrent build may swap versions under us: read again
        try:
            version, manifest = read_manifest(folder, verify=False)
            full = verify
            if verify is None:
                full = sum(manifest.get("sizes", {}).values()) <= VERIFY_FULL_BELOW
            _check_files(folder, version, manifest, verify=bool(full))
            vdir = folder / version
            chunks = ChunkStore(vdir)
            dense = load_dense(vdir / DENSE, settings)
            lexical = LexicalIndex.load(vdir)
            break
        except FileNotFoundError:
            if attempt == 2:
                raise CorruptIndexError(
                    f"the index in {folder} is incomplete; {_rebuild_hint(folder)}"
                ) from None
            time.sleep(0.1)
        except IndexProblem:
            raise
        except Exception as e:  # anything unparsable is damage, reported the same way
            raise CorruptIndexError(
                f"the index in {folder} is damaged ({type(e).__name__}: {e}); "
                f"{_rebuild_hint(folder)}"
            ) from None
    n = manifest["counts"]["chunks"]
    if len(chunks) != n or dense.ntotal != n or lexical.n_docs != n:
        raise CorruptIndexError(
            f"the index in {folder} is damaged (counts disagree); {_rebuild_hint(folder)}"
        )
    return LoadedIndex(folder, version, manifest, chunks, dense, lexical)


def check_model(index: LoadedIndex, embedder: Embedder) -> None:
    """Raise :class:`ModelMismatchError` if ``index`` was built with another model."""
    want = index.manifest["model"]
    if want["fingerprint"] != embedder.fingerprint:
        raise ModelMismatchError(
            f"the index in {index.folder} was built with the model {want['name']!r}, not "
            f"{embedder.model_name!r}; rebuild it with: qa build --index {index.folder} "
            f"--model {embedder.model_name}"
        )


#: What :func:`stale_reason` takes a file's content to be unchanged by: its size, modification
#: and change times (ns) and inode, as ``os.stat`` gives them.
FileState = tuple[int, int, int, int]


def file_state(st: os.stat_result) -> FileState:
    """A file's :data:`FileState` from its ``os.stat`` result."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def stale_reason(
    folder: Path | str = DEFAULTS.index_dir,
    corpus: Path | str = DEFAULTS.corpus_dir,
    settings: Settings = DEFAULTS,
    hashes: dict[str, tuple[FileState, str]] | None = None,
) -> str | None:
    """Why the index no longer matches the corpus (``None`` if it does): missing, damaged,
    other model or chunker settings, or files added, removed or changed.

    A file whose size differs from the manifest's has changed: it is not read. The others
    are hashed, unless ``hashes`` (the caller's cache from the last comparison, relative path
    -> the file's state and sha256; updated here) holds the file in the same state: a
    listing after one change hashes that file only. The blind spot: a file rewritten with the
    same size whose times and inode end up the same (within the file system's timestamp
    granularity, or with the clock set back) is taken to be unchanged."""
    folder, corpus = Path(folder), Path(corpus)
    try:
        _, manifest = read_manifest(folder, verify=False)
    except IndexProblem as e:
        return str(e)
    if manifest["model"]["name"] != settings.model:
        return f"built with model {manifest['model']['name']!r}, asked for {settings.model!r}"
    if manifest["chunker"] != chunker_settings(settings):
        return "built with other chunking settings"
    files = manifest["files"]
    skipped = {d["path"]: d.get("sha256", "") for d in manifest.get("skipped", [])}
    known = hashes if hashes is not None else {}
    fresh: dict[str, tuple[FileState, str]] = {}

    def sha256_of(p: Path, rel: str, st: os.stat_result, how: Callable[[Path], str]) -> str:
        state = file_state(st)
        old = known.get(rel)
        sha = old[1] if old is not None and old[0] == state else how(p)
        fresh[rel] = (state, sha)
        return sha

    seen = set()
    changed = added = 0
    for p in list_files(corpus, settings):
        rel = p.relative_to(corpus).as_posix()
        seen.add(rel)
        if rel in files:
            entry = files[rel]
            try:
                st = p.stat()
                if entry.get("size", st.st_size) != st.st_size:
                    changed += 1  # another size: changed, no need to read it
                else:
                    changed += sha256_of(p, rel, st, file_sha256) != entry["sha256"]
            except OSError:
                changed += 1
        elif rel in skipped:
            try:  # a link is fingerprinted by its target's name: its own state
                st = p.lstat()
            except OSError:
                changed += _sha256_or_empty(p) != skipped[rel]
            else:
                changed += sha256_of(p, rel, st, _sha256_or_empty) != skipped[rel]
        else:
            added += 1
    if hashes is not None:
        hashes.clear()
        hashes.update(fresh)
    removed = len((set(files) | set(skipped)) - seen)
    if added or removed or changed:
        return f"{added} file(s) added, {removed} removed, {changed} changed since the last build"
    return None


# -- building -------------------------------------------------------------------------------
def _previous_index(folder: Path) -> LoadedIndex | None:
    """The current version, if there is a sound one: what a rebuild reuses."""
    try:
        return load_index(folder, verify=True)
    except IndexProblem:
        return None


class _KnownVectors:
    """The vectors a build need not compute, by content hash (32 raw bytes): the previous
    version's (if built with the same model: rows of its dense index, read when asked), a
    format-1 index's (so that upgrading qa re-embeds nothing) and those an unfinished build
    saved."""

    def __init__(self, folder: Path, old: LoadedIndex | None, fingerprint: str) -> None:
        self.rows: dict[bytes, int] = {}
        self.dense: Any = None
        self.saved: dict[bytes, np.ndarray] = {}
        if old is not None and old.manifest["model"]["fingerprint"] == fingerprint:
            self.dense = old.dense
            self.rows = {bytes(h): i for i, h in enumerate(old.chunks.hashes)}
        elif old is None:
            self.saved.update(_format1_vectors(folder, fingerprint))

    def __contains__(self, h: bytes) -> bool:
        return h in self.saved or h in self.rows

    def get_many(self, hashes: list[bytes]) -> np.ndarray:
        """The vectors of ``hashes`` (each of which is known), in order."""
        out = []
        for h in hashes:
            v = self.saved.get(h)
            out.append(v if v is not None else self.dense.reconstruct(self.rows[h]))
        return np.asarray(out, dtype=np.float32)


def _format1_vectors(folder: Path, fingerprint: str) -> dict[bytes, np.ndarray]:
    """hash -> vector of a sound format-1 index (chunks.jsonl + dense.faiss) in ``folder``
    built with the same model, else nothing."""
    import faiss

    try:
        version, _ = current_version(folder)
        vdir = folder / version
        manifest = json.loads((vdir / MANIFEST).read_bytes())
        if manifest.get("format_version") != 1 or manifest["model"]["fingerprint"] != fingerprint:
            return {}
        for name, sha in manifest["checksums"].items():
            if file_sha256(vdir / name) != sha:
                return {}
        with (vdir / "chunks.jsonl").open(encoding="utf-8") as f:
            hashes = [bytes.fromhex(json.loads(line)["hash"]) for line in f if line.strip()]
        dense = faiss.read_index(str(vdir / DENSE))
        if dense.ntotal != len(hashes):
            return {}
        vecs = dense.reconstruct_n(0, dense.ntotal)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, IndexProblem):
        return {}
    log.info("taking %d vector(s) from the format-1 index in %s", len(hashes), folder)
    return dict(zip(hashes, vecs, strict=True))


#: The share of a build's progress that reading and chunking the files takes; indexing their
#: words takes the rest up to 0.3 (then come the vectors).
READ_SHARE = 0.2
#: A file being read tells how many chunks it has given every this many chunks.
REPORT_CHUNKS = 10_000


class _Reader:
    """Reads and chunks the corpus files one by one for a build (``qa.corpus.iter_each``
    calls it), taking an unchanged file's chunks from the previous version instead, and
    reporting progress per file, per page (OCR is slow) and per :data:`REPORT_CHUNKS` chunks
    of a big file to ``report`` and to a terminal progress bar. A file's chunks come lazily:
    a big text file is cut as it is read."""

    def __init__(
        self,
        old: LoadedIndex | None,
        settings: Settings,
        total: int,
        report: BuildProgress,
        bar: Any = None,
    ) -> None:
        same = old is not None and old.manifest.get("chunker") == chunker_settings(settings)
        self.old = old if same else None
        self.total, self.report, self.bar = max(total, 1), report, bar
        self.done = 0
        self.ocr_pages = 0
        self.files_reused = 0
        self.reused_ids: dict[str, range] = {}  # a reused file -> its chunks in ``old``

    def _reuse(self, path: Path, rel: str) -> tuple[DocumentMeta, Iterator[Chunk]] | None:
        entry = self.old.manifest["files"].get(rel) if self.old is not None else None
        if entry is None or self.old is None:
            return None
        try:
            if file_sha256(path) != entry["sha256"]:
                return None
        except OSError:
            return None
        info = DocumentInfo(path=rel, **entry)
        meta = DocumentMeta(
            path=rel,
            encoding=info.encoding,
            sha256=info.sha256,
            size=info.size,
            pages=info.pages,
            reader=info.reader,
            ocr_pages=info.ocr_pages,
        )
        store = self.old.chunks
        ids = store.chunk_range(rel)
        self.reused_ids[rel] = ids
        return meta, _read_guard(store[i] for i in ids)

    def __call__(
        self, path: Path, root: Path, settings: Settings
    ) -> tuple[DocumentMeta, Iterator[Chunk]]:
        text = kind_of(path.name) == "text"  # streamed past 8 MB: a limit of its own
        rel = checked_path(path, root, settings, settings.max_text_bytes if text else None)
        name = Path(rel).name
        frac = READ_SHARE * self.done / self.total

        def on_page(done: int, total: int, how: str) -> None:
            what = "OCR" if how == "ocr" else "page"
            msg = f"reading {name}: {what} {done}/{total}"
            self.report(frac + READ_SHARE * done / max(total, 1) / self.total, msg)
            if self.bar is not None:
                self.bar.set_postfix_str(f"{name[:30]} {what} {done}/{total}", refresh=True)

        try:
            reused = self._reuse(path, rel)
            if reused is not None:
                self.files_reused += 1
                return reused
            self.report(frac, f"reading {name} ({self.done + 1}/{self.total})")
            meta, chunks = iter_document_chunks(path, root, settings, progress=on_page)
            self.ocr_pages += meta.ocr_pages
            which = f"{name} ({self.done + 1}/{self.total})"
            frac = READ_SHARE * (self.done + 1) / self.total
            return meta, self._counted(which, frac, _read_guard(chunks))
        finally:
            self.done += 1
            if self.bar is not None:
                self.bar.update(1)

    def _counted(self, which: str, frac: float, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        """``chunks``, telling every :data:`REPORT_CHUNKS` of them how far a big file is (an
        error of ``report`` stops the build: it is no failure to read the file)."""
        for n, c in enumerate(chunks, 1):
            yield c
            if n % REPORT_CHUNKS == 0:
                self.report(frac, f"reading {which}: {n} chunks")
                if self.bar is not None:
                    self.bar.set_postfix_str(f"{which[:40]} {n} chunks", refresh=True)


@contextlib.contextmanager
def _out_of_memory(folder: Path) -> Iterator[None]:
    """A build's ``MemoryError`` as a :class:`BuildMemoryError` that says what happened. (The
    kernel may kill a build that runs out of memory instead: then too the previous version
    stays in force, and the next build takes the vectors it saved.)"""
    try:
        yield
    except MemoryError:
        raise BuildMemoryError(
            f"not enough memory to build the index in {folder}: the previous index stays in "
            "use (index fewer or smaller files, or free memory, and build again)"
        ) from None


def _new_version_name() -> str:
    return time.strftime("v-%Y%m%d-%H%M%S-", time.gmtime()) + os.urandom(3).hex()


def _gc_versions(folder: Path, keep: set[str], only_tmp: bool = False) -> None:
    """Remove version folders other than ``keep`` (the current and the previous one); with
    ``only_tmp``, only the unfinished ones that failed builds left (under the build lock, none
    is in use: a new build frees their disk space first)."""
    prefixes = ("tmp-",) if only_tmp else ("v-", "tmp-")
    for p in folder.iterdir():
        if p.is_dir() and p.name.startswith(prefixes) and p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)


def build_index(
    corpus: Path | str = DEFAULTS.corpus_dir,
    index: Path | str = DEFAULTS.index_dir,
    model: str | None = None,
    settings: Settings = DEFAULTS,
    progress: BuildProgress | None = None,
    show_progress_bar: bool = False,
    wait: bool = False,
    embedder: Embedder | None = None,
) -> BuildReport:
    """(Re)build the index of ``corpus`` into ``index`` and make it current.

    Only chunks whose text changed are embedded again. Raises :class:`BuildLockedError` if
    another build is running (or waits for it with ``wait=True``)."""

    t0 = time.perf_counter()
    corpus, folder = Path(corpus), Path(index)
    if not corpus.is_dir():
        raise FileNotFoundError(f"corpus folder {corpus} does not exist")
    model = model or settings.model
    emb = embedder or get_embedder(model, settings)

    def report(frac: float, msg: str) -> None:
        if progress is not None:
            progress(frac, msg)

    with build_lock(folder, wait=wait), _out_of_memory(folder):
        report(0.0, "reading documents")
        old = _previous_index(folder)
        old_files = old.manifest.get("files", {}) if old is not None else {}
        _gc_versions(folder, keep={old.version} if old is not None else set(), only_tmp=True)
        version = _new_version_name()
        tmp = folder / ("tmp-" + version)
        tmp.mkdir(parents=True)
        docs, skipped, n, reader = _read_corpus(
            corpus, tmp, old, settings, report, show_progress_bar
        )
        report(0.3, f"chunked {len(docs)} document(s)")
        report(0.3, "loading the embedding model")
        emb.warm_up()
        fingerprint, dim = emb.fingerprint, emb.dim
        store = ChunkStore(tmp)
        known = _KnownVectors(folder, old, fingerprint)
        saved = _SavedVectors(folder, fingerprint, dim)
        known.saved.update(saved.load())  # what a killed build had embedded already
        # in memory: they are the dense index itself, which FAISS holds in memory to write it
        # (a writable memmap instead would die of SIGBUS, not fail, on a full disk)
        vecs = np.zeros((n, dim), dtype=np.float32)
        embedded = _fill_vectors(store, vecs, known, emb, saved, report, show_progress_bar)
        del known, old

        report(0.9, "writing the index")
        dense, dense_info = build_dense(vecs, settings)
        write_dense(dense, tmp / DENSE)
        del dense, vecs
        now = time.time()
        files = {}
        for d, count in docs:
            prev = old_files.get(d.path)
            same = prev is not None and prev["sha256"] == d.sha256
            files[d.path] = {
                "sha256": d.sha256,
                "size": d.size,
                "encoding": d.encoding,
                "chunks": count,
                "indexed_at": prev["indexed_at"] if same else now,
                "pages": d.pages,
                "reader": d.reader,
                "ocr_pages": d.ocr_pages,
            }
        for p in tmp.iterdir():  # faiss, np.save and json.dump do not fsync
            with p.open("rb") as f:
                os.fsync(f.fileno())
        names = sorted(p.name for p in tmp.iterdir() if p.is_file())
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": {"name": model, "fingerprint": fingerprint, "dim": dim},
            "chunker": chunker_settings(settings),
            "lexical": lexical_settings(),
            "dense": dense_info,
            "files": files,
            "skipped": [
                {"path": s.path, "reason": s.reason, "sha256": _sha256_or_empty(corpus / s.path)}
                for s in skipped
            ],
            "counts": {"files": len(docs), "chunks": n, "skipped": len(skipped)},
            "built_at": now,
            "checksums": {name: file_sha256(tmp / name) for name in names},
            "sizes": {name: (tmp / name).stat().st_size for name in names},
        }
        raw = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
        _write_file(tmp / MANIFEST, raw)
        _fsync_dir(tmp)
        final = folder / version
        os.rename(tmp, final)
        try:
            previous = current_version(folder)[0]
        except IndexProblem:
            previous = ""
        pointer = json.dumps(
            {"version": version, "manifest_sha256": hashlib.sha256(raw).hexdigest()}
        )
        _write_file(folder / (CURRENT + ".tmp"), pointer.encode())
        os.replace(folder / (CURRENT + ".tmp"), folder / CURRENT)
        _fsync_dir(folder)
        _gc_versions(folder, keep={version, previous})
        saved.clear()
        report(1.0, "done")
    return BuildReport(
        index_dir=str(folder),
        version=version,
        files_read=len(docs),
        skipped=skipped,
        chunks=n,
        embedded=embedded.unique,
        reused=n - embedded.chunks,
        seconds=time.perf_counter() - t0,
        pages=sum(d.pages for d, _ in docs),
        ocr_pages=reader.ocr_pages,
        files_reused=reader.files_reused,
    )


def _read_corpus(
    corpus: Path,
    tmp: Path,
    old: LoadedIndex | None,
    settings: Settings,
    report: BuildProgress,
    show_progress_bar: bool,
) -> tuple[list[tuple[DocumentMeta, int]], list[Skipped], int, _Reader]:
    """Read and chunk every corpus file into the new version's chunk store in ``tmp``, then
    index the stored chunks' words (the lexical index, in ``tmp`` too). A file's chunks go to
    the store as they are cut, a big text file's while it is read (nothing of a file is kept
    in memory); a file that fails midway (it changed while it was read) is taken out of the
    store again and skipped. Returns each document with its chunk count, the skipped files,
    the number of chunks and the reader (its counts)."""
    n_files = len(list_files(corpus, settings))
    bar = _bar(n_files, "reading", "file") if show_progress_bar else None
    reader = _Reader(old, settings, n_files, report, bar)
    writer = ChunkWriter(tmp)
    can_copy = (
        reader.old is not None
        and reader.old.lexical.tfs is not None
        and reader.old.manifest.get("lexical") == lexical_settings()
    )
    copies: list[tuple[int, range]] = []  # new first chunk id -> a reused file's old ids

    docs: list[tuple[DocumentMeta, int]] = []
    skipped: list[Skipped] = []
    try:
        # writing is outside iter_each's net, so a full disk stops the build instead of
        # skipping the file; a failure to read the chunks is caught here
        for item in iter_each(corpus, reader, settings):
            if isinstance(item, Skipped):
                skipped.append(item)
                continue
            meta, chunks = item
            first = writer.count
            try:
                docs.append((meta, writer.add(meta.path, chunks)))
            except _ReadFailed as e:  # the writer has dropped the file's chunks
                log.warning("skipped %s: %s", meta.path, e.reason)
                skipped.append(Skipped(meta.path, e.reason))
                continue
            old_ids = reader.reused_ids.pop(meta.path, None)
            if can_copy and old_ids is not None and len(old_ids) == docs[-1][1]:
                copies.append((first, old_ids))
    finally:
        if bar is not None:
            bar.close()
    writer.close()
    source = reader.old.lexical if can_copy and reader.old is not None else None
    _index_words(ChunkStore(tmp), tmp, report, show_progress_bar, source, copies)
    return docs, skipped, writer.count, reader


class _ReadFailed(Exception):
    """Reading a file's chunks failed midway; ``reason`` says why (as a skip does)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _read_guard(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """``chunks``, with a failure to produce the next one (the file changed while it was read,
    a reader or chunker error) raised as :class:`_ReadFailed`, told apart from a failure to
    write them."""
    while True:
        try:
            c = next(chunks)
        except StopIteration:
            return
        except Exception as e:  # as iter_each: one odd file must not stop the whole build
            raise _ReadFailed(skip_reason(e)) from e
        yield c


def _index_words(
    store: ChunkStore,
    tmp: Path,
    report: BuildProgress,
    show_progress_bar: bool,
    source: LexicalIndex | None = None,
    copies: Sequence[tuple[int, range]] = (),
) -> None:
    """Build the lexical index of the chunks in ``store`` and write it in ``tmp``, streaming
    (a chunk at a time). ``copies`` lists the reused files' chunks (first new id, their ids
    in the previous version's ``source``): their terms are copied from ``source`` instead of
    analysing the same text again (jieba is most of this step's time)."""
    lexical = LexicalBuilder(spill=tmp)  # postings past LexicalBuilder.MEMORY_POSTINGS spill
    n = len(store)
    old_id = np.full(n, -1, dtype=np.int64)  # a chunk's id in ``source``, or -1: analyse it
    for first, ids in copies:
        old_id[first : first + len(ids)] = np.arange(ids.start, ids.stop)
    copied = ChunkTerms(source) if source is not None and copies else None
    bar = _bar(n, "indexing words", "chunk") if show_progress_bar and n else None
    t0 = time.perf_counter()
    try:
        for i in range(n):
            j = int(old_id[i])
            if j >= 0 and copied is not None:
                lexical.add_copied(copied, j)
            else:
                c = store[i]
                lexical.add(analyze(c.section + "\n" + c.text))
            if (i + 1) % 1000 == 0 or i + 1 == n:
                msg = f"indexing words: {i + 1}/{n} chunks" + _rate(i + 1, n, t0)
                report(READ_SHARE + (0.3 - READ_SHARE) * (i + 1) / n, msg)
                if bar is not None:
                    bar.n = i + 1
                    bar.refresh()
    except BaseException:
        lexical.discard()
        raise
    finally:
        if bar is not None:
            bar.close()
    # neither the store's mapped pages nor the previous version's terms need to stay while
    # the postings are sorted
    del store, copied, old_id
    report(0.3, "writing the lexical index")
    try:
        lexical.write(tmp)
    except OSError as e:  # numpy's message alone ("N requested and M written") is unclear
        raise OSError(f"cannot write the lexical index in {tmp}: {e}") from e
    finally:
        lexical.discard()


class _Embedded(NamedTuple):
    unique: int  # texts embedded in this build
    chunks: int  # chunks that got one of them


def _fill_vectors(
    store: ChunkStore,
    vecs: np.ndarray,
    known: _KnownVectors,
    emb: Embedder,
    saved: _SavedVectors,
    report: BuildProgress,
    show_progress_bar: bool,
) -> _Embedded:
    """Put every chunk's vector in ``vecs``: known ones copied, the others embedded (in corpus
    order, each distinct text once) and saved every :data:`SAVE_EVERY` chunks."""
    todo: dict[bytes, list[int]] = {}
    hashes = store.hashes
    block = 4096
    for lo in range(0, len(store), block):
        have: list[int] = []
        for i in range(lo, min(lo + block, len(store))):
            h = bytes(hashes[i])
            if h in known:
                have.append(i)
            else:
                todo.setdefault(h, []).append(i)
        if have:
            vecs[have] = known.get_many([bytes(hashes[i]) for i in have])
    keys = list(todo)
    report(0.35, f"embedding {len(keys)} new chunk(s)")
    bar = _bar(len(keys), "embedding", "chunk") if show_progress_bar and keys else None
    t0 = time.perf_counter()
    try:
        for start in range(0, len(keys), SAVE_EVERY):
            part = keys[start : start + SAVE_EVERY]

            def on_batch(done: int, total: int, start: int = start) -> None:
                k = start + done
                msg = f"embedding {k}/{len(keys)} chunks"
                report(0.35 + 0.55 * k / len(keys), msg + _rate(k, len(keys), t0))
                if bar is not None:
                    bar.n = k
                    bar.refresh()

            new = emb.embed_passages([store.text(todo[h][0]) for h in part], progress=on_batch)
            saved.append(part, new)
            for h, v in zip(part, new, strict=True):
                vecs[todo[h]] = v
    finally:
        if bar is not None:
            bar.close()
    return _Embedded(len(keys), sum(len(v) for v in todo.values()))


def _rate(done: int, total: int, t0: float) -> str:
    """ ", 12.3 chunks/s, about 4 min left" once there is a rate to tell."""
    took = time.perf_counter() - t0
    if done < 1 or took < 1.0:
        return ""
    rate = done / took
    left = (total - done) / rate
    when = f"{left / 3600:.1f} h" if left >= 5400 else f"{max(1, round(left / 60))} min"
    return f", {rate:.1f} chunks/s, about {when} left"


def _bar(total: int, desc: str, unit: str) -> Any:
    """A terminal progress bar (tqdm, on stderr: rate and time left)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True)


#: New vectors are saved to disk after every this many chunks, so that a build that is killed
#: (or runs out of memory or disk) loses at most that much embedding work.
SAVE_EVERY = 256


class _SavedVectors:
    """The vectors a build has embedded so far, appended to ``folder/partial-<model>.bin`` after
    every :data:`SAVE_EVERY` chunks (fsynced): a build that dies before its index is complete
    leaves them, and the next build with the same model takes them instead of embedding those
    chunks again. A record is the chunk's 32-byte content hash and its float32 vector; a record
    cut short by a crash is ignored. A complete build removes the file."""

    def __init__(self, folder: Path, fingerprint: str, dim: int) -> None:
        key = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        self.path = folder / f"partial-{key}.bin"
        self.folder = folder
        self.dim = dim
        self.record = 32 + 4 * dim

    def load(self) -> dict[bytes, np.ndarray]:
        """hash -> vector of the records saved by an earlier, unfinished build."""
        try:
            data = self.path.read_bytes()
        except OSError:
            return {}
        n = len(data) // self.record
        rows = np.frombuffer(data[: n * self.record], dtype=np.uint8).reshape(n, self.record)
        vecs = rows[:, 32:].copy().view(np.float32)
        # vectors are normalised: a record that is not (a damaged file) ends what is taken
        with np.errstate(all="ignore"):
            norms = np.linalg.norm(vecs.astype(np.float64), axis=1)
        bad = np.flatnonzero(~(np.abs(norms - 1.0) < 1e-3))
        if bad.size:
            log.warning(
                "%s is damaged after %d vector(s): the rest is embedded again", self.path, bad[0]
            )
            n = int(bad[0])
        if n:
            log.info("taking %d vector(s) saved by an unfinished build", n)
        return {bytes(r[:32]): v for r, v in zip(rows[:n], vecs[:n], strict=True)}

    def append(self, hashes: list[bytes], vectors: np.ndarray) -> None:
        """Save the vectors of ``hashes`` (a full disk only loses the saving, not the build)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if any(len(h) != 32 for h in hashes):
            raise ValueError("a saved vector's key must be a 32-byte sha256")
        data = b"".join(h + v.tobytes() for h, v in zip(hashes, vectors, strict=True))
        try:
            with self.path.open("ab") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            log.warning("cannot save embedded vectors in %s: %s", self.path, e)

    def clear(self) -> None:
        """Remove every saved-vectors file of the folder (the index now holds them)."""
        for p in self.folder.glob("partial-*.bin"):
            p.unlink(missing_ok=True)
