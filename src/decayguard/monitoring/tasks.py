"""What differs between binary, multiclass and regression models: one strategy object per task.

The monitor run, the release and the feedback estimates never ask ``if task == ...``; they ask
the project's :class:`ModelTask` (picked from ``model.task`` by :func:`task_for`) for its
metrics, its label-free estimator, its realized metrics and its prediction-drift test.

CONTRACT (filled in by the monitoring work of issue 10; the names and signatures below are
what ``watch/``, ``feedback/``, ``release`` and ``config`` rely on):

* :data:`TASK_METRICS` / :data:`THRESHOLD_METRICS`: metric names per task (the second: those a
  ``monitoring.performance_thresholds`` key may name, i.e. those with a direction);
* :class:`ModelOutputs`: what a model said about ``n`` rows;
* :class:`ModelTask` with ``fit_estimator``, ``estimate``, ``realized``,
  ``fit_prediction_profile``, ``detect_prediction_drift``, ``outputs_from_log``,
  ``check_label``; ``estimator_to_dict`` / ``estimator_from_dict`` (no pickle);
* :func:`task_for` builds one from the task name and the model's classes.
"""

from __future__ import annotations

from decayguard.task_metrics import TASK_METRICS, THRESHOLD_METRICS

__all__ = ["TASK_METRICS", "THRESHOLD_METRICS"]
