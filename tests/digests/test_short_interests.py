"""Short topical interests in a store the size of a real one: the digest's default model.

A store of the shared arXiv listings gives the words and cosines their real statistics (under
MIN_SPREAD_PAPERS papers short phrases are scored by z alone; test_digest.py covers that).
"""

from itertools import islice

import pytest

from sciseek import Engine, Paper, read_papers
from sciseek.ingest.papers import Filters
from sciseek.search.relevance import MIN_SPREAD_PAPERS
from tests.digests.test_digest import OFF_TOPIC, ON_TOPIC, TOPIC, backdate, days, paper_ids
from tests.helpers import SHARED_DATA

BACKGROUND = 400  # papers of the shared listings, all older than the fixture papers
GNN = "graph neural networks"
GNN_BY_ACRONYM = Paper(  # on the topic, without the phrase's words side by side anywhere
    "2611.00107",
    "Molecular Property Prediction with Equivariant GNNs",
    "We train E(3)-equivariant GNNs on molecular graphs; message passing over atoms and bonds "
    "predicts solubility and toxicity better than fingerprints.",
    categories=["cs.LG"],
    published="2026-11-03",
)


@pytest.fixture
def engine(tmp_path):
    listings = read_papers(SHARED_DATA / "arxiv" / "papers.jsonl.gz")
    with Engine.open(tmp_path / "data") as e:
        e.add(list(islice(listings, BACKGROUND)))
        assert e.store.count() >= MIN_SPREAD_PAPERS
        backdate(e)
        yield e


def test_each_short_interest_gets_the_papers_on_its_topic(engine, smtp, cli):
    for address, topic in (("moe@example.org", TOPIC), ("gnn@example.org", GNN)):
        code, _, err = cli("subscribers", "add", address, "--query", topic, "--confirmed")
        assert code == 0, err
    assert engine.relevance_model().reads_words  # the full model, not the small-store one
    engine.add([*ON_TOPIC, *OFF_TOPIC, GNN_BY_ACRONYM])
    code, out, err = cli("digest", "send", "--now", days(1))  # the shipped thresholds
    assert code == 0 and "sent 2 digests" in out, out + err
    (moe,) = smtp.inbox.to("moe@example.org")
    assert paper_ids(moe) == {p.id for p in ON_TOPIC}
    (gnn,) = smtp.inbox.to("gnn@example.org")
    # message passing graph neural networks, and the paper that only says "GNNs"
    assert paper_ids(gnn) == {"2611.00105", GNN_BY_ACRONYM.id}
    # search's --min-score reads the same probability: at the digest's threshold it keeps the
    # same new papers
    new = Filters(ids=tuple(p.id for p in [*ON_TOPIC, *OFF_TOPIC, GNN_BY_ACRONYM]))
    cut = engine.relevance_threshold(GNN)
    kept = engine.search(GNN, mode="hybrid", k=20, filters=new, min_score=cut)
    assert {h.paper.id for h in kept} == paper_ids(gnn)
