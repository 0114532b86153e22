import pytest

from sciseek import Engine, Filters, Paper
from sciseek.search import intents
from sciseek.search.settings import Settings

# A paper whose name the encoder cannot know, among papers that share its word pieces.
NAMED = Paper(
    "2407.00013",
    "RetroFluxNet: Restoring Old Recordings",
    "We clean crackle and hiss from digitised shellac discs with a learned filter.",
    ["Ada Lovelace"],
    published="2024-07-01",
)
DISTRACTORS = [
    Paper(
        f"2407.001{i:02d}",
        title,
        abstract,
        ["Marie Curie"],
        published="2024-07-02",
    )
    for i, (title, abstract) in enumerate(
        [
            ("Retro video game emulation", "Retro consoles emulated on modern hardware."),
            ("Magnetic flux in superconducting rings", "Flux quantisation in retro devices."),
            ("Neural networks for retro style transfer", "A retro network restyles photos."),
            ("Flux balance analysis of metabolism", "Flux networks of cell metabolism."),
        ]
    )
]


def ids(hits):
    return [h.paper.id for h in hits]


@pytest.fixture
def named_engine(tmp_path, papers):
    with Engine.open(tmp_path / "data") as e:
        e.add([*papers, NAMED, *DISTRACTORS])
        yield e


def test_a_rare_name_ranks_its_paper_first_in_hybrid_mode(named_engine, tmp_path):
    assert ids(named_engine.search("RetroFluxNet", mode="bm25"))[0] == NAMED.id
    assert ids(named_engine.search("RetroFluxNet"))[0] == NAMED.id
    # with the fixed weights the dense run, which only sees "retro" and "flux", wins
    with Engine.open(tmp_path / "data", settings=Settings(adaptive=False)) as fixed:
        assert ids(fixed.search("RetroFluxNet"))[0] != NAMED.id


def test_an_author_query_returns_that_authors_papers(engine):
    hopper = {"2401.00002", "2404.00007", "2405.00010"}
    assert set(ids(engine.search("papers by Grace Hopper", k=3))) == hopper
    assert set(ids(engine.search("Hopper et al", k=3))) == hopper
    assert set(ids(engine.search("Karen Sparck Jones", k=2))) == {"2403.00005", "2405.00009"}
    # newest first
    assert ids(engine.search("papers by Grace Hopper", k=3)) == sorted(hopper, reverse=True)


def test_an_author_query_with_a_year_puts_that_years_papers_first(engine):
    engine.add(
        [
            Paper(
                "2301.00099",
                "Compilers for Everyone",
                "A compiler.",
                ["Grace Hopper"],
                published="2023-01-09",
            )
        ]
    )
    assert ids(engine.search("Hopper 2023"))[0] == "2301.00099"
    assert "2301.00099" not in ids(engine.search("Hopper 2024", k=3))


def test_author_queries_respect_filters(engine):
    f = Filters(categories=("cs.CL",))
    hits = engine.search("papers by Grace Hopper", k=3, filters=f)
    assert hits and all("cs.CL" in h.paper.categories for h in hits)


def test_a_topic_that_is_no_ones_name_is_not_an_author_query(engine):
    assert ids(engine.search("protein structure", k=1)) == ["2403.00006"]
    assert intents.author_query("how do graph neural networks predict molecule properties") is None


def test_a_title_prefix_finds_its_paper(engine):
    assert ids(engine.search("Vector Quantization for", k=1)) == ["2406.00011"]
    assert ids(engine.search("speech recognition in", k=1)) == ["2405.00010"]


def test_fixed_settings_round_trip(tmp_path):
    from sciseek.search.settings import load_settings, save_settings

    save_settings(tmp_path, Settings(adaptive=False))
    assert load_settings(tmp_path).adaptive is False
    assert Settings().adaptive is True


@pytest.mark.parametrize(
    "query, name, year, cued",
    [
        ("papers by Kaiming He", "Kaiming He", None, True),
        ("Hinton 2024", "Hinton", 2024, False),
        ("by Yann LeCun", "Yann LeCun", None, True),
        ("Vaswani et al. 2017", "Vaswani", 2017, True),
    ],
)
def test_author_query_reads_the_name_and_year(query, name, year, cued):
    assert intents.author_query(query) == intents.AuthorQuery(name, year, cued)


def test_known_item_weights_shift_towards_bm25():
    w = intents.known_item_weights({"bm25": 0.4, "dense": 0.6})
    assert w["bm25"] > w["dense"] and w["bm25"] + w["dense"] == pytest.approx(1.0)
    assert intents.known_item_weights({"dense": 1.0}) == {"dense": 1.0}


def test_a_bare_name_in_capitals_is_an_acronym_not_an_author():
    assert not intents.names_author(intents.AuthorQuery("MOON", None, False), 2, 0)
    assert intents.names_author(intents.AuthorQuery("Moon", None, False), 2, 0)
    assert intents.names_author(intents.AuthorQuery("MOON", None, True), 2, 0)
