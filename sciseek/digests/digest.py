"""Digests: each due subscriber gets one email with the new papers that match their interests.

Candidates are the papers added to the store since the subscriber's watermark and never sent
to them, retrieved by hybrid search for each saved query and by embedding similarity to each
seed paper (restricted to those papers and the subscriber's categories). Raw retrieval scores
are not comparable across queries, so a paper is kept only if its *calibrated* relevance,
P(relevant) (``sciseek.search.relevance``: from the query-paper cosine, and for a short topic
phrase also from how well the paper holds the phrase's words), reaches the threshold of the
query's kind.

Never twice: a digest's papers go into the sent-log in the same transaction that advances the
subscriber's watermark, just before the message is handed to the SMTP server, and papers in the
sent-log are never candidates again. If the server does not accept the message, that
transaction is taken back and the subscriber is retried by the next run. A run killed in the
instant between the commit and the server's answer leaves those papers logged as sent: they
are not mailed again (at most once, rather than twice). A run holds an exclusive lock on
``digest.lock`` in the data dir, so two runs never mail the same subscriber at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

from sciseek.digests import mail
from sciseek.errors import OperationalError
from sciseek.ingest.papers import Filters, Paper
from sciseek.search import listings
from sciseek.search.engine import Engine
from sciseek.storage.clock import utcnow
from sciseek.storage.files import atomic_write, file_lock

from .optin import link, unsubscribe_token
from .subscriptions import Subscriber, Subscriptions
from .tokens import secret_key

MAX_PAPERS = 20
CANDIDATES = 100  # retrieved per query or seed paper, before the threshold
SNIPPET = 220  # characters
LOCK_FILE = "digest.lock"


class DigestLocked(OperationalError, RuntimeError):
    """Another digest run holds the data dir's digest lock."""


@dataclass
class Match:
    """A paper chosen for a digest, with why."""

    paper: Paper
    relevance: float
    reason: str  # the query, or the seed paper it is similar to
    snippet: str

    @property
    def page_url(self) -> str:
        """The paper's page on the site."""
        return f"{mail.base_url()}/papers/{quote(self.paper.id, safe='/:')}"


def _one_line(segments: list[tuple[str, bool]], width: int = SNIPPET) -> str:
    text = " ".join("".join(s for s, _ in segments).split())
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width - 1)
    return text[: cut if cut > width // 2 else width - 1].rstrip(" ,;:.…") + " …"


def select(
    engine: Engine,
    sub: Subscriber,
    candidate_ids: list[str],
    *,
    threshold: float | None = None,
    max_papers: int = MAX_PAPERS,
) -> tuple[list[Match], int]:
    """The most relevant of ``candidate_ids`` for a subscriber (at most ``max_papers``, all at
    or above ``threshold``, by default the threshold of each query's kind), and how many more
    qualified."""
    if not candidate_ids:
        return [], 0
    interests = sub.interests
    filters = Filters(ids=tuple(candidate_ids), categories=interests.categories)
    k = min(len(candidate_ids), CANDIDATES)
    seeds = set(interests.papers)
    best: dict[str, Match] = {}

    def consider(hits: list, query: str, reason: str) -> None:
        cut = engine.relevance_threshold(query) if threshold is None else threshold
        for hit, score in zip(hits, engine.relevance(query, hits), strict=True):
            p = hit.paper
            if p.id in seeds or score is None:
                continue
            if score >= cut and (p.id not in best or score > best[p.id].relevance):
                snippet = _one_line(listings.snippet(engine, p, query))
                best[p.id] = Match(p, score, reason, snippet)

    for query in interests.queries:
        consider(engine.search(query, mode="hybrid", k=k, filters=filters), query, query)
    for pid in interests.papers:
        seed = engine.get(pid)
        if seed is None:  # deleted since the subscription
            continue
        # A seed paper is scored as a query made of its title, so the calibration applies.
        query = seed.title or seed.abstract[:300]
        consider(engine.similar(pid, k, filters=filters), query, f"similar to: {seed.title}")
    ranked = sorted(best.values(), key=lambda m: (-m.relevance, m.paper.id))
    return ranked[:max_papers], max(0, len(ranked) - max_papers)


def compose_digest(
    sub: Subscriber, matches: list[Match], more: int, key: bytes, sender: str
) -> EmailMessage:
    """The digest email, with a one-click unsubscribe link and List-Unsubscribe headers."""
    unsubscribe_url = link("/subscriptions/unsubscribe", unsubscribe_token(key, sub))
    text, html = mail.render(
        "digest",
        email=sub.email,
        matches=matches,
        more=more,
        interests=sub.interests,
        frequency=sub.frequency,
        unsubscribe_url=unsubscribe_url,
        base_url=mail.base_url(),
    )
    n = len(matches)
    subject = f"sciseek: {n} new paper{'s' if n != 1 else ''} for you"
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return mail.compose(sender, sub.email, subject, text, html, headers)


@contextmanager
def run_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data dir's digest lock; raises DigestLocked if another run holds it."""
    path = Path(data_dir) / LOCK_FILE
    with file_lock(path, wait=False) as held:
        if not held:
            raise DigestLocked(
                f"another digest run is in progress (it holds {path}); try again later"
            )
        yield


@dataclass
class DigestReport:
    """What one run did."""

    due: int = 0
    sent: int = 0
    papers: int = 0
    nothing_new: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (email, why)
    messages: list[EmailMessage] = field(default_factory=list)  # dry runs only

    def summary(self, dry_run: bool = False) -> str:
        """One line for people."""
        verb = "would send" if dry_run else "sent"
        line = (
            f"{self.due} subscribers due: {verb} {self.sent} digests ({self.papers} papers), "
            f"{self.nothing_new} with nothing new"
        )
        return line + (f", {len(self.failed)} failed (retried next run)" if self.failed else "")


def send_digests(
    engine: Engine,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    max_papers: int = MAX_PAPERS,
    threshold: float | None = None,
    output: Path | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> DigestReport:
    """Send every due subscriber their digest; see the module docstring for the guarantees.

    ``dry_run`` selects and renders without sending or recording anything (``output`` then
    receives each digest as DIR/digest-ID.html and .txt). ``log`` gets a line per digest sent;
    failures are in the report. Raises DigestLocked, mail.MailNotConfigured.
    """
    now = now or utcnow()
    config = None if dry_run else mail.SmtpConfig.from_env()
    sender = config.sender if config else "sciseek@localhost"
    report = DigestReport()
    with ExitStack() as stack:
        stack.enter_context(run_lock(engine.data_dir))
        subs = stack.enter_context(Subscriptions.open(engine.data_dir))
        mailer = stack.enter_context(mail.Mailer(config)) if config else None
        key = secret_key(engine.data_dir)
        for sub in subs.all():
            if not sub.due(now):
                continue
            report.due += 1
            ids, watermark = subs.candidates(sub, now)
            matches, more = select(engine, sub, ids, threshold=threshold, max_papers=max_papers)
            if not matches:
                report.nothing_new += 1
                if not dry_run:
                    subs.record_digest(sub.id, [], watermark, now)
                continue
            msg = compose_digest(sub, matches, more, key, sender)
            if mailer is None:
                report.messages.append(msg)
                if output is not None:
                    _write_preview(output, sub, msg)
            else:
                sent = [m.paper.id for m in matches]
                subs.record_digest(sub.id, sent, watermark, now)
                try:
                    mailer.send(msg)
                except mail.MailError as e:
                    subs.undo_digest(sub, sent)
                    report.failed.append((sub.email, str(e)))
                    continue
            report.sent += 1
            report.papers += len(matches)
            log(f"{sub.email}: {len(matches)} papers: {', '.join(m.paper.id for m in matches)}")
    return report


def _write_preview(output: Path, sub: Subscriber, msg: EmailMessage) -> None:
    output.mkdir(parents=True, exist_ok=True)
    for subtype in ("html", "plain"):
        part = msg.get_body(preferencelist=(subtype,))
        if part is None:
            continue
        path = output / f"digest-{sub.id}.{'html' if subtype == 'html' else 'txt'}"
        atomic_write(path, part.get_content())
