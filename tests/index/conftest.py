"""Fixtures of the index tests."""

import pytest

from sciseek import Engine, Paper


def paper(pid: str, title: str, abstract: str) -> Paper:
    return Paper(pid, title, abstract, published="2026-01-01")


@pytest.fixture
def mixture_engine(tmp_path):
    """An engine over ten hand-made papers, four of them on or near "mixture of experts"."""
    with Engine.open(tmp_path / "data") as e:
        e.add(
            [
                paper("all", "Mixture of experts routing", "Experts share one gate."),
                paper("twice", "Mixture of experts", "A mixture of many experts, experts."),
                paper("half", "Experts in chess", "How grandmasters choose a move."),
                paper("none", "Sourdough fermentation", "Yeast and bacteria at low heat."),
                *[paper(f"bg{i}", f"Background {i}", "Nothing of note here.") for i in range(6)],
            ]
        )
        yield e
