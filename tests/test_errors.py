"""The error tree: every project error is a SciseekError, and the CLI and web map it by kind."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import socket

import pytest
from fastapi.testclient import TestClient

import sciseek
from sciseek import Engine
from sciseek.cli import main
from sciseek.digests.digest import DigestLocked, run_lock
from sciseek.digests.mail import MailError, MailNotConfigured
from sciseek.digests.subscriptions import RateLimited, StaleLink, UnknownSubscriber
from sciseek.digests.tokens import ExpiredToken, InvalidToken
from sciseek.errors import BadInput, OperationalError, SciseekError
from sciseek.ingest.oai import HarvestError, ProtocolError
from sciseek.ingest.papers import Filters, InvalidFilter
from sciseek.search.engine import InvalidQuery, NotADataDir, UnknownPaper
from sciseek.web.app import create_app
from tests.helpers import run_sciseek


def project_exceptions() -> list[type[BaseException]]:
    """Every exception class defined in a sciseek module."""
    found = []
    for info in pkgutil.walk_packages(sciseek.__path__, "sciseek."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and issubclass(cls, BaseException):
                found.append(cls)
    return found


# -- the tree ----------------------------------------------------------------------------------


def test_every_project_exception_is_bad_input_or_operational():
    classes = project_exceptions()
    assert len(classes) >= 20, classes
    for cls in classes:
        assert issubclass(cls, SciseekError), cls
        if cls not in (SciseekError, BadInput, OperationalError):
            assert issubclass(cls, BadInput | OperationalError), cls


def test_builtin_bases_callers_catch_are_kept():
    assert issubclass(InvalidQuery, ValueError)
    assert issubclass(InvalidFilter, ValueError)
    assert issubclass(NotADataDir, NotADirectoryError)
    assert issubclass(UnknownPaper, KeyError) and UnknownPaper("p1").args == ("p1",)
    assert issubclass(UnknownSubscriber, LookupError)
    assert issubclass(MailError, RuntimeError) and issubclass(DigestLocked, RuntimeError)
    assert issubclass(ProtocolError, HarvestError) and issubclass(ProtocolError, BadInput)


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (BadInput, 422),
        (InvalidQuery, 422),
        (UnknownPaper, 404),
        (UnknownSubscriber, 404),
        (InvalidToken, 400),
        (ExpiredToken, 410),
        (StaleLink, 409),
        (RateLimited, 429),
        (MailNotConfigured, 403),
        (OperationalError, 503),
        (DigestLocked, 503),
        (MailError, 502),
    ],
)
def test_statuses(cls, status):
    assert cls.status == status


def test_filters_raise_invalid_filter():
    with pytest.raises(InvalidFilter, match="date range is empty"):
        Filters(date_from="2024-05-01", date_to="2024-01-01")
    with pytest.raises(InvalidFilter, match="not an ISO date"):
        Filters(date_from="yesterday")


# -- the CLI -----------------------------------------------------------------------------------


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (InvalidQuery("k must be between 1 and 1000, got 0"), 2, "error: k must be"),
        (UnknownPaper("p1"), 2, "error: no paper with id 'p1'"),
        (DigestLocked("another digest run is in progress"), 1, "error: another digest"),
        (HarvestError("network down"), 1, "error: network down"),
        (RuntimeError("boom"), 1, "error: RuntimeError: boom"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_main_maps_the_tree(monkeypatch, capsys, tmp_path, error, code, line):
    def fail(args):
        raise error

    monkeypatch.setattr(importlib.import_module("sciseek.cli.commands"), "cmd_stats", fail)
    assert main(["stats", "--data-dir", str(tmp_path)]) == code
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [err.strip()] and err.startswith(line), err


def test_data_dir_that_is_a_file_exits_2(tmp_path):
    file = tmp_path / "file"
    file.write_text("not a data dir")
    for data_dir, message in [(file, "is not a directory"), (file / "sub", "Not a directory")]:
        r = run_sciseek("stats", data_dir=data_dir)
        assert r.returncode == 2, r.stderr
        assert len(error_lines(r.stderr)) == 1 and message in r.stderr, r.stderr
        assert "NotADirectoryError" not in r.stderr


def test_bad_filter_exits_2(tmp_path):
    r = run_sciseek(
        "search", "x", "--from", "2024-05-01", "--to", "2024-01-01", data_dir=tmp_path / "d"
    )
    assert r.returncode == 2
    assert error_lines(r.stderr) == ["error: date range is empty: 2024-05-01 is after 2024-01-01"]


def test_held_digest_lock_exits_1(tmp_path):
    data_dir = tmp_path / "data"
    with Engine.open(data_dir):
        pass
    env = {**os.environ, "SCISEEK_SMTP_HOST": "127.0.0.1", "SCISEEK_SMTP_PORT": "25"}
    with run_lock(data_dir):
        r = run_sciseek("digest", "send", data_dir=data_dir, env=env)
    assert r.returncode == 1, r.stderr
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and "another digest run is in progress" in lines[0], r.stderr


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_mail_server_exits_1(tmp_path):
    env = {**os.environ, "SCISEEK_SMTP_HOST": "127.0.0.1", "SCISEEK_SMTP_PORT": str(closed_port())}
    r = run_sciseek(
        "subscribers", "add", "ada@example.org", "--query", "retrieval",
        data_dir=tmp_path / "data", env=env,
    )  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert len(error_lines(r.stderr)) == 1, r.stderr


# -- the web -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    with Engine.open(tmp_path_factory.mktemp("errors") / "data") as engine:
        app = create_app(engine)
        raised: dict[str, Exception] = {}

        @app.get("/api/raise")
        def api_raise() -> dict:
            raise raised["error"]

        @app.get("/raise")
        def page_raise() -> dict:
            raise raised["error"]

        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, raised, engine


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (BadInput("bad"), 422),
        (UnknownPaper("p1"), 404),
        (InvalidFilter("date range is empty"), 422),
        (OperationalError("down"), 503),
        (DigestLocked("another digest run is in progress"), 503),
        (RateLimited("too many"), 429),
    ],
)
def test_web_maps_the_tree(web, error, status):
    client, raised, _ = web
    raised["error"] = error
    r = client.get("/api/raise")
    assert r.status_code == status and r.json() == {"detail": str(error)}
    r = client.get("/raise")
    assert r.status_code == status and "text/html" in r.headers["content-type"]
    assert str(error).replace("'", "&#39;") in r.text


def test_web_route_error_from_the_engine_is_not_500(web, monkeypatch):
    client, _, engine = web

    def fail(*args, **kwargs):
        raise InvalidQuery("k must be between 1 and 1000, got 0")

    monkeypatch.setattr(engine, "search", fail)
    r = client.get("/api/search", params={"q": "retrieval"})
    assert r.status_code == 422 and r.json() == {"detail": "k must be between 1 and 1000, got 0"}
