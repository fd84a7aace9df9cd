"""The champion/challenger gate: a pure decision on paired scores, with its reason.

Both models are scored on the same rows (the retraining's time-based holdout, plus the
project's gold set); the gate decides on the *difference* challenger minus champion, with
an interval, never on two point values::

    gate = ChampionChallengerGate.from_config(cfg.gate, task, metric=cfg.gate_metric)
    decision = gate.decide(sample)
    decision.passed, decision.reason     # "failed: accuracy Δ -0.031 [-0.052, -0.010] ..."

Criteria, each a :class:`Criterion` in :attr:`GateDecision.criteria`:

- ``rows``: a sample with no usable rows fails closed, saying why;
- ``metric.<name>``: the paired-bootstrap interval of Δ on the primary metric must clear
  ``-margin`` (non-inferiority), or 0 with ``require_improvement``; exact McNemar (accuracy),
  DeLong's test for correlated AUCs (ROC AUC) or the paired per-row loss differences
  (MAE/RMSE) are reported beside it as cross-checks;
- ``slice.<column>=<value>``: no slice with at least ``min_slice_rows`` rows may regress
  beyond ``slice_margin`` (Holm-adjusted across slices);
- ``calibration.brier`` and ``calibration.ece`` (classifiers): may not worsen beyond
  ``calibration_margin``.

The burden of proof differs on purpose. The primary metric must be *shown* no worse: the lower
bound of its two-sided ``confidence`` interval must clear ``-margin`` (losses: Δ is challenger
minus champion too, its upper bound must stay below ``+margin``), so a challenger truly worse
by ``margin`` passes at most ``(1 - confidence) / 2`` of the time. Slices and calibration are
guard rails that fail only when the evidence *shows* harm beyond their margin (Holm-adjusted
one-sided p below ``1 - confidence``; the Brier or ECE worsening's lower bound above
``calibration_margin``): a 200-row slice's interval is wider than any useful margin, so asking
each slice to prove non-inferiority would reject most good challengers. Binary calibration is
the positive-class probability's; multiclass ECE is top-label (equal-mass bins).

No I/O here: :mod:`decayguard.training.gating` scores, smoke-tests and records the report.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from decayguard.errors import DecayguardError
from decayguard.monitoring.paired import (
    PairedDelta,
    accuracy_delta,
    auc_delta,
    brier_scores,
    confusion_delta,
    delong_paired,
    ece_delta,
    holm_adjust,
    mcnemar_exact,
    mean_difference_t,
    row_loss_delta,
)
from decayguard.monitoring.task_base import ModelOutputs, ModelTask

if TYPE_CHECKING:
    from decayguard.config import GateConfig

__all__ = ["ChampionChallengerGate", "Criterion", "GateDecision", "PairedSample", "row_losses"]

Floats = NDArray[np.float64]
LOSSES = frozenset({"mae", "rmse", "mape", "log_loss"})  # default margin: 1 % of the champion's
DEFAULT_MARGIN = 0.01  # ... and 0.01 for the metrics on a 0-1 scale


@dataclass(frozen=True, eq=False)
class PairedSample:
    """The rows both models were scored on."""

    task: ModelTask
    y_true: NDArray[Any]
    """Labels (class names as text, or floats for regression)."""
    champion: ModelOutputs
    challenger: ModelOutputs
    slices: pd.DataFrame
    """The slice columns' raw values, one row per sample row (may have no columns)."""
    source: NDArray[Any]
    """Where each row comes from: ``holdout`` or ``gold``."""

    @property
    def n(self) -> int:
        return len(self.y_true)


@dataclass(frozen=True)
class Criterion:
    """One thing the challenger must satisfy, with its figures."""

    name: str
    """``rows``, ``metric.<m>``, ``slice.<column>=<value>``, ``calibration.brier``, ..."""
    passed: bool
    detail: str
    """The figures in words, for the reason: "Δ -0.031 [-0.052, -0.010] below -0.010"."""
    delta: float | None = None
    lower: float | None = None
    upper: float | None = None
    threshold: float | None = None
    """The bound the interval had to clear (for example ``-margin``)."""
    n: int | None = None
    method: str = ""
    decides: bool = True
    """``False``: reported only (a slice below ``min_slice_rows``, a cross-check)."""
    extra: dict[str, float] | None = None
    """Method-specific figures (p-values of McNemar or DeLong, the two models' values)."""


def _json_float(value: float | None) -> float | None:  # strict JSON has no NaN
    return None if value is None or not np.isfinite(value) else float(value)


@dataclass(frozen=True)
class GateDecision:
    """Whether the challenger passed, why, and every criterion's figures."""

    passed: bool
    reason: str
    """One sentence; when failed it names every failed criterion with its figures."""
    metric: str
    confidence: float
    margin: float
    n_rows: int
    criteria: tuple[Criterion, ...]

    def criterion(self, name: str) -> Criterion:
        """The criterion called ``name`` (``KeyError`` when there is none)."""
        return {c.name: c for c in self.criteria}[name]

    def to_dict(self) -> dict[str, Any]:  # strict JSON: non-finite figures become None
        out = asdict(self)
        out["margin"] = _json_float(self.margin)
        for c in out["criteria"]:
            for key in ("delta", "lower", "upper", "threshold"):
                c[key] = _json_float(c[key])
            if c["extra"] is not None:
                c["extra"] = {k: _json_float(v) for k, v in c["extra"].items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateDecision:
        def number(value: float | None) -> float:
            return float("nan") if value is None else float(value)

        criteria = []
        for c in data["criteria"]:
            extra = c.get("extra")
            extra = None if extra is None else {k: number(v) for k, v in extra.items()}
            criteria.append(Criterion(**{**c, "extra": extra}))
        fields = {k: data[k] for k in ("passed", "reason", "metric", "confidence", "n_rows")}
        return cls(**fields, margin=number(data["margin"]), criteria=tuple(criteria))


def _f(value: float) -> str:  # a signed figure with 3 significant digits: +0.0123, -12.3
    return "nan" if not np.isfinite(value) else f"{value:+.3g}"


def _interval(d: PairedDelta) -> str:
    return f"{d.metric} Δ {_f(d.delta)} [{_f(d.lower)}, {_f(d.upper)}]"


class _Prepared:
    """The sample as the statistics' arrays; a :class:`DecayguardError` names what is unusable."""

    def __init__(self, sample: PairedSample) -> None:
        task, n = sample.task, sample.n
        self.n, self.classifier = n, task.name != "regression"
        if sample.champion.n != n or sample.challenger.n != n:
            raise DecayguardError(
                f"{n} labels but {sample.champion.n} champion and {sample.challenger.n} "
                "challenger outputs"
            )
        if len(sample.slices.columns) and len(sample.slices) != n:
            raise DecayguardError(f"{n} labels but {len(sample.slices)} slice rows")
        y = task.labels_array(sample.y_true)
        if not self.classifier:
            self.y = np.asarray(y, dtype=np.float64)
            self.pred = [
                np.asarray(o.predictions, dtype=np.float64)
                for o in (sample.champion, sample.challenger)
            ]
            bad = ~np.isfinite(self.y) | ~np.isfinite(self.pred[0]) | ~np.isfinite(self.pred[1])
            if bad.any():
                raise DecayguardError(f"{int(bad.sum())} rows have a non-finite label or output")
            return
        classes = tuple(task.classes or sample.champion.classes)
        self.k, self.classes = len(classes), classes
        code = {c: j for j, c in enumerate(classes)}
        self.t = self._codes(y, code, "labels")
        self.codes = [
            self._codes(o.predictions, code, "predictions")
            for o in (sample.champion, sample.challenger)
        ]
        positive = getattr(task, "positive", None)  # BinaryTask's (default: the last class)
        if positive is not None and positive not in code:
            raise DecayguardError(f"positive class {positive!r} is not one of {list(classes)}")
        self.positive = None if positive is None else code[positive]
        self.onehot = np.eye(self.k)[self.t]
        self.proba: list[Floats] | None = None
        if (
            sample.champion.probabilities is not None
            and sample.challenger.probabilities is not None
        ):
            self.proba = [self._aligned(o, classes) for o in (sample.champion, sample.challenger)]

    @staticmethod
    def _codes(values: NDArray[Any], code: dict[str, int], what: str) -> NDArray[np.intp]:
        texts = [str(v) for v in values]
        unknown = sorted({t for t in texts if t not in code})
        if unknown:
            raise DecayguardError(
                f"{sum(t not in code for t in texts)} {what} outside the classes "
                f"{list(code)}: {unknown[:5]}"
            )
        return np.fromiter((code[t] for t in texts), dtype=np.intp, count=len(texts))

    @staticmethod
    def _aligned(outputs: ModelOutputs, classes: tuple[str, ...]) -> Floats:
        assert outputs.probabilities is not None
        if not outputs.classes or tuple(outputs.classes) == classes:
            return outputs.probabilities
        if set(outputs.classes) != set(classes):
            raise DecayguardError(f"outputs for classes {list(outputs.classes)}, not {classes}")
        order = [list(outputs.classes).index(c) for c in classes]
        return outputs.probabilities[:, order]

    def losses(self, metric: str) -> tuple[Floats, Floats]:
        """Per-row losses of both models (``rmse``: squared errors)."""
        if self.classifier:
            if self.proba is None:
                raise DecayguardError(f"{metric} needs both models' class probabilities")
            tiny = np.finfo(np.float64).eps
            p = [np.clip((q * self.onehot).sum(axis=1), tiny, 1.0) for q in self.proba]
            return -np.log(p[0]), -np.log(p[1])
        e = [p - self.y for p in self.pred]
        if metric == "mae":
            return np.abs(e[0]), np.abs(e[1])
        if metric == "rmse":
            return e[0] ** 2, e[1] ** 2
        scale = np.maximum(np.abs(self.y), np.finfo(np.float64).eps)
        return np.abs(e[0]) / scale, np.abs(e[1]) / scale

    def delta(
        self, metric: str, rows: NDArray[np.intp] | slice, b: int, conf: float, seed: Any
    ) -> PairedDelta:
        """The paired Δ of ``metric`` on ``rows``."""
        rng = np.random.default_rng(seed)
        if not self.classifier or metric == "log_loss":
            loss_c, loss_h = (x[rows] for x in self.losses(metric))
            return row_loss_delta(
                metric,
                loss_c,
                loss_h,
                root=metric == "rmse",
                n_resamples=b,
                confidence=conf,
                rng=rng,
            )
        t, c, h = self.t[rows], self.codes[0][rows], self.codes[1][rows]
        if metric == "accuracy":
            return accuracy_delta(t == c, t == h, n_resamples=b, confidence=conf, rng=rng)
        if metric == "roc_auc":
            if self.proba is None:
                raise DecayguardError("roc_auc needs both models' class probabilities")
            cols = [self.positive] if self.positive is not None else list(range(self.k))
            truth = self.onehot[rows][:, cols] > 0.5
            pc, ph = (q[rows][:, cols] for q in self.proba)
            return auc_delta(truth, pc, ph, n_resamples=b, confidence=conf, rng=rng)
        return confusion_delta(
            metric, t, c, h, self.k, positive=self.positive, n_resamples=b, confidence=conf,
            rng=rng,
        )  # fmt: skip


def row_losses(sample: PairedSample, metric: str) -> tuple[Floats, Floats]:
    """Per-row losses of champion and challenger for ``metric`` (the rollout judge's too):
    0-1 losses for the classifier metrics other than ``log_loss``; ``rmse``: squared errors."""
    data = _Prepared(sample)
    if data.classifier and metric != "log_loss":
        return (data.t != data.codes[0]).astype(np.float64), (data.t != data.codes[1]) * 1.0
    return data.losses(metric)


class ChampionChallengerGate:
    """The gate's statistics and rules; :meth:`decide` is its one verb.

    ``margin=None``: 0.01 for 0-1 metrics, 1 % of the champion's value for losses — of
    ``champion_value`` when given (for example the champion's figure on its own holdout), else
    of the champion's value on the sample. ``ece_bins``: equal-mass bins of the ECE.
    """

    def __init__(
        self,
        *,
        metric: str,
        confidence: float = 0.95,
        margin: float | None = None,
        require_improvement: bool = False,
        slices: tuple[str, ...] = (),
        slice_bins: int = 4,
        min_slice_rows: int = 200,
        slice_margin: float = 0.05,
        calibration_margin: float = 0.02,
        n_resamples: int = 2000,
        random_state: int = 0,
        champion_value: float | None = None,
        ece_bins: int = 10,
    ) -> None:
        self.metric = metric
        self.confidence = confidence
        self.margin = margin
        self.require_improvement = require_improvement
        self.slices = tuple(slices)
        self.slice_bins = slice_bins
        self.min_slice_rows = min_slice_rows
        self.slice_margin = slice_margin
        self.calibration_margin = calibration_margin
        self.n_resamples = n_resamples
        self.random_state = random_state
        self.champion_value = champion_value
        self.ece_bins = ece_bins

    @classmethod
    def from_config(
        cls,
        gate_cfg: GateConfig,
        task: ModelTask,
        *,
        metric: str | None = None,
        champion_value: float | None = None,
        random_state: int = 0,
    ) -> ChampionChallengerGate:
        """The gate of a project's ``gate`` section (``metric``: ``cfg.gate_metric``)."""
        chosen = metric or gate_cfg.metric or task.primary_metric
        task.higher_is_better(chosen)  # a MonitoringError naming the task's metrics
        return cls(
            metric=chosen,
            confidence=gate_cfg.confidence,
            margin=gate_cfg.margin,
            require_improvement=gate_cfg.require_improvement,
            slices=tuple(gate_cfg.slices),
            slice_bins=gate_cfg.slice_bins,
            min_slice_rows=gate_cfg.min_slice_rows,
            slice_margin=gate_cfg.slice_margin,
            calibration_margin=gate_cfg.calibration_margin,
            n_resamples=gate_cfg.n_resamples,
            random_state=random_state,
            champion_value=champion_value,
        )

    def decide(self, sample: PairedSample) -> GateDecision:
        """Passed only when every deciding criterion passed; fails closed on unusable rows."""
        higher = sample.task.higher_is_better(self.metric)
        margin = self.margin if self.margin is not None else DEFAULT_MARGIN
        try:
            if sample.n == 0:
                raise DecayguardError("no usable rows (0 scored by both models)")
            data = _Prepared(sample)
            primary = data.delta(self.metric, slice(None), *self._draws("primary"))
            if self.margin is None and self.metric in LOSSES:
                base = self.champion_value if self.champion_value is not None else primary.champion
                margin = DEFAULT_MARGIN * abs(base)
        except DecayguardError as exc:
            rows = Criterion("rows", False, f"{exc}; failed closed", n=sample.n)
            return self._decision((rows,), margin, sample.n)
        counts = pd.Series(sample.source, dtype=object).astype(str).value_counts()
        where = ", ".join(f"{k} {v}" for k, v in counts.items())
        rows = Criterion("rows", True, f"{sample.n} rows" + (f" ({where})" if where else ""))
        criteria = [rows, self._primary(primary, margin, higher), *self._cross_checks(data)]
        criteria += self._slices(sample, data, higher)
        criteria += self._calibration(data) if data.classifier else []
        return self._decision(tuple(criteria), margin, sample.n)

    def _draws(self, name: str) -> tuple[int, float, Any]:
        return self.n_resamples, self.confidence, [self.random_state, zlib.crc32(name.encode())]

    def _primary(self, d: PairedDelta, margin: float, higher: bool) -> Criterion:
        bound = 0.0 if self.require_improvement else (-margin if higher else margin)
        if higher:
            passed, side = d.lower > bound, "lower bound above" if d.lower > bound else "below"
        else:
            passed, side = d.upper < bound, "upper bound below" if d.upper < bound else "above"
        detail = f"{_interval(d)} {side} {_f(bound)}"
        return Criterion(
            f"metric.{self.metric}", bool(passed), detail, d.delta, d.lower, d.upper, bound, d.n,
            d.method, True, {"champion": d.champion, "challenger": d.challenger},
        )  # fmt: skip

    def _cross_checks(self, data: _Prepared) -> list[Criterion]:
        out: list[Criterion] = []
        if self.metric == "accuracy":
            right = [data.t == c for c in data.codes]
            p = mcnemar_exact(*right)
            b, c = int(np.sum(right[0] & ~right[1])), int(np.sum(~right[0] & right[1]))
            detail = f"exact McNemar p {p:.3g} (only champion right {b}, only challenger {c})"
            extra = {"p_value": p, "only_champion": float(b), "only_challenger": float(c)}
            out.append(Criterion("check.mcnemar", True, detail, n=data.n, method="mcnemar-exact",
                                 decides=False, extra=extra))  # fmt: skip
        if self.metric == "roc_auc" and data.positive is not None and data.proba is not None:
            truth = data.t == data.positive
            scores = [q[:, data.positive] for q in data.proba]
            d, p = delong_paired(truth, scores[0], scores[1])
            out.append(self._check("check.delong", d, {"p_value": p}, f"DeLong p {p:.3g}"))
        if self.metric in ("mae", "rmse", "log_loss", "mape"):
            losses = data.losses(self.metric)
            d = mean_difference_t(self.metric, losses[0], losses[1], self.confidence)
            name = "mse" if self.metric == "rmse" else self.metric
            d = replace(d, metric=f"per-row {name}")
            out.append(self._check("check.paired_t", d, {}, f"t interval, se {d.se:.3g}"))
        return out

    @staticmethod
    def _check(name: str, d: PairedDelta, extra: dict[str, float], note: str) -> Criterion:
        return Criterion(name, True, f"{_interval(d)}, {note}", d.delta, d.lower, d.upper,
                         None, d.n, d.method, False, extra)  # fmt: skip

    def _slice_keys(self, sample: PairedSample) -> list[tuple[str, NDArray[np.intp]]]:
        keys: list[tuple[str, NDArray[np.intp]]] = []
        for column in self.slices:
            if column not in sample.slices.columns:
                raise DecayguardError(f"slice column {column!r} is not in the sample")
            values = sample.slices[column]
            if values.dtype.kind in "iuf" and values.nunique() > self.slice_bins:
                bins, edges = pd.qcut(values, self.slice_bins, labels=False, retbins=True,
                                      duplicates="drop")  # fmt: skip
                codes = np.where(np.isnan(bins), len(edges) - 1, bins).astype(np.intp)
                uniques = [f"{'[' if j == 0 else '('}{edges[j]:.4g}, {edges[j + 1]:.4g}]"
                           for j in range(len(edges) - 1)] + ["<missing>"]  # fmt: skip
            else:
                labels = values.astype(object).where(values.notna(), "<missing>").astype(str)
                codes, found = pd.factorize(labels, sort=True)
                uniques = [str(v) for v in found]
            for j, value in enumerate(uniques):
                keys.append((f"slice.{column}={value}", np.flatnonzero(codes == j)))
        return keys

    def _slices(self, sample: PairedSample, data: _Prepared, higher: bool) -> list[Criterion]:
        try:
            keys = self._slice_keys(sample)
        except DecayguardError as exc:
            return [Criterion("slice", False, f"{exc}; failed closed")]
        bound = -self.slice_margin if higher else self.slice_margin
        out: dict[str, Criterion] = {}
        tested: list[tuple[str, PairedDelta, float]] = []
        for name, rows in keys:
            if rows.size == 0:
                continue
            if rows.size < self.min_slice_rows:
                detail = f"{rows.size} rows < min_slice_rows {self.min_slice_rows}: reported only"
                out[name] = Criterion(name, True, detail, n=int(rows.size), decides=False)
                continue
            d = data.delta(self.metric, rows, *self._draws(name))
            p = d.p_beyond(bound, higher_is_better=higher)
            out[name] = self._check(name, d, {}, f"{self.metric} undefined: reported only")
            if np.isfinite(p):
                tested.append((name, d, p))
        alpha = 1 - self.confidence
        for (name, d, p), p_holm in zip(tested, holm_adjust([t[2] for t in tested]), strict=True):
            passed = bool(p_holm >= alpha)
            verb = "within" if passed else "beyond"
            detail = f"{_interval(d)} {verb} {_f(bound)} (Holm p {p_holm:.3g}, n {d.n})"
            extra = {"p_value": p, "p_holm": float(p_holm)}
            out[name] = Criterion(name, passed, detail, d.delta, d.lower, d.upper, bound, d.n,
                                  d.method, True, extra)  # fmt: skip
        return list(out.values())

    def _calibration(self, data: _Prepared) -> list[Criterion]:
        if data.proba is None:
            reason = "no class probabilities from both models; failed closed"
            return [Criterion("calibration", False, reason, n=data.n)]
        if data.positive is not None:  # binary: the positive-class probability
            j = data.positive
            outcome = [data.onehot[:, j]] * 2
            prob = [q[:, j] for q in data.proba]
            brier = [brier_scores(data.onehot[:, j], q[:, j]) for q in data.proba]
        else:  # multiclass: top-label calibration, full Brier score
            top = [q.argmax(axis=1) for q in data.proba]
            outcome = [(data.t == k).astype(np.float64) for k in top]
            prob = [q.max(axis=1) for q in data.proba]
            brier = [brier_scores(data.onehot, q) for q in data.proba]
        b, conf, seed = self._draws("calibration.ece")
        deltas = [
            mean_difference_t("brier", brier[0], brier[1], conf),
            ece_delta(outcome[0], prob[0], outcome[1], prob[1], bins=self.ece_bins,
                      n_resamples=b, confidence=conf, rng=np.random.default_rng(seed)),
        ]  # fmt: skip
        out = []
        for d in deltas:
            worse = bool(d.lower > self.calibration_margin)
            verb = "worse by more than" if worse else "not shown worse than"
            detail = f"{_interval(d)} {verb} {_f(self.calibration_margin)}"
            extra = {"champion": d.champion, "challenger": d.challenger}
            name, bound = f"calibration.{d.metric}", self.calibration_margin
            out.append(Criterion(name, not worse, detail, d.delta, d.lower, d.upper, bound, d.n,
                                 d.method, True, extra))  # fmt: skip
        return out

    def _decision(self, criteria: tuple[Criterion, ...], margin: float, n: int) -> GateDecision:
        failed = [c for c in criteria if c.decides and not c.passed]
        if failed:
            reason = "failed: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
        else:
            primary = next(c for c in criteria if c.name.startswith("metric."))
            reason = f"passed: {primary.detail}"
        return GateDecision(not failed, reason, self.metric, self.confidence, margin, n, criteria)
