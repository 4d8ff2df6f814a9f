"""A boosted tree ensemble evaluated with numpy: how the highlighter's learned sentence scorer
runs without scikit-learn.

``bench/`` trains gradient-boosted trees with scikit-learn (``HistGradientBoostingClassifier``)
and exports them with :func:`export_sklearn` into a plain JSON-ready dict; at run time
:class:`TreeEnsemble` reads that dict and scores rows of features. All trees are packed into
``(trees, nodes)`` arrays and walked level by level for every row at once, so a passage of a
dozen sentences costs a few dozen numpy operations, whatever the number of trees.

A node sends a row left when ``x[feature] <= threshold`` (NaN goes where the training put
missing values); a leaf's value is added to the raw score; ``predict`` returns
``sigmoid(baseline + sum of leaf values)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FORMAT = "gbdt-v1"


class TreeEnsemble:
    """Packed binary trees; ``predict(x)`` -> probability per row of ``x``."""

    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} tree ensemble: {data.get('format')!r}")
        trees = data["trees"]
        if not trees:
            raise ValueError("a tree ensemble needs at least one tree")
        self.baseline = float(data["baseline"])
        self.n_features = int(data["n_features"])
        width = max(len(t["value"]) for t in trees)
        n = len(trees)
        self.feature = np.zeros((n, width), dtype=np.int64)
        self.threshold = np.zeros((n, width), dtype=np.float64)
        self.left = np.zeros((n, width), dtype=np.int64)
        self.right = np.zeros((n, width), dtype=np.int64)
        self.value = np.zeros((n, width), dtype=np.float64)
        self.leaf = np.ones((n, width), dtype=bool)
        self.nan_left = np.zeros((n, width), dtype=bool)
        for i, t in enumerate(trees):
            k = len(t["value"])
            self.feature[i, :k] = t["feature"]
            self.threshold[i, :k] = t["threshold"]
            self.left[i, :k] = t["left"]
            self.right[i, :k] = t["right"]
            self.value[i, :k] = t["value"]
            self.leaf[i, :k] = t["leaf"]
            self.nan_left[i, :k] = t["nan_left"]
        if (self.feature[~self.leaf] >= self.n_features).any():
            raise ValueError("a split uses a feature the ensemble does not have")
        self.depth = int(data["max_depth"])
        self._tree = np.arange(n)[None, :]

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The raw (log-odds) score of each row of ``x`` (rows x n_features)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got {x.shape}")
        rows = np.arange(len(x))[:, None]
        node = np.zeros((len(x), self.feature.shape[0]), dtype=np.int64)
        t = self._tree
        for _ in range(self.depth):
            leaf = self.leaf[t, node]
            if leaf.all():
                break
            v = x[rows, self.feature[t, node]]
            go_left = np.where(np.isnan(v), self.nan_left[t, node], v <= self.threshold[t, node])
            nxt = np.where(go_left, self.left[t, node], self.right[t, node])
            node = np.where(leaf, node, nxt)
        return self.baseline + self.value[t, node].sum(axis=1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The probability of each row of ``x``."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.raw(x), -50.0, 50.0)))


def export_sklearn(model: Any) -> dict[str, Any]:
    """The JSON-ready dict of a fitted binary ``HistGradientBoostingClassifier`` (used by the
    training scripts in ``bench/``; scikit-learn itself is not needed to load it)."""
    trees = []
    depth = 0
    for (pred,) in model._predictors:  # one predictor per iteration for a binary model
        nodes = pred.nodes
        trees.append(
            {
                "feature": [int(v) for v in nodes["feature_idx"]],
                "threshold": [float(v) for v in nodes["num_threshold"]],
                "left": [int(v) for v in nodes["left"]],
                "right": [int(v) for v in nodes["right"]],
                "value": [float(v) for v in nodes["value"]],
                "leaf": [bool(v) for v in nodes["is_leaf"]],
                "nan_left": [bool(v) for v in nodes["missing_go_to_left"]],
            }
        )
        depth = max(depth, int(nodes["depth"].max()) + 1)
    return {
        "format": FORMAT,
        "baseline": float(np.ravel(model._baseline_prediction)[0]),
        "n_features": int(model.n_features_in_),
        "max_depth": depth,
        "trees": trees,
    }
