//! Descriptive and inferential statistics for the cohort report.
//!
//! Every definition follows `domain.md` ("Statistics") so that a reader can reproduce each
//! figure with a standard package; `tests/reference/stats_reference.py` prints every expected
//! value used by the tests below.
//!
//! Missing values: NaN is how a missing measurement reaches this module, so NaN is treated as
//! "not observed" (complete-case analysis, as SPSS does for these tests) and never poisons a
//! result. The counts in the returned structs say how many values were actually used, so the
//! report can print a denominator.

use std::f64::consts::{LN_2, SQRT_2};

use serde::Serialize;

/// Median and quartiles, Hyndman-Fan type 6 (SPSS default; numpy percentile method="weibull").
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quartiles {
    pub n: usize,
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
}

impl Quartiles {
    pub fn iqr(&self) -> f64 {
        self.q3 - self.q1
    }
}

/// Hyndman-Fan type 6 quantile of already sorted data: position h = (n + 1) p, 1-based,
/// clamped to [1, n], linear interpolation between neighbours.
///
/// Returns `None` for empty input or a NaN `p`. The caller promises `sorted` is ascending
/// and free of NaN; if it is not, the result is meaningless but this never panics.
pub fn quantile_type6(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 || p.is_nan() {
        return None;
    }
    // Clamping (rather than rejecting p outside [0, 1]) is what type 6 prescribes for the
    // extreme quantiles of small samples, e.g. Q1 of 2 values lands below position 1.
    let h = ((n as f64 + 1.0) * p).clamp(1.0, n as f64);
    let floor = h.floor();
    // h is in [1, n], so the cast is exact and lo is a valid index.
    let lo = floor as usize - 1;
    let frac = h - floor;
    let a = sorted[lo];
    match sorted.get(lo + 1) {
        Some(&b) if frac > 0.0 && a != b => Some(interpolate(a, b, frac)),
        // Returning `a` directly keeps exact data values exact.
        _ => Some(a),
    }
}

/// Interpolation towards an infinite neighbour is that infinity in the limit; plain
/// arithmetic would give inf - inf = NaN. Between -inf and +inf there is no limit: NaN.
fn interpolate(a: f64, b: f64, t: f64) -> f64 {
    match (a.is_infinite(), b.is_infinite()) {
        (true, true) => f64::NAN,
        (true, false) => a,
        (false, true) => b,
        (false, false) => lerp(a, b, t),
    }
}

/// numpy's `_lerp`: interpolating from the nearer end keeps the result monotone in t and
/// bit-identical to numpy in most cases.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Median and quartiles (type 6) of `values`. NaN values are ignored and `n` counts the
/// values used; `None` when no non-NaN value remains.
pub fn quartiles(values: &[f64]) -> Option<Quartiles> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    Some(Quartiles {
        n: sorted.len(),
        median: quantile_type6(&sorted, 0.5)?,
        q1: quantile_type6(&sorted, 0.25)?,
        q3: quantile_type6(&sorted, 0.75)?,
    })
}

/// Arithmetic mean. NaN values are ignored (as for [`quartiles`]); `None` when no non-NaN
/// value remains.
pub fn mean(values: &[f64]) -> Option<f64> {
    let used = || values.iter().copied().filter(|v| !v.is_nan());
    let n = used().count();
    if n == 0 {
        return None;
    }
    let n_f = n as f64;
    let sum: f64 = used().sum();
    if sum.is_finite() || used().any(|v| v.is_infinite()) {
        Some(sum / n_f)
    } else {
        // Finite values whose sum overflows (near f64::MAX) still have a finite mean.
        Some(used().map(|v| v / n_f).sum())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Wilcoxon {
    pub n: usize,
    pub w_plus: f64,
    pub w_minus: f64,
    pub z: Option<f64>,
    pub p: Option<f64>,
}

/// Paired (before, after). Two-sided, asymptotic normal approximation, zero differences dropped
/// ("wilcox"), average ranks for ties with tie-corrected variance, NO continuity correction.
/// n = number of non-zero differences; z = (min(W+,W-) - n(n+1)/4) / sd (so z <= 0, like scipy/SPSS);
/// z and p are None when n == 0.
///
/// The difference is `before - after`, as in `scipy.stats.wilcoxon(before, after)`, so a fall
/// in pain counts towards `w_plus`. A pair whose difference is NaN (either value missing, or
/// inf - inf) is dropped like a zero difference: a patient without both measurements cannot
/// contribute to a paired test.
pub fn wilcoxon_signed_rank(pairs: &[(f64, f64)]) -> Wilcoxon {
    let mut diffs: Vec<f64> = pairs
        .iter()
        .map(|&(before, after)| before - after)
        .filter(|d| !d.is_nan() && *d != 0.0)
        .collect();
    diffs.sort_unstable_by(|x, y| x.abs().total_cmp(&y.abs()));

    let n = diffs.len();
    let mut w_plus = 0.0;
    let mut w_minus = 0.0;
    // Sum of (t^3 - t) over tie groups, for the variance correction.
    let mut ties = 0.0;
    let mut start = 0;
    while start < n {
        let magnitude = diffs[start].abs();
        let end = start
            + diffs[start..]
                .iter()
                .take_while(|d| d.abs() == magnitude)
                .count();
        // Ranks start..end (0-based) become start+1..=end; ties share their average.
        let rank = (start + 1 + end) as f64 / 2.0;
        for d in &diffs[start..end] {
            if *d > 0.0 {
                w_plus += rank;
            } else {
                w_minus += rank;
            }
        }
        let t = (end - start) as f64;
        ties += t * t * t - t;
        start = end;
    }

    let (z, p) = if n == 0 {
        (None, None)
    } else {
        let n_f = n as f64;
        let expected = n_f * (n_f + 1.0) / 4.0;
        let variance = (n_f * (n_f + 1.0) * (2.0 * n_f + 1.0) - ties / 2.0) / 24.0;
        // The variance is positive for every n >= 1 even when all ranks tie; the guard only
        // keeps a division by zero from ever turning into a NaN p.
        if variance > 0.0 && variance.is_finite() {
            let z = (w_plus.min(w_minus) - expected) / variance.sqrt();
            (Some(z), Some(two_sided_normal_p(z)))
        } else {
            (None, None)
        }
    };
    Wilcoxon {
        n,
        w_plus,
        w_minus,
        z,
        p,
    }
}

/// erfc keeps full relative precision far into the tail, where 1 - Phi(|z|) would round to 0.
fn two_sided_normal_p(z: f64) -> f64 {
    libm::erfc(z.abs() / SQRT_2).min(1.0)
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct McNemar {
    pub lost: u64,
    pub gained: u64,
    pub p: f64,
}

/// Largest number of discordant pairs summed with exact integers. Every C(n, i) with n <= 127
/// is below 2^127, and the tail sum for i <= n/2 is below 2^n <= 2^127, so u128 never
/// overflows; 2^(n-1) is an exact f64, so the only rounding is the final u128 -> f64.
const EXACT_MAX_N: u128 = 127;

/// Above this many discordant pairs the binomial tail is taken from the normal
/// approximation with continuity correction. The term-by-term sum needs about 4.4 sqrt(n)
/// terms when min(b, c) is near n/2, so this bounds it to ~5 million steps; at this n the
/// relative error of the approximation is about z^4 / (12 n) <= 2e-7 even at z = 38, where
/// p underflows anyway. No real cohort comes near it.
const NORMAL_MIN_N: u128 = 1 << 40;

/// Exact two-sided McNemar: p = min(1, 2 * BinomCDF(min(b,c); b+c, 1/2)); p = 1 when b + c == 0.
pub fn mcnemar_exact(lost: u64, gained: u64) -> McNemar {
    // u128 because lost + gained can exceed u64::MAX.
    let n = u128::from(lost) + u128::from(gained);
    let k = lost.min(gained);
    // b == c puts k at the median, where the lower tail is >= 1/2.
    let p = if n == 0 || u128::from(k) * 2 == n {
        1.0
    } else if n <= EXACT_MAX_N {
        exact_two_sided(n as u32, k as u32)
    } else if n < NORMAL_MIN_N {
        log_space_two_sided(n as f64, k)
    } else {
        let n_f = n as f64;
        let z = (k as f64 + 0.5 - n_f / 2.0) / (n_f.sqrt() / 2.0);
        two_sided_normal_p(z)
    };
    McNemar { lost, gained, p }
}

/// 2 * sum_{i<=k} C(n, i) / 2^n with integer arithmetic; n <= EXACT_MAX_N, k < n / 2.
fn exact_two_sided(n: u32, k: u32) -> f64 {
    // One Pascal row, truncated at k: additions only, so no intermediate product can overflow
    // (the multiplicative formula C(n,i) * (n-i) would for n near 127).
    let k = k as usize;
    let mut row = vec![0u128; k + 1];
    row[0] = 1;
    for r in 1..=n as usize {
        for i in (1..=r.min(k)).rev() {
            row[i] += row[i - 1];
        }
    }
    let tail: u128 = row.iter().sum();
    // n >= 1 here, and 2^(n-1) <= 2^126 is exact in f64.
    let half_total = (1u128 << (n - 1)) as f64;
    (tail as f64 / half_total).min(1.0)
}

/// 2 * BinomCDF(k; n, 1/2) for large n (k < n / 2), summed in floating point from the
/// largest term downwards so that rounding errors stay relative to the result.
fn log_space_two_sided(n: f64, k: u64) -> f64 {
    // The pmf rises up to the mode, so term k is the largest; scale every term by it so the
    // sum neither underflows nor overflows, and go back to p through logs.
    let mut relative_sum = 1.0;
    let mut term = 1.0;
    let mut i = k;
    while i > 0 {
        let i_f = i as f64;
        term *= i_f / (n - i_f + 1.0);
        relative_sum += term;
        if term < relative_sum * 1e-17 {
            break;
        }
        i -= 1;
    }
    let log_p = LN_2 + log_binom_pmf_half(n, k as f64) + relative_sum.ln();
    libm::exp(log_p).min(1.0)
}

/// ln(C(n, x) / 2^n), by Loader's saddle-point expansion ("Fast and accurate computation of
/// binomial probabilities", 2000; R's dbinom). Differences of lgamma values near
/// n ln n lose about log10(n) digits; this form never subtracts large numbers.
fn log_binom_pmf_half(n: f64, x: f64) -> f64 {
    if x == 0.0 || x == n {
        return -n * LN_2;
    }
    let half = n / 2.0;
    let lc = stirling_error(n)
        - stirling_error(x)
        - stirling_error(n - x)
        - bd0(x, half)
        - bd0(n - x, half);
    let lf = (2.0 * std::f64::consts::PI).ln() + x.ln() + (n - x).ln() - n.ln();
    lc - 0.5 * lf
}

/// ln(x!) - ln(sqrt(2 pi x) (x/e)^x) for integer x >= 1.
fn stirling_error(x: f64) -> f64 {
    const S0: f64 = 1.0 / 12.0;
    const S1: f64 = 1.0 / 360.0;
    const S2: f64 = 1.0 / 1260.0;
    const S3: f64 = 1.0 / 1680.0;
    const S4: f64 = 1.0 / 1188.0;
    if x > 15.0 {
        let xx = x * x;
        (S0 - (S1 - (S2 - (S3 - S4 / xx) / xx) / xx) / xx) / x
    } else {
        // lgamma(16) is about 28, so the absolute error here is ~1e-14: plenty.
        libm::lgamma(x + 1.0) - (x + 0.5) * x.ln() + x - 0.5 * (2.0 * std::f64::consts::PI).ln()
    }
}

/// Deviance term x ln(x / m) + m - x, by a series when x is close to m, where the direct
/// formula cancels catastrophically.
fn bd0(x: f64, m: f64) -> f64 {
    if (x - m).abs() < 0.1 * (x + m) {
        let v = (x - m) / (x + m);
        let mut s = (x - m) * v;
        let mut ej = 2.0 * x * v;
        let v2 = v * v;
        // |v| < 0.1, so each term is 100 times smaller: ~10 terms reach f64 precision.
        for j in 1..100 {
            ej *= v2;
            let next = s + ej / f64::from(2 * j + 1);
            if next == s {
                break;
            }
            s = next;
        }
        s
    } else {
        x * (x / m).ln() + m - x
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Expected values come from `tests/reference/stats_reference.py`; each test names the
    //! call that printed them.

    use super::*;

    const RTOL: f64 = 1e-9;
    const RTOL_EXACT: f64 = 1e-12;

    // Integer NRS shaped like the seed study (48 patients, median 8 / IQR 2 at T0, median 6 /
    // IQR 4 at T1); the same arrays are NRS_T0 / NRS_T1 in the reference script.
    const NRS_T0: [f64; 48] = [
        8., 7., 6., 7., 8., 7., 8., 9., 8., 7., 8., 10., 9., 7., 8., 6., 10., 10., 8., 8., 9., 7.,
        9., 9., 8., 9., 8., 9., 9., 10., 10., 8., 8., 9., 6., 10., 8., 8., 9., 9., 10., 7., 9., 9.,
        10., 7., 7., 5.,
    ];
    const NRS_T1: [f64; 48] = [
        4., 5., 3., 4., 3., 4., 7., 7., 10., 3., 8., 3., 6., 5., 8., 6., 7., 8., 10., 2., 8., 8.,
        9., 10., 3., 10., 4., 9., 7., 8., 9., 1., 6., 4., 2., 10., 4., 8., 6., 8., 6., 4., 4., 7.,
        8., 3., 4., 1.,
    ];

    fn assert_close(actual: f64, expected: f64, rtol: f64) {
        let tolerance = rtol * expected.abs().max(f64::MIN_POSITIVE);
        assert!(
            (actual - expected).abs() <= tolerance,
            "actual {actual:e}, expected {expected:e} (rtol {rtol:e})"
        );
    }

    fn assert_quartiles(values: &[f64], n: usize, q1: f64, median: f64, q3: f64) {
        let q = quartiles(values).unwrap();
        assert_eq!(q.n, n);
        assert_close(q.q1, q1, RTOL);
        assert_close(q.median, median, RTOL);
        assert_close(q.q3, q3, RTOL);
        assert_close(q.iqr(), q3 - q1, RTOL);
    }

    fn pairs(before: &[f64], after: &[f64]) -> Vec<(f64, f64)> {
        before.iter().copied().zip(after.iter().copied()).collect()
    }

    // numpy.percentile(x, [25, 50, 75], method="weibull") for every case below.
    #[test]
    fn quartiles_match_numpy_weibull() {
        assert_quartiles(&[3., 1., 4., 1., 5., 9., 2.], 7, 1.0, 3.0, 5.0);
        assert_quartiles(&[3., 1., 4., 1., 5., 9., 2., 6.], 8, 1.25, 3.5, 5.75);
        assert_quartiles(&[5.], 1, 5.0, 5.0, 5.0);
        // Q1 and Q3 of two values fall outside [1, n] and are clamped to the extremes.
        assert_quartiles(&[1., 2.], 2, 1.0, 1.5, 2.0);
        assert_quartiles(&[7., 7., 7., 8., 8., 9.], 6, 7.0, 7.5, 8.25);
        assert_quartiles(
            &[0.1, 2.5, -3.2, 4.75, 1e-3],
            5,
            -1.5995000000000001,
            0.1,
            3.625,
        );
    }

    // numpy.percentile(NRS_T0 / NRS_T1, [25, 50, 75], method="weibull"): the seed study's
    // "median 8 (IQR 2)" and "6 (IQR 4)".
    #[test]
    fn quartiles_of_seed_shaped_nrs() {
        assert_quartiles(&NRS_T0, 48, 7.0, 8.0, 9.0);
        assert_quartiles(&NRS_T1, 48, 4.0, 6.0, 8.0);
        assert_eq!(quartiles(&NRS_T0).unwrap().iqr(), 2.0);
        assert_eq!(quartiles(&NRS_T1).unwrap().iqr(), 4.0);
    }

    // numpy.percentile(even, [0, 10, 90, 100], method="weibull") = 1, 1, 9, 9.
    #[test]
    fn quantile_type6_clamps_position() {
        let even = [1., 1., 2., 3., 4., 5., 6., 9.];
        assert_eq!(quantile_type6(&even, 0.0), Some(1.0));
        assert_eq!(quantile_type6(&even, 0.1), Some(1.0));
        assert_eq!(quantile_type6(&even, 0.9), Some(9.0));
        assert_eq!(quantile_type6(&even, 1.0), Some(9.0));
        // Outside [0, 1] the clamp still applies rather than indexing out of bounds.
        assert_eq!(quantile_type6(&even, -3.0), Some(1.0));
        assert_eq!(quantile_type6(&even, f64::INFINITY), Some(9.0));
        assert_eq!(quantile_type6(&even, f64::NAN), None);
        assert_eq!(quantile_type6(&[], 0.5), None);
    }

    // numpy.nanpercentile([3, nan, 1, 4, nan], [25, 50, 75], method="weibull") = 1, 3, 4.
    #[test]
    fn quartiles_ignore_nan_and_reject_empty() {
        assert_quartiles(&[3., f64::NAN, 1., 4., f64::NAN], 3, 1.0, 3.0, 4.0);
        assert_eq!(quartiles(&[]), None);
        assert_eq!(quartiles(&[f64::NAN, f64::NAN]), None);
    }

    #[test]
    fn quartiles_with_infinities_do_not_produce_nan() {
        let q = quartiles(&[f64::NEG_INFINITY, 1., 2., f64::INFINITY]).unwrap();
        assert_eq!(q.median, 1.5);
        assert_eq!(q.q1, f64::NEG_INFINITY);
        assert_eq!(q.q3, f64::INFINITY);
        assert_eq!(
            quantile_type6(&[1., f64::INFINITY], 0.5),
            Some(f64::INFINITY)
        );
        assert!(
            quantile_type6(&[f64::NEG_INFINITY, f64::INFINITY], 0.5)
                .unwrap()
                .is_nan()
        );
    }

    // Property checked by hand over deterministic pseudo-random samples: q1 <= median <= q3
    // and every quartile lies within [min, max].
    #[test]
    fn quartiles_are_ordered() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 1..60 {
            let values: Vec<f64> = (0..len)
                .map(|_| {
                    // xorshift64: a dependency-free stream, good enough to vary the data.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % 2001) as f64 / 100.0 - 10.0
                })
                .collect();
            let q = quartiles(&values).unwrap();
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert!(min <= q.q1 && q.q1 <= q.median && q.median <= q.q3 && q.q3 <= max);
            assert!(q.iqr() >= 0.0);
        }
    }

    // numpy.mean(NRS_T0), numpy.mean(NRS_T1), numpy.mean(reals), numpy.nanmean([1, nan, 2, 4]).
    #[test]
    fn mean_matches_numpy() {
        assert_close(mean(&NRS_T0).unwrap(), 8.229166666666666, RTOL);
        assert_close(mean(&NRS_T1).unwrap(), 5.916666666666667, RTOL);
        assert_close(
            mean(&[0.1, 2.5, -3.2, 4.75, 1e-3]).unwrap(),
            0.8302000000000002,
            RTOL,
        );
        assert_close(
            mean(&[1., f64::NAN, 2., 4.]).unwrap(),
            2.3333333333333335,
            RTOL,
        );
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[f64::NAN]), None);
        assert_eq!(mean(&[f64::MAX, f64::MAX]), Some(f64::MAX));
    }

    fn assert_wilcoxon(w: Wilcoxon, n: usize, w_plus: f64, w_minus: f64, z: f64, p: f64) {
        assert_eq!(w.n, n);
        assert_eq!(w.w_plus, w_plus);
        assert_eq!(w.w_minus, w_minus);
        assert_close(w.z.unwrap(), z, RTOL);
        assert_close(w.p.unwrap(), p, RTOL);
    }

    // scipy.stats.wilcoxon(before, after, zero_method="wilcox", correction=False,
    //   method="asymptotic") -> statistic 9.0, zstatistic, pvalue; W+ / W- are the sums of
    //   scipy.stats.rankdata(|d|) over d > 0 / d < 0 with d = before - after.
    #[test]
    fn wilcoxon_small_without_ties() {
        let w = wilcoxon_signed_rank(&pairs(
            &[10., 9., 8., 7., 6., 5., 4.],
            &[9.5, 11., 5., 7.75, 1., 5.4, 3.],
        ));
        assert_wilcoxon(w, 7, 19.0, 9.0, -0.8451542547285166, 0.39802471950693785);
    }

    // Same call on case "ties_and_zeros": two zero differences dropped, tie groups of size
    // 2 and 3 change the variance.
    #[test]
    fn wilcoxon_ties_and_zero_differences() {
        let w = wilcoxon_signed_rank(&pairs(
            &[5., 6., 7., 8., 9., 10., 4., 3., 6., 7.],
            &[5., 5., 8., 6., 7., 7., 4., 0., 2., 8.],
        ));
        assert_wilcoxon(w, 8, 32.0, 4.0, -1.974967724404075, 0.04827181085171039);
    }

    // Same call on case "one_nonzero": z = (0 - 0.5) / 0.5 = -1.
    #[test]
    fn wilcoxon_single_nonzero_difference() {
        let w = wilcoxon_signed_rank(&pairs(&[3., 4., 5.], &[3., 4., 7.]));
        assert_wilcoxon(w, 1, 0.0, 1.0, -1.0, 0.31731050786291415);
    }

    // Same call on the seed-shaped NRS (case "nrs"): 7 zero differences, many ties.
    #[test]
    fn wilcoxon_seed_shaped_nrs() {
        let w = wilcoxon_signed_rank(&pairs(&NRS_T0, &NRS_T1));
        assert_wilcoxon(
            w,
            41,
            823.0,
            38.0,
            -5.110618597279625,
            3.2110565955625217e-07,
        );
        assert!(w.p.unwrap() < 0.001);
    }

    #[test]
    fn wilcoxon_without_nonzero_differences_has_no_test() {
        let empty = Wilcoxon {
            n: 0,
            w_plus: 0.0,
            w_minus: 0.0,
            z: None,
            p: None,
        };
        assert_eq!(wilcoxon_signed_rank(&[]), empty);
        assert_eq!(
            wilcoxon_signed_rank(&[(3., 3.), (7., 7.), (0., -0.)]),
            empty
        );
        assert_eq!(
            wilcoxon_signed_rank(&[(f64::NAN, 1.), (2., f64::NAN)]),
            empty
        );
    }

    // A pair with a missing value contributes nothing, exactly like leaving it out.
    #[test]
    fn wilcoxon_drops_pairs_with_nan() {
        let mut with_missing = pairs(&NRS_T0, &NRS_T1);
        with_missing.insert(5, (f64::NAN, 4.0));
        with_missing.push((9.0, f64::NAN));
        with_missing.push((f64::INFINITY, f64::INFINITY));
        assert_eq!(
            wilcoxon_signed_rank(&with_missing),
            wilcoxon_signed_rank(&pairs(&NRS_T0, &NRS_T1))
        );
    }

    #[test]
    fn wilcoxon_z_is_never_positive_and_swapping_sides_swaps_w() {
        let forward = wilcoxon_signed_rank(&pairs(&NRS_T0, &NRS_T1));
        let backward = wilcoxon_signed_rank(&pairs(&NRS_T1, &NRS_T0));
        assert_eq!(forward.w_plus, backward.w_minus);
        assert_eq!(forward.w_minus, backward.w_plus);
        assert_eq!(forward.z, backward.z);
        assert!(forward.z.unwrap() <= 0.0);
        // Ranks 1..=n always add up to n(n+1)/2, ties or not.
        assert_eq!(forward.w_plus + forward.w_minus, 41.0 * 42.0 / 2.0);
    }

    // statsmodels.stats.contingency_tables.mcnemar([[0, b], [c, 0]], exact=True).pvalue,
    // equal here to the exact rational min(1, 2 * sum(comb(n, i) for i <= k) / 2**n); where
    // the two differ in the 15th digit (n = 127, 128) the exact rational is used.
    #[test]
    fn mcnemar_exact_small_n() {
        let cases = [
            (8, 1, 0.0390625),
            (1, 8, 0.0390625),
            (0, 1, 1.0),
            (0, 10, 0.001953125),
            (3, 12, 0.03515625),
            (13, 40, 0.0002685401188191605),
            (63, 64, 1.0),
            (50, 77, 0.020680784018917542),
        ];
        for (b, c, expected) in cases {
            let m = mcnemar_exact(b, c);
            assert_eq!((m.lost, m.gained), (b, c));
            assert_close(m.p, expected, RTOL_EXACT);
        }
    }

    #[test]
    fn mcnemar_without_discordant_pairs_is_one() {
        assert_eq!(mcnemar_exact(0, 0).p, 1.0);
        assert_eq!(mcnemar_exact(5, 5).p, 1.0);
        assert_eq!(mcnemar_exact(500, 500).p, 1.0);
        assert_eq!(mcnemar_exact(u64::MAX, u64::MAX).p, 1.0);
    }

    // n = 128 is the first size summed in floating point; expected values are the exact
    // rationals from the reference script (statsmodels mcnemar(..., exact=True) prints
    // 0.016670734269697375 and 1.454314462983168e-24, within 2e-15 of them).
    #[test]
    fn mcnemar_just_past_the_exact_switch() {
        assert_close(mcnemar_exact(50, 78).p, 0.01667073426969735, RTOL_EXACT);
        assert_close(mcnemar_exact(10, 118).p, 1.4543144629831681e-24, RTOL_EXACT);
    }

    // scipy.stats.binomtest(600, 1300, 0.5).pvalue = 0.0060157938610449395 and the exact
    // rational 0.0060157938610449525 (also statsmodels mcnemar([[0,600],[700,0]], exact=True)).
    #[test]
    fn mcnemar_large_matches_binomtest() {
        let p = mcnemar_exact(600, 700).p;
        assert_close(p, 0.0060157938610449395, RTOL);
        assert_close(p, 0.0060157938610449525, RTOL);
    }

    // min(1, 2 * scipy.stats.binom.cdf(k, n, 0.5)) for n = 1,000,000.
    #[test]
    fn mcnemar_million_discordant_pairs() {
        assert_close(mcnemar_exact(499_000, 501_000).p, 0.0456082998653896, RTOL);
        assert_close(
            mcnemar_exact(490_000, 510_000).p,
            5.544363287708518e-89,
            RTOL,
        );
        // 2^-1,000,000 and its neighbours underflow to 0, as in scipy.
        assert_eq!(mcnemar_exact(0, 1_000_000).p, 0.0);
        assert_eq!(mcnemar_exact(1000, 999_000).p, 0.0);
    }

    // min(1, 2 * scipy.stats.binom.cdf(2**39 - 10**6, 2**40, 0.5)) = 0.05647557984105144:
    // n = 2^40 uses the normal approximation, accurate to ~1e-7 here.
    #[test]
    fn mcnemar_astronomical_n_uses_normal_approximation() {
        let half = 1u64 << 39;
        assert_close(
            mcnemar_exact(half - 1_000_000, half + 1_000_000).p,
            0.05647557984105144,
            1e-7,
        );
        let extreme = mcnemar_exact(1, u64::MAX);
        assert!(extreme.p == 0.0);
    }

    // Property checked by hand: p in [0, 1], symmetric in (b, c), and not increasing as the
    // discordant pairs become more lopsided at fixed n, on both sides of the exact switch.
    #[test]
    fn mcnemar_p_is_a_symmetric_probability() {
        for n in [1u64, 2, 7, 126, 127, 128, 129, 300, 5000] {
            let ps: Vec<f64> = (0..=n / 2).map(|b| mcnemar_exact(b, n - b).p).collect();
            for (b, &p) in (0..).zip(&ps) {
                assert!((0.0..=1.0).contains(&p), "n={n} b={b} p={p}");
                assert_eq!(p, mcnemar_exact(n - b, b).p);
            }
            // Allowing for rounding, p never falls as b moves towards n / 2.
            assert!(ps.windows(2).all(|w| w[0] <= w[1] * (1.0 + 1e-12)), "n={n}");
        }
    }
}
