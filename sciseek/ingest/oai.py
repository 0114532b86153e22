"""The OAI-PMH 2.0 protocol as sciseek speaks it to arXiv: polite requests and parsed pages.

A ``Client`` spaces its requests, honours a 503's Retry-After and retries transient failures
with exponential backoff; ``parse_page`` turns one ``ListRecords`` response in arXiv's metadata
format into papers, deletions and the resumption token, naming the URL in any error.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from lxml import etree

from sciseek import __version__
from sciseek.errors import BadInput, OperationalError

from .papers import InvalidPaper, Paper, paper_from_dict

ARXIV_ENDPOINT = "https://export.arxiv.org/oai2"
METADATA_PREFIX = "arXiv"
DEFAULT_DELAY = 3.0  # seconds between requests, as arXiv asks of harvesters
MAX_ATTEMPTS = 6  # per request, counting flow-control waits and transient failures
BACKOFF = 2.0  # first wait after a transient failure, doubled after each further one
MAX_WAIT = 600.0  # longest single wait, a server's Retry-After included
TIMEOUT = httpx.Timeout(120.0, connect=20.0)
OAI_NS = "http://www.openarchives.org/OAI/2.0/"
ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
EXTRA_FIELDS = ("doi", "comments", "journal-ref", "license", "updated")
SET_SPEC = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$")

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


class RunReport(Protocol):
    """What a harvest run reports about the set it failed on (``harvest.SetReport``)."""

    pages: int

    def summary(self) -> str:
        """One line for people."""
        ...


class HarvestError(OperationalError):
    """A harvest that could not finish; what it committed before failing stays committed."""

    report: RunReport | None = None


class ProtocolError(HarvestError, BadInput):
    """The repository answered a request with an OAI-PMH error (``code``): it refused what was
    asked (a bad set or date range), so it is bad input as well as a failed harvest."""

    status = BadInput.status

    def __init__(self, code: str, message: str, url: str):
        super().__init__(f"{url}: OAI-PMH error {code}: {message}")
        self.code = code


# -- parsing ---------------------------------------------------------------------------------


@dataclass
class Record:
    """One harvested record: a paper, a deletion, or a record skipped for ``reason``."""

    id: str
    paper: Paper | None = None
    deleted: bool = False
    reason: str | None = None


@dataclass
class Page:
    """One ListRecords response."""

    url: str
    response_date: str  # YYYY-MM-DD
    records: list[Record] = field(default_factory=list)
    token: str | None = None  # None on the last page
    error: tuple[str, str] | None = None  # (code, message) of an OAI-PMH error


def _oai(name: str) -> str:
    return f"{{{OAI_NS}}}{name}"


def _arx(name: str) -> str:
    return f"{{{ARXIV_NS}}}{name}"


def _clean(text: str | None) -> str | None:
    return (" ".join(text.split()) or None) if text else None


def paper_from_oai(metadata: etree._Element) -> Paper:
    """A Paper from an ``<arXiv>`` metadata element, or raise InvalidPaper."""

    def text(name: str) -> str | None:
        return _clean(metadata.findtext(_arx(name)))

    authors = []
    for author in metadata.iterfind(f"{_arx('authors')}/{_arx('author')}"):
        parts = (_clean(author.findtext(_arx(n))) for n in ("forenames", "keyname", "suffix"))
        name = " ".join(p for p in parts if p)
        if name:
            authors.append(name)
    pid = text("id")
    record: dict[str, Any] = {
        "id": pid,
        "title": text("title"),
        "abstract": text("abstract"),
        "authors": authors,
        "categories": (text("categories") or "").split(),
        "published": text("created"),
        "url": f"https://arxiv.org/abs/{pid}" if pid else None,
    }
    for name in EXTRA_FIELDS:
        value = text(name)
        if value:
            record[name] = value
    return paper_from_dict(record)


def _record(element: etree._Element) -> Record:
    header = element.find(_oai("header"))
    identifier = _clean(header.findtext(_oai("identifier"))) if header is not None else None
    if not identifier:
        return Record("", reason="record without an identifier")
    pid = identifier.removeprefix("oai:arXiv.org:")
    if header.get("status") == "deleted":
        return Record(pid, deleted=True)
    metadata = element.find(f"{_oai('metadata')}/{_arx('arXiv')}")
    if metadata is None:
        return Record(pid, reason="no arXiv metadata")
    try:
        return Record(pid, paper=paper_from_oai(metadata))
    except InvalidPaper as e:
        return Record(pid, reason=f"invalid record: {e}")


def parse_page(content: bytes, url: str) -> Page:
    """Parse a ListRecords response; raises HarvestError when it is not valid OAI-PMH XML."""
    try:
        root = etree.fromstring(content, parser=_PARSER)
    except etree.XMLSyntaxError as e:
        raise HarvestError(f"malformed XML from {url}: {' '.join(str(e).split())}") from None
    if root.tag != _oai("OAI-PMH"):
        raise HarvestError(f"not an OAI-PMH 2.0 response from {url} (root element {root.tag})")
    try:
        response_date = dt.date.fromisoformat(
            (root.findtext(_oai("responseDate")) or "").strip()[:10]
        ).isoformat()
    except ValueError:
        raise HarvestError(f"OAI-PMH response without a valid responseDate from {url}") from None
    error = root.find(_oai("error"))
    if error is not None:
        message = _clean(error.text) or "no message"
        return Page(url, response_date, error=(error.get("code") or "unknown", message))
    listing = root.find(_oai("ListRecords"))
    if listing is None:
        raise HarvestError(f"OAI-PMH response without ListRecords from {url}")
    token = listing.find(_oai("resumptionToken"))
    return Page(
        url,
        response_date,
        records=[_record(r) for r in listing.iterfind(_oai("record"))],
        token=((token.text or "").strip() or None) if token is not None else None,
    )


# -- requests ----------------------------------------------------------------------------------


def user_agent() -> str:
    """The User-Agent: sciseek and the operator's contact address from $SCISEEK_CONTACT."""
    contact = os.environ.get("SCISEEK_CONTACT", "").strip()
    who = f"mailto:{contact}" if contact else "no contact address given; set SCISEEK_CONTACT"
    return f"sciseek/{__version__} ({who})"


class Client:
    """An OAI-PMH endpoint, asked politely.

    Requests are spaced ``delay`` seconds apart; a 503's Retry-After is honoured, and other
    server errors, connection errors and timeouts are retried with exponential backoff, at
    most ``attempts`` tries per request.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        delay: float | None = None,
        *,
        attempts: int = MAX_ATTEMPTS,
        log: Callable[[str], None] = lambda msg: None,
    ):
        self.endpoint = endpoint or ARXIV_ENDPOINT
        self.delay = DEFAULT_DELAY if delay is None else delay
        self.attempts = attempts
        self._log = log
        self._http = httpx.Client(
            headers={"User-Agent": user_agent()}, timeout=TIMEOUT, follow_redirects=True
        )
        self._last: float | None = None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def list_records(self, params: dict[str, str]) -> Page:
        """One ListRecords page for ``params`` (set, from, until, or resumptionToken)."""
        query = {"verb": "ListRecords", **params}
        url = str(httpx.URL(self.endpoint, params=query))
        return parse_page(self._get(query, url), url)

    def _get(self, query: dict[str, str], url: str) -> bytes:
        backoff = BACKOFF
        for attempt in range(1, self.attempts + 1):
            if self._last is not None:
                _sleep(self.delay - (time.monotonic() - self._last))
            wait: float | None = None
            try:
                response = self._http.get(self.endpoint, params=query)
            except httpx.UnsupportedProtocol as e:
                raise HarvestError(f"{url}: {e}") from None
            except (httpx.TimeoutException, httpx.TransportError) as e:
                problem = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            else:
                if response.status_code == 200:
                    return response.content
                problem = f"HTTP {response.status_code} {response.reason_phrase}".strip()
                if response.status_code < 500:
                    raise HarvestError(f"{url}: {problem}")
                if response.status_code == 503:
                    wait = _retry_after(response.headers.get("Retry-After"))
            finally:
                self._last = time.monotonic()
            if attempt == self.attempts:
                raise HarvestError(f"{url}: {problem} (gave up after {attempt} attempts)")
            if wait is None:
                wait, backoff = backoff, backoff * 2
            wait = min(wait, MAX_WAIT)
            self._log(f"{problem} from {self.endpoint}; retrying in {wait:g} s")
            _sleep(wait)
            self._last = None  # the wait above was the pause
        raise AssertionError("unreachable")


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # the HTTP-date form: fall back to backoff
    return max(seconds, 0.0)
