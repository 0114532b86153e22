"""Fit and compare relevance models on the digest benchmark's judged candidate pairs.

python benchmarks/digest_fit.py PAIRS.json [READ.tsv]
    (PAIRS written by ``digest_quality.py --pairs``; READ: ``digest_read.tsv``)

Every model is fitted on the ``fit`` pairs only (the arXiv fit week's interests of the fit
half and SciFact train), each kind of interest weighing the same, and its threshold is the one
with the best mean F1 over the kinds on those fit pairs. Figures are then reported on the
``test`` pairs (the simulated weeks' test-half interests, SciFact test): per kind, precision,
recall and F1 over the judged candidates (recall counts the relevant candidates only).
Models: ``cos`` (the logistic map of the cosine alone), ``cos+len`` (its slope and intercept
linear in the log of the query's word count), ``cos+len+rank`` (plus
the log of the candidate's rank in the retrieval), ``cos+z`` and ``cos+len+z`` (plus how far
the cosine stands above the interest's cosines with a sample of the stored papers, in standard
deviations: a threshold relative to the interest's own score distribution). The shipped
model (``relevance.Calibration``) came out of these comparisons: z for short topic phrases,
the cosine for everything else (BENCHMARKS.md, "Digest quality per kind of interest").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest_quality import load_read  # noqa: E402

from sciseek.search.relevance import SHORT_BM25_CAP  # noqa: E402

KINDS = ("keyword", "liked", "description", "claim")
SHORT_THRESHOLDS = [round(0.025 * i, 3) for i in range(1, 37)]
THRESHOLDS = [round(0.05 * i, 2) for i in range(2, 19)]


def features(rows: list, model: str) -> np.ndarray:
    """The design matrix of ``model`` (constant column last)."""
    cos = np.array([r[0] for r in rows])
    s = np.log(np.clip(np.array([r[1] for r in rows], dtype=float), 1, 64))
    rank = np.log1p(np.array([r[5] for r in rows], dtype=float))
    z = np.array([r[7] for r in rows])
    if model.startswith("short"):  # short topic phrases: z, with "+lex" the words, with
        cols = [z]  # "+phrase" whether the title holds the phrase, "+acronym" whether the
        # paper uses the phrase's acronym
        if "lex" in model:
            bm25 = np.minimum(np.array([r[8] for r in rows]), SHORT_BM25_CAP)
            cols += [bm25, np.array([r[9] for r in rows])]
        if "phrase" in model:
            cols += [np.array([r[10] for r in rows])]
        if "acronym" in model:
            cols += [np.array([r[11] for r in rows])]
        return np.column_stack([*cols, np.ones_like(z)])
    cols = [cos]
    if "len" in model:
        cols += [cos * s, s]
    if "rank" in model:
        cols += [rank]
    if "z" in model:
        cols += [z]
    return np.column_stack([*cols, np.ones_like(cos)])


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted logistic regression (a tiny L2 penalty keeps it finite)."""
    w = w / w.sum()

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ beta
        p = 1 / (1 + np.exp(-z))
        return (
            float(np.sum(w * (np.logaddexp(0, z) - y * z)) + 1e-6 * beta @ beta),
            x.T @ (w * (p - y)) + 2e-6 * beta,
        )

    return minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B").x


def prf(p: np.ndarray, y: np.ndarray, t: float) -> tuple[float, float, float]:
    """Precision, recall, F1 of p >= t."""
    chosen = p >= t
    tp = float(np.sum(chosen & (y == 1)))
    precision = tp / chosen.sum() if chosen.any() else 0.0
    recall = tp / y.sum() if y.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main() -> None:
    every = json.loads(Path(sys.argv[1]).read_text())
    rows = [r for r in every if r[2] >= 0]  # the lexically judged ones
    fit_rows = [r for r in rows if r[6] == "fit"]
    test_rows = [r for r in rows if r[6] == "test"]
    counts = {k: sum(r[3] == k for r in fit_rows) for k in KINDS}
    print("fit pairs per kind:", counts)
    print("test pairs per kind:", {k: sum(r[3] == k for r in test_rows) for k in KINDS})
    for model in ("cos", "cos+len", "cos+len+rank", "cos+z", "cos+len+z"):
        x, y = features(fit_rows, model), np.array([r[2] for r in fit_rows], dtype=float)
        w = np.array([1.0 / counts[r[3]] for r in fit_rows])
        beta = fit(x, y, w)
        p = 1 / (1 + np.exp(-(x @ beta)))
        kinds = np.array([r[3] for r in fit_rows])

        def mean_f1(t: float, p: np.ndarray = p, y: np.ndarray = y, kinds=kinds) -> float:
            return float(np.mean([prf(p[kinds == k], y[kinds == k], t)[2] for k in KINDS]))

        t = max(THRESHOLDS, key=mean_f1)
        print(f"\n{model}: coefficients {np.round(beta, 4).tolist()}, threshold {t}")
        print("| kind | precision | recall | F1 |")
        print("|---|---:|---:|---:|")
        xt = features(test_rows, model)
        yt = np.array([r[2] for r in test_rows], dtype=float)
        pt = 1 / (1 + np.exp(-(xt @ beta)))
        tk = np.array([r[3] for r in test_rows])
        for k in KINDS:
            precision, recall, f1 = prf(pt[tk == k], yt[tk == k], t)
            print(f"| {k} | {precision:.3f} | {recall:.3f} | {f1:.3f} |")
    short_models(rows)
    if len(sys.argv) > 2:
        short_models(read_labels(every, Path(sys.argv[2])), f"judged by reading ({sys.argv[2]})")


def read_labels(rows: list, path: Path) -> list:
    """The keyword rows of the phrases in the reading judgments ``path`` (phrase, paper,
    on_topic, part), labelled by reading: a pair of such a phrase outside the pool is not
    relevant, as in TREC pooling."""
    judged = load_read(path)
    out = []
    for r in rows:
        labels = judged.get((r[12], r[6])) if r[3] == "keyword" else None
        if labels is not None:
            out.append([*r[:2], labels.get(r[13], 0), *r[3:]])
    return out


def short_models(rows: list, label: str = "lexical judgments") -> None:
    """The short-phrase models, fitted and thresholded (best F1) on the fit week's keyword
    pairs alone, reported on the test weeks': ``short`` (z alone), ``short+lex`` (z, the
    capped BM25 share and the terms' coverage), ``short+lex+phrase`` (and whether the title
    holds the phrase) and ``short+lex+phrase+acronym`` (and whether the paper uses the
    phrase's acronym, the one ``relevance.py`` ships)."""
    fit_rows = [r for r in rows if r[6] == "fit" and r[3] == "keyword"]
    test_rows = [r for r in rows if r[6] == "test" and r[3] == "keyword"]
    print(f"\nshort topic phrases (keyword pairs only), {label}")
    print(
        "| model | coefficients (z, [bm25, coverage,] [phrase,] [acronym,] constant) "
        "| threshold "
        "| fit F1 | test precision | test recall | test F1 |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for model in ("short", "short+lex", "short+lex+phrase", "short+lex+phrase+acronym"):
        x, y = features(fit_rows, model), np.array([r[2] for r in fit_rows], dtype=float)
        beta = fit(x, y, np.ones(len(y)))
        p = 1 / (1 + np.exp(-(x @ beta)))
        t = max(SHORT_THRESHOLDS, key=lambda t: prf(p, y, t)[2])
        xt, yt = features(test_rows, model), np.array([r[2] for r in test_rows], dtype=float)
        pt = 1 / (1 + np.exp(-(xt @ beta)))
        precision, recall, f1 = prf(pt, yt, t)
        print(
            f"| {model} | {np.round(beta, 4).tolist()} | {t} | {prf(p, y, t)[2]:.3f} "
            f"| {precision:.3f} | {recall:.3f} | {f1:.3f} |"
        )
    print("\nthe last model's reliability: share judged relevant per band of P (mean P)")
    for part, probability, labels in (("fit", p, y), ("test", pt, yt)):
        print(f"{part}: " + reliability(probability, labels))


def reliability(p: np.ndarray, y: np.ndarray) -> str:
    """Pairs, share relevant and mean P in bands of P."""
    out = []
    for low, high in ((0.0, 0.1), (0.1, 0.35), (0.35, 0.6), (0.6, 0.8), (0.8, 1.01)):
        band = (p >= low) & (p < high)
        if band.any():
            out.append(
                f"[{low}, {min(high, 1.0)}): {band.sum()} pairs, {y[band].mean():.2f} "
                f"({p[band].mean():.2f})"
            )
    return "; ".join(out)


if __name__ == "__main__":
    main()
