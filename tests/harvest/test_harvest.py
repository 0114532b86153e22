"""arXiv OAI-PMH harvesting against a local endpoint that replays fixture responses."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from sciseek import Engine
from sciseek.harvest.harvester import Harvester
from sciseek.harvest.state import HarvestState, lock
from sciseek.ingest import oai
from sciseek.ingest.oai import parse_page
from tests.helpers import FIXTURES

OAI = FIXTURES / "oai"
ROOT = Path(__file__).resolve().parents[2]
TOKEN_2, TOKEN_3 = "4172205|3", "4172205|6"
THREE_PAGES = {"": "page1.xml", TOKEN_2: "page2.xml", TOKEN_3: "page3.xml"}
ALL_IDS = {
    "2503.04117",
    "2503.04502",
    "2503.05013",
    "cs/0309021",
    "2503.05588",
    "2503.06120",
    "2503.06744",
    "2503.07031",
}
FRESH = {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs"}


def resume(token: str) -> dict[str, str]:
    return {"verb": "ListRecords", "resumptionToken": token}


class Repository:
    """What the local OAI-PMH endpoint answers, and what it was asked."""

    def __init__(self) -> None:
        self.url = ""
        # resumption token ("" for a request without one) -> fixture file
        self.routes: dict[str, str] = {}
        # answered first, once each: a fixture file for a token, or an HTTP failure
        self.once: dict[str, str] = {}
        self.failures: list[tuple[int, dict[str, str]]] = []
        self.requests: list[dict[str, str]] = []
        self.user_agents: list[str] = []
        self.holds: dict[str, tuple[threading.Event, threading.Event]] = {}

    def hold(self, token: str) -> tuple[threading.Event, threading.Event]:
        """Make the request for ``token`` wait: (it arrived, release it)."""
        self.holds[token] = (threading.Event(), threading.Event())
        return self.holds[token]

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self.failures:
            status, headers = self.failures.pop(0)
            return status, headers, b"try again later"
        key = params.get("resumptionToken", "")
        name = self.once.pop(key, None) or self.routes.get(key)
        if path != "/oai2" or name is None:
            return 404, {}, b"not found"
        return 200, {"Content-Type": "text/xml; charset=utf-8"}, (OAI / name).read_bytes()


def _handler(repo: Repository) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            repo.requests.append(params)
            repo.user_agents.append(self.headers.get("User-Agent", ""))
            if params.get("resumptionToken") in repo.holds:
                arrived, release = repo.holds[params["resumptionToken"]]
                arrived.set()
                release.wait(120)
            status, headers, body = repo.answer(url.path, params)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client is gone (killed on purpose)
                pass

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def repo(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("SCISEEK_CONTACT", "ops@example.org")
    repo = Repository()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(repo))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    repo.url = f"http://127.0.0.1:{server.server_address[1]}/oai2"
    yield repo
    for _, release in repo.holds.values():
        release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def waits(monkeypatch):
    """The waits the harvester asks for, recorded instead of slept."""
    asked: list[float] = []
    monkeypatch.setattr(oai, "_sleep", lambda s: asked.append(round(s, 3)) if s > 0 else None)
    return asked


def run(cli, repo, *extra: str):
    return cli("harvest", "arxiv", "--set", "cs", "--endpoint", repo.url, "--delay", "0", *extra)


def status(cli) -> dict:
    code, out, err = cli("harvest", "status", "--json")
    assert code == 0, err
    return json.loads(out)["sets"]["cs"]


def stats(cli) -> dict:
    code, out, err = cli("stats", "--json")
    assert code == 0, err
    return json.loads(out)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def test_records_become_papers():
    page = parse_page((OAI / "page1.xml").read_bytes(), "page1")
    assert page.response_date == "2025-03-12" and page.token == TOKEN_2
    rag = {r.id: r.paper for r in page.records}["2503.04502"]
    assert rag.title == (
        "Retrieval-Augmented Generation with Citation-Aware Reranking for Open-Domain "
        "Question Answering"
    )
    assert rag.authors == ["Theodore R. Hale Jr", "Inès Moreau-Castel", "Jiahui Wu"]
    assert rag.categories == ["cs.CL", "cs.AI", "cs.IR"]
    assert rag.published == "2025-03-06"
    assert rag.url == "https://arxiv.org/abs/2503.04502"
    assert rag.abstract.startswith("Retrieval-augmented generation answers open-domain questions")
    assert "\n" not in rag.abstract and "  " not in rag.abstract
    assert rag.extra == {
        "doi": "10.5555/jqas.2025.0142",
        "comments": "Accepted to the Workshop on Grounded Generation",
        "journal-ref": "Journal of Question Answering Systems 7 (2025) 142-160",
        "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
        "updated": "2025-03-10",
    }
    update = parse_page((OAI / "update.xml").read_bytes(), "update")
    assert update.token is None
    by_id = {r.id: r for r in update.records}
    assert by_id["2503.05013"].deleted and by_id["2503.05013"].paper is None
    assert by_id["2503.08350"].reason == "invalid record: missing 'title'"
    old_style = {r.id: r.paper for r in parse_page((OAI / "page2.xml").read_bytes(), "p2").records}
    assert old_style["cs/0309021"].url == "https://arxiv.org/abs/cs/0309021"


def test_pages_updates_deletes_and_reruns(cli, repo):
    repo.routes = dict(THREE_PAGES)
    code, out, err = run(cli, repo)
    assert code == 0, err
    assert "cs: 3 pages, 8 added, 0 updated, 0 unchanged, 0 deleted, skipped 0" in out
    assert repo.requests == [FRESH, resume(TOKEN_2), resume(TOKEN_3)]
    assert all(ua.startswith("sciseek/") and "ops@example.org" in ua for ua in repo.user_agents)
    counts = stats(cli)
    assert counts["papers"] == 8 == counts["lexical"]["documents"] == counts["dense"]["documents"]
    state = status(cli)
    assert state["datestamp"] == "2025-03-12" and state["token"] is None
    assert state["totals"]["added"] == 8 and state["totals"]["pages"] == 3
    for query, expected in [
        ("making the query encoder of a two-tower retriever smaller", "2503.04117"),
        ("graph neural networks for rain forecasting", "2503.06120"),
        ("citation networks preferential attachment", "cs/0309021"),
    ]:
        code, out, err = cli("search", query, "--json")
        assert code == 0, err
        assert json.loads(out)["hits"][0]["id"] == expected, query
    code, out, _ = cli("get", "cs/0309021", "--json")
    assert json.loads(out)["updated"] == "2025-03-11"

    # Next day: one paper revised, one withdrawn, one new, one unusable record.
    repo.routes = {"": "update.xml"}
    code, out, err = run(cli, repo)
    assert code == 0, err
    assert repo.requests[-1] == {**FRESH, "from": "2025-03-12"}
    assert (
        "cs: 1 page, 1 added, 1 updated, 0 unchanged, 1 deleted, skipped 1 "
        "(1 invalid record: missing 'title')"
    ) in out
    code, out, _ = cli("get", "2503.04117", "--json")
    revised = json.loads(out)
    assert revised["title"] == "Distilling Query Encoders for Efficient Two-Tower Dense Retrieval"
    assert revised["updated"] == "2025-03-13"
    assert cli("get", "2503.05013")[0] == 2
    assert cli("get", "2503.08211")[0] == 0
    assert stats(cli)["papers"] == 8
    code, out, _ = cli("search", "distilling query encoders", "--json", "--mode", "bm25")
    assert json.loads(out)["hits"][0]["title"].startswith("Distilling Query Encoders for Efficient")
    assert status(cli)["datestamp"] == "2025-03-14"

    # Nothing new: success, and the next run asks from the new response date.
    repo.routes = {"": "no_records.xml"}
    code, out, err = run(cli, repo)
    assert code == 0, err
    assert repo.requests[-1] == {**FRESH, "from": "2025-03-14"}
    assert "cs: no new records; next run from 2025-03-15" in out
    assert status(cli)["datestamp"] == "2025-03-15"

    # The same records served again change nothing (and the datestamp never goes back).
    repo.routes = {"": "update.xml"}
    code, out, err = run(cli, repo)
    assert code == 0, err
    assert "0 added, 0 updated, 2 unchanged, 0 deleted, skipped 2" in out
    assert "1 deleted upstream, not held here" in out
    counts = stats(cli)
    assert counts["papers"] == 8 == counts["lexical"]["documents"] == counts["dense"]["documents"]
    state = status(cli)
    assert state["datestamp"] == "2025-03-15"
    assert state["totals"] == {
        "pages": 5,
        "added": 9,
        "updated": 1,
        "unchanged": 2,
        "deleted": 1,
        "skipped": 3,
    }
    code, out, _ = cli("harvest", "status")
    assert "last datestamp: 2025-03-15" in out and "pending token:  none" in out


def test_categories_keep_records_in_any_listed_category(cli, repo):
    repo.routes = dict(THREE_PAGES)
    code, out, err = run(cli, repo, "--categories", "cs.CL,cs.IR")
    assert code == 0, err
    assert "6 added" in out and "skipped 2 (2 not in the selected categories)" in out
    for pid in ALL_IDS - {"2503.05013", "2503.06120"}:
        assert cli("get", pid)[0] == 0, pid
    for pid in ("2503.05013", "2503.06120"):
        assert cli("get", pid)[0] == 2, pid
    assert status(cli)["categories"] == ["cs.CL", "cs.IR"]


def test_flow_control_and_transient_errors_are_retried(cli, repo, waits):
    repo.routes = dict(THREE_PAGES)
    repo.failures = [(503, {"Retry-After": "1"}), (500, {})]
    code, out, err = run(cli, repo)
    assert code == 0, err
    assert repo.requests == [FRESH, FRESH, FRESH, resume(TOKEN_2), resume(TOKEN_3)]
    assert waits == [1.0, oai.BACKOFF]  # Retry-After honoured, then backoff
    assert "8 added" in out and stats(cli)["papers"] == 8


def test_polite_delay_between_requests(repo, waits):
    repo.routes = dict(THREE_PAGES)
    client = oai.Client(repo.url, delay=3)
    try:
        client.list_records({"metadataPrefix": "arXiv", "set": "cs"})
        client.list_records({"resumptionToken": TOKEN_2})
    finally:
        client.close()
    assert len(waits) == 1 and 2.5 < waits[0] <= 3


def test_retries_are_bounded(cli, repo, waits):
    repo.routes = dict(THREE_PAGES)
    repo.failures = [(500, {})] * oai.MAX_ATTEMPTS
    code, out, err = run(cli, repo)
    assert code == 1
    [line] = error_lines(err)
    assert repo.url in line and "HTTP 500" in line
    assert f"gave up after {oai.MAX_ATTEMPTS} attempts" in line
    assert len(repo.requests) == oai.MAX_ATTEMPTS
    assert waits == [oai.BACKOFF * 2**i for i in range(oai.MAX_ATTEMPTS - 1)]
    assert status(cli)["datestamp"] is None


def test_malformed_page_keeps_the_last_token_and_the_next_run_resumes(cli, repo):
    repo.routes = {"": "page1.xml", TOKEN_2: "malformed.xml", TOKEN_3: "page3.xml"}
    code, out, err = run(cli, repo)
    assert code == 1
    [line] = error_lines(err)
    assert line.startswith(f"error: malformed XML from {repo.url}?verb=ListRecords")
    assert "resumptionToken=4172205%7C3" in line
    assert "cs: 1 page, 3 added" in out
    assert stats(cli)["papers"] == 3
    state = status(cli)
    assert state["token"] == TOKEN_2 and state["datestamp"] is None
    assert state["last_result"].startswith("failed: malformed XML")

    repo.routes[TOKEN_2] = "page2.xml"
    before = len(repo.requests)
    code, out, err = run(cli, repo)
    assert code == 0, err
    assert repo.requests[before:] == [resume(TOKEN_2), resume(TOKEN_3)]
    assert "cs: 2 pages, 5 added" in out and "resumed" in out
    assert stats(cli)["papers"] == 8
    state = status(cli)
    assert state["token"] is None and state["datestamp"] == "2025-03-12"


def test_bad_resumption_token_restarts_from_the_last_datestamp_once(cli, repo):
    repo.routes = dict(THREE_PAGES)
    assert run(cli, repo)[0] == 0  # datestamp 2025-03-12
    repo.once = {TOKEN_2: "malformed.xml"}
    assert run(cli, repo)[0] == 1  # interrupted after page 1: token saved
    assert status(cli)["token"] == TOKEN_2

    repo.once = {TOKEN_2: "bad_token.xml"}  # the saved token has expired
    before = len(repo.requests)
    code, out, err = run(cli, repo)
    assert code == 0, err
    assert repo.requests[before:] == [
        resume(TOKEN_2),
        {**FRESH, "from": "2025-03-12"},
        resume(TOKEN_2),
        resume(TOKEN_3),
    ]
    assert "rejected resumption token" in err and "restarting from 2025-03-12" in err
    assert stats(cli)["papers"] == 8 and status(cli)["token"] is None

    repo.routes[TOKEN_2] = "bad_token.xml"  # rejected again after the restart: give up
    code, out, err = run(cli, repo)
    assert code == 2
    [line] = error_lines(err)
    assert "badResumptionToken" in line and repo.url in line


def test_other_oai_errors_are_bad_input(cli, repo):
    repo.routes = {"": "bad_argument.xml"}
    code, out, err = run(cli, repo)
    assert code == 2
    [line] = error_lines(err)
    assert "OAI-PMH error badArgument" in line and repo.url in line
    assert len(err.strip().splitlines()) == 1
    code, _, err = cli(
        "harvest", "arxiv", "--set", "cs", "--from", "2025-03-02", "--until", "2025-03-01"
    )
    assert code == 2 and "after --until" in err
    code, _, err = cli("harvest", "arxiv", "--set", "cs", "--from", "yesterday")
    assert code == 2 and "YYYY-MM-DD" in err


def test_explicit_dates_and_the_datestamp(cli, repo):
    repo.routes = {"": "no_records.xml"}  # responseDate 2025-03-15
    code, out, err = run(cli, repo, "--from", "2025-03-01", "--until", "2025-03-05")
    assert code == 0, err
    assert repo.requests[-1] == {**FRESH, "from": "2025-03-01", "until": "2025-03-05"}
    assert status(cli)["datestamp"] == "2025-03-05"  # covered up to --until, not to today
    # A range that leaves a gap after the datestamp does not move it.
    assert run(cli, repo, "--from", "2025-03-10")[0] == 0
    assert status(cli)["datestamp"] == "2025-03-05"
    assert run(cli, repo)[0] == 0
    assert repo.requests[-1] == {**FRESH, "from": "2025-03-05"}
    assert status(cli)["datestamp"] == "2025-03-15"
    code, _, err = cli("harvest", "arxiv", "--set", "cs", "--endpoint", "export.arxiv.org/oai2")
    assert code == 2 and "--endpoint" in err


def test_a_page_is_committed_before_its_token_is_recorded(repo, data_dir, monkeypatch):
    repo.routes = dict(THREE_PAGES)
    with Engine.open(data_dir) as engine:
        add = engine.add
        pages = []

        def crash_on_page_two(papers, *args, **kwargs):
            pages.append(papers)
            if len(pages) == 2:
                raise RuntimeError("power cut while committing page 2")
            return add(papers, *args, **kwargs)

        monkeypatch.setattr(engine, "add", crash_on_page_two)
        harvester = Harvester(engine, endpoint=repo.url, delay=0)
        with harvester, pytest.raises(RuntimeError):
            harvester.harvest_set("cs")
        assert engine.store.count() == 3
    assert repo.requests == [FRESH, resume(TOKEN_2)]  # page 3 was never asked for
    saved = HarvestState.load(data_dir).sets["cs"]
    assert saved.token == TOKEN_2 and saved.datestamp is None
    assert saved.totals["added"] == 3


@pytest.mark.slow
def test_killed_between_pages_the_next_run_resumes(cli, repo, data_dir, tmp_path):
    repo.routes = dict(THREE_PAGES)
    arrived, release = repo.hold(TOKEN_2)
    log = tmp_path / "harvest.log"
    cmd = [sys.executable, "-m", "sciseek", "harvest", "arxiv", "--set", "cs"]
    cmd += ["--endpoint", repo.url, "--delay", "0", "--data-dir", str(data_dir)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            assert arrived.wait(240), log.read_text()
            # Page 1 is committed and recorded before page 2 is asked for.
            saved = json.loads((data_dir / "harvest.json").read_text())["sets"]["cs"]
            assert saved["token"] == TOKEN_2
            proc.send_signal(signal.SIGKILL)
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            release.set()
    assert proc.returncode == -signal.SIGKILL

    before = len(repo.requests)
    code, out, err = run(cli, repo)
    assert code == 0, err
    assert repo.requests[before:] == [resume(TOKEN_2), resume(TOKEN_3)]
    assert "cs: 2 pages, 5 added, 0 updated, 0 unchanged" in out
    counts = stats(cli)
    assert counts["papers"] == 8 == counts["lexical"]["documents"] == counts["dense"]["documents"]
    for pid in ALL_IDS:
        assert cli("get", pid)[0] == 0, pid
    state = status(cli)
    assert state["token"] is None and state["datestamp"] == "2025-03-12"


def test_demo_without_a_file_harvests_recent_papers(cli, repo, monkeypatch):
    monkeypatch.setattr(oai, "ARXIV_ENDPOINT", repo.url)
    repo.routes = dict(THREE_PAGES)
    code, out, err = cli("demo", "--no-serve")
    assert code == 0, err
    since = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)).isoformat()
    assert repo.requests[0] == {**FRESH, "from": since}
    assert "8 added" in out
    results = out.split("sample search")[1].splitlines()
    assert "2503.04502" in next(line for line in results if line.startswith("  1."))
    assert status(cli)["categories"] == ["cs.CL", "cs.IR", "cs.LG"]


def test_a_second_harvest_on_a_data_dir_is_refused_while_one_runs(tmp_path):
    with (
        lock(tmp_path),
        pytest.raises(oai.HarvestError, match="another harvest is running"),
        lock(tmp_path),
    ):
        pass
    with lock(tmp_path):  # released after
        pass
