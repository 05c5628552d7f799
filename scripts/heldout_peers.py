#!/usr/bin/python3
"""Held-out comparison: churnctl's forest (its predictions) vs sklearn RF, HGB, LR trained on the same
training users' rows. Held-out users: churnctl's UserSplit (sha256(id)[:8] big endian < 0.2 * 2^64).
Threshold of every model: the F1-best one on out-of-fold probabilities of the training rows (5 folds
grouped by user) - never chosen on held-out rows; churnctl's is the one stored in its model.
usage: heldout_peers.py PRED.csv f-YYYY-MM-DD.csv...  -> one JSON line per model (scripts/heldout_table.sh runs it)
Feature CSVs are named f-AS_OF.csv (CSV snapshots carry no as_of column). lift10: churn rate among the top
10 % of held-out rows by probability over the held-out base rate."""
import sys, json, hashlib
import numpy as np, pandas as pd
from sklearn.ensemble import RandomForestClassifier, HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.metrics import f1_score, roc_auc_score, average_precision_score, precision_recall_curve

pred = pd.read_csv(sys.argv[1], dtype={"user_id": str})
import os
df = pd.concat([pd.read_csv(f, dtype={"user_id": str}).assign(as_of=os.path.basename(f)[2:12]) for f in sys.argv[2:]], ignore_index=True)
df = df[df["churn"].notna()].reset_index(drop=True)
held = df["user_id"].map(lambda u: int.from_bytes(hashlib.sha256(u.encode()).digest()[:8], "big") < 0.2 * 2**64).to_numpy()
feat = [c for c in df.columns if c not in ("user_id", "as_of", "churn")]
X = df[feat].astype(float).to_numpy(); y = df["churn"].astype(int).to_numpy(); g = df["user_id"].to_numpy()

def metrics(name, p, yv, thr, extra={}):
    order = np.argsort(-p, kind="stable"); k = int(np.ceil(0.1 * len(p)))
    lift = yv[order[:k]].mean() / yv.mean()
    out = {"model": name, "rows": int(len(yv)), "pos": int(yv.sum()), "f1": f1_score(yv, p >= thr),
           "roc_auc": roc_auc_score(yv, p), "pr_auc": average_precision_score(yv, p), "lift10": lift, "threshold": thr}
    out.update(extra); print(json.dumps(out), flush=True)

# churnctl: its own predictions of the held-out rows, at its stored threshold
m = df[held].merge(pred, on=["user_id", "as_of"], how="left")
assert m["p_churn"].notna().all(), "predictions miss held-out rows"
thr_c = float(pred.loc[pred["predicted"] == 1, "p_churn"].min())
metrics("churnctl_forest", m["p_churn"].to_numpy(), m["churn"].astype(int).to_numpy(), thr_c)

def best_thr(yv, p):
    pr, rc, th = precision_recall_curve(yv, p)
    f = 2 * pr * rc / np.maximum(pr + rc, 1e-12)
    return float(th[np.argmax(f[:-1])])

Xt, yt, gt = X[~held], y[~held], g[~held]
mk = {
    "sklearn_rf": lambda: RandomForestClassifier(n_estimators=100, class_weight="balanced", min_samples_leaf=int(os.environ.get("LEAF", "20")), n_jobs=2, random_state=42),
    "sklearn_hgb": lambda: HistGradientBoostingClassifier(class_weight="balanced", random_state=42),
    "sklearn_lr": lambda: make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000)),
}
for name, f in mk.items():
    oof = np.zeros(len(yt))
    for tr, te in StratifiedGroupKFold(5, shuffle=True, random_state=42).split(Xt, yt, gt):
        oof[te] = f().fit(Xt[tr], yt[tr]).predict_proba(Xt[te])[:, 1]
    thr = best_thr(yt, oof)
    p = f().fit(Xt, yt).predict_proba(X[held])[:, 1]
    metrics(name, p, y[held], thr, {"cv_roc_auc": roc_auc_score(yt, oof)})
