"""The relevance model: the cosine map for long queries, z and words for short phrases."""

import json
import math

import pytest

from sciseek.index.word_match import WordMatch
from sciseek.search import relevance
from sciseek.search.relevance import (
    BUNDLED,
    MIN_SPREAD_PAPERS,
    SHORT_Z_ONLY,
    THRESHOLD,
    TYPICAL_SPREAD,
    calibration,
)

SHORT = "mixture of experts"
LONG = "Does routing tokens to a few experts keep the cost of large language models low?"


def test_short_phrases_read_z_and_words_long_queries_the_cosine_alone():
    cos = 0.45
    base = BUNDLED.probability(SHORT, cos, TYPICAL_SPREAD)
    more_words = BUNDLED.probability(SHORT, cos, TYPICAL_SPREAD, WordMatch(1.0, 1.0))
    in_title = BUNDLED.probability(SHORT, cos, TYPICAL_SPREAD, WordMatch(1.0, 1.0, True))
    higher_z = BUNDLED.probability(SHORT, cos + 0.1, TYPICAL_SPREAD, WordMatch(1.0, 1.0, True))
    assert base < more_words < in_title < higher_z
    # the BM25 share is capped: repeating a word past it adds nothing
    cap = relevance.SHORT_BM25_CAP
    capped = BUNDLED.probability(SHORT, cos, TYPICAL_SPREAD, WordMatch(cap, 1.0))
    assert BUNDLED.probability(SHORT, cos, TYPICAL_SPREAD, WordMatch(9.0, 1.0)) == capped
    words = WordMatch(1.0, 1.0, True)
    assert BUNDLED.probability(LONG, cos, TYPICAL_SPREAD, words) == relevance.relevance(cos)
    assert BUNDLED.threshold(LONG) == THRESHOLD
    assert BUNDLED.threshold(SHORT) == relevance.SHORT_THRESHOLD


def test_a_small_store_scores_short_phrases_by_z_alone():
    small = BUNDLED.for_store(MIN_SPREAD_PAPERS - 1)
    assert not small.reads_words and small.threshold(SHORT) == SHORT_Z_ONLY[2]
    a, b, _ = SHORT_Z_ONLY
    z = (0.5 - TYPICAL_SPREAD[0]) / TYPICAL_SPREAD[1]
    expected = 1 / (1 + math.exp(-(a * z + b)))
    words = WordMatch(1.0, 1.0, True)
    assert small.probability(SHORT, 0.5, TYPICAL_SPREAD, words) == pytest.approx(expected)
    assert BUNDLED.for_store(MIN_SPREAD_PAPERS) is BUNDLED
    assert small.probability(LONG, 0.5, TYPICAL_SPREAD) == BUNDLED.probability(
        LONG, 0.5, TYPICAL_SPREAD
    )


@pytest.mark.parametrize(
    ("fit", "reads_words"),
    [
        ({"a": 9.0, "b": -6.0, "short_a": 1.5, "short_b": -7.0, "short_threshold": 0.1}, False),
        (
            {
                "a": 9.0,
                "b": -6.0,
                "short_a": 0.8,
                "short_b": -18.0,
                "short_threshold": 0.25,
                "short_bm25": 6.0,
                "short_coverage": 6.0,
            },
            True,
        ),
        (
            {
                "a": 9.0,
                "b": -6.0,
                "short_a": 1.5,
                "short_b": -19.0,
                "short_threshold": 0.275,
                "short_phrase": 6.0,
            },
            True,
        ),
        ({"a": 9.0, "b": -6.0}, False),
    ],
)
def test_a_model_folder_fit_is_read_with_the_terms_it_has(tmp_path, fit, reads_words):
    (tmp_path / relevance.CALIBRATION_FILE).write_text(json.dumps(fit))
    model, calibrated = calibration("other-model", tmp_path)
    assert calibrated and (model.a, model.b) == (9.0, -6.0)
    assert model.reads_words is reads_words
    assert model.is_short(SHORT) is ("short_a" in fit)
