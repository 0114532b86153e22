import math

import pytest

from sciseek.search.fusion import fuse, minmax, rrf, top, zscore


def test_minmax_scales_to_unit_interval():
    assert minmax({"a": 10.0, "b": 5.0, "c": 0.0}) == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert minmax({"a": 3.0, "b": 3.0}) == {"a": 1.0, "b": 1.0}
    assert minmax({}) == {}


def test_zscore_standardises():
    z = zscore({"a": 1.0, "b": 2.0, "c": 3.0})
    assert math.isclose(z["b"], 0.0) and math.isclose(z["a"], -z["c"])
    assert math.isclose(z["c"], math.sqrt(1.5))


def test_minmax_fusion_with_missing_keys_counts_them_as_zero():
    bm25 = {"a": 12.0, "b": 8.0, "c": 4.0}
    dense = {"b": 0.9, "d": 0.5, "a": 0.3}
    fused = fuse([bm25, dense], [0.5, 0.5], "minmax")
    # a: 0.5*1 + 0.5*0 ; b: 0.5*0.5 + 0.5*1 ; c: 0.5*0 + 0 ; d: 0 + 0.5*(0.2/0.6)
    assert fused == pytest.approx({"a": 0.5, "b": 0.75, "c": 0.0, "d": 1 / 6})
    assert [k for k, _ in top(fused, 2)] == ["b", "a"]


def test_weights_shift_the_balance():
    bm25 = {"a": 1.0, "b": 0.0}
    dense = {"a": 0.0, "b": 1.0}
    assert top(fuse([bm25, dense], [0.8, 0.2]), 1)[0][0] == "a"
    assert top(fuse([bm25, dense], [0.2, 0.8]), 1)[0][0] == "b"


def test_rrf_uses_ranks_only():
    first = {"a": 100.0, "b": 99.0}
    second = {"b": 0.2, "c": 0.1}
    fused = rrf([first, second])
    assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 62})
    assert fuse([first, second], method="rrf") == pytest.approx(
        {k: v * 0.5 for k, v in fused.items()}
    )


def test_single_candidate_run_does_not_lift_missing_keys():
    # one BM25 match: it normalises to 1, and the dense-only papers must not inherit that
    fused = fuse([{"x": 7.0}, {"x": 0.1, "y": 0.9}], [0.6, 0.4], "minmax")
    assert fused == pytest.approx({"x": 0.6, "y": 0.4})


def test_bad_arguments():
    with pytest.raises(ValueError, match="fusion"):
        fuse([{"a": 1.0}], method="average")
    with pytest.raises(ValueError, match="weights"):
        fuse([{"a": 1.0}, {"a": 1.0}], [1.0])


def test_zscore_single_match_still_counts():
    # one BM25 match standardises to 0; papers BM25 did not retrieve must still rank below it
    fused = fuse([{"x": 7.0}, {"x": 0.5, "y": 0.6, "z": 0.1}], [0.4, 0.6], "zscore")
    assert top(fused, 1)[0][0] == "x"


@pytest.mark.parametrize("method", ["zscore", "minmax", "rrf"])
def test_a_key_a_complete_run_cannot_score_competes_on_the_other_runs(method):
    bm25 = {"a": 9.0, "b": 5.0, "c": 1.0, "new": 8.0}
    dense = {"a": 0.9, "b": 0.5, "c": 0.1}  # scored every candidate it holds; "new" it lacks
    weights = [0.4, 0.6]
    penalised = fuse([bm25, dense], weights, method)
    fair = fuse([bm25, dense], weights, method, complete=[False, True])
    bm25_alone = fuse([bm25], [1.0], method)
    assert fair["new"] > penalised["new"]
    assert fair["new"] == pytest.approx(bm25_alone["new"])
    for key in "abc":  # keys both runs scored are unchanged
        assert fair[key] == pytest.approx(penalised[key])
    # "new" sits between "a" and "b" on BM25 alone, and so it does fused
    ranking = sorted(fair, key=fair.get, reverse=True)
    assert ranking.index("a") < ranking.index("new") < ranking.index("c")
