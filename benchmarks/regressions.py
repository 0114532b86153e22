"""Re-run the quality figures the docs claim and fail on drift.

python benchmarks/regressions.py [--fast] [--only GLOB] [--shared DIR] [--work DIR] [--json]
python benchmarks/regressions.py --write-docs | --check-docs

The figures live in benchmarks/regressions.toml (dataset, mode, metric, expected, tolerance).
Exit 1 when a measured figure is outside its tolerance (or, with --check-docs, when README.md or
BENCHMARKS.md differ from the tables the file generates). --fast runs the quick subset CI runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sciseek.quality import regressions

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "benchmarks" / "regressions.toml"
DOCS = (ROOT / "README.md", ROOT / "BENCHMARKS.md")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", default=str(FIGURES), help="the regressions file")
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--work", help="keep each dataset's index here (reruns skip encoding)")
    parser.add_argument("--fast", action="store_true", help="only the quick subset")
    parser.add_argument("--only", metavar="GLOB", help="figures named like dataset/mode/metric")
    parser.add_argument("--json", action="store_true", help="one JSON line per figure")
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument("--write-docs", action="store_true", help="regenerate the docs' tables")
    docs.add_argument("--check-docs", action="store_true", help="fail if the docs' tables differ")
    args = parser.parse_args()
    data = regressions.load(args.figures)
    if args.write_docs:
        for path in DOCS:
            path.write_text(regressions.render(path.read_text(encoding="utf-8"), data))
        return 0
    if args.check_docs:
        stale = regressions.stale_docs(DOCS, data)
        for path in stale:
            print(
                f"{path.name}: tables differ from {Path(args.figures).name} "
                "(python benchmarks/regressions.py --write-docs)",
                file=sys.stderr,
            )
        return 1 if stale else 0
    figures = data.select(fast=args.fast, only=args.only)
    if not figures:
        print("no figure matches", file=sys.stderr)
        return 2
    outcomes = regressions.check(
        figures, args.shared, work=args.work, log=lambda m: print(m, file=sys.stderr, flush=True)
    )
    if args.json:
        for o in outcomes:
            print(
                json.dumps(
                    {
                        "figure": o.figure.name,
                        "expected": o.figure.expected,
                        "measured": round(o.measured, 6),
                        "ok": o.ok,
                    }
                )
            )
    else:
        print(regressions.report(outcomes))
    drift = [o for o in outcomes if not o.ok]
    print(
        f"{len(outcomes) - len(drift)} of {len(outcomes)} figures within tolerance", file=sys.stderr
    )
    return 1 if drift else 0


if __name__ == "__main__":
    sys.exit(main())
