"""Judged interests of every kind for the digest benchmark, built from the shared data.

No set of judged short interests exists for these papers, so they are derived (BENCHMARKS.md,
"Digest quality" says how, and what that leaves out):

- ``keyword``: topic phrases of 2-4 words mined from the *titles* of papers published before
  the fit week (frequent n-grams that neither start nor end with a stop word, hold no generic
  word such as "approach" and are not hyphenated modifiers such as "Open-Ended"; words
  compared stemmed, so "models" and "modeling" are one word). A later paper is judged
  relevant to a phrase when its title states it, or its abstract states it at least twice.
  It is left unjudged (counted neither as a hit nor as a false positive) when its abstract
  states it once, its title holds the phrase's words in another order or form ("mitigating
  hallucinations" for "hallucination mitigation"), or it uses the phrase's acronym ("MoE",
  "GNNs"). Every other paper is judged not relevant. Phrases are split into fit and test
  halves by a hash of the phrase.
- ``liked``: a liked paper from before the fit week whose title holds a phrase, judged with
  that phrase's judgments (a reader who liked a paper on the topic wants papers on the topic).
- ``description``: the arXiv category descriptions below as long interests; a paper is
  relevant when it is filed or cross-listed under the category, and not relevant otherwise.
- ``claim``: SciFact claims with their BEIR judgments (train split to fit, test to report).

The keyword judgments are lexical: a paper that names the topic differently counts as not
relevant, one that uses the phrase in passing as relevant, and they reward a model that reads
words. For a seeded sample of phrases they are therefore replaced by judgments made by reading
(``digest_pool.py``, ``digest_read.tsv``), which the short-phrase model is fitted on and
reported against; the lexical figures are reported next to them. Liked papers, descriptions
and claims are scored on embeddings alone.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import tantivy

VERSION = 4  # of the judgment rules: a change rebuilds the cached judgments, not the data dir
STOP_WORDS = (
    "a an and are as at be by for from in into is it its of on or over the their this to "
    "under using via what when where which with without we our how can do does beyond toward "
    "towards through between vs versus not does across within per all any more less than "
    "us you your after before about against while"
)
_STEMMER = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.stemmer("english"))
    .build()
)
STOP_RAW = set(STOP_WORDS.split())
# Words that make a title n-gram a phrasing habit rather than a topic.
GENERIC_WORDS = (
    "approach approache framework method study analysis novel new case effective efficient "
    "improving improved improve enhancing enhanced enhance based leveraging learning-based "
    "toward rethinking revisiting understanding exploring evaluating benchmarking unified "
    "simple scalable robust fast better role impact systematic comprehensive survey review "
    "paper work task tasks model-based driven aware guided free via"
)
GENERIC_RAW = set(GENERIC_WORDS.split())

# Category descriptions, abridged from arXiv's category taxonomy: the categories that papers of
# this listing (primary cs.CV, cs.CL, cs.AI, cs.IT, cs.GT, cs.CE, cs.GR) are filed or cross-listed
# under often enough for a week to bring some.
CATEGORIES = {
    "cs.IT": "Information theory: theoretical and experimental aspects of information theory "
    "and coding, channel capacity, coding schemes and communication systems",
    "cs.GT": "Computer science and game theory: mechanism design, auctions, learning in "
    "games, social choice and algorithmic economics",
    "cs.CE": "Computational engineering, finance and science: computational methods for "
    "physical, engineering, financial and scientific problems, simulation and modelling",
    "cs.GR": "Graphics: computer graphics, rendering, geometric modelling, animation and "
    "visualisation of 3D scenes and shapes",
    "cs.RO": "Robotics: robot manipulation, locomotion, motion planning, perception, "
    "control and learning for robots",
    "cs.MA": "Multiagent systems: distributed artificial intelligence, intelligent agents, "
    "coordinated interactions and cooperation of multiple agents",
    "cs.IR": "Information retrieval: indexing, search engines, ranking, recommender systems, "
    "retrieval models and evaluation of retrieval",
    "cs.HC": "Human-computer interaction: user interfaces, user studies, interaction "
    "design, accessibility and how people use computing systems",
    "cs.CY": "Computers and society: impact of computers on society, ethics, law, policy, "
    "education and the social effects of artificial intelligence",
    "cs.CR": "Cryptography and security: authentication, public key cryptosystems, "
    "attacks and defences of software, systems and networks, privacy",
    "cs.SD": "Sound: audio signal processing, speech and music analysis and synthesis, "
    "audio generation and computer audition",
    "cs.SE": "Software engineering: design tools, software metrics, testing and debugging, "
    "programming environments, requirements and maintenance of software",
}


@functools.cache
def _stem(word: str) -> str:
    return (_STEMMER.analyze(word) or [word])[0]


def tokens(text: str) -> list[str]:
    """Lower-cased words, stemmed (Snowball English: "models", "modeling" -> "model"), the unit
    every judgment compares."""
    return [_stem(t) for t in re.findall(r"[a-z0-9]+", text.lower())]


STOP = {_stem(w) for w in STOP_RAW}
GENERIC = {_stem(w) for w in GENERIC_RAW}


def occurrences(words: str, phrase: tuple[str, ...]) -> int:
    """How often ``phrase`` occurs in ``words`` (``joined`` tokens)."""
    return words.count(" " + " ".join(phrase) + " ")


def joined(text: str) -> str:
    """``tokens`` of ``text`` as one space-padded string, for ``occurrences``."""
    return " " + " ".join(tokens(text)) + " "


def load_arxiv(path: Path) -> list[dict]:
    """The arXiv listings in publication order."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        papers = [json.loads(line) for line in f]
    return sorted(papers, key=lambda p: (p["published"], p["id"]))


def mine_phrases(titles: Iterable[str], min_count: int, max_count: int) -> dict[tuple, str]:
    """{folded phrase: its most common surface form} of the topic n-grams of ``titles``.

    A topic n-gram has 2-4 words, starts and ends with a content word that is not generic,
    holds no stop word but "of" and "and", does not end in a word that mostly modifies the next
    one ("multimodal", "large"), is not a hyphenated compound that modifies the next word in
    most of its titles ("Open-Ended Evaluation", "LLM-Assisted Writing": an adjective, not a
    topic), and is not a fragment of a longer one that nearly always surrounds it.
    """
    counts: Counter = Counter()
    surfaces: dict[tuple, Counter] = defaultdict(Counter)
    followed: Counter = Counter()  # word -> title occurrences followed by a content word
    seen_word: Counter = Counter()
    compound: Counter = Counter()  # n-gram -> occurrences as one hyphenated word before a word
    for title in titles:
        spans = list(re.finditer(r"[A-Za-z0-9]+", title))
        raw = [m.group() for m in spans]
        folded = tokens(" ".join(raw))
        gaps = [title[a.end() : b.start()] for a, b in zip(spans, spans[1:], strict=False)]
        for i, w in enumerate(folded):
            seen_word[w] += 1
            if i + 1 < len(folded) and folded[i + 1] not in STOP:
                followed[w] += 1
        seen = set()
        for n in (2, 3, 4):
            for i in range(len(folded) - n + 1):
                gram = tuple(folded[i : i + n])
                if gram in seen or gram[0] in STOP or gram[-1] in STOP:
                    continue
                if any(w in STOP and w not in ("of", "and") for w in gram):
                    continue
                if any(w in GENERIC or w.isdigit() or len(w) < 2 for w in gram):
                    continue
                seen.add(gram)
                counts[gram] += 1
                if all(g == "-" for g in gaps[i : i + n - 1]) and _modifies(gaps, folded, i + n):
                    compound[gram] += 1
                surfaces[gram][" ".join(raw[i : i + n]).lower()] += 1
    modifier = {w for w, c in seen_word.items() if c >= 20 and followed[w] >= 0.75 * c}
    kept = {
        g: c
        for g, c in counts.items()
        if min_count <= c <= max_count and g[-1] not in modifier and compound[g] < 0.75 * c
    }
    longest: dict[tuple, int] = defaultdict(int)  # phrase -> count of its commonest superset
    for g, c in counts.items():
        for n in range(2, len(g)):
            for i in range(len(g) - n + 1):
                longest[g[i : i + n]] = max(longest[g[i : i + n]], c)
    return {g: surfaces[g].most_common(1)[0][0] for g, c in kept.items() if longest[g] < 0.6 * c}


def _modifies(gaps: list[str], folded: list[str], after: int) -> bool:
    """Whether the word at ``after`` is a content word joined to the one before by a space or
    a hyphen only (so the words before it modify it: "Open-Ended Evaluation")."""
    if after >= len(folded) or folded[after] in STOP:
        return False
    return gaps[after - 1].strip() in ("", "-")


def half(text: str) -> str:
    """'fit' or 'test', by a stable hash of the interest's text."""
    return "fit" if hashlib.sha1(text.encode()).digest()[0] % 2 == 0 else "test"


@dataclass
class Interest:
    """One simulated subscriber's interest and its judgments over a set of new papers."""

    kind: str  # keyword, liked, description, claim
    text: str  # the saved query (for ``liked``: the liked paper's title)
    relevant: set[str] = field(default_factory=set)
    unjudged: set[str] = field(default_factory=set)
    seed: str | None = None  # the liked paper's id
    categories: tuple[str, ...] = ()


def acronym(phrase: tuple) -> str | None:
    """The phrase's initials when they make an acronym of 3 letters or more ("moe", "gnn")."""
    initials = "".join(w[0] for w in phrase)
    return initials if len(initials) >= 3 else None


def acronyms(text: str) -> set[str]:
    """The words of ``text`` written as acronyms (two capitals or more), lower-cased, a plural
    "s" dropped: "MoE", "GNNs", "LLM"."""
    found = set()
    for word in re.findall(r"[A-Za-z]+", text):
        if sum(c.isupper() for c in word) >= 2:
            word = word[:-1] if word.endswith("s") else word
            found.add(word.lower())
    return found


def _same_word(a: str, b: str) -> bool:
    return a == b or (len(a) >= 6 and len(b) >= 6 and a[:6] == b[:6])


def states_words(words: str, phrase: tuple) -> bool:
    """Whether every content word of ``phrase`` is in ``words`` in some order or form
    ("mitigating hallucinations" for "hallucination mitigation")."""
    have = words.split()
    return all(any(_same_word(w, t) for t in have) for w in phrase if w not in ("of", "and"))


def _uses(short: str | None, paper: dict) -> bool:
    return short is not None and short in acronyms(paper["title"] + " " + paper["abstract"])


def judge_phrase(phrase: tuple, papers: list[dict]) -> tuple[set[str], set[str]]:
    """(relevant ids, unjudged ids) of ``papers`` for a topic phrase.

    Relevant: the title states the phrase, or the abstract states it twice or more. Unjudged
    (counted neither way): the abstract states it once, the title holds its words in another
    order or form, or the title or abstract uses its acronym. Not relevant: the rest.
    """
    relevant, unjudged = set(), set()
    short = acronym(phrase)
    for p in papers:
        if occurrences(p["_title"], phrase):
            relevant.add(p["id"])
            continue
        n = occurrences(p["_abstract"], phrase)
        if n >= 2:
            relevant.add(p["id"])
        elif n == 1 or states_words(p["_title"], phrase) or _uses(short, p):
            unjudged.add(p["id"])
    return relevant, unjudged


def judge_category(category: str, papers: list[dict]) -> set[str]:
    """The ids of ``papers`` filed or cross-listed under ``category``."""
    return {p["id"] for p in papers if category in p["categories"]}


def prepare(papers: list[dict]) -> None:
    """Add the folded title and abstract words every judgment reads."""
    for p in papers:
        if "_title" not in p:
            p["_title"] = joined(p["title"])
            p["_abstract"] = joined(p["abstract"])


def arxiv_interests(
    older: list[dict],
    period: list[dict],
    part: str,
    *,
    n_keyword: int,
    n_liked: int,
    seed: int,
    min_count: int = 40,
    max_count: int = 400,
) -> tuple[list[Interest], list[dict]]:
    """Keyword, liked-paper and description interests of one half (``part``: fit or test),
    judged over ``period``, and the liked papers they need in the store.

    Phrases come from ``older``'s titles; only phrases with at least one relevant paper in
    ``period`` are kept (the others would measure nothing but false positives).
    """
    phrases = mine_phrases((p["title"] for p in older), min_count, max_count)
    prepare(period)
    rng = random.Random(seed)
    order = sorted(phrases)
    rng.shuffle(order)
    keyword: list[Interest] = []
    judged: list[tuple[tuple, Interest]] = []
    for g in order:
        if half(phrases[g]) != part:
            continue
        relevant, unjudged = judge_phrase(g, period)
        if not relevant:
            continue
        interest = Interest("keyword", phrases[g], relevant, unjudged)
        judged.append((g, interest))
        if len(keyword) < n_keyword:
            keyword.append(interest)
    liked: list[Interest] = []
    seeds: list[dict] = []
    for p in older:
        p.setdefault("_title", joined(p["title"]))
    older_rng = random.Random(seed + 1)
    for g, interest in judged:
        if len(liked) >= n_liked:
            break
        holders = [p for p in older if occurrences(p["_title"], g)]
        if not holders:
            continue
        paper = older_rng.choice(holders)
        seeds.append(paper)
        liked.append(
            Interest("liked", paper["title"], interest.relevant, interest.unjudged, paper["id"])
        )
    description = []
    for cat, text in CATEGORIES.items():
        relevant = judge_category(cat, period)
        if relevant:
            description.append(Interest("description", text, relevant))
    return keyword + liked + description, seeds
