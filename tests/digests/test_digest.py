"""Subscriptions and email digests, end to end against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import email
import re
import socket
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from sciseek import Paper
from sciseek.digests import mail
from sciseek.digests.digest import run_lock
from sciseek.digests.subscriptions import Subscriptions
from sciseek.digests.tokens import make_token, secret_key
from sciseek.web.app import create_app

BASE = "http://testserver"
SITE = {"origin": BASE}
QUERY = "distilling query encoders for dense retrieval"

MATCHING = [
    Paper(
        "2611.00001",
        "Knowledge Distillation of Query Encoders for Dense Passage Retrieval",
        "We distil a large query encoder of a dual-encoder dense retriever into a small student "
        "encoder, keeping the document index fixed, with little loss in retrieval quality.",
        authors=["Ada Lovelace"],
        categories=["cs.IR"],
        published="2026-11-02",
    ),
    Paper(
        "local-qe-2",
        "Compressing the Query Tower of Two-Tower Retrievers",
        "Smaller query encoders for dense retrieval: distillation and pruning of the query side "
        "of a bi-encoder retrieval model make query encoding fast on CPUs.",
        authors=["Grace Hopper", "Alan Turing"],
        categories=["cs.IR", "cs.CL"],
        published="2026-11-03",
    ),
]
UNRELATED = [
    Paper(
        "2611.00003",
        "Sourdough Fermentation Kinetics at Low Temperature",
        "Lactic acid bacteria and wild yeast activity in bread dough kept at four degrees.",
        authors=["Marie Curie"],
        categories=["q-bio.PE"],
        published="2026-11-02",
    ),
    Paper(
        "2611.00004",
        "Migration Routes of Arctic Terns Tracked by Satellite",
        "Geolocators reveal the annual pole-to-pole journeys of arctic terns.",
        authors=["Rosalind Franklin"],
        categories=["q-bio.PE"],
        published="2026-11-04",
    ),
    # Same field, found by the search, but below the relevance threshold:
    Paper(
        "2611.00006",
        "Click Models for Web Search Logs",
        "Probabilistic models of how users click on search engine result pages correct the "
        "position bias of logged clicks.",
        categories=["cs.IR"],
        published="2026-11-04",
    ),
    Paper(
        "legal-7",
        "Dense Retrieval for Legal Case Search",
        "Bi-encoders retrieve relevant prior cases for a legal query from a collection of court "
        "decisions.",
        categories=["cs.IR"],
        published="2026-11-05",
    ),
]
LATER = Paper(
    "2611.00005",
    "Query Encoder Distillation with Hard Negatives for Dense Retrieval",
    "Distilling a compact query encoder for dense retrieval from a cross-encoder teacher with "
    "mined hard negatives.",
    authors=["Karen Sparck Jones"],
    categories=["cs.IR"],
    published="2026-11-09",
)


# -- a real SMTP server ------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler that keeps every accepted message and refuses listed recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # as the server received them, before any decoding
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def digests(self) -> list[EmailMessage]:
        return [m for m in self.messages if m["List-Unsubscribe"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A startable, stoppable SMTP server on one port."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = _free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@contextmanager
def serving_smtp(monkeypatch, sender: str = "sciseek <digest@example.org>") -> Iterator[Server]:
    """A started Server that sciseek mails through (the SCISEEK_SMTP_* variables set), stopped
    on leaving."""
    server = Server()
    server.start()
    monkeypatch.setenv("SCISEEK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SCISEEK_SMTP_PORT", str(server.port))
    monkeypatch.setenv("SCISEEK_SMTP_TLS", "none")
    monkeypatch.setenv("SCISEEK_SMTP_FROM", sender)
    monkeypatch.setenv("SCISEEK_BASE_URL", BASE)
    try:
        yield server
    finally:
        server.stop()


# -- helpers -------------------------------------------------------------------------------------


def backdate(engine) -> None:
    """Make every stored paper old: only papers added after this count as new."""
    with sqlite3.connect(engine.store.path) as db:
        db.execute("UPDATE papers SET added='2020-01-01T00:00:00+00:00'")


def days(n: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=n)).isoformat(timespec="seconds")


def text_of(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def html_of(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


def paper_ids(msg: EmailMessage) -> set[str]:
    return set(re.findall(rf"{BASE}/papers/(\S+)", text_of(msg)))


def link_in(msg: EmailMessage, path: str) -> str:
    found = re.search(rf"{BASE}{path}\?token=[A-Za-z0-9_.%-]+", text_of(msg))
    assert found, text_of(msg)
    return found.group(0)


def subscriber(engine, email_address: str):
    with Subscriptions.open(engine.data_dir) as subs:
        return subs.by_email(email_address)


@pytest.fixture
def app(engine):
    backdate(engine)
    with TestClient(create_app(engine)) as client:
        yield client


# -- tests ---------------------------------------------------------------------------------------


def test_confirmation_mail_link_confirms(engine, smtp, app):
    r = app.post(
        "/api/subscriptions",
        json={"email": "Ada@Example.org", "queries": [QUERY], "categories": ["cs.IR"]},
    )
    assert r.status_code == 202, r.text
    assert r.json()["email"] == "ada@example.org" and r.json()["state"] == "pending"
    (msg,) = smtp.inbox.messages
    assert msg["To"] == "ada@example.org" and "Confirm" in msg["Subject"]
    assert msg.get_content_type() == "multipart/alternative"
    assert QUERY in text_of(msg) and QUERY in html_of(msg)
    assert subscriber(engine, "ada@example.org").state == "pending"

    page = app.get(link_in(msg, "/subscriptions/confirm"))
    assert page.status_code == 200 and "Subscription confirmed" in page.text
    sub = subscriber(engine, "ada@example.org")
    assert sub.state == "active" and sub.interests.queries == (QUERY,)
    again = app.get(link_in(msg, "/subscriptions/confirm"))
    assert again.status_code == 200  # following the link twice is harmless

    # The HTML form does the same, from this site only.
    form = {"email": "grace@example.org", "queries": "learned sparse retrieval\n\n"}
    assert app.post("/subscribe", data=form).status_code == 403
    r = app.post("/subscribe", data=form, headers=SITE)
    assert r.status_code == 202 and "grace@example.org" in r.text
    assert smtp.inbox.to("grace@example.org")
    assert app.get("/subscribe").status_code == 200


def test_new_request_for_an_active_address_changes_nothing_until_confirmed(engine, smtp, app):
    cli_sub = {"email": "ada@example.org", "queries": [QUERY]}
    app.post("/api/subscriptions", json=cli_sub)
    app.get(link_in(smtp.inbox.messages[-1], "/subscriptions/confirm"))
    first_link = link_in(smtp.inbox.messages[-1], "/subscriptions/confirm")
    r = app.post("/api/subscriptions", json={**cli_sub, "queries": ["bread baking"]})
    assert r.status_code == 202
    sub = subscriber(engine, "ada@example.org")
    assert sub.state == "active" and sub.interests.queries == (QUERY,)
    assert app.get(first_link).status_code == 200  # the old link confirms nothing new
    assert subscriber(engine, "ada@example.org").interests.queries == (QUERY,)
    assert app.get(link_in(smtp.inbox.messages[-1], "/subscriptions/confirm")).status_code == 200
    assert subscriber(engine, "ada@example.org").interests.queries == ("bread baking",)


def test_digest_has_the_matching_new_papers_once(engine, smtp, cli):
    backdate(engine)
    code, out, err = cli("subscribers", "add", "ada@example.org", "--query", QUERY, "--confirmed")
    assert code == 0, err
    code, _, err = cli(
        "subscribers", "add", "alan@example.org", "--paper", "2401.00001", "--confirmed"
    )
    assert code == 0, err
    engine.add(MATCHING + UNRELATED)

    code, out, err = cli("digest", "send", "--now", days(0.5))
    assert code == 0 and "0 subscribers due" in out  # daily: not a day yet
    assert not smtp.inbox.messages

    code, out, err = cli("digest", "send", "--now", days(1))
    assert code == 0, err
    assert "sent 2 digests" in out
    (ada,) = smtp.inbox.to("ada@example.org")
    assert paper_ids(ada) == {"2611.00001", "local-qe-2"}  # and none of the unrelated ones
    (alan,) = smtp.inbox.to("alan@example.org")  # seed paper 2401.00001: query encoders
    assert paper_ids(alan) == {"2611.00001", "local-qe-2"}
    html = html_of(ada)
    assert 'href="https://arxiv.org/abs/2611.00001"' in html
    assert "arxiv.org/abs/local-qe-2" not in html
    assert f'href="{BASE}/papers/local-qe-2"' in html and "Grace Hopper" in html
    assert ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ada["List-Unsubscribe"].startswith(f"<{BASE}/subscriptions/unsubscribe?token=")
    # on the wire as RFC 2369 wants it: the bare <URL>, not RFC 2047 encoded-words
    (wire,) = [raw for raw in smtp.inbox.raw if b"To: ada@example.org" in raw]
    header = wire.split(b"List-Unsubscribe: ", 1)[1].split(b"\r\n")[0]
    assert header.startswith(f"<{BASE}/subscriptions/unsubscribe?token=".encode())
    assert header.endswith(b">") and b"=?" not in header
    for title in ("Sourdough", "Click Models", "Legal Case"):
        assert title not in text_of(ada) and title not in html

    code, out, _ = cli("digest", "send", "--now", days(2))
    assert code == 0 and "sent 0 digests" in out
    assert len(smtp.inbox.messages) == 2

    # New papers: the next digest has only those. A paper already sent comes back as "new"
    # after a delete and re-add, and is still not sent again.
    engine.delete(["local-qe-2"])
    engine.add([LATER, MATCHING[1], *UNRELATED])
    code, out, _ = cli("digest", "send", "--now", days(3))
    assert code == 0
    latest = smtp.inbox.to("ada@example.org")[-1]
    assert paper_ids(latest) == {"2611.00005"}
    with Subscriptions.open(engine.data_dir) as subs:
        assert sorted(subs.sent(subscriber(engine, "ada@example.org").id)) == [
            "2611.00001",
            "2611.00005",
            "local-qe-2",
        ]


def test_dry_run_sends_and_records_nothing(engine, smtp, cli, tmp_path):
    backdate(engine)
    cli("subscribers", "add", "ada@example.org", "--query", QUERY, "--confirmed")
    engine.add(MATCHING)
    code, out, err = cli("digest", "send", "--dry-run", "--now", days(1), "--output", str(tmp_path))
    assert code == 0 and "would send 1 digests (2 papers)" in out, err
    html = (tmp_path / "digest-1.html").read_text()
    assert "Knowledge Distillation of Query Encoders" in html
    assert (tmp_path / "digest-1.txt").exists()
    assert not smtp.inbox.messages
    assert cli("digest", "send", "--now", days(1))[0] == 0
    assert paper_ids(smtp.inbox.messages[0]) == {"2611.00001", "local-qe-2"}


def test_unsubscribe_link_stops_mail(engine, smtp, cli, app):
    cli("subscribers", "add", "ada@example.org", "--query", QUERY, "--confirmed")
    engine.add(MATCHING[:1])
    cli("digest", "send", "--now", days(1))
    (msg,) = smtp.inbox.messages
    url = msg["List-Unsubscribe"].strip("<>")
    page = app.get(url)
    assert page.status_code == 200 and "ada@example.org" in page.text and "<form" in page.text
    assert subscriber(engine, "ada@example.org").state == "active"  # a GET changes nothing
    # One click, as mail clients do it (RFC 8058): a POST with no cookies and no origin.
    r = app.post(url, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "Unsubscribed" in r.text
    assert subscriber(engine, "ada@example.org").state == "unsubscribed"
    # The confirm page's own form posts the token as a field.
    token = url.split("token=")[1]
    assert app.post("/subscriptions/unsubscribe", data={"token": token}).status_code == 200

    engine.add([LATER])
    code, out, _ = cli("digest", "send", "--now", days(3))
    assert code == 0 and "0 subscribers due" in out
    assert len(smtp.inbox.messages) == 1


def test_smtp_failures_mid_run_then_each_paper_exactly_once(engine, smtp, cli, monkeypatch):
    backdate(engine)
    people = ["a@example.org", "b@example.org", "c@example.org"]
    for who in people:
        cli("subscribers", "add", who, "--query", QUERY, "--confirmed")
    engine.add(MATCHING)

    # 1. The server refuses one recipient.
    smtp.inbox.refuse = {"b@example.org"}
    code, out, err = cli("digest", "send", "--now", days(1))
    assert code == 1 and "b@example.org" in err and "1 failed" in out
    assert {m["To"] for m in smtp.inbox.messages} == {"a@example.org", "c@example.org"}
    smtp.inbox.refuse = set()
    code, out, err = cli("digest", "send", "--now", days(1))
    assert code == 0 and "1 subscribers due: sent 1 digests" in out, out + err
    assert smtp.inbox.messages[-1]["To"] == "b@example.org"

    # 2. The server goes away after the first message of a run.
    engine.add([LATER])
    real_send = mail.Mailer.send
    sent = []

    def send_then_stop(self, msg):
        real_send(self, msg)
        sent.append(msg["To"])
        if len(sent) == 1:
            smtp.stop()

    monkeypatch.setattr(mail.Mailer, "send", send_then_stop)
    code, out, err = cli("digest", "send", "--now", days(2))
    assert code == 1 and "2 failed" in out, out + err
    monkeypatch.setattr(mail.Mailer, "send", real_send)
    code, _, err = cli("digest", "send", "--now", days(2))
    assert code == 1 and "ConnectionRefusedError" in err  # still down: nothing recorded
    smtp.start()
    code, out, err = cli("digest", "send", "--now", days(2))
    assert code == 0 and "sent 2 digests" in out, out + err

    deliveries = Counter((m["To"], pid) for m in smtp.inbox.digests() for pid in paper_ids(m))
    expected = {(who, pid) for who in people for pid in ("2611.00001", "local-qe-2", "2611.00005")}
    assert set(deliveries) == expected
    assert all(n == 1 for n in deliveries.values()), deliveries


def test_concurrent_runs_are_refused(engine, smtp, cli):
    with run_lock(engine.data_dir):
        code, _, err = cli("digest", "send")
    assert code == 1 and "another digest run is in progress" in err
    assert cli("digest", "send")[0] == 0


def test_tampered_expired_and_misused_tokens_are_rejected(engine, smtp, app):
    app.post("/api/subscriptions", json={"email": "ada@example.org", "queries": [QUERY]})
    good = link_in(smtp.inbox.messages[0], "/subscriptions/confirm").split("token=")[1]
    body, sig = good.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    key = secret_key(engine.data_dir)
    sub = subscriber(engine, "ada@example.org")
    claims = {"s": sub.id, "e": sub.email}
    expired = make_token(key, "confirm", {**claims, "h": "x"}, ttl=-60)
    wrong_purpose = make_token(key, "unsubscribe", claims, ttl=3600)
    forged = make_token(b"another key" * 3, "unsubscribe", claims, ttl=3600)
    cases = [
        ("/subscriptions/confirm", f"{body}.{flipped}", 400, "altered"),
        ("/subscriptions/confirm", f"{body[:-4]}AAAA.{sig}", 400, "altered"),
        ("/subscriptions/confirm", "", 400, "incomplete"),
        ("/subscriptions/confirm", "not-a-token", 400, "incomplete"),
        ("/subscriptions/confirm", expired, 410, "expired"),
        ("/subscriptions/confirm", wrong_purpose, 400, "wrong kind of link"),
        ("/subscriptions/unsubscribe", forged, 400, "altered"),
        ("/subscriptions/unsubscribe", good, 400, "wrong kind of link"),
    ]
    for path, token, status, words in cases:
        r = app.get(path, params={"token": token})
        assert r.status_code == status and words in r.text, (path, token, r.status_code)
    r = app.post("/subscriptions/unsubscribe", params={"token": forged})
    assert r.status_code == 400
    assert subscriber(engine, "ada@example.org").state == "pending"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["not-an-address", "--query", "q"], "not a valid email address"),
        (["ada@example", "--query", "q"], "not a valid email address"),
        (["ada@@example.org", "--query", "q"], "not a valid email address"),
        (["ada@example.org"], "interests are empty"),
        (["ada@example.org", "--query", "  "], "interests are empty"),
        (["ada@example.org", "--paper", "9999.99999"], "unknown paper id '9999.99999'"),
        (["ada@example.org", "--query", "q", "--frequency", "hourly"], "invalid choice"),
    ],
)
def test_bad_cli_input_exits_2_and_writes_nothing(engine, smtp, cli, args, words):
    code, _, err = cli("subscribers", "add", *args, "--confirmed")
    assert code == 2 and words in err and "Traceback" not in err
    code, out, _ = cli("subscribers", "list", "--json")
    assert code == 0 and out.strip() == '{"subscribers": []}'
    assert not smtp.inbox.messages
    assert cli("subscribers", "remove", "nobody@example.org")[0] == 2


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"email": "not-an-address", "queries": ["q"]}, "not a valid email address"),
        ({"email": "ada@example.org\r\nBcc: x@example.org", "queries": ["q"]}, "not a valid"),
        ({"email": "ada@example.org"}, "interests are empty"),
        ({"email": "ada@example.org", "queries": ["", " "]}, "interests are empty"),
        ({"email": "ada@example.org", "papers": ["9999.99999"]}, "unknown paper id"),
        ({"email": "ada@example.org", "queries": ["q"], "frequency": "hourly"}, None),
        ({"email": "ada@example.org", "queries": "q" * 400}, None),
        ({"queries": ["q"]}, None),
    ],
)
def test_bad_api_input_is_a_422_and_writes_nothing(engine, smtp, app, body, words):
    r = app.post("/api/subscriptions", json=body)
    assert r.status_code == 422 and "detail" in r.json(), r.text
    if words:
        assert words in r.json()["detail"]
    with Subscriptions.open(engine.data_dir) as subs:
        assert subs.all() == []
    assert not smtp.inbox.messages


def test_rate_limit_is_a_429(engine, smtp, app, monkeypatch):
    body = {"email": "ada@example.org", "queries": [QUERY]}
    for _ in range(3):
        assert app.post("/api/subscriptions", json=body).status_code == 202
    r = app.post("/api/subscriptions", json=body)
    assert r.status_code == 429 and "too many" in r.json()["detail"]
    assert r.headers["retry-after"] == "3600"
    assert len(smtp.inbox.messages) == 3
    other = app.post("/api/subscriptions", json={**body, "email": "grace@example.org"})
    assert other.status_code == 202
    # Without SMTP settings nothing can be confirmed, so nothing is stored.
    monkeypatch.delenv("SCISEEK_SMTP_HOST")
    r = app.post("/api/subscriptions", json={**body, "email": "alan@example.org"})
    assert r.status_code == 503 and "not configured" in r.json()["detail"]
    assert subscriber(engine, "alan@example.org") is None


def test_confirmation_mails_are_bounded_per_client_and_in_all(engine, smtp, app, monkeypatch):
    from sciseek.digests import limits

    def ask(n: int, client=app):
        body = {"email": f"stranger{n}@example.org", "queries": [QUERY]}
        return client.post("/api/subscriptions", json=body)

    codes = [ask(n).status_code for n in range(limits.CLIENT_LIMIT + 2)]
    assert codes == [202] * limits.CLIENT_LIMIT + [429] * 2
    assert "from one address" in ask(99).json()["detail"]
    assert len(smtp.inbox.messages) == limits.CLIENT_LIMIT
    # other client addresses count towards the server's total
    monkeypatch.setattr(limits, "TOTAL_LIMIT", limits.CLIENT_LIMIT + 3)
    others = [TestClient(app.app, client=(f"10.0.0.{i}", 5000)) for i in range(5)]
    codes = [ask(100 + i, c).status_code for i, c in enumerate(others)]
    assert codes == [202] * 3 + [429] * 2
    assert "this server has sent" in ask(200, others[-1]).json()["detail"]
    assert len(smtp.inbox.messages) == limits.CLIENT_LIMIT + 3


def test_a_subscription_with_too_many_queries_is_refused(engine, smtp, app):
    body = {"email": "ada@example.org", "queries": [f"topic {i}" for i in range(11)]}
    r = app.post("/api/subscriptions", json=body)
    assert r.status_code == 422 and "at most 10 queries" in r.json()["detail"]
    body["queries"] = [f"topic {i}" for i in range(10_000)]
    assert app.post("/api/subscriptions", json=body).status_code == 413
    body = {"email": "ada@example.org", "papers": [f"2401.{i:05d}" for i in range(51)]}
    assert "at most 50 seed papers" in app.post("/api/subscriptions", json=body).json()["detail"]
    assert not smtp.inbox.messages


def test_a_failed_confirmation_mail_does_not_count(engine, smtp, app):
    smtp.inbox.refuse = {"ada@example.org"}
    body = {"email": "ada@example.org", "queries": [QUERY]}
    for _ in range(4):
        assert app.post("/api/subscriptions", json=body).status_code == 502
    smtp.inbox.refuse = set()
    assert app.post("/api/subscriptions", json=body).status_code == 202


def test_cli_add_without_confirmed_mails_a_link_and_send_needs_smtp(
    engine, smtp, cli, app, monkeypatch
):
    code, out, err = cli("subscribers", "add", "ada@example.org", "--query", QUERY)
    assert code == 0 and "confirmation link sent" in out, err
    (msg,) = smtp.inbox.messages
    code, out, _ = cli("subscribers", "list")
    assert code == 0 and "ada@example.org  pending  daily" in out
    assert app.get(link_in(msg, "/subscriptions/confirm")).status_code == 200
    code, out, _ = cli("subscribers", "list", "--json")
    assert '"state": "active"' in out and QUERY in out
    smtp.stop()
    code, _, err = cli("subscribers", "add", "grace@example.org", "--query", QUERY)
    assert code == 1 and "error: " in err and "Traceback" not in err
    assert subscriber(engine, "grace@example.org").state == "pending"  # inert until confirmed
    monkeypatch.delenv("SCISEEK_SMTP_HOST")
    code, _, err = cli("digest", "send")
    assert code == 2 and "SCISEEK_SMTP_HOST" in err
    assert cli("digest", "send", "--dry-run")[0] == 0


# A short topical interest, the kind a subscribe form invites: its on-topic papers have much
# lower cosines than a near-paraphrase query's, and must still arrive.
TOPIC = "mixture of experts models"
ON_TOPIC = [
    Paper(
        "2611.00101",
        "A Billion-Scale Mixture-of-Experts Foundation Model for Time Series Forecasting",
        "We pretrain a sparse mixture-of-experts transformer on a large corpus of time series; "
        "routing each token to a few experts scales the model to a billion parameters at the "
        "inference cost of a much smaller dense model.",
        categories=["cs.LG"],
        published="2026-11-02",
    ),
    Paper(
        "2611.00102",
        "Efficient Inference and Training of Mixture-of-Experts Models at Scale",
        "Expert parallelism, load-balanced routing and token dropping make training and "
        "serving sparse MoE language models faster on GPU clusters.",
        categories=["cs.DC", "cs.LG"],
        published="2026-11-03",
    ),
    Paper(
        "2611.00103",
        "Routing Collapse in Sparse Expert Layers",
        "Why the gating network of a mixture of experts sends most tokens to the same few "
        "experts, and an auxiliary loss that keeps expert utilisation balanced.",
        categories=["cs.LG"],
        published="2026-11-03",
    ),
]
OFF_TOPIC = [
    *UNRELATED[:2],
    Paper(
        "2611.00104",
        "Video Diffusion Models with Temporal Attention",
        "A latent diffusion model generates coherent video clips by attending across frames.",
        categories=["cs.CV"],
        published="2026-11-02",
    ),
    Paper(
        "2611.00105",
        "Message Passing Graph Neural Networks for Traffic Forecasting",
        "Graph neural networks over road sensor graphs predict traffic speed an hour ahead.",
        categories=["cs.LG"],
        published="2026-11-03",
    ),
    Paper(
        "2611.00106",
        "Scaling Laws for Dense Language Models",
        "How the loss of dense transformer language models falls with parameters, data and "
        "compute, fitted over three orders of magnitude.",
        categories=["cs.CL", "cs.LG"],
        published="2026-11-04",
    ),
]


def test_short_topical_interest_gets_its_topic_and_nothing_else(engine, smtp, cli):
    backdate(engine)
    code, _, err = cli("subscribers", "add", "moe@example.org", "--query", TOPIC, "--confirmed")
    assert code == 0, err
    engine.add(ON_TOPIC + OFF_TOPIC)
    code, out, err = cli("digest", "send", "--now", days(1))  # the shipped threshold
    assert code == 0 and "sent 1 digests" in out, out + err
    (msg,) = smtp.inbox.to("moe@example.org")
    assert paper_ids(msg) == {p.id for p in ON_TOPIC}


def test_previews_show_what_an_interest_would_have_sent(engine, smtp, cli, app):
    backdate(engine)
    engine.add(ON_TOPIC + OFF_TOPIC)
    cli("subscribers", "add", "moe@example.org", "--query", TOPIC, "--confirmed")
    code, out, err = cli("digest", "send", "--dry-run", "--now", days(1))
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if ln.startswith("moe@example.org: over the last"))
    assert f"would have sent {len(ON_TOPIC)} papers (of {len(ON_TOPIC + OFF_TOPIC)} new)" in line
    assert "Mixture-of-Experts" in line and "Sourdough" not in line
    assert not smtp.inbox.messages

    form = {"email": "ada@example.org", "queries": TOPIC, "action": "preview"}
    r = app.post("/subscribe", data=form, headers=SITE)
    assert r.status_code == 200 and f"<strong>{len(ON_TOPIC)} papers</strong>" in r.text
    assert "Efficient Inference and Training of Mixture-of-Experts" in r.text
    assert "Sourdough" not in r.text
    assert not smtp.inbox.to("ada@example.org")  # a preview saves and mails nothing
    assert subscriber(engine, "ada@example.org") is None
    r = app.post(
        "/subscribe", data={**form, "queries": "quantum error correction codes"}, headers=SITE
    )
    assert r.status_code == 200 and "<strong>0 papers</strong>" in r.text
    assert "Too narrow" in r.text
