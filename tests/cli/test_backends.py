"""Choosing where retrieval runs from the command line: the Milvus backend stored in the data
dir, and clear errors for a backend or a cluster that cannot be used."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import FIXTURES, free_port


def test_a_milvus_backend_given_to_index_is_stored_and_used(cli, data_dir, milvus_uri):
    corpus = str(FIXTURES / "papers.jsonl")
    code, _, err = cli("index", corpus, "--backend", "milvus", "--milvus-uri", milvus_uri)
    assert code == 0, err
    assert f"retrieval backend: milvus ({milvus_uri}), stored" in err
    config = json.loads((data_dir / "config.json").read_text())
    assert config["backend"] == "milvus" and config["milvus_uri"] == milvus_uri
    code, out, _ = cli("stats", "--json")
    milvus = json.loads(out)["milvus"]
    assert milvus["papers"] == 12 and milvus["up_to_date"] and milvus["uri"] == milvus_uri
    code, out, err = cli("search", "diffusion image synthesis", "--mode", "bm25", "--json")
    assert code == 0, err
    assert json.loads(out)["hits"][0]["id"] == "2402.00004"
    # back to the local indexes for one command, and stored again with sync
    code, out, _ = cli("search", "diffusion image synthesis", "--backend", "local", "--json")
    assert code == 0 and json.loads(out)["hits"][0]["id"] == "2402.00004"
    code, _, err = cli("sync", "--backend", "local")
    assert code == 0 and "retrieval backend: local (the data dir), stored" in err
    assert "backend" not in json.loads((data_dir / "config.json").read_text())


def test_milvus_without_a_server_is_refused_with_the_option_to_give(cli):
    code, _, err = cli("search", "anything", "--backend", "milvus")
    assert code == 2
    assert "the milvus backend needs a server: --milvus-uri http://HOST:PORT" in err


def test_an_unreachable_milvus_server_is_named(cli):
    uri = f"http://127.0.0.1:{free_port()}"
    code, _, err = cli("search", "anything", "--milvus-uri", uri)
    assert code == 2
    assert f"cannot reach the Milvus server at {uri}" in err


def test_a_bad_stored_backend_names_the_file(cli, data_dir):
    data_dir.mkdir(parents=True)
    config = {"weights": {"bm25": 0.4, "dense": 0.6}, "backend": "elastic"}
    (data_dir / "config.json").write_text(json.dumps(config))
    code, _, err = cli("search", "anything")
    assert code == 1  # as for any damaged settings file
    assert "config.json: bad retrieval settings (unknown backend 'elastic'" in err


def test_an_unreachable_ray_cluster_is_named(cli):
    code, _, err = cli("index", str(FIXTURES / "papers.jsonl"), "--ray", f"127.0.0.1:{free_port()}")
    assert code == 2
    assert "cannot join the Ray cluster at" in err


def test_ray_and_milvus_are_not_imported_without_their_options(tmp_path):
    # the extras cost seconds of import and are not needed by a single machine
    code = (
        "import sys\n"
        "from sciseek.cli.main import main\n"
        f"main(['index', {str(FIXTURES / 'papers.jsonl')!r}, '--data-dir', {str(tmp_path)!r}])\n"
        "main(['search', 'diffusion', '--data-dir', " + repr(str(tmp_path)) + "])\n"
        "print(sorted(m for m in ('ray', 'pymilvus', 'milvus_lite') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
