#!/usr/bin/env python3
"""Prints every expected figure used by tests/cohort.rs (`titrate cohort --json`).

Run:  pip install numpy scipy statsmodels && python3 tests/reference/cohort_reference.py
Tested with numpy 2.4.6, scipy 1.17.1, statsmodels 0.15.0.

Each cohort is a list of patients, one tuple per patient:
    (T0, T1, T2, report_t1, report_t2)
T0/T1/T2 are the NRS scores that the timepoint windows of domain.md select (None: no score
in the window); report_t1/report_t2 is the treatment reported successful (True), not
successful (False) or not reported (None). tests/cohort.rs records these scores (and, in
the edge cohort, decoys outside the windows, voided entries and extra courses that must
not count) through the library and checks the cohort table against the figures below.

Calls (every float printed with repr(), the shortest round-trip form):
  quartiles:  numpy.percentile(values, [25, 50, 75], method="weibull")  (Hyndman-Fan 6)
  Wilcoxon:   scipy.stats.wilcoxon(t0, t1, zero_method="wilcox", correction=False,
                                   method="asymptotic")  -> .zstatistic, .pvalue
              over patients with both T0 and T1; n = number of non-zero differences;
              w_plus / w_minus = sums of scipy.stats.rankdata(|d|) over d > 0 / d < 0
              (d = T0 - T1, zero differences dropped).
  McNemar:    statsmodels.stats.contingency_tables.mcnemar([[kept, lost], [gained, never]],
                                                         exact=True).pvalue
              over patients whose responder status is known at both T1 and T2.
  Responder (domain.md, threshold 2): T0 - Tx >= 2, or reported successful; otherwise a
              report "not successful" or a known score pair makes a non-responder; else
              unknown.
"""
import warnings

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

warnings.simplefilter("ignore")  # scipy warns that n is small for the normal approximation

N = None
THRESHOLD = 2

# 1. Shaped like the seed study: 48 patients; median NRS T0 8 (IQR 2), T1 6 (IQR 4);
#    30/48 responders at T1, 20/42 (48%) at T2; 12 T1 responders lost at T2, 3 gained.
#    Grouped by T1 x T2 status so the 2x2 table can be read off the source.
SEED = [
    # kept: responder at T1 and at T2 (17)
    (8, 4, 5, N, N), (9, 5, 6, N, N), (10, 6, 7, N, N), (7, 3, 4, N, N), (8, 4, 5, N, N),
    (9, 4, 3, N, N), (10, 5, 6, N, N), (8, 2, 4, N, N), (7, 4, 5, N, N), (9, 6, 6, N, N),
    (8, 6, 6, False, N),  # a drop of 2 makes a responder even against a "no" report
    (10, 8, 7, N, N), (9, 3, 2, N, N),
    (8, 7, 6, True, N),   # T1 rescued by a report: a drop of 1 only
    (6, 4, N, N, True),   # no T2 score, but reported successful at T2
    (9, 7, 8, N, True),   # T2 rescued by a report: a drop of 1 only
    (10, 4, 5, N, N),
    # lost: responder at T1, non-responder at T2 (12)
    (8, 4, 8, N, N), (9, 6, 9, N, N), (7, 5, 7, N, N), (10, 7, 10, N, N), (8, 6, 8, N, N),
    (9, 7, 9, N, N), (8, 4, 7, N, N),
    (9, 8, 9, True, N),   # T1 rescued by a report
    (7, 6, 7, True, N),   # T1 rescued by a report
    (10, 6, N, N, False),  # no T2 score, reported not successful at T2
    (8, 3, 8, N, N), (9, 4, 10, N, N),
    # gained: non-responder at T1, responder at T2 (3)
    (8, 8, 5, N, N), (7, 7, 5, N, N), (9, 9, 6, N, N),
    # never: non-responder at T1 and at T2 (10)
    (8, 8, 8, N, N), (9, 9, 9, N, N), (7, 8, 7, N, N), (6, 6, 6, N, N), (10, 10, 9, N, N),
    (8, 9, 8, N, N), (5, 5, 5, N, N), (9, 8, 8, False, False), (7, 7, 7, N, N),
    (8, 8, 9, N, N),
    # unknown at T2 (6)
    (N, 5, 5, True, N),   # no T0: responder at T1 by report only, unknown at T2
    (8, 8, N, N, N), (9, 9, N, N, N), (7, 7, N, N, N), (10, 10, N, N, N), (6, 7, N, N, N),
]

# 2. Small, with tied |differences| and zero differences at T0 -> T1.
TIES = [
    (5, 5, 5, N, N),
    (6, 5, 4, N, N),
    (7, 8, 7, True, N),
    (8, 6, 8, N, N),
    (9, 7, 6, N, True),
    (10, 7, 9, N, False),
    (4, 4, 2, N, N),
    (3, 0, 3, N, N),
    (6, 2, N, N, N),
    (7, 8, 5, N, N),
    (8, 8, N, N, False),
    (8, 6, 9, N, N),
]

# 3. Edge cases, as resolved by the windows (tests/cohort.rs records the raw entries):
EDGE = [
    # two ended courses: only the first counts (the second has T0 8, T1 8, T2 8)
    (9, 4, 5, N, N),
    # first course cancelled (its start voided), the second ended
    (7, 6, N, True, N),
    # first course ended, second still running (with its own T0 score 3)
    (8, 8, 6, N, N),
    # decoys outside every window; T0: tagged 10 wins over a later untagged 8;
    # T2: day 30 (4) is closer to day 28 than day 22 (7); days 20 and 43 are outside
    (10, 5, 4, N, N),
    # voided: T0 9 (the earlier 7 counts), the only T1 score, a T2 report "successful"
    (7, N, 6, N, N),
    # T1 tagged 7 wins over a later untagged 4; T2 only on day 45 (outside)
    (8, 7, N, N, N),
    # not in the cohort: a running course only, a cancelled course only, no course at all
]

# 4. No ended course at all (running only, or no course).
EMPTY = []

COHORTS = [("seed", SEED), ("ties", TIES), ("edge", EDGE), ("empty", EMPTY)]


def responder(t0, tx, reported):
    if t0 is not None and tx is not None and t0 - tx >= THRESHOLD:
        return True
    if reported is not None:
        return reported
    if t0 is not None and tx is not None:
        return False
    return None


def nrs_stat(values):
    if not values:
        return {"n": 0, "median": None, "q1": None, "q3": None, "iqr": None}
    q1, med, q3 = (float(x) for x in np.percentile(values, [25, 50, 75], method="weibull"))
    return {"n": len(values), "median": med, "q1": q1, "q3": q3, "iqr": q3 - q1}


def wilcoxon(pairs):
    d = np.array([a - b for a, b in pairs if a != b], dtype=float)
    if len(d) == 0:
        return {"n": 0, "z": None, "p": None, "w_plus": 0.0, "w_minus": 0.0}
    ranks = stats.rankdata(np.abs(d))
    t0 = [a for a, b in pairs]
    t1 = [b for a, b in pairs]
    r = stats.wilcoxon(t0, t1, zero_method="wilcox", correction=False, method="asymptotic")
    return {
        "n": len(d),
        "z": float(r.zstatistic),
        "p": float(r.pvalue),
        "w_plus": float(ranks[d > 0].sum()),
        "w_minus": float(ranks[d < 0].sum()),
    }


def figures(cohort):
    col = lambda i: [p[i] for p in cohort if p[i] is not None]  # noqa: E731
    pairs = [(p[0], p[1]) for p in cohort if p[0] is not None and p[1] is not None]
    s1 = [responder(p[0], p[1], p[3]) for p in cohort]
    s2 = [responder(p[0], p[2], p[4]) for p in cohort]
    both = [(a, b) for a, b in zip(s1, s2) if a is not None and b is not None]
    kept = sum(1 for a, b in both if a and b)
    lost = sum(1 for a, b in both if a and not b)
    gained = sum(1 for a, b in both if not a and b)
    never = sum(1 for a, b in both if not a and not b)
    m = mcnemar([[kept, lost], [gained, never]], exact=True)
    return {
        "courses": len(cohort),
        "t0": nrs_stat(col(0)),
        "t1": nrs_stat(col(1)),
        "t2": nrs_stat(col(2)),
        "missing": [sum(1 for p in cohort if p[i] is None) for i in range(3)],
        "wilcoxon_t0_t1": wilcoxon(pairs),
        "responders_t1": (sum(1 for s in s1 if s), sum(1 for s in s1 if s is not None)),
        "responders_t2": (sum(1 for s in s2 if s), sum(1 for s in s2 if s is not None)),
        "mcnemar_t1_t2": {"lost": lost, "gained": gained, "kept": kept, "never": never,
                          "p": float(m.pvalue)},
    }


def main():
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, "
          f"statsmodels {statsmodels.__version__}")
    for name, cohort in COHORTS:
        print(f"\n== {name} ({len(cohort)} patients in the cohort)")
        for key, value in figures(cohort).items():
            if isinstance(value, dict):
                value = {k: (repr(v) if isinstance(v, float) else v) for k, v in value.items()}
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
