"""The numpy tree-ensemble evaluator: hand-made trees, and scikit-learn as the reference."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.trees import FORMAT, TreeEnsemble, export_sklearn

pytestmark = pytest.mark.unit


def stump(feature: int, threshold: float, lo: float, hi: float) -> dict:
    return {
        "feature": [feature, 0, 0],
        "threshold": [threshold, 0.0, 0.0],
        "left": [1, 0, 0],
        "right": [2, 0, 0],
        "value": [0.0, lo, hi],
        "leaf": [False, True, True],
        "nan_left": [False, False, False],
    }


def ensemble(*trees: dict, baseline: float = 0.0) -> TreeEnsemble:
    return TreeEnsemble(
        {"format": FORMAT, "baseline": baseline, "n_features": 2, "max_depth": 2, "trees": trees}
    )


def test_hand_made_trees_add_their_leaves():
    t = ensemble(stump(0, 0.5, -1.0, 2.0), stump(1, 0.0, 0.25, -0.5), baseline=0.1)
    x = np.array([[0.0, -1.0], [1.0, -1.0], [0.5, 3.0], [np.nan, 3.0]])
    assert np.allclose(t.raw(x), [0.1 - 1 + 0.25, 0.1 + 2 + 0.25, 0.1 - 1 - 0.5, 0.1 + 2 - 0.5])
    p = t.predict(x)
    assert np.allclose(p, 1 / (1 + np.exp(-t.raw(x))))
    assert np.all((p > 0) & (p < 1))


def test_bad_input_is_refused():
    t = ensemble(stump(0, 0.5, -1.0, 2.0))
    with pytest.raises(ValueError, match="2 features"):
        t.raw(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="gbdt"):
        TreeEnsemble({"format": "other"})
    with pytest.raises(ValueError, match="feature"):
        ensemble(stump(7, 0.5, -1.0, 2.0))


def test_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.ensemble")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 6))
    y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(size=2000) * 0.5 > 0).astype(int)
    x[rng.random(x.shape) < 0.03] = np.nan
    model = sk.HistGradientBoostingClassifier(max_iter=60, max_leaf_nodes=15, random_state=0)
    model.fit(x, y)
    ours = TreeEnsemble(json.loads(json.dumps(export_sklearn(model))))  # via JSON, as shipped
    xt = rng.normal(size=(300, 6))
    xt[rng.random(xt.shape) < 0.05] = np.nan
    assert np.abs(ours.predict(xt) - model.predict_proba(xt)[:, 1]).max() < 1e-9
