"""Generate crates/evoprune-nn/tests/fixtures/auroc.json: AUROC cases checked against scikit-learn.

Run: python3 scripts/make_auroc_fixture.py   (needs numpy and scikit-learn)
Scores are rounded to few decimals so ties are common; label 1 = positive (in-distribution).
"""
import json
import numpy as np
from sklearn.metrics import roc_auc_score

rng = np.random.default_rng(20261121)
cases = []
for n_pos, n_neg, decimals, shift in [(5, 5, 1, 0.0), (50, 30, 2, 0.3), (200, 200, 1, 0.5), (1000, 700, 3, 0.1), (7, 300, 1, -0.2), (100, 100, 0, 0.0)]:
    pos = np.round(rng.normal(shift, 1.0, n_pos), decimals)
    neg = np.round(rng.normal(0.0, 1.0, n_neg), decimals)
    y = np.concatenate([np.ones(n_pos), np.zeros(n_neg)])
    s = np.concatenate([pos, neg])
    cases.append({"pos": pos.tolist(), "neg": neg.tolist(), "auroc": float(roc_auc_score(y, s))})
with open("crates/evoprune-nn/tests/fixtures/auroc.json", "w") as f:
    json.dump({"generator": "scripts/make_auroc_fixture.py", "sklearn_roc_auc_score": cases}, f)
print(len(cases), "cases")
