"""Start the web UI: ``python app.py [--corpus DIR] [--index DIR] [--host H] [--port P]
[--model NAME] [--no-ocr] [--store milvus:URI]``.

Builds the index first if it is missing or out of date, then serves on http://127.0.0.1:7860
(another address only when ``--host`` says so). The logic lives in :mod:`qa.ui`; ``qa serve``
does the same."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    from qa.settings import DEFAULTS

    p = argparse.ArgumentParser(description="Web UI: ask questions of a folder of documents.")
    p.add_argument(
        "--corpus", default=str(DEFAULTS.corpus_dir), help="documents folder (default %(default)s)"
    )
    p.add_argument(
        "--index", default=str(DEFAULTS.index_dir), help="index folder (default %(default)s)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=7860, help="port (default %(default)s)")
    p.add_argument("--model", default=None, help=f"embedding model (default {DEFAULTS.model})")
    p.add_argument(
        "--no-ocr", action="store_true", help="do not read scans and images by OCR (skipped)"
    )
    p.add_argument(
        "--store",
        default="",
        help="answer from Milvus (published first): milvus:PATH.db or milvus:http://HOST:19530",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log details")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    over: dict[str, object] = {"corpus_dir": Path(args.corpus), "index_dir": Path(args.index)}
    if args.model:
        over["model"] = args.model
    if args.no_ocr:
        over["ocr"] = False
    if args.store:
        over["store"] = args.store
    settings = dataclasses.replace(DEFAULTS, **over)

    from qa.embed import ModelError
    from qa.index import IndexProblem
    from qa.ui import serve

    try:
        if settings.store:
            from qa.milvus import parse_store, publish_folder

            parse_store(settings.store)
            publish_folder(settings)
        serve(settings, host=args.host, port=args.port)
    except (IndexProblem, ModelError, FileNotFoundError, OSError, ValueError) as e:
        print(f"qa: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
