"""Command line: ``qa build``, ``qa ask``, ``qa serve`` (``app.py`` is ``qa serve``).

Errors are one clear line on stderr and a non-zero exit code, never a traceback."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from qa.settings import DEFAULTS, Settings

MARK_ON, MARK_OFF = "\033[1;33m", "\033[0m"
_NO_OCR = "do not read scanned PDF pages and images by OCR (they are skipped)"
_STORE = (
    "milvus:PATH.db (Milvus Lite) or milvus:http://HOST:19530 (a server; token in "
    "$QA_MILVUS_TOKEN); #NAME after it for another collection than qa"
)
ANS_ON = "\033[1;4;33m"


def _settings(args: argparse.Namespace) -> Settings:
    over = {}
    if getattr(args, "corpus", None):
        over["corpus_dir"] = Path(args.corpus)
    if getattr(args, "index", None):
        over["index_dir"] = Path(args.index)
    if getattr(args, "model", None):
        over["model"] = args.model
    if getattr(args, "no_ocr", False):
        over["ocr"] = False
    if getattr(args, "store", None):
        from qa.milvus import parse_store

        parse_store(args.store)  # a bad store is refused before any work
        over["store"] = args.store
    return dataclasses.replace(DEFAULTS, **over)


def _marked(
    text: str, span: tuple[int, int] | None, answer: tuple[int, int] | None, color: bool
) -> str:
    """The passage with its best sentence in [[...]] (or colour) and the answer words in {...}."""
    if not span:
        return text
    s, e = span
    on, off, aon = (MARK_ON, MARK_OFF, ANS_ON) if color else ("[[", "]]", "{")
    aoff = MARK_OFF + MARK_ON if color else "}"
    inner = text[s:e]
    if answer and s <= answer[0] < answer[1] <= e:
        a0, a1 = answer[0] - s, answer[1] - s
        inner = inner[:a0] + aon + inner[a0:a1] + aoff + inner[a1:]
    return text[:s] + on + inner + off + text[e:]


def cmd_build(args: argparse.Namespace) -> int:
    from qa.index import build_index

    st = _settings(args)
    print(f"building the index of {st.corpus_dir} into {st.index_dir} ...", file=sys.stderr)
    report = build_index(
        st.corpus_dir, st.index_dir, model=st.model, settings=st, show_progress_bar=True
    )
    print(report.summary())
    if st.store:
        from qa.index import load_index
        from qa.milvus import publish

        print(publish(load_index(st.index_dir), st.store, replace=args.replace).summary())
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.search import get_retriever, hits_to_json
    from qa.service import QAService

    st = _settings(args)
    answer = QAService(st, get_retriever(st.index_dir, st)).ask(args.question, args.k)
    hits = answer.hits
    if args.json:
        print(hits_to_json(hits))
        return 0
    color = sys.stdout.isatty()
    if not hits:
        print("the index is empty: add documents to the corpus and run qa build")
        return 0
    if not answer.shown.confident:
        print("The documents do not seem to answer this question; the closest passages:\n")
    else:
        print(f"Answer: {answer.shown.text}\n")
    for i, h in enumerate(hits, 1):
        where = h.doc + (f", p. {h.page}" if h.page else "")
        where += f" › {h.section}" if h.section else ""
        print(f"[{i}] {where}  (confidence {h.confidence:.2f}, score {h.score:.3f})")
        span = h.highlights[0] if h.highlights else None
        print("    " + _marked(h.text, span, h.answer, color))
        print()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from qa.api import read_users, serve

    st = _settings(args)
    auth_file = Path(args.auth_file) if args.auth_file else None
    users = read_users(args.auth or (), file=auth_file)
    if st.store:
        from qa.milvus import publish_folder

        publish_folder(st)
    serve(
        st,
        host=args.host,
        port=args.port,
        users=users,
        read_only=args.read_only,
        allow_write=args.allow_write,
    )
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser (shared with ``python -m qa``)."""
    p = argparse.ArgumentParser(prog="qa", description="Ask questions of a folder of documents.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="(re)build the index of the corpus folder")
    b.add_argument("--corpus", help=f"documents folder (default {DEFAULTS.corpus_dir})")
    b.add_argument("--index", help=f"index folder (default {DEFAULTS.index_dir})")
    b.add_argument(
        "--model",
        help=f"sentence-transformers model name or folder (default: the embedded {DEFAULTS.model})",
    )
    b.add_argument("--no-ocr", action="store_true", help=_NO_OCR)
    b.add_argument("--store", help="then publish the index to Milvus: " + _STORE)
    b.add_argument(
        "--replace",
        action="store_true",
        help="with --store: overwrite a collection that holds an index built with another "
        "model or chunking settings (refused without it)",
    )
    b.set_defaults(func=cmd_build)

    a = sub.add_parser("ask", help="ask a question")
    a.add_argument("question")
    a.add_argument("--index", help=f"index folder (default {DEFAULTS.index_dir})")
    a.add_argument(
        "-k", type=int, default=DEFAULTS.top_k, help="passages to show, 1 to 20 (default 5)"
    )
    a.add_argument("--json", action="store_true", help="print the hits as JSON")
    a.add_argument("--store", help="answer from Milvus: " + _STORE)
    a.set_defaults(func=cmd_ask)

    s = sub.add_parser("serve", help="start the web page and the HTTP API")
    s.add_argument("--corpus", help=f"documents folder (default {DEFAULTS.corpus_dir})")
    s.add_argument("--index", help=f"index folder (default {DEFAULTS.index_dir})")
    s.add_argument("--model", help="embedding model for a (re)build")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    s.add_argument("--no-ocr", action="store_true", help=_NO_OCR)
    s.add_argument(
        "--auth",
        action="append",
        metavar="USER:PASSWORD",
        help="turn on sign-in for the page and the API (repeat for more users; or set "
        "QA_AUTH=USER:PASSWORD, which keeps the password out of the process list)",
    )
    s.add_argument("--auth-file", metavar="FILE", help="users to sign in, one USER:PASSWORD a line")
    s.add_argument("--read-only", action="store_true", help="questions only: no upload, no rebuild")
    s.add_argument(
        "--allow-write",
        action="store_true",
        help="on a non-loopback address without --auth, let anyone upload and rebuild "
        "(by default such a server answers questions only)",
    )
    s.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log details"
    )
    s.add_argument("--store", help="answer from Milvus (published first): " + _STORE)
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qa`` command."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    from qa.embed import ModelError
    from qa.index import IndexProblem

    try:
        return int(args.func(args))
    except BrokenPipeError:  # output piped into head & co: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, IndexProblem, ModelError, FileNotFoundError, OSError) as e:
        print(f"qa: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
