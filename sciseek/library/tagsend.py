"""Sending tag digests: each due one mails the new papers its tag's model scores highly.

A digest's model is ``recommend.fit_tag_model`` with the tag's papers (or the expression's,
evaluated now) as positives and the reader's "not relevant" marks (the library's and, for a
tag, the tag's) as negatives. Candidates are the papers added since the digest's watermark
(as for query digests) that the reader has not saved and was never mailed; those the model
scores at or above ``TagModel.threshold`` go out, best first, at most ``max_papers``.

Exactly once, as for query digests: the papers go into the reader's sent-log in the
transaction that advances the watermark, just before the mail is handed to the SMTP server, and
that transaction is taken back if the server refuses it. The watermark stops at the first
candidate that has no embedding yet, so a paper not encoded yet is scored by a later run. A
tag with no papers, or none encoded yet, sends nothing and is reported as skipped (an empty
tag's period passes; one not encoded yet is retried by the next run). A run holds the data
dir's digest lock (``digests.digest.run_lock``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from sciseek.digests import mail
from sciseek.digests.digest import MAX_PAPERS, run_lock
from sciseek.digests.optin import link
from sciseek.digests.tokens import secret_key
from sciseek.ingest.papers import Paper
from sciseek.search.engine import Engine
from sciseek.storage.clock import utcnow
from sciseek.storage.files import atomic_write

from .errors import LibraryError
from .expressions import select
from .recommend import InvalidRecommendation, fit_tag_model
from .shelf import Library
from .tagdigests import TagDigest, TagDigests, unsubscribe_token

UNSUBSCRIBE_PATH = "/unsubscribe/tag"

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class NoModel(LibraryError):
    """A digest whose tag gives no model to score papers with; ``retry``: whether its
    candidates should wait for a later run (papers not encoded yet)."""

    def __init__(self, message: str, retry: bool = False):
        super().__init__(message)
        self.retry = retry


@dataclass
class TagMatch:
    """A paper chosen for a tag digest and its model score."""

    paper: Paper
    score: float

    @property
    def page_url(self) -> str:
        """The paper's page on the site."""
        return f"{mail.base_url()}/papers/{quote(self.paper.id, safe='/:')}"


@dataclass
class TagDigestReport:
    """What one run did with the tag digests."""

    due: int = 0
    sent: int = 0
    papers: int = 0
    nothing_new: int = 0
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (email, label, why)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (email, why)
    messages: list[EmailMessage] = field(default_factory=list)  # dry runs only

    def summary(self, dry_run: bool = False) -> str:
        """Lines for people: the counts, then a line per skipped digest."""
        verb = "would send" if dry_run else "sent"
        line = (
            f"{self.due} tag digests due: {verb} {self.sent} ({self.papers} papers), "
            f"{self.nothing_new} with nothing new"
        )
        if self.failed:
            line += f", {len(self.failed)} failed (retried next run)"
        if self.skipped:
            line += f", {len(self.skipped)} skipped"
        skipped = [f"skipped {email}'s {label!r}: {why}" for email, label, why in self.skipped]
        return "\n".join([line, *skipped])


def _positives(library: Library, digest: TagDigest) -> tuple[list[str], list[str]]:
    """The digest's positives and negatives, as of now."""
    if digest.tag is not None:
        positives = library.tag_papers(digest.reader_id, digest.tag)
        return positives, library.not_relevant(digest.reader_id, digest.tag)
    positives = select(library, digest.reader_id, digest.expr or "")
    return positives, library.not_relevant(digest.reader_id)


def choose(
    engine: Engine,
    library: Library,
    digests: TagDigests,
    digest: TagDigest,
    now: dt.datetime,
    max_papers: int = MAX_PAPERS,
) -> tuple[list[TagMatch], int, str]:
    """The new papers for a digest (best first, at most ``max_papers``), how many more
    qualified, and the watermark after them. Raises NoModel saying why nothing can be chosen
    (an empty tag, none of its papers encoded yet, an expression gone bad)."""
    what = "tag" if digest.tag is not None else "expression"
    try:
        positives, negatives = _positives(library, digest)
    except LibraryError as e:
        raise NoModel(f"the {what} no longer works: {e}") from None
    if not positives:
        raise NoModel(f"the {what} has no papers")
    try:
        model = fit_tag_model(engine, positives, negatives)
    except InvalidRecommendation:
        raise NoModel(f"none of the {what}'s papers is encoded yet", retry=True) from None
    candidates = digests.candidates(digest, now)
    ids = [pid for pid, _ in candidates]
    scores = model.score(ids)
    watermark = max([digest.watermark, *(added for _, added in candidates)])
    unscored = [added for pid, added in candidates if pid not in scores]
    if unscored:  # not encoded yet: stay at the first such paper
        watermark = max(digest.watermark, min(unscored))
    skip = set(negatives)
    ranked = sorted(
        (
            pid
            for pid in ids
            if pid in scores and pid not in skip and scores[pid] >= model.threshold
        ),
        key=lambda pid: (-scores[pid], pid),
    )
    chosen = []
    for pid in ranked[:max_papers]:
        paper = engine.get(pid)
        if paper is not None:
            chosen.append(TagMatch(paper, scores[pid]))
    return chosen, max(0, len(ranked) - max_papers), watermark


def compose(digest: TagDigest, matches: list[TagMatch], more: int, key: bytes, sender: str):
    """The tag digest's email, with a one-click unsubscribe link and List-Unsubscribe
    headers."""
    unsubscribe_url = link(UNSUBSCRIBE_PATH, unsubscribe_token(key, digest))
    context = {
        "email": digest.email,
        "source": "tag" if digest.tag is not None else "expression",
        "label": digest.label,
        "matches": matches,
        "more": more,
        "frequency": digest.frequency,
        "unsubscribe_url": unsubscribe_url,
        "base_url": mail.base_url(),
    }
    text = _env.get_template("tagdigest.txt").render(**context)
    html = _env.get_template("tagdigest.html").render(**context)
    n = len(matches)
    subject = f"sciseek: {n} new paper{'s' if n != 1 else ''} like your {context['source']}"
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return mail.compose(sender, digest.email, subject, text, html, headers)


def send_tag_digests(
    engine: Engine,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    max_papers: int = MAX_PAPERS,
    output: Path | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> TagDigestReport:
    """Send every due tag digest; see the module docstring for the guarantees.

    ``dry_run`` selects and renders without sending or recording anything (``output`` then
    receives each as DIR/tag-digest-ID.html and .txt). Raises DigestLocked and
    mail.MailNotConfigured.
    """
    now = now or utcnow()
    config = None if dry_run else mail.SmtpConfig.from_env()
    sender = config.sender if config else "sciseek@localhost"
    report = TagDigestReport()
    with ExitStack() as stack:
        stack.enter_context(run_lock(engine.data_dir))
        digests = stack.enter_context(TagDigests.open(engine.data_dir))
        library = stack.enter_context(Library.open(engine.data_dir))
        mailer = stack.enter_context(mail.Mailer(config)) if config else None
        key = secret_key(engine.data_dir)
        for digest in digests.all():
            if not digest.due(now):
                continue
            report.due += 1
            try:
                matches, more, watermark = choose(engine, library, digests, digest, now, max_papers)
            except NoModel as e:
                report.skipped.append((digest.email, digest.label, str(e)))
                if not dry_run and not e.retry:
                    digests.record(digest, [], digest.watermark, now)
                continue
            if not matches:
                report.nothing_new += 1
                if not dry_run:
                    digests.record(digest, [], watermark, now)
                continue
            msg = compose(digest, matches, more, key, sender)
            if mailer is None:
                report.messages.append(msg)
                if output is not None:
                    _write_preview(output, digest, msg)
            else:
                sent = [m.paper.id for m in matches]
                digests.record(digest, sent, watermark, now)
                try:
                    mailer.send(msg)
                except mail.MailError as e:
                    digests.undo(digest, sent)
                    report.failed.append((digest.email, str(e)))
                    continue
            report.sent += 1
            report.papers += len(matches)
            ids = ", ".join(m.paper.id for m in matches)
            log(f"{digest.email} ({digest.label}): {len(matches)} papers: {ids}")
    return report


def _write_preview(output: Path, digest: TagDigest, msg: EmailMessage) -> None:
    output.mkdir(parents=True, exist_ok=True)
    for subtype, suffix in (("html", "html"), ("plain", "txt")):
        part = msg.get_body(preferencelist=(subtype,))
        if part is not None:
            atomic_write(output / f"tag-digest-{digest.id}.{suffix}", part.get_content())
