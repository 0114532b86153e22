"""The pool of keyword-interest papers to judge by reading, and reading sheets for it.

python benchmarks/digest_pool.py --out DIR [--fit-phrases 50] [--test-phrases 60] [--shards 8]
    [digest_quality.py's options: --work, --start, --weeks, ...]
python benchmarks/digest_pool.py --out DIR --extend     (what the shipped model sends outside)
python benchmarks/digest_pool.py --out DIR --second 500  (a sample to read a second time)
python benchmarks/digest_pool.py --out DIR --merge [--read benchmarks/digest_read.tsv]
python benchmarks/digest_pool.py --out DIR --agreement benchmarks/digest_read_second.tsv

The lexical judgments of ``digest_judgments.py`` count a paper that names a topic differently
as a miss and one that uses the phrase in passing as a hit. The reading judgments
(``digest_read.tsv``, BENCHMARKS.md "Digest quality") replace them for a seeded sample of
phrases: fit phrases on the fit week (to fit the short-phrase model on), test phrases on the
simulated weeks (to report). For each phrase and week the pool is, as in TREC pooling, the
union of the papers that arrived that week and that

- the lexical rules judge relevant or leave unjudged (the title or abstract states the
  phrase, the title holds its words in another order or form, or the paper uses its
  acronym), or
- are among the week's POOL_DEPTH candidates most likely relevant under the model shipped
  before reading judgments existed (z, BM25 share and coverage; P >= POOL_MIN), whatever
  their words.

A paper outside the pool counts as not relevant; a model that later sends one is told (the
benchmark reports how many sent papers were not read). ``DIR/pool.tsv`` lists the pairs
(part, phrase, paper) and ``DIR/sheet-K.txt`` the same pairs shuffled, numbered and split in
``--shards`` sheets that show the phrase, the title and the abstract only (the first
SHEET_ABSTRACT characters). Each sheet was read and answered by one assessor, item by item
(``DIR/judged-K.tsv``); ``--merge`` joins the answers to the pool. ``--extend`` writes
sheets of the papers the shipped model sends to the read test phrases that their pool lacks
(``DIR/extra``), ``--second N`` sheets of a seeded sample of judged pairs to read again
(``DIR/second``); ``--merge`` takes them in too, and ``--agreement`` compares two readings.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import digest_quality as dq  # noqa: E402

from sciseek import Engine  # noqa: E402
from sciseek.digests.digest import select  # noqa: E402
from sciseek.search.relevance import Calibration  # noqa: E402

POOL_DEPTH = 12  # candidates per phrase and week, most likely relevant first
POOL_MIN = 0.02
SHEET_ABSTRACT = 900  # characters of the abstract a sheet shows
# The short-phrase model the pool was drawn with (z, BM25 share, coverage; before reading
# judgments), kept here so that the pool does not move when the shipped model does.
POOL_MODEL = Calibration(8.1043, -5.6023, 0.7879, -18.7077, 0.25, 6.2664, 6.3094)
SHEET_HELP = (
    "Each item gives a research interest that a reader typed into a paper-alert form, and one\n"
    "new paper. Judge 1 if the reader would want this paper in their alert: the paper is about\n"
    "the topic, or its contribution is substantially about or built on it. Judge 0 if the\n"
    "topic is only mentioned in passing, is a minor part, or the paper is about something\n"
    "else. Answer one line per item: ITEM<TAB>0 or 1.\n"
)


def pool(engine: Engine, interests: list[dict], days: list[list[str]], part: str) -> list:
    """[(part, phrase, paper id)] of the pool for ``interests`` over ``days``."""
    engine._scorer._model = POOL_MODEL  # the pool's model, whatever the shipped one is
    out = []
    for interest in interests:
        lexical = set(interest["relevant"]) | set(interest["unjudged"])
        sub = dq._subscriber(interest)
        for w in range(0, len(days), dq.DAYS):
            week = days[w : w + dq.DAYS]
            arrived = {i for day in week for i in day}
            likely: dict[str, float] = {}
            for day in week:
                matches, _ = select(engine, sub, day, threshold=POOL_MIN)
                likely.update({m.paper.id: m.relevance for m in matches})
            top = sorted(likely, key=lambda i: (-likely[i], i))[:POOL_DEPTH]
            for pid in sorted((lexical & arrived) | set(top)):
                out.append((part, interest["text"], pid))
    return out


def merge(out: Path, read: Path) -> None:
    """Join the sheets' answers (``DIR/judged-K.tsv``: item, 0 or 1) to the pool, and those of
    ``DIR/extra`` when it exists, into ``read`` (phrase, paper, on_topic, part), and those of
    ``DIR/second`` into READ_second.tsv; every pool pair must have exactly one answer."""
    lines = []
    for folder in (out, *sorted(out.glob("extra*"))):
        if (folder / "key.json").exists():
            lines += _answers(folder)
    _write(read, lines)
    if (out / "second" / "key.json").exists():
        _write(read.with_name(read.stem + "_second.tsv"), _answers(out / "second"))


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("phrase\tpaper\ton_topic\tpart\n" + "".join(sorted(lines)), encoding="utf-8")
    on = sum(ln.split("\t")[2] == "1" for ln in lines)
    print(f"{len(lines)} judged pairs written to {path}, {on} on topic")


def _answers(out: Path) -> list[str]:
    key = {n: (phrase, pid) for n, phrase, pid in json.loads((out / "key.json").read_text())}
    answers: dict[int, int] = {}
    for sheet in sorted(out.glob("judged-*.tsv")):
        for line in sheet.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                n, on = line.split()
                if int(n) in answers or int(n) not in key or on not in ("0", "1"):
                    raise SystemExit(f"{sheet}: bad or repeated answer {line!r}")
                answers[int(n)] = int(on)
    if missing := sorted(set(key) - set(answers)):
        raise SystemExit(f"{len(missing)} items have no answer, e.g. {missing[:5]}")
    by_item = {item: answers[n] for n, item in key.items()}
    return [
        f"{phrase}\t{pid}\t{by_item[(phrase, pid)]}\t{part}\n"
        for part, phrase, pid in (
            ln.split("\t") for ln in (out / "pool.tsv").read_text().splitlines()[1:]
        )
    ]


def main() -> None:
    parser = dq.arguments()
    parser.add_argument("--out", required=True, help="folder for pool.tsv and the sheets")
    parser.add_argument("--fit-phrases", type=int, default=50)
    parser.add_argument("--test-phrases", type=int, default=60)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument(
        "--merge", action="store_true", help="write the sheets' answers to --read and stop"
    )
    parser.add_argument(
        "--extend",
        action="store_true",
        help="sheets (in DIR/extra, extra1, ...) of what the shipped model sends outside "
        "the test pool",
    )
    parser.add_argument(
        "--second",
        type=int,
        metavar="N",
        help="sheets (in DIR/second) of a seeded sample of N judged pairs, to read again",
    )
    parser.add_argument(
        "--agreement",
        metavar="FILE",
        help="compare the second reading FILE (phrase, paper, on_topic) with --read",
    )
    args = parser.parse_args()
    if args.merge:
        return merge(Path(args.out), Path(args.read))
    if args.agreement:
        return agreement(Path(args.read), Path(args.agreement))
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    data_dir, arxiv = dq.build_arxiv(args, work)
    rng = random.Random(args.seed)
    pairs = []
    if args.second:
        rows = [ln.split("\t") for ln in Path(args.read).read_text().splitlines()[1:]]
        sample = rng.sample(sorted(rows), args.second)
        pairs = [(part, phrase, pid) for phrase, pid, _, part in sample]
        with Engine.open(data_dir, log=lambda m: None) as engine:
            papers = {pid: engine.get(pid) for _, _, pid in pairs}
        return write_sheets(out / "second", pairs, papers, 2, random.Random(args.seed + 1))
    if args.extend:
        with Engine.open(data_dir, log=lambda m: None) as engine:
            pairs = extend(engine, arxiv, Path(args.read))
            papers = {pid: engine.get(pid) for _, _, pid in pairs}
        rounds = len(list(out.glob("extra*")))
        return write_sheets(out / f"extra{rounds or ''}", pairs, papers, 1, rng)
    with Engine.open(data_dir, log=lambda m: None) as engine:
        for part, n, days in (
            ("fit", args.fit_phrases, arxiv["fit_days"]),
            ("test", args.test_phrases, arxiv["test_days"]),
        ):
            keyword = sorted(
                (i for i in arxiv[part] if i["kind"] == "keyword"), key=lambda i: i["text"]
            )
            chosen = rng.sample(keyword, min(n, len(keyword)))
            pairs += pool(engine, chosen, days, part)
        papers = {pid: engine.get(pid) for _, _, pid in pairs}
    write_sheets(out, pairs, papers, args.shards, rng)


def extend(engine: Engine, arxiv: dict, read: Path) -> list:
    """[(part, phrase, paper id)] the shipped model sends the read test phrases over the
    simulated weeks that their pool lacks (read the same way, so that precision counts
    them by reading, not as not relevant)."""
    judged = dq.load_read(read)
    interests = dq.read_interests(arxiv["test"], judged, "test")
    k = dq.simulate(engine, interests, arxiv["test_days"])["keyword"]
    pool = {(i["text"], pid) for i in interests for pid in i["pool"]}
    return sorted(("test", q, pid) for q, pid in k.get("sent_pairs", set()) - pool)


def agreement(first: Path, second: Path) -> None:
    """How often a second reading of a sample agrees with the first: raw agreement and
    Cohen's kappa over the pairs both judged."""

    def labels(path: Path) -> dict[tuple[str, str], int]:
        judged = dq.load_read(path).items()
        return {(q, pid): on for (q, _), papers in judged for pid, on in papers.items()}

    a, b = labels(first), labels(second)
    both = sorted(set(a) & set(b))
    n = len(both)
    observed = sum(a[k] == b[k] for k in both) / n
    pa, pb = sum(a[k] for k in both) / n, sum(b[k] for k in both) / n
    chance = pa * pb + (1 - pa) * (1 - pb)
    kappa = (observed - chance) / (1 - chance)
    print(
        f"{n} pairs read twice: agreement {observed:.1%}, Cohen's kappa {kappa:.2f} "
        f"(on topic: first {pa:.1%}, second {pb:.1%})"
    )


def write_sheets(out: Path, pairs: list, papers: dict, shards: int, rng: random.Random) -> None:
    """``out``/pool.tsv, the shuffled numbered sheets and their key."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "pool.tsv").write_text(
        "part\tphrase\tpaper\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in pairs)
    )
    items = sorted({(phrase, pid) for _, phrase, pid in pairs})
    rng.shuffle(items)
    key = []
    for k in range(shards):
        lines = [SHEET_HELP]
        for n in range(k, len(items), shards):
            phrase, pid = items[n]
            p = papers[pid]
            abstract = " ".join(p.abstract.split())
            if len(abstract) > SHEET_ABSTRACT:
                abstract = abstract[: abstract.rfind(" ", 0, SHEET_ABSTRACT)] + " ..."
            lines.append(f"\n[{n}] interest: {phrase}\ntitle: {p.title}\nabstract: {abstract}\n")
            key.append((n, phrase, pid))
        (out / f"sheet-{k}.txt").write_text("".join(lines), encoding="utf-8")
    (out / "key.json").write_text(json.dumps(sorted(key)))
    print(f"{len(pairs)} pool pairs ({len(items)} phrase-paper items) in {shards} sheets")


if __name__ == "__main__":
    main()
