"""The index's chunk records on disk: columns that load with ``mmap`` instead of a JSON list.

A build appends chunks document by document (:class:`ChunkWriter`); the served index opens them
(:class:`ChunkStore`) in constant time and memory whatever the corpus size, and builds a
:class:`qa.chunk.Chunk` only for the chunks a question shows. Files::

    chunks.bin          the texts and section names, UTF-8, one after the other
    chunks_meta.npy     one row per chunk (:data:`META`): offsets into chunks.bin, the
                        document's number, start/end in the document, ordinal, page, ...
    chunks_breaks.npy   the page-break offsets of all chunks (rows point into it)
    chunks_docs.json    the documents in order, each with its first chunk and chunk count

A document's chunks are consecutive, so ``chunk_ids(doc)`` is a range, and a chunk's neighbours
are the rows around it. The content hash is kept as its 32 raw bytes (the vectors of unchanged
chunks are found by it), and the script of each text (``qa.text.script_of``, which retrieval
needs for every chunk) is computed once at build time."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np

from qa.chunk import Chunk
from qa.text import script_of

TEXTS = "chunks.bin"
META_FILE = "chunks_meta.npy"
BREAKS = "chunks_breaks.npy"
DOCS = "chunks_docs.json"
FILES = (TEXTS, META_FILE, BREAKS, DOCS)

#: The scripts ``qa.text.script_of`` names, by their code in the ``script`` column.
SCRIPTS = ("cjk", "latin", "other")

META = np.dtype(
    [
        ("doc", "<i4"),
        ("text_off", "<i8"),
        ("text_len", "<i4"),
        ("section_off", "<i8"),
        ("section_len", "<i4"),
        ("start", "<i8"),
        ("end", "<i8"),
        ("ordinal", "<i4"),
        ("page", "<i4"),  # -1: a format without pages
        ("breaks_off", "<i8"),
        ("breaks_len", "<i4"),
        ("continues", "?"),
        ("script", "u1"),
        ("hash", "u1", (32,)),  # raw sha256 (not "S32": numpy strips its trailing NULs)
    ]
)

#: Rows kept in memory before they are appended to the file.
_FLUSH_ROWS = 4096


def _script_code(text: str) -> int:
    s = script_of(text)
    return SCRIPTS.index(s) if s in SCRIPTS else len(SCRIPTS) - 1


class ChunkWriter:
    """Appends chunks to a new chunk store in ``folder``, streaming: memory holds one buffer of
    rows, whatever the number of chunks. Call :meth:`add` per document, then :meth:`close`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._texts = (self.folder / TEXTS).open("wb")
        self._meta_tmp = (self.folder / (META_FILE + ".rows")).open("wb")
        self._breaks: list[int] = []
        self._rows: list[tuple[object, ...]] = []
        self._docs: list[dict[str, object]] = []
        self._offset = 0
        self._last_section: tuple[str, int, int] = ("", 0, 0)
        self.count = 0

    def _put(self, s: str) -> tuple[int, int]:
        data = s.encode("utf-8", "surrogatepass")
        self._texts.write(data)
        at = self._offset
        self._offset += len(data)
        return at, len(data)

    def add(self, doc: str, chunks: Iterable[Chunk]) -> int:
        """Append the chunks of document ``doc`` (in document order, taken one at a time);
        returns their number. All or nothing: if ``chunks`` raises (or a write fails), what
        was written of ``doc`` is taken out again before the error goes on."""
        mark = (self.count, self._offset, len(self._breaks), self._last_section)
        try:
            return self._add(doc, chunks)
        except BaseException:
            self._undo(*mark)
            raise

    def _undo(
        self, count: int, offset: int, breaks: int, last_section: tuple[str, int, int]
    ) -> None:
        """Forget the rows, texts and page breaks written after the given counts."""
        flushed = self.count - len(self._rows)  # rows already in the file
        if count >= flushed:
            del self._rows[count - flushed :]
        else:
            self._rows = []
            self._meta_tmp.truncate(count * META.itemsize)
            self._meta_tmp.seek(count * META.itemsize)
        self._texts.truncate(offset)  # (flushes first) then the writes go on from there
        self._texts.seek(offset)
        del self._breaks[breaks:]
        self.count, self._offset, self._last_section = count, offset, last_section

    def _add(self, doc: str, chunks: Iterable[Chunk]) -> int:
        first = self.count
        d = len(self._docs)
        for c in chunks:
            if c.section == self._last_section[0] and self._last_section[2]:
                sec_at, sec_len = self._last_section[1], self._last_section[2]
            else:
                sec_at, sec_len = self._put(c.section)
                self._last_section = (c.section, sec_at, sec_len)
            text_at, text_len = self._put(c.text)
            self._rows.append(
                (
                    d,
                    text_at,
                    text_len,
                    sec_at,
                    sec_len,
                    c.start,
                    c.end,
                    c.ordinal,
                    -1 if c.page is None else c.page,
                    len(self._breaks),
                    len(c.page_breaks),
                    c.continues,
                    _script_code(c.text),
                    np.frombuffer(bytes.fromhex(c.hash), dtype=np.uint8),
                )
            )
            self._breaks.extend(c.page_breaks)
            self.count += 1
            if len(self._rows) >= _FLUSH_ROWS:
                self._flush()
        self._docs.append({"path": doc, "first": first, "count": self.count - first})
        return self.count - first

    def _flush(self) -> None:
        if self._rows:
            self._meta_tmp.write(np.array(self._rows, dtype=META).tobytes())
            self._rows = []

    def close(self) -> None:
        """Write the remaining rows and the small files; everything is fsynced by the caller."""
        self._flush()
        self._texts.close()
        self._meta_tmp.close()
        rows = self.folder / (META_FILE + ".rows")
        # the .npy header in front of the raw rows, copied in blocks (not mapped: the pages of
        # a mapping count in the process's memory until it is closed)
        header = {"descr": np.lib.format.dtype_to_descr(META), "fortran_order": False}
        with (self.folder / META_FILE).open("wb") as out, rows.open("rb") as src:
            np.lib.format.write_array_header_1_0(out, {**header, "shape": (self.count,)})
            shutil.copyfileobj(src, out, 1 << 20)
        os.unlink(rows)
        np.save(self.folder / BREAKS, np.asarray(self._breaks, dtype=np.int64))
        with (self.folder / DOCS).open("w", encoding="utf-8") as f:
            json.dump(self._docs, f, ensure_ascii=False)


class ChunkStore(Sequence[Chunk]):
    """The chunk records of one index version, memory-mapped: ``store[i]`` is a
    :class:`qa.chunk.Chunk`, ``len(store)`` their number; the columns (``doc_of``, ``scripts``,
    ``hashes``, ``continues``) are arrays for whole-index work."""

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        self.meta: np.ndarray = np.load(folder / META_FILE, mmap_mode="r")
        if self.meta.dtype != META:
            raise ValueError(f"{META_FILE} has columns {self.meta.dtype}, expected {META}")
        size = (folder / TEXTS).stat().st_size
        self._texts = (
            np.memmap(folder / TEXTS, dtype=np.uint8, mode="r")
            if size
            else np.zeros(0, dtype=np.uint8)
        )
        self._breaks: np.ndarray = np.load(folder / BREAKS, mmap_mode="r")
        with (folder / DOCS).open(encoding="utf-8") as f:
            docs = json.load(f)
        self.docs: list[str] = [d["path"] for d in docs]
        self._doc_range = {d["path"]: (int(d["first"]), int(d["count"])) for d in docs}
        if self.meta.size:
            ends = self.meta["text_off"].astype(np.int64) + self.meta["text_len"]
            if int(ends.max()) > size or int(self.meta["doc"].max()) >= len(self.docs):
                raise ValueError(f"{META_FILE} points past {TEXTS} or the document list")
        if sum(c for _, c in self._doc_range.values()) != len(self.meta):
            raise ValueError(f"{DOCS} does not add up to the chunk count")

    def __len__(self) -> int:
        return int(self.meta.shape[0])

    def _str(self, at: int, n: int) -> str:
        return bytes(self._texts[at : at + n]).decode("utf-8", "surrogatepass")

    def text(self, i: int) -> str:
        """The text of chunk ``i`` (without building the whole record)."""
        r = self.meta[i]
        return self._str(int(r["text_off"]), int(r["text_len"]))

    def _chunk(self, i: int) -> Chunk:
        if not -len(self) <= i < len(self):
            raise IndexError(f"chunk {i} of {len(self)}")
        r = self.meta[i]
        b0, nb = int(r["breaks_off"]), int(r["breaks_len"])
        page = int(r["page"])
        return Chunk(
            doc=self.docs[int(r["doc"])],
            section=self._str(int(r["section_off"]), int(r["section_len"])),
            text=self._str(int(r["text_off"]), int(r["text_len"])),
            start=int(r["start"]),
            end=int(r["end"]),
            ordinal=int(r["ordinal"]),
            hash=bytes(r["hash"]).hex(),
            continues=bool(r["continues"]),
            page=None if page < 0 else page,
            page_breaks=tuple(int(x) for x in self._breaks[b0 : b0 + nb]),
        )

    @overload
    def __getitem__(self, i: int) -> Chunk: ...

    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self._chunk(j) for j in range(*i.indices(len(self)))]
        return self._chunk(int(i))

    def __iter__(self) -> Iterator[Chunk]:
        for i in range(len(self)):
            yield self._chunk(i)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def chunk_range(self, doc: str) -> range:
        """The ids of ``doc``'s chunks, in document order (empty for an unknown document)."""
        first, count = self._doc_range.get(doc, (0, 0))
        return range(first, first + count)

    @property
    def scripts(self) -> np.ndarray:
        """The script of every chunk's text (``SCRIPTS`` names), as an array of strings."""
        return np.asarray(SCRIPTS, dtype=object)[self.meta["script"]]

    @property
    def hashes(self) -> np.ndarray:
        """The content hash of every chunk: an ``n`` x 32 array of bytes (``bytes(row)``)."""
        return self.meta["hash"]

    @property
    def continues(self) -> np.ndarray:
        """Whether each chunk continues the paragraph of the chunk before it."""
        return self.meta["continues"]
