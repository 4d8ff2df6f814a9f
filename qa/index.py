"""The saved index: FAISS inner-product index over normalised passage vectors, the BM25
lexical index, the chunk records and a manifest, kept in a folder (default ``index/``).

Layout::

    index/
      CURRENT            {"version": "v-...", "manifest_sha256": "..."}, replaced atomically
      .lock              held (flock) by the one build that may run at a time
      v-20261127-.../    one complete version: manifest.json, chunks.jsonl, dense.faiss,
                         lexical_*.npy, lexical_vocab.json

A build writes a new version folder, fsyncs it, then atomically replaces ``CURRENT``: a build
killed at any moment leaves the previous version in force. Loading checks the manifest (format
version, sha256 of every file) and says how to rebuild when anything is missing or damaged.
Rebuilds are incremental: a file whose content hash is unchanged since the previous version
(built with the same chunker and readers) reuses its chunks without being read again (a scanned
PDF is not OCRed again), and a chunk whose content hash is already in the previous version
(built with the same model) reuses its vector instead of being embedded again."""

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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.chunk import CHUNKER_VERSION, Chunk, read_chunks
from qa.corpus import (
    DocumentMeta,
    Skipped,
    checked_path,
    file_sha256,
    list_files,
    read_each,
)
from qa.embed import Embedder, get_embedder
from qa.formats import READERS_VERSION
from qa.lexical import LexicalIndex, analyze
from qa.settings import DEFAULTS, Settings

log = logging.getLogger("qa")

FORMAT_VERSION = 1
CURRENT = "CURRENT"
LOCK = ".lock"
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
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


def _write_dense(dense: Any, path: Path) -> None:
    """Write a flat FAISS index, failing as a Python write does (``OSError``): faiss raises
    ``RuntimeError`` when a write fails, and a failed last flush (a full disk) it only prints,
    leaving a cut file; so the size written is checked too."""
    import faiss

    try:
        faiss.write_index(dense, str(path))
    except RuntimeError as e:
        raise OSError(f"cannot write {path}: {str(e).split('failed: ')[-1]}") from None
    header = int(faiss.serialize_index(type(dense)(dense.d)).size)  # an empty flat index
    if path.stat().st_size != header + 4 * dense.d * dense.ntotal:
        raise OSError(f"cannot write {path}: the file is incomplete (is the disk full?)")


@dataclass
class LoadedIndex:
    """An index version loaded in memory: what retrieval reads."""

    folder: Path
    version: str
    manifest: dict[str, Any]
    chunks: list[Chunk]
    dense: Any  # faiss.Index
    lexical: LexicalIndex
    _by_doc: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for i, c in enumerate(self.chunks):
            self._by_doc.setdefault(c.doc, []).append(i)

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
        if not (0 <= pos < len(ids) and ids[pos] == i):  # an index without ordinals in order
            pos = ids.index(i)
        return ids, pos

    def neighbours(self, i: int, before: int = 1, after: int = 1) -> list[Chunk]:
        """Chunk ``i`` with up to ``before``/``after`` chunks around it in its document."""
        ids, pos = self._position(i)
        return [self.chunks[j] for j in ids[max(0, pos - before) : pos + after + 1]]

    def paragraph_window(self, i: int, each_side: int = 1) -> list[int]:
        """The ids of chunk ``i`` and of up to ``each_side`` chunks before and after it that
        belong to the same paragraph (a long paragraph cut at the size limit), in order."""
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
    """The current version's name and manifest. With ``verify``, every file's sha256 is checked
    against the manifest."""
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
        for name, sha in manifest["checksums"].items():
            p = vdir / name
            if not p.exists():
                raise CorruptIndexError(
                    f"the index in {folder} is damaged (missing {name}); {hint}"
                )
            if file_sha256(p) != sha:
                raise CorruptIndexError(
                    f"the index in {folder} is damaged ({name} checksum); {hint}"
                )
    return version, manifest


def _read_chunks(path: Path) -> list[Chunk]:
    with path.open(encoding="utf-8") as f:
        return [_chunk(json.loads(line)) for line in f if line.strip()]


def _chunk(record: dict[str, Any]) -> Chunk:
    record["page_breaks"] = tuple(record.get("page_breaks", ()))
    return Chunk(**record)


def load_index(folder: Path | str = DEFAULTS.index_dir, verify: bool = True) -> LoadedIndex:
    """Load the current version of the index in ``folder``.

    Raises :class:`MissingIndexError` or :class:`CorruptIndexError` with a message that says how
    to rebuild; never returns a partially loaded index."""
    import faiss

    folder = Path(folder)
    for attempt in range(3):  # a concurrent build may swap versions under us: read again
        try:
            version, manifest = read_manifest(folder, verify=verify)
            vdir = folder / version
            chunks = _read_chunks(vdir / CHUNKS)
            dense = faiss.read_index(str(vdir / DENSE))
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


def stale_reason(
    folder: Path | str = DEFAULTS.index_dir,
    corpus: Path | str = DEFAULTS.corpus_dir,
    settings: Settings = DEFAULTS,
) -> str | None:
    """Why the index no longer matches the corpus (``None`` if it does): missing, damaged,
    other model or chunker settings, or files added, removed or changed."""
    folder, corpus = Path(folder), Path(corpus)
    try:
        _, manifest = read_manifest(folder, verify=False)
    except IndexProblem as e:
        return str(e)
    if manifest["model"]["name"] != settings.model:
        return f"built with model {manifest['model']['name']!r}, asked for {settings.model!r}"
    if manifest["chunker"] != chunker_settings(settings):
        return "built with other chunking settings"
    files = {p: d["sha256"] for p, d in manifest["files"].items()}
    skipped = {d["path"]: d.get("sha256", "") for d in manifest.get("skipped", [])}
    seen = set()
    changed = added = 0
    for p in list_files(corpus, settings):
        rel = p.relative_to(corpus).as_posix()
        seen.add(rel)
        if rel in files:
            try:
                changed += file_sha256(p) != files[rel]
            except OSError:
                changed += 1
        elif rel in skipped:
            changed += _sha256_or_empty(p) != skipped[rel]
        else:
            added += 1
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


def _previous_vectors(old: LoadedIndex | None, fingerprint: str) -> dict[str, np.ndarray]:
    """hash -> vector from the previous version, if it was built with the same model."""
    if old is None or old.manifest["model"]["fingerprint"] != fingerprint:
        return {}
    vecs = old.vectors()
    return {c.hash: vecs[i] for i, c in enumerate(old.chunks)}


class _Reader:
    """Reads and chunks the corpus files one by one for a build (``qa.corpus.read_each``
    calls it), taking an unchanged file's chunks from the previous version instead, and
    reporting progress per file and per page (OCR is slow) to ``report`` and to a terminal
    progress bar."""

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

    def _reuse(self, path: Path, rel: str) -> tuple[DocumentMeta, list[Chunk]] | None:
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
        return meta, [self.old.chunks[i] for i in self.old.chunk_ids(rel)]

    def __call__(
        self, path: Path, root: Path, settings: Settings
    ) -> tuple[DocumentMeta, list[Chunk]]:
        rel = checked_path(path, root, settings)
        name = Path(rel).name
        frac = 0.3 * self.done / self.total

        def on_page(done: int, total: int, how: str) -> None:
            what = "OCR" if how == "ocr" else "page"
            msg = f"reading {name}: {what} {done}/{total}"
            self.report(frac + 0.3 * done / max(total, 1) / self.total, msg)
            if self.bar is not None:
                self.bar.set_postfix_str(f"{name[:30]} {what} {done}/{total}", refresh=True)

        try:
            reused = self._reuse(path, rel)
            if reused is not None:
                self.files_reused += 1
                return reused
            self.report(frac, f"reading {name} ({self.done + 1}/{self.total})")
            meta, chunks = read_chunks(path, root, settings, progress=on_page)
            self.ocr_pages += meta.ocr_pages
            return meta, chunks
        finally:
            self.done += 1
            if self.bar is not None:
                self.bar.update(1)


def _new_version_name() -> str:
    return time.strftime("v-%Y%m%d-%H%M%S-", time.gmtime()) + os.urandom(3).hex()


def _gc_versions(folder: Path, keep: set[str]) -> None:
    """Remove version folders other than ``keep`` (the current and the previous one)."""
    for p in folder.iterdir():
        if p.is_dir() and p.name.startswith(("v-", "tmp-")) and p.name not in keep:
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
    import faiss

    t0 = time.perf_counter()
    corpus, folder = Path(corpus), Path(index)
    if not corpus.is_dir():
        raise FileNotFoundError(f"corpus folder {corpus} does not exist")
    model = model or settings.model
    emb = embedder or get_embedder(model, settings)

    def report(frac: float, msg: str) -> None:
        if progress is not None:
            progress(frac, msg)

    with build_lock(folder, wait=wait):
        report(0.0, "reading documents")
        old = _previous_index(folder)
        old_files = old.manifest.get("files", {}) if old is not None else {}
        n_files = len(list_files(corpus, settings))
        bar = _bar(n_files, "reading", "file") if show_progress_bar else None
        reader = _Reader(old, settings, n_files, report, bar)
        try:
            # big text files are read and chunked as a stream (qa.chunk.iter_document_chunks)
            read, skipped = read_each(corpus, reader, settings)
        finally:
            if bar is not None:
                bar.close()
        docs = [meta for meta, _ in read]
        chunks: list[Chunk] = [c for _, doc_chunks in read for c in doc_chunks]
        del read
        report(0.3, f"chunked {len(docs)} document(s)")
        report(0.3, "loading the embedding model")
        emb.warm_up()
        fingerprint = emb.fingerprint
        cache = _previous_vectors(old, fingerprint)
        del old
        saved = _SavedVectors(folder, fingerprint, emb.dim)
        cache.update(saved.load())  # what a killed build had embedded already
        todo = sorted({c.hash for c in chunks if c.hash not in cache})
        texts = {c.hash: c.text for c in chunks}
        report(0.35, f"embedding {len(todo)} new chunk(s)")
        bar = _bar(len(todo), "embedding", "chunk") if show_progress_bar and todo else None
        try:
            for start in range(0, len(todo), SAVE_EVERY):
                part = todo[start : start + SAVE_EVERY]

                def on_batch(done: int, total: int, start: int = start) -> None:
                    n = start + done
                    report(0.35 + 0.55 * n / len(todo), f"embedding {n}/{len(todo)} chunks")
                    if bar is not None:
                        bar.n = n
                        bar.refresh()

                vecs = emb.embed_passages([texts[h] for h in part], progress=on_batch)
                saved.append(part, vecs)
                cache.update(zip(part, vecs, strict=True))
        finally:
            if bar is not None:
                bar.close()
        dim = emb.dim
        vecs = (
            np.stack([cache[c.hash] for c in chunks]).astype(np.float32)
            if chunks
            else np.zeros((0, dim), dtype=np.float32)
        )

        report(0.9, "writing the index")
        version = _new_version_name()
        tmp = folder / ("tmp-" + version)
        tmp.mkdir(parents=True)
        dense = faiss.IndexFlatIP(dim)
        dense.add(vecs)
        _write_dense(dense, tmp / DENSE)
        lexical = LexicalIndex.build([analyze(c.section + "\n" + c.text) for c in chunks])
        try:
            lexical.save(tmp)
        except OSError as e:  # numpy's message alone ("N requested and M written") is unclear
            raise OSError(f"cannot write the lexical index in {tmp}: {e}") from e
        _write_file(
            tmp / CHUNKS,
            "".join(json.dumps(asdict(c), ensure_ascii=False) + "\n" for c in chunks).encode(),
        )
        now = time.time()
        counts: dict[str, int] = {}
        for c in chunks:
            counts[c.doc] = counts.get(c.doc, 0) + 1
        files = {}
        for d in docs:
            old = old_files.get(d.path)
            same = old is not None and old["sha256"] == d.sha256
            files[d.path] = {
                "sha256": d.sha256,
                "size": d.size,
                "encoding": d.encoding,
                "chunks": counts.get(d.path, 0),
                "indexed_at": old["indexed_at"] if same else now,
                "pages": d.pages,
                "reader": d.reader,
                "ocr_pages": d.ocr_pages,
            }
        checksums = {p.name: file_sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": {"name": model, "fingerprint": fingerprint, "dim": dim},
            "chunker": chunker_settings(settings),
            "files": files,
            "skipped": [
                {"path": s.path, "reason": s.reason, "sha256": _sha256_or_empty(corpus / s.path)}
                for s in skipped
            ],
            "counts": {"files": len(docs), "chunks": len(chunks), "skipped": len(skipped)},
            "built_at": now,
            "checksums": checksums,
        }
        raw = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
        _write_file(tmp / MANIFEST, raw)
        for p in tmp.iterdir():  # faiss, np.save and json.dump do not fsync
            with p.open("rb") as f:
                os.fsync(f.fileno())
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
    todo_set = set(todo)
    return BuildReport(
        index_dir=str(folder),
        version=version,
        files_read=len(docs),
        skipped=skipped,
        chunks=len(chunks),
        embedded=len(todo),
        reused=sum(1 for c in chunks if c.hash not in todo_set),
        seconds=time.perf_counter() - t0,
        pages=sum(d.pages for d in docs),
        ocr_pages=reader.ocr_pages,
        files_reused=reader.files_reused,
    )


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

    def load(self) -> dict[str, np.ndarray]:
        """hash -> vector of the records saved by an earlier, unfinished build."""
        try:
            data = self.path.read_bytes()
        except OSError:
            return {}
        n = len(data) // self.record
        rows = np.frombuffer(data[: n * self.record], dtype=np.uint8).reshape(n, self.record)
        vecs = rows[:, 32:].copy().view(np.float32)
        if n:
            log.info("taking %d vector(s) saved by an unfinished build", n)
        return {bytes(r[:32]).hex(): v for r, v in zip(rows, vecs, strict=True)}

    def append(self, hashes: list[str], vectors: np.ndarray) -> None:
        """Save the vectors of ``hashes`` (a full disk only loses the saving, not the build)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        data = b"".join(
            bytes.fromhex(h) + v.tobytes() for h, v in zip(hashes, vectors, strict=True)
        )
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
