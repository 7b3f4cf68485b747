#!/usr/bin/python3
"""check_ood_metrics.py — natadv's ImageNet-O measures (filter/eval_ood.c,
through `test_eval --measures`) against Debian's python3-sklearn: AUROC and
average precision from sklearn.metrics itself, and the FPR at the recall
nearest 95% from fpr_at_recall() below, which follows calibration_tools'
fpr_and_fdr_at_recall of hendrycks/natural-adv-examples step by step.
Random scores, scores with many ties, all tied, separable and reversed sets,
at several recall levels. Part of make check-pytorch, not make test.
Usage: /usr/bin/python3 scripts/check_ood_metrics.py build/rel/tests/test_eval
       /usr/bin/python3 scripts/check_ood_metrics.py --golden   (test_eval.c's golden case)"""
import subprocess
import sys

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

TOL = 1e-12


def fpr_at_recall(labels, scores, level):
    """The FPR at the recall nearest `level`, as fpr_and_fdr_at_recall:
    thresholds at the distinct scores of a stable descending sort, kept up to
    the first at full recall, walked from there back to the highest score;
    np.argmin picks the first of equal distances."""
    order = np.argsort(scores, kind="mergesort")[::-1]
    s = scores[order]
    y = labels[order] == 1
    cut = np.r_[np.where(np.diff(s))[0], y.size - 1]
    tps = np.cumsum(y, dtype=np.float64)[cut]
    fps = 1 + cut - tps
    recall = tps / tps[-1]
    last = tps.searchsorted(tps[-1])
    walk = slice(last, None, -1)
    recall = np.r_[recall[walk], 1]
    fps = np.r_[fps[walk], 0]
    best = np.argmin(np.abs(recall - level))
    return fps[best] / np.sum(~y)


def reference(pos, neg, level):
    scores = np.concatenate([pos, neg])
    labels = np.zeros(len(scores), dtype=np.int32)
    labels[: len(pos)] = 1
    return (roc_auc_score(labels, scores), average_precision_score(labels, scores),
            fpr_at_recall(labels, scores, level))


def natadv(binary, pos, neg, level):
    lines = ["1 %r" % float(v) for v in pos] + ["0 %r" % float(v) for v in neg]
    out = subprocess.run([binary, "--measures", repr(level)], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True).stdout
    return tuple(float(v) for v in out.split())


def cases():
    rng = np.random.default_rng(20261207)
    for npos, nneg in [(1, 1), (3, 7), (50, 80), (200, 2000), (2000, 2000)]:
        # shifted normals; one decimal for ties; -MSP-like values in [-1, -0.005]
        yield "normal %dx%d" % (npos, nneg), rng.normal(0.5, 1, npos), rng.normal(0, 1, nneg)
        yield "ties %dx%d" % (npos, nneg), np.round(rng.normal(0.5, 1, npos), 1), np.round(rng.normal(0, 1, nneg), 1)
        p = -np.float32(rng.uniform(0.005, 1, npos)).astype(np.float64)
        n = -np.float32(rng.uniform(0.3, 1, nneg) ** 0.3).astype(np.float64)
        n[: nneg // 4] = -1.0  # saturated softmax: many MSP of exactly 1
        yield "msp %dx%d" % (npos, nneg), p, n
    yield "all tied", np.full(4, 0.5), np.full(9, 0.5)
    yield "separable", np.arange(10.0, 20.0), np.arange(0.0, 10.0)
    yield "reversed", np.arange(0.0, 10.0), np.arange(10.0, 20.0)
    yield "recall 0.9 against 1", np.arange(10.0, 0.0, -1), np.array([5.5, 1.5, 1.2, 1, 0.5])


def golden():
    """The arrays and expected values of test_eval.c's test_golden_random."""
    rng = np.random.default_rng(7)
    pos = np.round(rng.normal(-0.4, 0.25, 20), 1)
    neg = np.round(rng.normal(-0.75, 0.25, 25), 1)
    # the values as C reads them back from the printed literals
    pos, neg = (np.array([float("%g" % v) for v in a]) for a in (pos, neg))
    print("pos", ", ".join("%g" % v for v in pos))
    print("neg", ", ".join("%g" % v for v in neg))
    print("expected %.17g %.17g %.17g" % reference(pos, neg, 0.95))


def main():
    if sys.argv[1:] == ["--golden"]:
        return golden()
    binary = sys.argv[1]
    failed = 0
    checked = 0
    for name, pos, neg in cases():
        for level in (0.95, 0.9, 0.5, 0.8):
            want = reference(pos, neg, level)
            got = natadv(binary, pos, neg, level)
            checked += 1
            bad = [k for k, w, g in zip(("auroc", "aupr", "fpr"), want, got) if not abs(w - g) <= TOL]
            if bad:
                failed += 1
                print("FAIL %s at recall %g: %s: sklearn %r, natadv %r" % (name, level, ",".join(bad), want, got))
    print("ood measures: %d of %d cases agree with sklearn %s within %g" %
          (checked - failed, checked, __import__("sklearn").__version__, TOL))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
