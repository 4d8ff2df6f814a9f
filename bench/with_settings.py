"""Run a benchmark script with other default settings: ``qa.settings.DEFAULTS`` is replaced
before anything else of ``qa`` is imported, so every module (and every function default) reads
the new values, as if they were the shipped defaults.

    python bench/with_settings.py lexical_weight=1.5 sentence_weight=0.3 -- \\
        bench/bench_realistic.py --out bench/results/realistic-lw1.5.json
"""

from __future__ import annotations

import dataclasses
import runpy
import sys
from pathlib import Path


def main() -> None:
    if "--" not in sys.argv:
        raise SystemExit(__doc__)
    cut = sys.argv.index("--")
    pairs, script = sys.argv[1:cut], sys.argv[cut + 1 :]
    import qa.settings as s

    fields = {f.name: f.type for f in dataclasses.fields(s.Settings)}
    changes: dict[str, object] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in fields:
            raise SystemExit(f"no setting {name!r}")
        kind = type(getattr(s.DEFAULTS, name))
        changes[name] = kind(value)
    s.DEFAULTS = dataclasses.replace(s.DEFAULTS, **changes)
    print(f"settings: {changes}", file=sys.stderr)
    sys.argv = script
    sys.path.insert(0, str(Path(script[0]).resolve().parent))
    runpy.run_path(script[0], run_name="__main__")


if __name__ == "__main__":
    main()
