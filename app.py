"""Start the web page and the HTTP API: ``python app.py`` is ``qa serve`` (the same options:
``--corpus``, ``--index``, ``--host``, ``--port``, ``--model``, ``--no-ocr``, ``--auth``,
``--auth-file``, ``--read-only``, ``--allow-write``, ``--store``, ``-v``; see ``python app.py
--help``).

Builds the index first if it is missing or out of date, then serves on http://127.0.0.1:7860
(another address only when ``--host`` says so)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``qa serve`` with ``argv`` (default: this command's arguments)."""
    from qa.cli import main as qa_main

    return qa_main(["serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
