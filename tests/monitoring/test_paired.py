"""Paired statistics against independent references (scipy, scikit-learn, statsmodels when
installed, brute force) on the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from decayguard.monitoring.paired import (
    accuracy_delta,
    auc_delta,
    brier_scores,
    confusion_delta,
    delong_paired,
    ece_delta,
    equal_mass_bins,
    expected_calibration_error,
    holm_adjust,
    mcnemar_exact,
    mean_difference_t,
    row_loss_delta,
)


def _binary(
    n: int, seed: int
) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64]]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    latent = rng.standard_normal(n)
    champion = 1 / (1 + np.exp(-(1.2 * (2 * y - 1) + latent + rng.standard_normal(n))))
    challenger = 1 / (1 + np.exp(-(1.5 * (2 * y - 1) + latent + rng.standard_normal(n))))
    return y, champion, challenger


def test_accuracy_cell_bootstrap_matches_scipy_paired_bootstrap() -> None:
    rng = np.random.default_rng(3)
    c = rng.random(800) < 0.8
    h = np.where(rng.random(800) < 0.85, c, ~c)
    ours = accuracy_delta(c, h, n_resamples=4000, rng=np.random.default_rng(1))
    ref = stats.bootstrap(
        (c.astype(float), h.astype(float)),
        lambda a, b, axis: b.mean(axis=axis) - a.mean(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=4000,
        method="percentile",
        rng=np.random.default_rng(2),
    )
    assert ours.delta == pytest.approx(h.mean() - c.mean())
    assert ours.lower == pytest.approx(ref.confidence_interval.low, abs=0.004)
    assert ours.upper == pytest.approx(ref.confidence_interval.high, abs=0.004)


@pytest.mark.parametrize("metric", ["precision", "recall", "f1"])
def test_confusion_metrics_match_sklearn(metric: str) -> None:
    rng = np.random.default_rng(5)
    t = rng.integers(0, 3, 600)
    c = np.where(rng.random(600) < 0.7, t, rng.integers(0, 3, 600))
    h = np.where(rng.random(600) < 0.8, t, rng.integers(0, 3, 600))
    score = {"precision": precision_score, "recall": recall_score, "f1": f1_score}[metric]
    macro = confusion_delta(metric, t, c, h, 3, rng=np.random.default_rng(0))
    assert macro.champion == pytest.approx(score(t, c, average="macro"))
    assert macro.challenger == pytest.approx(score(t, h, average="macro"))
    assert macro.lower < macro.delta < macro.upper
    tb, cb, hb = (a == 2 for a in (t, c, h))
    binary = confusion_delta(metric, tb, cb, hb, 2, positive=1)
    assert binary.champion == pytest.approx(score(tb, cb))
    assert binary.challenger == pytest.approx(score(tb, hb))
    # the cell bootstrap is a row bootstrap: same spread as resampling rows
    idx = np.random.default_rng(9).integers(0, 600, size=(2000, 600))

    def by_rows(pred: NDArray[np.bool_]) -> NDArray[np.float64]:
        tp = (tb[idx] & pred[idx]).sum(axis=1)
        denominator = {
            "precision": pred[idx].sum(axis=1),
            "recall": tb[idx].sum(axis=1),
            "f1": (pred[idx].sum(axis=1) + tb[idx].sum(axis=1)) / 2,
        }[metric]
        return np.asarray(tp / denominator, dtype=np.float64)

    rows = by_rows(hb) - by_rows(cb)
    assert binary.draws is not None
    assert np.std(binary.draws) == pytest.approx(np.std(rows), rel=0.1)


def test_mcnemar_exact_is_the_binomial_test_and_statsmodels() -> None:
    rng = np.random.default_rng(0)
    c = rng.random(300) < 0.8
    h = np.where(rng.random(300) < 0.9, c, ~c)
    b, k = int(np.sum(c & ~h)), int(np.sum(~c & h))
    assert mcnemar_exact(c, h) == pytest.approx(stats.binomtest(b, b + k, 0.5).pvalue)
    assert mcnemar_exact(c, c) == 1.0
    sm = pytest.importorskip("statsmodels.stats.contingency_tables")
    table = [[np.sum(c & h), b], [k, np.sum(~c & ~h)]]
    assert mcnemar_exact(c, h) == pytest.approx(sm.mcnemar(table, exact=True).pvalue)


def _delong_brute(y: NDArray[np.bool_], scores: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Structural components by all pairwise comparisons (DeLong et al. 1988), O(m k)."""
    out = []
    for s in scores:
        psi = (s[y][:, None] > s[~y][None, :]) + 0.5 * (s[y][:, None] == s[~y][None, :])
        out.append((psi.mean(), psi.mean(axis=1), psi.mean(axis=0)))
    v10 = np.vstack([o[1] for o in out])
    v01 = np.vstack([o[2] for o in out])
    cov = np.cov(v10) / y.sum() + np.cov(v01) / (~y).sum()
    return np.array([out[0][0], out[1][0], cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]])


def test_delong_matches_brute_force_sklearn_and_the_bootstrap() -> None:
    y, c, h = _binary(400, 1)
    c = np.round(c, 2)  # ties: midranks must count them one half
    d, p = delong_paired(y, c, h)
    auc_c, auc_h, variance = _delong_brute(y, [c, h])
    assert d.champion == pytest.approx(roc_auc_score(y, c)) == pytest.approx(auc_c)
    assert d.challenger == pytest.approx(roc_auc_score(y, h)) == pytest.approx(auc_h)
    assert d.se == pytest.approx(np.sqrt(variance))
    assert p == pytest.approx(2 * stats.norm.sf(abs(d.delta) / np.sqrt(variance)))
    boot = auc_delta(y[:, None], c[:, None], h[:, None], rng=np.random.default_rng(0))
    assert boot.delta == pytest.approx(d.delta)
    assert boot.draws is not None
    assert np.std(boot.draws) == pytest.approx(d.se, rel=0.1)


def test_macro_auc_matches_sklearn_ovr() -> None:
    rng = np.random.default_rng(2)
    t = rng.integers(0, 3, 500)
    onehot = np.eye(3)[t]
    pc = rng.dirichlet(np.ones(3), 500) + onehot
    ph = rng.dirichlet(np.ones(3), 500) + 2 * onehot
    pc, ph = pc / pc.sum(1, keepdims=True), ph / ph.sum(1, keepdims=True)
    d = auc_delta(onehot > 0, pc, ph, n_resamples=300)
    assert d.champion == pytest.approx(roc_auc_score(t, pc, multi_class="ovr", average="macro"))
    assert d.challenger == pytest.approx(roc_auc_score(t, ph, multi_class="ovr", average="macro"))


def test_brier_and_ece_match_sklearn() -> None:
    y, c, _ = _binary(1000, 4)
    assert brier_scores(y.astype(float), c).mean() == pytest.approx(brier_score_loss(y, c))
    prob_true, prob_pred = calibration_curve(y, c, n_bins=10, strategy="quantile")
    counts = np.bincount(equal_mass_bins(c, 10), minlength=10)
    reference = np.sum(counts[counts > 0] * np.abs(prob_true - prob_pred)) / y.size
    assert expected_calibration_error(y.astype(float), c, 10) == pytest.approx(reference)


def test_ece_cell_bootstrap_matches_the_row_bootstrap() -> None:
    y, c, h = _binary(3000, 6)
    yf = y.astype(float)
    h = np.clip(h * 0.8 + 0.15, 0, 1)  # a worse-calibrated challenger
    ours = ece_delta(yf, c, yf, h, rng=np.random.default_rng(0))
    bc, bh = equal_mass_bins(c, 10), equal_mass_bins(h, 10)
    idx = np.random.default_rng(1).integers(0, y.size, size=(2000, y.size))

    def ece(bins: NDArray[np.intp], p: NDArray[np.float64]) -> NDArray[np.float64]:
        flat = (np.arange(idx.shape[0])[:, None] * 10 + bins[idx]).ravel()
        sums = np.bincount(flat, weights=(yf - p)[idx].ravel(), minlength=idx.shape[0] * 10)
        return np.abs(sums.reshape(-1, 10)).sum(axis=1) / y.size

    rows = ece(bh, h) - ece(bc, c)
    lower, upper = np.quantile(rows, [0.025, 0.975])
    assert ours.delta == pytest.approx(
        expected_calibration_error(yf, h) - expected_calibration_error(yf, c)
    )
    assert ours.lower == pytest.approx(lower, abs=0.004)
    assert ours.upper == pytest.approx(upper, abs=0.004)


def test_paired_t_and_rmse_bootstrap_match_scipy_and_sklearn() -> None:
    rng = np.random.default_rng(7)
    y = rng.normal(size=500)
    ec, eh = y + rng.normal(0, 1.0, 500), y + rng.normal(0, 0.9, 500)
    t = mean_difference_t("mae", np.abs(ec - y), np.abs(eh - y))
    ref = stats.ttest_rel(np.abs(eh - y), np.abs(ec - y)).confidence_interval(0.95)
    assert (t.lower, t.upper) == pytest.approx((ref.low, ref.high))
    rmse = row_loss_delta("rmse", (ec - y) ** 2, (eh - y) ** 2, root=True)
    assert rmse.champion == pytest.approx(root_mean_squared_error(y, ec))
    assert rmse.challenger == pytest.approx(root_mean_squared_error(y, eh))
    assert rmse.lower < rmse.delta < rmse.upper


def test_p_beyond_inverts_the_interval() -> None:
    rng = np.random.default_rng(8)
    c = rng.random(1500) < 0.85
    h = np.where(rng.random(1500) < 0.9, c, rng.random(1500) < 0.8)
    d = accuracy_delta(c, h, confidence=0.90)
    # one-sided 95 %: p < 0.05 exactly when the 90 % interval's upper end is below the bound
    assert (d.p_beyond(d.upper + 0.001, higher_is_better=True) < 0.05) is True
    assert (d.p_beyond(d.upper - 0.003, higher_is_better=True) < 0.05) is False
    t = mean_difference_t("mae", c.astype(float), h.astype(float), confidence=0.90)
    assert t.p_beyond(t.lower, higher_is_better=False) == pytest.approx(0.05)


def test_holm_matches_statsmodels() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    assert holm_adjust(p) == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.5])
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    assert holm_adjust(p) == pytest.approx(multitest.multipletests(p, method="holm")[1])
