//! Exact samplers for the discrete noise of distributed DP (spec `ddp.md`, "Samplers").
//!
//! Every sampler here uses only integer arithmetic on the words of an injected RNG: there is no
//! floating point anywhere on the path from random words to a noise value, so the output
//! distribution is exactly the one stated (Canonne, Kamath, Steinke, "The Discrete Gaussian for
//! Differential Privacy", NeurIPS 2020, Algorithms 1-3), and no low-order-bit leak of a
//! floating-point sampler (Mironov 2012) applies.
//!
//! Building blocks, each defined by its exact RNG consumption so that the test vectors replay:
//!
//! * [`uniform_below`]`(n)`: `k = bitlen(n - 1)`; draw one `u64` (two, low word first, if
//!   `k > 64`), keep its low `k` bits, retry until `< n`. `n = 1` draws nothing.
//! * [`bernoulli_ratio`]`(p/q)`: `uniform_below(q) < p`; draws nothing if `p = 0` or `p >= q`.
//! * [`bernoulli_exp_neg`]`(x)` for rational `x = p/q >= 0`: `floor(x)` draws of
//!   Bernoulli(exp(-1)) (stop at the first failure), then Bernoulli(exp(-frac(x))) by the
//!   alternating-series loop `K = 1; while Bernoulli(f/K) { K += 1 }; return K odd`.
//! * [`discrete_laplace`]`(t)`, [`discrete_gaussian`]`(sigma^2)`, [`poisson`]`(lambda)`,
//!   [`skellam`]`(mu)`: see each function.
//!
//! Parameters are rationals with the fixed denominator [`NOISE_DENOM`] `= 2^16`, which keeps every
//! intermediate product inside `u128` for the ranges the constructors accept.

use rand_core::Rng;

/// Denominator of the fixed-point noise parameters: a value `v` means `v / 2^16`.
pub const NOISE_DENOM: u64 = 1 << 16;

/// Largest accepted numerator of a discrete Gaussian `sigma^2` (so `sigma^2 <= 2^40`,
/// `sigma <= 2^20`): bounds every intermediate of [`discrete_gaussian`] below `2^128`.
pub const MAX_DGAUSS_NUM: u64 = 1 << 56;

/// Largest accepted numerator of a Skellam variance (`mu <= 2^20`). [`poisson`] costs
/// `O(lambda)` uniform draws, so this also bounds the client's work per coordinate.
pub const MAX_SKELLAM_NUM: u64 = 1 << 36;

/// A uniform integer in `[0, n)`; `n = 0` is treated as `n = 1` (returns 0 without drawing).
pub fn uniform_below<R: Rng + ?Sized>(rng: &mut R, n: u128) -> u128 {
    if n <= 1 {
        return 0;
    }
    let k = 128 - (n - 1).leading_zeros();
    let mask = if k == 128 {
        u128::MAX
    } else {
        (1u128 << k) - 1
    };
    loop {
        let r = if k <= 64 {
            u128::from(rng.next_u64())
        } else {
            let lo = u128::from(rng.next_u64());
            let hi = u128::from(rng.next_u64());
            lo | (hi << 64)
        } & mask;
        if r < n {
            return r;
        }
    }
}

/// Bernoulli(`p / q`), exactly; `q = 0` or `p >= q` is certain success, `p = 0` certain failure.
pub fn bernoulli_ratio<R: Rng + ?Sized>(rng: &mut R, p: u128, q: u128) -> bool {
    if p == 0 {
        return false;
    }
    if p >= q {
        return true;
    }
    uniform_below(rng, q) < p
}

/// Bernoulli(exp(-p/q)) for `0 <= p/q <= 1` (CKS Algorithm 1, first case).
///
/// `P(K > k) = x^k / k!`, so `P(K odd) = sum_k (-1)^k x^k / k! = exp(-x)`. Requires `q <= 2^113`
/// so that `q * K` cannot overflow before `K` reaches `2^14`, an event of probability below
/// `1 / (2^14)!`; on that (unreachable in practice) overflow the loop stops.
fn bernoulli_exp_neg_le1<R: Rng + ?Sized>(rng: &mut R, p: u128, q: u128) -> bool {
    let mut k: u128 = 1;
    while let Some(den) = q.checked_mul(k) {
        if !bernoulli_ratio(rng, p, den) {
            break;
        }
        k += 1;
    }
    k % 2 == 1
}

/// Bernoulli(exp(-p/q)) for any rational `p/q >= 0`, `q >= 1`, `q <= 2^113`.
pub fn bernoulli_exp_neg<R: Rng + ?Sized>(rng: &mut R, p: u128, q: u128) -> bool {
    let q = q.max(1);
    let whole = p / q;
    let frac = p % q;
    // exp(-x) = exp(-1)^floor(x) * exp(-frac(x)): independent draws, stop at the first failure.
    let mut i: u128 = 0;
    while i < whole {
        if !bernoulli_exp_neg_le1(rng, 1, 1) {
            return false;
        }
        i += 1;
    }
    bernoulli_exp_neg_le1(rng, frac, q)
}

/// The discrete Laplace distribution with integer scale `t >= 1`:
/// `P(X = x) proportional to exp(-|x| / t)` (CKS Algorithm 2 with `s = 1`).
///
/// ```text
/// loop:
///   U = uniform_below(t); if not Bernoulli(exp(-U/t)): retry
///   V = 0; while Bernoulli(exp(-1)): V += 1
///   X = U + t V; B = Bernoulli(1/2); if B and X = 0: retry
///   return B ? -X : X
/// ```
pub fn discrete_laplace<R: Rng + ?Sized>(rng: &mut R, t: u64) -> i128 {
    let t = u128::from(t.max(1));
    loop {
        let u = uniform_below(rng, t);
        if !bernoulli_exp_neg(rng, u, t) {
            continue;
        }
        let mut v: u128 = 0;
        while bernoulli_exp_neg_le1(rng, 1, 1) {
            v = v.saturating_add(1);
        }
        // X < 2^127 unless V exceeds 2^106, probability exp(-2^106).
        let x = u.saturating_add(t.saturating_mul(v)).min(i128::MAX as u128) as i128;
        let negative = bernoulli_ratio(rng, 1, 2);
        if negative && x == 0 {
            continue;
        }
        return if negative { -x } else { x };
    }
}

/// The discrete Gaussian `N_Z(0, sigma^2)` with `sigma^2 = num / 2^16`, `1 <= num <=`
/// [`MAX_DGAUSS_NUM`]: `P(X = x) proportional to exp(-x^2 / (2 sigma^2))` (CKS Algorithm 3).
///
/// ```text
/// t = floor(sigma) + 1 = floor(isqrt(num) / 2^8) + 1
/// loop:
///   Y = discrete_laplace(t)
///   a = |Y| t 2^16 - num                         (so (|Y| - sigma^2/t)^2 / (2 sigma^2)
///   accept if Bernoulli(exp(-a^2 / (2 t^2 2^16 num)))      = a^2 / (2 t^2 2^16 num))
/// ```
///
/// If `|a| >= 2^64` (so `a^2` would not fit in `u128`) the candidate is rejected: there the
/// acceptance probability is below `exp(-2^13)` (as `2 t^2 2^16 num <= 2^115`), and the event
/// itself needs `|Y| > 2^20 sigma`, so the output differs from the exact discrete Gaussian by a
/// total-variation distance below `2^-10000`. Outputs are `|X| < 2^63` for the same reason.
pub fn discrete_gaussian<R: Rng + ?Sized>(rng: &mut R, num: u64) -> i64 {
    let num = num.clamp(1, MAX_DGAUSS_NUM);
    let t = (isqrt(num) >> 8) + 1;
    let t128 = u128::from(t);
    let den = 2 * t128 * t128 * u128::from(NOISE_DENOM) * u128::from(num);
    loop {
        let y = discrete_laplace(rng, t);
        let ay = y.unsigned_abs();
        let Some(a) = ay
            .checked_mul(t128 * u128::from(NOISE_DENOM))
            .map(|m| m.abs_diff(u128::from(num)))
        else {
            continue;
        };
        if a >= 1u128 << 64 || ay >= 1u128 << 63 {
            continue;
        }
        if bernoulli_exp_neg(rng, a * a, den) {
            return y as i64;
        }
    }
}

/// Poisson(`lambda`) with `lambda = num / 2^17`, exactly, in `O(lambda)` draws.
///
/// `lambda` is split into `m = max(1, ceil(lambda / (1/2)))` equal parts `l = num / (2^17 m) <= 1/2`
/// and the Poisson(`l`) draws are summed. One Poisson(`l`) draw:
///
/// ```text
/// attempt: k = 0
///   loop: if Bernoulli(1/2): return k
///         if Bernoulli(2 l / (k + 1)): k += 1 else: start a new attempt
/// ```
///
/// An attempt returns `k` with probability `2^-(k+1) (2l)^k / k! = (1/2) l^k / k!`, so the
/// accepted value is exactly Poisson(`l`); an attempt succeeds with probability
/// `exp(l) / 2 >= 1/2`.
pub fn poisson<R: Rng + ?Sized>(rng: &mut R, num: u64) -> u64 {
    if num == 0 {
        return 0;
    }
    let num = u128::from(num);
    let unit = 1u128 << 16; // lambda = num / 2^17, a part <= 1/2 means num_part <= 2^16
    let m = num.div_ceil(unit).max(1);
    // l = num / (2^17 m), so 2 l / (k + 1) = num / (2^16 m (k + 1)).
    let base = unit * m;
    let mut total: u64 = 0;
    let mut part: u128 = 0;
    while part < m {
        let k = 'attempt: loop {
            let mut k: u128 = 0;
            loop {
                if bernoulli_ratio(rng, 1, 2) {
                    break 'attempt k;
                }
                if bernoulli_ratio(rng, num, base * (k + 1)) {
                    k += 1;
                } else {
                    break;
                }
            }
        };
        total = total.saturating_add(k as u64);
        part += 1;
    }
    total
}

/// The symmetric Skellam distribution with variance `mu = num / 2^16`: the difference of two
/// independent Poisson(`mu / 2`) draws (first minus second). Requires `num <=`
/// [`MAX_SKELLAM_NUM`]; larger values are clamped (constructors reject them first).
pub fn skellam<R: Rng + ?Sized>(rng: &mut R, num: u64) -> i64 {
    let num = num.min(MAX_SKELLAM_NUM);
    let a = poisson(rng, num) as i64;
    let b = poisson(rng, num) as i64;
    a - b
}

/// `floor(sqrt(x))`, exactly.
pub(crate) fn isqrt(x: u64) -> u64 {
    if x < 2 {
        return x;
    }
    // Newton's iteration from an upper bound; integer-only, so the result is exact.
    let mut r = 1u64 << (64 - x.leading_zeros()).div_ceil(2);
    loop {
        let next = (r + x / r) / 2;
        if next >= r {
            return r;
        }
        r = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::rand_core::SeedableRng;
    use chacha20::ChaCha20Rng;

    #[test]
    fn isqrt_is_exact() {
        for x in (0u64..5000).chain([u64::MAX, (1 << 56) - 1, 1 << 56, 99_999_999_999]) {
            let r = isqrt(x);
            assert!(u128::from(r) * u128::from(r) <= u128::from(x));
            assert!(u128::from(r + 1) * u128::from(r + 1) > u128::from(x));
        }
    }

    #[test]
    fn uniform_below_consumes_as_specified() {
        // n = 1 draws nothing; n = 2^64 + 1 draws two words per try.
        let mut a = ChaCha20Rng::seed_from_u64(1);
        let mut b = ChaCha20Rng::seed_from_u64(1);
        assert_eq!(uniform_below(&mut a, 1), 0);
        assert_eq!(a.next_u64(), b.next_u64());
        let v = uniform_below(&mut a, (1u128 << 64) + 1);
        assert!(v <= 1u128 << 64);
    }
}
