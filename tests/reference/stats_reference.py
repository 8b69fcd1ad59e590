#!/usr/bin/env python3
"""Prints every expected value used by the unit tests in src/stats.rs.

Run:  pip install numpy scipy statsmodels && python3 tests/reference/stats_reference.py
Tested with numpy 2.4.6, scipy 1.17.1, statsmodels 0.15.0.

Each line names the exact call that produced the value, so a reader can check any constant
in the Rust tests against its source. Floats are printed with repr() (shortest round-trip).
"""
import math
import warnings
from fractions import Fraction

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

warnings.simplefilter("ignore")  # scipy warns that n is small for the normal approximation

# Integer NRS (0-10) shaped like the seed study: 48 patients, median 8 (IQR 2) at T0 and
# 6 (IQR 4) at T1. Drawn once with numpy.random.default_rng(2021) and frozen here.
NRS_T0 = [8, 7, 6, 7, 8, 7, 8, 9, 8, 7, 8, 10, 9, 7, 8, 6, 10, 10, 8, 8, 9, 7, 9, 9,
          8, 9, 8, 9, 9, 10, 10, 8, 8, 9, 6, 10, 8, 8, 9, 9, 10, 7, 9, 9, 10, 7, 7, 5]
NRS_T1 = [4, 5, 3, 4, 3, 4, 7, 7, 10, 3, 8, 3, 6, 5, 8, 6, 7, 8, 10, 2, 8, 8, 9, 10,
          3, 10, 4, 9, 7, 8, 9, 1, 6, 4, 2, 10, 4, 8, 6, 8, 6, 4, 4, 7, 8, 3, 4, 1]

QUARTILE_CASES = {
    "odd": [3, 1, 4, 1, 5, 9, 2],
    "even": [3, 1, 4, 1, 5, 9, 2, 6],
    "single": [5],
    "two": [1, 2],
    "ties": [7, 7, 7, 8, 8, 9],
    "reals": [0.1, 2.5, -3.2, 4.75, 1e-3],
    "nrs_t0": NRS_T0,
    "nrs_t1": NRS_T1,
}

WILCOXON_CASES = {
    # (before, after) columns
    "small": ([10, 9, 8, 7, 6, 5, 4], [9.5, 11, 5, 7.75, 1, 5.4, 3]),
    "ties_and_zeros": ([5, 6, 7, 8, 9, 10, 4, 3, 6, 7], [5, 5, 8, 6, 7, 7, 4, 0, 2, 8]),
    "one_nonzero": ([3, 4, 5], [3, 4, 7]),
    "nrs": (NRS_T0, NRS_T1),
}

MCNEMAR_CASES = [(8, 1), (1, 8), (0, 1), (0, 10), (3, 12), (13, 40), (63, 64), (50, 77),
                 (50, 78), (10, 118), (600, 700)]
MCNEMAR_LARGE = [(499_000, 501_000), (490_000, 510_000), (2**39 - 1_000_000, 2**39 + 1_000_000)]


def exact_mcnemar(b, c):
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


def main():
    np.set_printoptions(legacy="1.25")
    print(f"# numpy {np.__version__}, scipy {scipy.__version__}, statsmodels {statsmodels.__version__}")

    print("\n## Quartiles: numpy.percentile(x, [25, 50, 75], method='weibull')")
    for name, x in QUARTILE_CASES.items():
        q1, med, q3 = np.percentile(np.asarray(x, dtype=float), [25, 50, 75], method="weibull")
        print(f"{name}: n={len(x)} q1={q1!r} median={med!r} q3={q3!r}")
    x = [3.0, float("nan"), 1.0, 4.0, float("nan")]
    q1, med, q3 = np.nanpercentile(x, [25, 50, 75], method="weibull")
    print(f"nan_ignored: numpy.nanpercentile({x}, ..., method='weibull') "
          f"q1={q1!r} median={med!r} q3={q3!r}")
    even = np.asarray(QUARTILE_CASES["even"], dtype=float)
    for p in [0.0, 0.1, 0.9, 1.0]:
        v = np.percentile(even, 100 * p, method="weibull")
        print(f"even quantile p={p}: numpy.percentile(even, {100 * p}, method='weibull') = {v!r}")

    print("\n## Mean: numpy.mean / numpy.nanmean")
    print(f"nrs_t0: numpy.mean(NRS_T0) = {np.mean(NRS_T0)!r}")
    print(f"nrs_t1: numpy.mean(NRS_T1) = {np.mean(NRS_T1)!r}")
    print(f"reals: numpy.mean(reals) = {np.mean(QUARTILE_CASES['reals'])!r}")
    print(f"nan: numpy.nanmean([1, nan, 2, 4]) = {np.nanmean([1, float('nan'), 2, 4])!r}")

    print("\n## Wilcoxon: scipy.stats.wilcoxon(before, after, zero_method='wilcox', "
          "correction=False, method='asymptotic');\n"
          "#    W+/W- = sums of scipy.stats.rankdata(|d|) over d > 0 / d < 0, d = before - after, zeros dropped")
    for name, (before, after) in WILCOXON_CASES.items():
        before = np.asarray(before, dtype=float)
        after = np.asarray(after, dtype=float)
        d = before - after
        d = d[d != 0]
        r = stats.rankdata(np.abs(d))
        w_plus, w_minus = r[d > 0].sum(), r[d < 0].sum()
        res = stats.wilcoxon(before, after, zero_method="wilcox", correction=False,
                             method="asymptotic")
        print(f"{name}: n={len(d)} w_plus={w_plus!r} w_minus={w_minus!r} "
              f"statistic={res.statistic!r} z={res.zstatistic!r} p={res.pvalue!r}")

    print("\n## McNemar (exact): statsmodels mcnemar([[0, b], [c, 0]], exact=True).pvalue, "
          "checked against the exact rational 2*sum(comb(n,i), i<=k)/2**n")
    for b, c in MCNEMAR_CASES:
        sm = mcnemar([[0, b], [c, 0]], exact=True).pvalue
        ex = exact_mcnemar(b, c)
        bt = stats.binomtest(min(b, c), b + c, 0.5).pvalue
        print(f"b={b} c={c}: statsmodels={sm!r} exact_rational={ex!r} scipy.binomtest={bt!r}")
    for b, c in MCNEMAR_LARGE:
        n, k = b + c, min(b, c)
        cdf2 = min(1.0, 2 * stats.binom.cdf(k, n, 0.5))
        print(f"b={b} c={c}: min(1, 2*scipy.stats.binom.cdf({k}, {n}, 0.5)) = {cdf2!r}")
    print("b=0 c=1000000 and b=1000 c=999000: 2*binom.cdf underflows to",
          2 * stats.binom.cdf(0, 10**6, 0.5), 2 * stats.binom.cdf(1000, 10**6, 0.5))


if __name__ == "__main__":
    main()
