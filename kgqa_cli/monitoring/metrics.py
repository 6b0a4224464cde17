"""Model Monitor's multiclass formats: ``statistics.json``, ``constraints.json``,
``constraint_violations.json`` (the **contract** of SageMaker Model Monitor), computed with scikit-learn.

Every metric is ``{"value": v, "standard_deviation": s}``; the standard deviation comes from
bootstrap resamples (seeded) once there are 200 samples, else it is ``"NaN"``, as Model Monitor
writes it. Each metric has a ``*_best_constant_classifier`` twin: the same metric of always
predicting the most frequent true class.
"""

from __future__ import annotations

import math
from collections import Counter

METRICS = ("accuracy", "weighted_recall", "weighted_precision", "weighted_f0_5", "weighted_f1", "weighted_f2")
MIN_SAMPLES_FOR_DEVIATION = 200


def _metric_values(y_true: list[str], y_pred: list[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, fbeta_score, precision_score, recall_score

    weighted = {"average": "weighted", "zero_division": 0}
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "weighted_recall": float(recall_score(y_true, y_pred, **weighted)),
        "weighted_precision": float(precision_score(y_true, y_pred, **weighted)),
        "weighted_f0_5": float(fbeta_score(y_true, y_pred, beta=0.5, **weighted)),
        "weighted_f1": float(fbeta_score(y_true, y_pred, beta=1.0, **weighted)),
        "weighted_f2": float(fbeta_score(y_true, y_pred, beta=2.0, **weighted)),
    }


def _deviations(y_true: list[str], y_pred: list[str], samples: int, seed: int) -> dict[str, float | str]:
    if len(y_true) < MIN_SAMPLES_FOR_DEVIATION:
        return dict.fromkeys(METRICS, "NaN")
    import numpy as np

    rng = np.random.default_rng(seed)
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    draws = [_metric_values(list(true[idx]), list(pred[idx]))
             for idx in (rng.integers(0, len(true), len(true)) for _ in range(samples))]
    return {name: float(np.std([draw[name] for draw in draws], ddof=1)) for name in METRICS}


def multiclass_statistics(y_true: list[str], y_pred: list[str], *, bootstrap: int = 30, seed: int = 0) -> dict:
    """``statistics.json`` of Model Monitor's multiclass model-quality job."""
    from sklearn.metrics import confusion_matrix

    if not y_true:
        raise ValueError("no labelled predictions to score")
    labels = sorted(set(y_true) | set(y_pred))
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    values = _metric_values(y_true, y_pred)
    deviations = _deviations(y_true, y_pred, bootstrap, seed)
    constant = Counter(y_true).most_common(1)[0][0]
    constant_values = _metric_values(y_true, [constant] * len(y_true))
    metrics: dict = {"confusion_matrix": {
        truth: {pred: int(matrix[i][j]) for j, pred in enumerate(labels) if matrix[i][j]} for i, truth in enumerate(labels)
        if matrix[i].sum()
    }}
    for name in METRICS:
        metrics[name] = {"value": values[name], "standard_deviation": deviations[name]}
        metrics[f"{name}_best_constant_classifier"] = {"value": constant_values[name], "standard_deviation": "NaN"}
    return {"version": 0.0, "dataset": {"item_count": len(y_true)}, "multiclass_classification_metrics": metrics}


def suggest_constraints(statistics: dict, margin: float = 0.0) -> dict:
    """``constraints.json``: each metric must not fall below its baseline value (less ``margin``;
    0 gives Model Monitor's own suggestion, the baseline value itself)."""
    metrics = statistics["multiclass_classification_metrics"]
    return {"version": 0.0, "multiclass_classification_constraints": {
        name: {"threshold": round(max(0.0, metrics[name]["value"] - margin), 6), "comparison_operator": "LessThanThreshold"}
        for name in METRICS
    }}


def violations(statistics: dict, constraints: dict) -> list[dict]:
    """``constraint_violations.json``'s entries for the metrics below their thresholds."""
    found = []
    metrics = statistics["multiclass_classification_metrics"]
    for name, rule in constraints["multiclass_classification_constraints"].items():
        value = metrics.get(name, {}).get("value")
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if rule["comparison_operator"] == "LessThanThreshold" and value < rule["threshold"]:
            found.append({"constraint_check_type": "LessThanThreshold", "metric_name": name,
                          "description": f"Metric {name} with {value} was LessThanThreshold {rule['threshold']}"})
    return found
