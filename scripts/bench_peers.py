#!/usr/bin/python3
"""churnctl's forest against the learners a user could pick, on churnctl's own folds.

  /usr/bin/python3 scripts/bench_peers.py TABLE.csv OOF.csv SUMMARY.json [--label churn] [--id user_id]
                                          [--trees 100] [--jobs 2] [--seed 42] [--min-samples-leaf 20]

TABLE.csv is the feature table churnctl trained on (numeric columns, label, id); OOF.csv is what
`churnctl train --oof-out` wrote for it (one row per table row, same order: id, as_of, fold, churn,
p_raw, p_calibrated); SUMMARY.json is train's summary line. Each peer (scikit-learn's
RandomForestClassifier with churnctl's settings and --min-samples-leaf, HistGradientBoostingClassifier, LogisticRegression
on standardised features, both default but class-balanced as the forest is) is cross-validated on
exactly churnctl's outer folds and scored as churnctl scores itself:

- churn F1 nested/tuned: each outer fold f is decided at the max-F1 threshold tuned on out-of-fold
  probabilities of f's training rows only, the other outer folds serving as inner folds (the model
  trained without folds f and g predicts g for f's threshold and f for g's: k(k-1)/2 extra fits),
  pooled over all validated rows (train's cv_f1_tuned);
- ROC-AUC, PR-AUC (average precision) and lift at the top 10 % (ceil(n/10) rows by descending
  probability, ties in row order) of the out-of-fold probabilities, and their Brier score;
- fit wall: one fit on all rows (n_jobs as --jobs where the learner takes it).

churnctl's own row: nested F1 and fit seconds from its summary; the other figures recomputed here
from its out-of-fold raw probabilities (and checked against the summary's). Prints one JSON line per
learner, then one line comparing each peer with churnctl. Needs Debian's python3-sklearn and
python3-pandas; run it with /usr/bin/python3.
"""
import argparse, json, math, sys, time
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier, HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import roc_auc_score, average_precision_score, brier_score_loss

ap = argparse.ArgumentParser()
ap.add_argument("table")
ap.add_argument("oof")
ap.add_argument("summary")
ap.add_argument("--label", default="churn")
ap.add_argument("--id", default="user_id")
ap.add_argument("--trees", type=int, default=100)
ap.add_argument("--jobs", type=int, default=2)
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--min-samples-leaf", type=int, default=20)
a = ap.parse_args()

df = pd.read_csv(a.table)
oof = pd.read_csv(a.oof, dtype={"id": str})
summary = json.loads(open(a.summary).read().strip().splitlines()[-1])
if len(df) != len(oof) or (df[a.id].astype(str).to_numpy() != oof["id"].to_numpy()).any():
    sys.exit(f"bench_peers: the OOF file's rows ({len(oof)}) are not the table's ({len(df)}): same rows, same order"
             " (train with --holdout-users 0)")
y = df[a.label].astype(int).to_numpy()
X = df.drop(columns=[c for c in (a.label, a.id, "as_of") if c in df.columns]).to_numpy(dtype=np.float64)
fold = oof["fold"].to_numpy()
folds = sorted(set(int(f) for f in fold if f >= 0))
k = len(folds)


def best_f1_threshold(s, l):
    """churnctl's evaluate.BestF1Threshold: walk distinct scores high to low, first max wins."""
    o = np.argsort(-s, kind="stable")
    s, l = s[o], l[o]
    pos = l.sum()
    tp = np.cumsum(l)
    fp = np.cumsum(1 - l)
    last = np.r_[s[1:] != s[:-1], True]  # the last row of each run of equal scores
    best, thr = -1.0, 0.5
    for i in np.nonzero(last)[0]:
        f1 = 2 * tp[i] / (2 * tp[i] + fp[i] + (pos - tp[i])) if pos else 0.0
        if f1 > best:
            best, thr = f1, s[i]
    return thr


def f1_of(pred, l):
    tp = int((pred & (l == 1)).sum()); fp = int((pred & (l == 0)).sum()); fn = int((~pred & (l == 1)).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def lift_at(s, l, pct):
    n = len(s)
    m = max(1, math.ceil(round(pct * n / 100, 9)))
    o = np.argsort(-s, kind="stable")[:m]
    prec = l[o].mean()
    return prec / l.mean(), prec, l[o].sum() / l.sum()


def figures(name, p, nested_f1, fit_s):
    v = fold >= 0
    s, l = p[v], y[v]
    lift, prec, rec = lift_at(s, l, 10)
    return {"learner": name, "rows": int(v.sum()), "folds": k, "f1_nested": nested_f1,
            "roc_auc": roc_auc_score(l, s), "pr_auc": average_precision_score(l, s),
            "top10_lift": lift, "top10_precision": prec, "top10_recall": rec,
            "brier": brier_score_loss(l, s), "fit_seconds": fit_s}


def evaluate_peer(name, make):
    idx = {f: np.nonzero(fold == f)[0] for f in folds}
    p = np.full(len(y), np.nan)
    for f in folds:
        tr = np.nonzero((fold >= 0) & (fold != f))[0]
        p[idx[f]] = make().fit(X[tr], y[tr]).predict_proba(X[idx[f]])[:, 1]
    inner = {}  # inner[(f, g)]: fold g's probabilities from the model trained without f and g
    for i, f in enumerate(folds):
        for g in folds[i + 1:]:
            tr = np.nonzero((fold >= 0) & (fold != f) & (fold != g))[0]
            m = make().fit(X[tr], y[tr])
            inner[(f, g)] = m.predict_proba(X[idx[g]])[:, 1]
            inner[(g, f)] = m.predict_proba(X[idx[f]])[:, 1]
    pred = np.zeros(len(y), dtype=bool)
    for f in folds:
        s = np.concatenate([inner[(f, g)] for g in folds if g != f])
        l = np.concatenate([y[idx[g]] for g in folds if g != f])
        t = best_f1_threshold(s, l)
        pred[idx[f]] = p[idx[f]] >= t
    v = fold >= 0
    nested = f1_of(pred[v], y[v])
    t0 = time.perf_counter()
    make().fit(X, y)
    fit_s = time.perf_counter() - t0
    return figures(name, p, nested, fit_s)


rows = []
ch = figures("churnctl_forest", oof["p_raw"].to_numpy(dtype=float), summary["cv_f1_tuned"], summary["fit_seconds"])
for key, mine in (("cv_roc_auc", "roc_auc"), ("cv_pr_auc", "pr_auc"), ("cv_top10_lift", "top10_lift")):
    if key in summary and abs(summary[key] - ch[mine]) > 1e-9:
        sys.exit(f"bench_peers: churnctl's {key} {summary[key]} differs from {ch[mine]} recomputed from its OOF file")
rows.append(ch)
peers = [
    ("sklearn_random_forest", lambda: RandomForestClassifier(n_estimators=a.trees, class_weight="balanced", min_samples_leaf=a.min_samples_leaf, n_jobs=a.jobs, random_state=a.seed)),
    ("sklearn_hist_gradient_boosting", lambda: HistGradientBoostingClassifier(class_weight="balanced", random_state=a.seed)),
    ("sklearn_logistic_regression", lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced"))),
]
for name, make in peers:
    rows.append(evaluate_peer(name, make))
for r in rows:
    print(json.dumps(r))
print(json.dumps({"vs_churnctl": {r["learner"]: {m: r[m] - ch[m] for m in ("f1_nested", "roc_auc", "pr_auc", "top10_lift")}
                                  | {"fit_ratio_churnctl_over_peer": ch["fit_seconds"] / r["fit_seconds"]} for r in rows[1:]}}))
