"""Render a sample digest from the test fixture papers into docs/sample-digest.html.

python scripts/sample_digest.py [--output docs/sample-digest.html]

A throwaway data dir gets one confirmed subscriber, then the fixture papers (so they are new to
that subscriber); a dry run a day later renders their digest. Nothing is sent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from sciseek import Engine
from sciseek.digests.digest import send_digests
from sciseek.digests.interests import make_interests
from sciseek.digests.subscriptions import Subscriptions
from sciseek.ingest.readers import read_valid

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / "docs" / "sample-digest.html"))
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="sciseek-sample-") as tmp,
        Engine.open(Path(tmp) / "data", log=lambda m: None) as engine,
    ):
        with Subscriptions.open(engine.data_dir) as subs:
            interests = make_interests(
                queries=[
                    "dense retrieval with small query encoders",
                    "learned sparse retrieval with SPLADE",
                    "re-ranking retrieved passages with cross-encoders",
                    "query expansion with pseudo-relevance feedback",
                ],
                categories=["cs.IR"],
            )
            subs.add("reader@example.org", interests, "daily")
        engine.add(read_valid(ROOT / "tests" / "fixtures" / "papers.jsonl"))
        now = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        report = send_digests(engine, now=now, dry_run=True, output=Path(tmp) / "out")
        (html,) = (Path(tmp) / "out").glob("digest-*.html")
        Path(args.output).write_text(html.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"{report.summary(dry_run=True)}; wrote {args.output}")


if __name__ == "__main__":
    main()
