"""The service core: what the web page (:mod:`qa.ui`), the HTTP API (:mod:`qa.api`) and the
command line (:mod:`qa.cli`) all call, so that they behave the same.

- :class:`QAService` holds the settings and one :class:`~qa.search.Retriever` (the model and
  the index load once). :meth:`~QAService.ask` validates a question and ``k`` and answers it
  from the newest index that loads (a rebuilt index that fails to load keeps the loaded one
  serving: :meth:`qa.search.Retriever.refresh`); :meth:`~QAService.context` gives a passage's
  neighbouring chunks; :meth:`~QAService.documents` lists the index (the comparison with the
  corpus is cached until a file's state changes, then hashes only the changed files);
  :meth:`~QAService.rebuild` and :meth:`~QAService.start_rebuild` rebuild one at a time (a
  second one is refused with the running one's status); :meth:`~QAService.save_uploads` saves
  uploaded files. Uploads and rebuilds are refused unless the service is ``writable``.
- :func:`shown_answer` is the one decision of what answer line to show.
- :func:`prepare_index` builds a missing or stale index before serving.

Nothing here imports gradio, FastAPI or torch."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.settings import DEFAULTS, Settings

if TYPE_CHECKING:  # pragma: no cover
    from qa.chunk import Chunk
    from qa.index import BuildReport, DocumentInfo, FileState
    from qa.search import Hit, Retriever

log = logging.getLogger("qa")

#: Passages per question: the web page's default, and the most any caller may ask for.
DEFAULT_K = 3
MAX_K = 20
#: Largest uploaded file.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
#: Neighbouring chunks shown around a passage when its context is expanded.
CONTEXT_BEFORE = 1
CONTEXT_AFTER = 1


class ReadOnlyError(PermissionError):
    """An upload or a rebuild asked of a service that does not allow them."""


# ------------------------------------------------------------------------------------------
# validating questions
# ------------------------------------------------------------------------------------------
def check_k(k: object) -> int:
    """``k`` as an int in ``[1, MAX_K]``, or ``ValueError`` saying what is allowed (a bool, a
    fraction or text is refused, 0 does not mean "the default")."""
    if isinstance(k, bool) or not isinstance(k, int):
        if isinstance(k, float) and k.is_integer():
            k = int(k)
        else:
            raise ValueError(f"k must be a whole number from 1 to {MAX_K}")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be from 1 to {MAX_K}, not {k}")
    return k


def check_question(question: object, settings: Settings = DEFAULTS, whole: bool = True) -> str:
    """The question, or ``ValueError`` if it is not text, is empty or (``whole``: when it must
    be used whole, as the HTTP API wants) is longer than ``settings.max_question_chars``
    (counted with runs of spaces as one). Without ``whole`` a longer question is cut, as
    :func:`qa.search.clean_question` does for the CLI, the page and Python callers."""
    if not isinstance(question, str):
        raise ValueError("the question must be text")
    n = len(" ".join(question.split()))
    if whole and n > settings.max_question_chars:
        raise ValueError(
            f"the question is too long: {n} characters, at most {settings.max_question_chars}"
        )
    from qa.search import clean_question

    clean_question(question, settings)  # empty (after control characters): a clear error
    return question


# ------------------------------------------------------------------------------------------
# what answer to show
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShownAnswer:
    """The answer line: ``confident`` if the best passage's confidence reaches the threshold;
    then ``text`` is its answer words (``exact``) or, without them, its best sentence. When not
    confident (or no passage), ``text`` is ``None``: say that the documents do not seem to
    answer and show the closest passages."""

    confident: bool
    text: str | None
    exact: bool


def shown_answer(hits: Sequence[Hit], threshold: float) -> ShownAnswer:
    """The one "show the answer or not" decision of the page, the CLI and the API."""
    if not hits or hits[0].confidence < threshold:
        return ShownAnswer(False, None, False)
    best = hits[0]
    words = best.answer_text
    return ShownAnswer(True, words or best.sentence, bool(words))


@dataclass(frozen=True)
class Answer:
    """One question answered: the passages, best first, and what to show of them.
    ``read_as`` is the question retrieved with (a follow-up joined to the previous one)."""

    question: str
    read_as: str
    hits: list[Hit]
    shown: ShownAnswer


# ------------------------------------------------------------------------------------------
# rebuild status
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RebuildStatus:
    """Where the rebuild of the index stands: ``state`` is ``idle`` (none since the start),
    ``running``, ``done`` or ``failed``; ``fraction`` and ``message`` its progress,
    ``summary`` the build report of a finished one, ``error`` why one failed."""

    state: str = "idle"
    started: float | None = None
    finished: float | None = None
    fraction: float = 0.0
    message: str = ""
    summary: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


class RebuildRunning(RuntimeError):
    """A rebuild was asked for while one runs; ``status`` is the running one's."""

    def __init__(self, status: RebuildStatus) -> None:
        super().__init__("a rebuild is already running: wait for it to finish")
        self.status = status


@dataclass(frozen=True)
class DocumentsView:
    """The Documents listing: the indexed documents, the skipped files with their reasons,
    why the index is behind the corpus (``None`` if it is not), or why there is no listing."""

    documents: list[DocumentInfo]
    skipped: list[dict[str, Any]]
    stale: str | None
    error: str | None = None
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "documents": [dataclasses.asdict(d) for d in self.documents],
            "skipped": list(self.skipped),
            "stale": self.stale,
            "error": self.error,
            "version": self.version,
        }


# ------------------------------------------------------------------------------------------
# the service
# ------------------------------------------------------------------------------------------
class QAService:
    """The settings and one retriever, shared by every request (thread-safe)."""

    def __init__(
        self, settings: Settings, retriever: Retriever | None = None, writable: bool = True
    ) -> None:
        from qa.search import Retriever

        self.settings = settings
        self.retriever = retriever or Retriever(settings.index_dir, settings)
        self.writable = writable
        self._build_lock = threading.Lock()
        self._status = RebuildStatus()
        self._status_lock = threading.Lock()
        self._stale_lock = threading.Lock()
        self._stale_key: tuple[Any, ...] | None = None
        self._stale: str | None = None
        #: each corpus file's state and sha256 at the last comparison (qa.index.stale_reason)
        self.file_hashes: dict[str, tuple[FileState, str]] = {}
        # the questions answered at once (every caller together); the others wait in turn
        self._asking = threading.Semaphore(max(1, settings.concurrent_questions))

    # -- asking ----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Pick up an index rebuilt by another process or with another model, keeping the
        loaded one if the new one cannot be loaded (:meth:`qa.search.Retriever.refresh`)."""
        self.retriever.refresh()

    def ask(self, question: str, k: int = DEFAULT_K, previous: Sequence[str] = ()) -> Answer:
        """The answer to ``question`` (cut at ``Settings.max_question_chars``): ``ValueError``
        for a bad question or ``k``,
        :class:`qa.index.IndexProblem` / :class:`qa.embed.ModelError` when it cannot be
        answered. A follow-up question is read together with the ``previous`` one
        (:func:`qa.search.contextualize`)."""
        from qa.search import contextualize

        check_question(question, self.settings, whole=False)
        k = check_k(k)
        read_as = contextualize(question, [p for p in previous if isinstance(p, str)])
        with self._asking:
            self.refresh()
            hits = self.retriever.run(read_as, k)
        return Answer(question, read_as, hits, shown_answer(hits, self.settings.answer_threshold))

    def context(self, hit: Hit) -> list[Chunk] | None:
        """The chunks around ``hit`` in its document, the hit's own passage in the middle as
        one item (``None`` if the index changed since the hit was found)."""
        from qa.chunk import join_chunks

        idx = self.retriever.index
        ids = hit.chunks or (hit.chunk,)
        if not all(0 <= j < len(idx.chunks) for j in ids):
            return None
        own = [idx.chunks[j] for j in ids]
        if join_chunks(own) != hit.text:
            return None
        before = idx.neighbours(ids[0], before=CONTEXT_BEFORE, after=0)[:-1]
        after = idx.neighbours(ids[-1], before=0, after=CONTEXT_AFTER)[1:]
        return [*before, dataclasses.replace(own[0], text=hit.text), *after]

    # -- documents -------------------------------------------------------------------------
    def stale_reason(self) -> str | None:
        """Why the index is behind the corpus (``None`` if it is not). The comparison is done
        again only when a file's name, size, times or inode or the index version changed
        since the last one, and then hashes only the files whose state changed (or that it
        never hashed: the first comparison reads every file, unless :func:`prepare_index` did
        with :attr:`file_hashes`); see :func:`qa.index.stale_reason` for its blind spot."""
        from qa.corpus import list_files
        from qa.index import CURRENT, file_state, stale_reason

        st = self.settings
        try:
            files = list_files(st.corpus_dir, st)
            stats = tuple((str(p), *file_state(p.stat())) for p in files)
            pointer = (st.index_dir / CURRENT).read_bytes()
        except OSError:
            stats, pointer = None, None  # no cache: the comparison says what is wrong
        key = (stats, pointer)
        with self._stale_lock:
            if stats is not None and key == self._stale_key:
                return self._stale
            reason = stale_reason(st.index_dir, st.corpus_dir, st, self.file_hashes)
            self._stale_key, self._stale = key, reason
            return reason

    def documents(self) -> DocumentsView:
        """The indexed documents, the skipped files and whether the index is behind the
        corpus; a problem (no index yet) is the view's ``error``."""
        try:
            stale = self.stale_reason()
        except Exception as e:  # the listing must still show
            stale = f"cannot compare with the corpus: {error_message(e)}"
        try:
            self.refresh()
            idx = self.retriever.index
        except Exception as e:
            return DocumentsView([], [], stale, error=error_message(e))
        return DocumentsView(
            idx.documents(), list(idx.manifest.get("skipped", [])), stale, version=idx.version
        )

    # -- rebuilding ------------------------------------------------------------------------
    def rebuild_status(self) -> RebuildStatus:
        """The running or the last rebuild's status."""
        with self._status_lock:
            return self._status

    def _set_status(self, **changes: Any) -> None:
        with self._status_lock:
            self._status = dataclasses.replace(self._status, **changes)

    def _check_writable(self) -> None:
        if not self.writable:
            raise ReadOnlyError("this server is read-only: uploading and rebuilding are turned off")

    def _begin(self) -> None:
        self._check_writable()
        if not self._build_lock.acquire(blocking=False):
            raise RebuildRunning(self.rebuild_status())
        with self._status_lock:
            self._status = RebuildStatus("running", time.time(), message="starting the rebuild")

    def _run_build(self, progress: Callable[[float, str], None] | None) -> BuildReport:
        """The build itself (the lock is held); swaps the new index in and records how it
        ended."""
        from qa.index import build_index

        st = self.settings

        def cb(fraction: float, message: str) -> None:
            self._set_status(fraction=max(0.0, min(1.0, float(fraction))), message=message)
            if progress is not None:
                progress(fraction, message)

        try:
            report = build_index(
                st.corpus_dir, st.index_dir, model=st.model, settings=st, progress=cb
            )
            # a new version that cannot be loaded leaves the loaded one serving
            self.retriever.refresh()
            summary = report.summary()
            if self.retriever.index.version != report.version:
                summary += "\nthe new index cannot be loaded: the previous one keeps serving"
        except Exception as e:
            self._set_status(state="failed", finished=time.time(), error=error_message(e))
            raise
        else:
            self._set_status(
                state="done", finished=time.time(), fraction=1.0, message="done", summary=summary
            )
            return report
        finally:  # after the status is set: a new rebuild never sees this one "running"
            self._build_lock.release()

    def rebuild(self, progress: Callable[[float, str], None] | None = None) -> BuildReport:
        """Build the index of the corpus and swap it in (questions keep being answered from
        the loaded index meanwhile). Raises :class:`RebuildRunning` if one runs here,
        :class:`qa.index.BuildLockedError` if another process builds, :class:`ReadOnlyError`
        if the service is read-only."""
        self._begin()
        return self._run_build(progress)

    def start_rebuild(self) -> RebuildStatus:
        """Start a rebuild in the background; its status at the start (then
        :meth:`rebuild_status`). Raises as :meth:`rebuild` does when it cannot start."""
        self._begin()

        def run() -> None:
            try:
                self._run_build(None)
            except Exception:  # recorded in the status
                pass

        threading.Thread(target=run, name="qa-rebuild", daemon=True).start()
        return self.rebuild_status()

    # -- uploads ---------------------------------------------------------------------------
    def save_uploads(
        self, files: Iterable[Any] | None, replace: bool = False
    ) -> tuple[list[str], list[str]]:
        """Save uploaded files into the corpus folder (:func:`save_upload`); returns the saved
        names and the refusal messages."""
        self._check_writable()
        return save_uploads(
            files, self.settings.corpus_dir, replace=replace, extensions=self.settings.extensions
        )


def error_message(e: BaseException) -> str:
    """A one-line message for a user (no traceback); unexpected errors are logged."""
    from qa.embed import ModelError
    from qa.index import IndexProblem

    if isinstance(e, (ValueError, IndexProblem, ModelError, OSError, RebuildRunning)):
        return str(e)
    log.error("unexpected error", exc_info=e)
    return f"{type(e).__name__}: {e}"


# ------------------------------------------------------------------------------------------
# uploads
# ------------------------------------------------------------------------------------------
class UploadRefused(ValueError):
    """An uploaded file that is not saved; the message says why."""


_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def size_text(n: float) -> str:
    """A byte count for people: ``512 B``, ``2.0 KB``, ``1.5 MB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{int(n)} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def sanitize_upload_name(name: str, extensions: Sequence[str] = DEFAULTS.extensions) -> str:
    """The name an uploaded file is saved under in the corpus folder, or
    :class:`UploadRefused` saying why it cannot be.

    Only a plain file name is accepted: no path separators or ``..``, no NUL, control or
    invisible format characters (bidi overrides), not hidden (leading dot), at most 200
    characters, and ending in one of ``extensions`` (case-insensitive). The name is NFC
    normalised and stripped of surrounding spaces."""
    if not isinstance(name, str):
        raise UploadRefused("the file has no name")
    name = unicodedata.normalize("NFC", name).strip()
    shown = repr(name)[1:-1][:80]
    if not name:
        raise UploadRefused("the file has no name")
    if "\0" in name:
        raise UploadRefused(f"{shown}: the name contains a NUL character")
    if "/" in name or "\\" in name:
        raise UploadRefused(f"{shown}: the name must not contain a path (/ or \\)")
    if name in (".", "..") or ".." in name:
        raise UploadRefused(f"{shown}: the name must not contain '..'")
    if any(unicodedata.category(c) in _BAD_CATEGORIES for c in name):
        raise UploadRefused(f"{shown}: the name contains control or invisible characters")
    if name.startswith("."):
        raise UploadRefused(f"{shown}: hidden file names (starting with '.') are not indexed")
    if len(name) > 200 or len(name.encode("utf-8")) > 240:
        raise UploadRefused(f"{shown}: the name is too long")
    exts = tuple(e.lower() for e in extensions)
    if not name.lower().endswith(exts) or name.lower() in exts:
        raise UploadRefused(f"{shown}: only {', '.join(exts)} files can be added")
    return name


def save_upload(
    src: Path | str,
    corpus_dir: Path,
    name: str | None = None,
    replace: bool = False,
    extensions: Sequence[str] = DEFAULTS.extensions,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> Path:
    """Copy the uploaded file ``src`` into ``corpus_dir`` under the sanitised ``name`` (default:
    ``src``'s own name). Never overwrites an existing file unless ``replace``; the file appears
    whole or not at all (written to a hidden temporary file, then linked/renamed into place).
    Raises :class:`UploadRefused` with the reason."""
    src = Path(src)
    final = sanitize_upload_name(name if name is not None else src.name, extensions)
    try:
        size = src.stat().st_size
    except OSError as e:
        raise UploadRefused(f"{final}: cannot read the upload ({e.strerror})") from None
    if size > max_bytes:
        raise UploadRefused(
            f"{final}: {size_text(size)} is larger than the {size_text(max_bytes)} limit"
        )
    corpus_dir.mkdir(parents=True, exist_ok=True)
    dest = corpus_dir / final
    if (dest.exists() or dest.is_symlink()) and not replace:
        raise UploadRefused(
            f"{final}: a file with this name is already in the corpus (tick 'replace' to overwrite)"
        )
    if dest.is_dir():
        raise UploadRefused(f"{final}: a folder with this name is in the corpus")
    tmp = corpus_dir / f".upload-{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}.part"
    try:
        with src.open("rb") as fin, tmp.open("xb") as fout:
            copied = 0
            while block := fin.read(1 << 20):
                copied += len(block)
                if copied > max_bytes:
                    raise UploadRefused(f"{final}: larger than the {size_text(max_bytes)} limit")
                fout.write(block)
            fout.flush()
            os.fsync(fout.fileno())
        if replace:
            os.replace(tmp, dest)
        else:
            try:
                os.link(tmp, dest)  # atomic and refuses to overwrite
            except FileExistsError:
                raise UploadRefused(
                    f"{final}: a file with this name is already in the corpus "
                    "(tick 'replace' to overwrite)"
                ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def save_uploads(
    files: Iterable[Any] | None,
    corpus_dir: Path,
    replace: bool = False,
    extensions: Sequence[str] = DEFAULTS.extensions,
) -> tuple[list[str], list[str]]:
    """Save several uploads; returns (saved names, refusal messages)."""
    saved, refused = [], []
    for f in files or []:
        path = Path(getattr(f, "name", None) or str(f))
        try:
            saved.append(save_upload(path, corpus_dir, replace=replace, extensions=extensions).name)
        except UploadRefused as e:
            refused.append(str(e))
        except OSError as e:
            refused.append(f"{path.name}: cannot save ({e.strerror or e})")
    return saved, refused


# ------------------------------------------------------------------------------------------
# start-up
# ------------------------------------------------------------------------------------------
def prepare_index(
    settings: Settings, out: Any = None, hashes: dict[str, tuple[FileState, str]] | None = None
) -> None:
    """Build the index if it is missing or stale, with a progress bar in the terminal (waiting
    for a build another process runs). ``hashes``: a service's :attr:`QAService.file_hashes`,
    so that its first Documents listing need not hash the corpus again."""
    from qa.index import BuildLockedError, build_index, stale_reason

    out = out or sys.stderr
    reason = stale_reason(settings.index_dir, settings.corpus_dir, settings, hashes)
    if reason is None:
        return
    if not (settings.index_dir / "CURRENT").exists():
        reason = "no index yet"
    print(f"qa: building the index of {settings.corpus_dir} ({reason}) ...", file=out, flush=True)
    last = [""]

    def phase(_fraction: float, message: str) -> None:
        if "/" not in message and message != last[0]:  # "embedding 3/40": tqdm shows those
            print(f"qa: {message}", file=out, flush=True)
            last[0] = message

    kwargs = {"model": settings.model, "settings": settings, "progress": phase}
    try:
        report = build_index(
            settings.corpus_dir, settings.index_dir, show_progress_bar=True, **kwargs
        )
    except BuildLockedError as e:
        print(f"qa: {e}; waiting ...", file=out, flush=True)
        report = build_index(
            settings.corpus_dir, settings.index_dir, show_progress_bar=True, wait=True, **kwargs
        )
    print(report.summary(), file=out, flush=True)
