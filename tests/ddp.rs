//! Distributed DP on the sum: samplers against their exact pmfs, accounting against
//! independent computations done here, the pipeline's variance through a round with dropouts,
//! and refusal of bad configurations.

mod protocol_common;

use std::sync::Arc;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use secagg::ddp::accounting::{
    self, ddg_rdp, ddg_tau, gaussian_delta, rdp_to_epsilon, skellam_rdp, ExactSum,
};
use secagg::ddp::sample::{
    bernoulli_exp_neg, discrete_gaussian, discrete_laplace, poisson, skellam, NOISE_DENOM,
};
use secagg::ddp::{
    calibrate, decode_sum, encode, CalibrationTarget, DdpError, Mechanism, Rotation,
};
use secagg::ids::SessionId;
use secagg::ring::{Bits, RingVec};

/// Chi-square statistic of `counts` (keyed by value) against `pmf`, bins with expected count
/// below 5 merged into one tail bin; returns (statistic, degrees of freedom).
fn chi_square(samples: &[i64], pmf: impl Fn(i64) -> f64, range: (i64, i64)) -> (f64, usize) {
    let n = samples.len() as f64;
    let mut counts = std::collections::BTreeMap::new();
    for &s in samples {
        *counts.entry(s).or_insert(0u64) += 1;
    }
    let (mut stat, mut bins) = (0.0, 0usize);
    let (mut tail_obs, mut tail_exp) = (0.0, 0.0);
    let mut covered = 0.0;
    for z in range.0..=range.1 {
        let e = n * pmf(z);
        covered += pmf(z);
        let o = *counts.get(&z).unwrap_or(&0) as f64;
        if e >= 5.0 {
            stat += (o - e).powi(2) / e;
            bins += 1;
        } else {
            tail_obs += o;
            tail_exp += e;
        }
    }
    let outside: u64 = counts
        .iter()
        .filter(|(z, _)| **z < range.0 || **z > range.1)
        .map(|(_, c)| c)
        .sum();
    tail_obs += outside as f64;
    tail_exp += n * (1.0 - covered).max(0.0);
    if tail_exp > 0.0 {
        stat += (tail_obs - tail_exp).powi(2) / tail_exp.max(1e-9);
        bins += 1;
    }
    (stat, bins - 1)
}

/// Chi-square critical value at about 4 standard deviations (p ~ 3e-5), Wilson-Hilferty.
fn critical(df: usize) -> f64 {
    let k = df as f64;
    k * (1.0 - 2.0 / (9.0 * k) + 4.0 * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

fn dgauss_pmf(sigma2: f64) -> impl Fn(i64) -> f64 {
    let k = (40.0 * sigma2.sqrt()) as i64 + 40;
    let norm: f64 = (-k..=k)
        .map(|z| (-((z * z) as f64) / (2.0 * sigma2)).exp())
        .sum();
    move |z| (-((z * z) as f64) / (2.0 * sigma2)).exp() / norm
}

#[test]
fn discrete_gaussian_matches_its_pmf() {
    for (seed, num) in [(1u64, 19_661u64), (2, 163_840), (3, 2_621_440)] {
        let sigma2 = num as f64 / NOISE_DENOM as f64; // 0.3, 2.5, 40
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let samples: Vec<i64> = (0..40_000)
            .map(|_| discrete_gaussian(&mut rng, num))
            .collect();
        let k = (8.0 * sigma2.sqrt()) as i64 + 3;
        let (stat, df) = chi_square(&samples, dgauss_pmf(sigma2), (-k, k));
        assert!(stat < critical(df), "sigma2 {sigma2}: chi2 {stat} df {df}");
        // And the exact variance (not sigma2 for small sigma).
        let pmf = dgauss_pmf(sigma2);
        let var: f64 = (-k..=k).map(|z| (z * z) as f64 * pmf(z)).sum();
        let m2 = samples.iter().map(|&z| (z * z) as f64).sum::<f64>() / samples.len() as f64;
        assert!(
            (m2 / var - 1.0).abs() < 0.05,
            "sigma2 {sigma2}: {m2} vs {var}"
        );
    }
}

#[test]
fn discrete_laplace_matches_its_pmf() {
    let t = 3u64;
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let samples: Vec<i64> = (0..40_000)
        .map(|_| discrete_laplace(&mut rng, t) as i64)
        .collect();
    let q = (-1.0 / t as f64).exp();
    let pmf = move |z: i64| (1.0 - q) / (1.0 + q) * q.powi(z.unsigned_abs() as i32);
    let (stat, df) = chi_square(&samples, pmf, (-40, 40));
    assert!(stat < critical(df), "chi2 {stat} df {df}");
}

fn poisson_pmf(lambda: f64, k: i64) -> f64 {
    if k < 0 {
        return 0.0;
    }
    let mut p = (-lambda).exp();
    for i in 1..=k {
        p *= lambda / i as f64;
    }
    p
}

#[test]
fn poisson_and_skellam_match_their_pmfs() {
    // Poisson(num / 2^17) for lambda = 0.2 (one part) and about 3.7 (eight parts).
    for (seed, num) in [(5u64, 26_214u64), (6, 485_000)] {
        let lambda = num as f64 / (2 * NOISE_DENOM) as f64;
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let samples: Vec<i64> = (0..40_000).map(|_| poisson(&mut rng, num) as i64).collect();
        let (stat, df) = chi_square(&samples, |k| poisson_pmf(lambda, k), (0, 40));
        assert!(stat < critical(df), "lambda {lambda}: chi2 {stat} df {df}");
    }
    // Skellam with variance 3: Poisson(1.5) - Poisson(1.5); pmf by convolution here.
    let num = 3 * NOISE_DENOM;
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let samples: Vec<i64> = (0..40_000).map(|_| skellam(&mut rng, num)).collect();
    let pmf = |z: i64| {
        (0..80)
            .map(|b| poisson_pmf(1.5, z + b) * poisson_pmf(1.5, b))
            .sum::<f64>()
    };
    let (stat, df) = chi_square(&samples, pmf, (-30, 30));
    assert!(stat < critical(df), "skellam: chi2 {stat} df {df}");
}

#[test]
fn bernoulli_exp_has_the_right_rate() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    for (p, q) in [(3u128, 10u128), (27, 10), (0, 1)] {
        let n = 100_000;
        let hits = (0..n).filter(|_| bernoulli_exp_neg(&mut rng, p, q)).count() as f64;
        let want = (-(p as f64) / q as f64).exp();
        let sd = (want * (1.0 - want) / n as f64).sqrt().max(1e-9);
        assert!((hits / n as f64 - want).abs() < 5.0 * sd, "{p}/{q}: {hits}");
    }
}

/// The pmf of the sum of `n` discrete Gaussians, by brute-force enumeration of all share tuples
/// (independent of the accountant's convolution).
fn brute_force_sum(sigma2: f64, n: usize, k: i64) -> std::collections::BTreeMap<i64, f64> {
    let one = dgauss_pmf(sigma2);
    let mut dist = std::collections::BTreeMap::from([(0i64, 1.0f64)]);
    for _ in 0..n {
        let mut next = std::collections::BTreeMap::new();
        for (&z, &p) in &dist {
            for y in -k..=k {
                *next.entry(z + y).or_insert(0.0) += p * one(y);
            }
        }
        dist = next;
    }
    dist
}

#[test]
fn exact_accountant_matches_a_direct_summation() {
    let (sigma2, n) = (0.4, 3u64);
    // Shares up to +-30 cover every share whose probability is a normal binary64 number.
    let brute = brute_force_sum(sigma2, n as usize, 30);
    let z = ExactSum::new(sigma2, n).unwrap();
    for (&v, &p) in brute.iter().filter(|(_, p)| **p > 1e-250) {
        assert!(
            (z.pmf(v) / p - 1.0).abs() < 1e-9,
            "pmf at {v}: {} vs {p}",
            z.pmf(v)
        );
    }
    let get = |v: i64| *brute.get(&v).unwrap_or(&0.0);
    for shift in [1i64, 2] {
        for alpha in [2.0f64, 5.5, 12.0] {
            // D_alpha(Z + shift || Z) summed directly over the brute-force pmf.
            let s: (f64, f64) = brute
                .keys()
                .map(|&v| (v, get(v - shift), get(v)))
                .filter(|(_, p, q)| *p > 0.0 && *q > 0.0)
                .map(|(_, p, q)| alpha * p.ln() + (1.0 - alpha) * q.ln())
                .collect::<Vec<f64>>()
                .iter()
                .fold((f64::NEG_INFINITY, 0.0), |(m, acc), &t| {
                    // running log-sum-exp: (max, sum of exp(t - max))
                    if t > m {
                        (t, acc * (m - t).exp() + 1.0)
                    } else {
                        (m, acc + (t - m).exp())
                    }
                });
            let direct = (s.0 + s.1.ln()) / (alpha - 1.0);
            let ours = z.rdp_shift(alpha, shift).unwrap();
            assert!(
                (ours - direct).abs() < 1e-9 * direct.max(1.0),
                "{shift} {alpha}: {ours} vs {direct}"
            );
            // The paper's bound (Proposition 14, d = 1, L1 = L2 = shift) is an upper bound.
            let tau = ddg_tau(sigma2, n);
            let bound = ddg_rdp(alpha, shift as f64, shift as f64, sigma2, n, 1, tau);
            assert!(
                bound >= ours,
                "{shift} {alpha}: bound {bound} < exact {ours}"
            );
        }
        // delta(eps) of the 1-D mechanism, direct hockey stick.
        for eps in [0.5f64, 2.0] {
            let direct: f64 = (-40..=40)
                .map(|v| (get(v - shift) - eps.exp() * get(v)).max(0.0))
                .sum();
            assert!((z.delta_1d(eps, shift) - direct).abs() < 1e-12);
        }
    }
    // An order whose sum reaches the truncated support's edge is reported unresolved (the
    // callers then fall back to the paper's bound), never silently underestimated.
    assert_eq!(z.rdp_shift(100.0, 2), None);
    // The D-dimensional bound covers every shift up to the norm bound.
    let b = z.rdp_bound(2.0, 4).unwrap();
    for shift in [1i64, 2] {
        assert!(b >= z.rdp_shift(2.0, shift).unwrap() * 4.0 / (shift * shift) as f64 - 1e-12);
    }
}

#[test]
fn skellam_bound_covers_the_exact_divergence() {
    // Total variance mu = 6: Poisson(3) - Poisson(3); exact Renyi divergence of a shift by 1.
    let pmf = |z: i64| {
        (0..120)
            .map(|b| poisson_pmf(3.0, z + b) * poisson_pmf(3.0, b))
            .sum::<f64>()
    };
    for alpha in [2.0f64, 4.0, 8.0] {
        let s: f64 = (-60..=60)
            .map(|z| (pmf(z - 1), pmf(z)))
            .filter(|(p, q)| *p > 0.0 && *q > 0.0)
            .map(|(p, q)| (alpha * p.ln() + (1.0 - alpha) * q.ln()).exp())
            .sum();
        let exact = s.ln() / (alpha - 1.0);
        let bound = skellam_rdp(alpha, 1.0, 1.0, 6.0);
        assert!(
            bound >= exact && bound < 3.0 * exact,
            "{alpha}: {bound} vs {exact}"
        );
    }
    assert_eq!(skellam_rdp(2.5, 1.0, 1.0, 6.0), f64::INFINITY);
}

#[test]
fn gaussian_delta_matches_numerical_integration() {
    // delta(eps) = integral of max(0, phi(x - s) - e^eps phi(x)) dx, by the trapezoid rule.
    for (eps, sigma) in [(1.0f64, 3.0f64), (3.0, 1.5), (0.5, 8.0)] {
        let s = 1.0;
        let phi = |x: f64| {
            (-x * x / (2.0 * sigma * sigma)).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt())
        };
        let h = 1e-3;
        let mut acc = 0.0;
        let mut x = -20.0 * sigma;
        while x < 20.0 * sigma {
            acc += h * (phi(x - s) - eps.exp() * phi(x)).max(0.0);
            x += h;
        }
        let ours = gaussian_delta(eps, sigma, s);
        assert!(
            (ours - acc).abs() < 1e-6 * acc.max(1e-3),
            "{eps} {sigma}: {ours} vs {acc}"
        );
    }
    // The RDP route is an upper bound on the exact epsilon of the Gaussian mechanism.
    let ords = accounting::orders();
    let sigma = 4.0;
    let rdp: Vec<f64> = ords.iter().map(|a| a / (2.0 * sigma * sigma)).collect();
    let eps_rdp = rdp_to_epsilon(&ords, &rdp, 1e-6);
    assert!(gaussian_delta(eps_rdp, sigma, 1.0) <= 1e-6);
    assert!(gaussian_delta(eps_rdp * 0.8, sigma, 1.0) > 1e-6);
}

fn target(n_min: u64, n_max: u64, dim: u32) -> CalibrationTarget {
    CalibrationTarget {
        mechanism: Mechanism::DiscreteGaussian,
        epsilon: 2.0,
        delta: 1e-6,
        clip: 1.0,
        dim,
        bits: 20,
        min_clients: n_min,
        max_clients: n_max,
        beta: (-0.5f64).exp(),
        max_wrap: 1e-6,
        rounds: 1,
    }
}

#[test]
fn a_round_with_dropouts_has_the_predicted_variance() {
    let (n, dropped, dim) = (40u64, 10u64, 1000u32);
    let cal = calibrate(&target(n - dropped, n, dim)).unwrap();
    let cfg = cal.config;
    assert!(cal.guarantee.epsilon() <= 2.0 + 1e-9);
    assert!(cal.wrap_probability <= 1e-6);
    let rot = Rotation::new(&SessionId([1; 32]), cfg.padded_dim());
    let bits = Bits::new(20).unwrap();
    let mut sum = RingVec::zeros(bits, cfg.padded_dim());
    let mut truth = vec![0.0; dim as usize];
    let mut included = 0;
    for i in 0..n {
        let x: Vec<f64> = (0..dim)
            .map(|j| ((i * 7 + j as u64) as f64 * 0.61).sin() * 0.02)
            .collect();
        let mut rng = ChaCha20Rng::seed_from_u64(100 + i);
        let (v, rep) = encode(&cfg, &rot, &x, &mut rng).unwrap();
        assert!(!rep.clipped);
        // The last `dropped` clients vanish after encoding: their vectors never reach the sum.
        if i < n - dropped {
            sum.add_assign(&v).unwrap();
            truth.iter_mut().zip(&x).for_each(|(t, v)| *t += v);
            included += 1;
        }
    }
    let out = decode_sum(&cfg, &rot, &sum, included).unwrap();
    let mse = out
        .mean
        .iter()
        .zip(&truth)
        .map(|(m, t)| (m - t / included as f64).powi(2))
        .sum::<f64>()
        / f64::from(dim);
    let pred = cal.predicted_mse(included);
    // 1000 coordinates: the MSE estimate has relative sd about sqrt(2/1000) = 4.5%.
    assert!(
        (mse / pred - 1.0).abs() < 0.15,
        "mse {mse} predicted {pred}"
    );
    // More survivors, less epsilon; composition over rounds costs more.
    let g30 = accounting::guarantee(&cfg, 30, 1e-6, 1, false).epsilon();
    let g40 = accounting::guarantee(&cfg, 40, 1e-6, 1, false).epsilon();
    let g30x4 = accounting::guarantee(&cfg, 30, 1e-6, 4, false).epsilon();
    assert!(
        g40 < g30 && g30 <= 2.0 + 1e-9 && g30x4 > 1.5 * g30,
        "{g40} {g30} {g30x4}"
    );
}

#[test]
fn bad_configurations_are_refused() {
    let good = target(10, 10, 64);
    let bad = |f: &dyn Fn(&mut CalibrationTarget)| {
        let mut t = good;
        f(&mut t);
        calibrate(&t).unwrap_err()
    };
    assert_eq!(bad(&|t| t.epsilon = 0.0), DdpError::InvalidEpsilon(0.0));
    assert_eq!(bad(&|t| t.epsilon = -1.0), DdpError::InvalidEpsilon(-1.0));
    assert!(matches!(
        bad(&|t| t.epsilon = f64::NAN),
        DdpError::InvalidEpsilon(_)
    ));
    assert_eq!(bad(&|t| t.clip = 0.0), DdpError::InvalidClip(0.0));
    assert_eq!(bad(&|t| t.clip = -2.0), DdpError::InvalidClip(-2.0));
    assert_eq!(bad(&|t| t.delta = 0.0), DdpError::InvalidDelta(0.0));
    assert_eq!(bad(&|t| t.beta = 1.0), DdpError::InvalidBeta(1.0));
    assert!(matches!(
        bad(&|t| t.min_clients = 11),
        DdpError::InvalidClients { .. }
    ));
    // 1000 clients' rounding errors alone exceed a 6-bit ring.
    let e = bad(&|t| {
        t.bits = 6;
        t.min_clients = 1000;
        t.max_clients = 1000;
    });
    assert!(matches!(e, DdpError::BitsTooSmall { bits: 6, .. }), "{e}");
    assert!(e.to_string().contains("increase bits"));
    // Pipeline arguments: wrong length, non-finite input.
    let cfg = calibrate(&good).unwrap().config;
    let rot = Rotation::new(&SessionId([0; 32]), cfg.padded_dim());
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    assert!(matches!(
        encode(&cfg, &rot, &[0.0; 3], &mut rng),
        Err(DdpError::LengthMismatch { .. })
    ));
    let mut x = vec![0.0; 64];
    x[5] = f64::INFINITY;
    assert_eq!(
        encode(&cfg, &rot, &x, &mut rng).unwrap_err(),
        DdpError::NonFinite { index: 5 }
    );
    let wrong = RingVec::zeros(Bits::new(16).unwrap(), cfg.padded_dim());
    assert!(matches!(
        decode_sum(&cfg, &rot, &wrong, 1),
        Err(DdpError::BitsMismatch { .. })
    ));
    assert_eq!(
        decode_sum(&cfg, &rot, &RingVec::zeros(Bits::new(20).unwrap(), 64), 0).unwrap_err(),
        DdpError::NoClients
    );
}

/// The whole protocol (in-process simulation with real messages) with DP in the session
/// parameters: 30 clients, 6 vanish before sending their masked input, the server decodes the
/// noisy mean of the 24 survivors, whose error has the predicted variance; the DP configuration
/// is bound into the session id and survives the parameters' encoding.
#[test]
fn a_protocol_session_with_dp_and_dropouts() {
    use secagg::ids::Round;
    use secagg::protocol::params::{Graph, ParamsError, SessionParams};
    use secagg::protocol::sim::{self, SimConfig, Vanish};
    let (n, dropped, dim) = (30usize, 6usize, 1000u32);
    let cal = calibrate(&CalibrationTarget {
        bits: 24,
        ..target((n - dropped) as u64, n as u64, dim)
    })
    .unwrap();
    let dp = cal.config;
    let mut p = protocol_common::params(n, 12, Graph::Complete, false, dp.padded_dim() as u32);
    p.bits = Bits::new(24).unwrap();
    p.levels = 2;
    p.dp = Some(dp);
    p.validate().unwrap();
    // Encoding: DP appended after the timeouts, decoded back, and part of the session id.
    let enc = p.encode();
    assert_eq!(SessionParams::decode(&enc).unwrap(), p);
    let mut plain = p.clone();
    plain.dp = None;
    assert_eq!(enc.len(), plain.encode().len() + 40);
    assert_ne!(p.session_id(), plain.session_id());
    let mut bad_tag = enc.clone();
    let tag = enc.len() - 40;
    bad_tag[tag] = 2;
    assert!(SessionParams::decode(&bad_tag).is_err());
    assert!(SessionParams::decode(&enc[..enc.len() - 1]).is_err());
    let mut bad_noise = enc.clone();
    bad_noise[enc.len() - 8..].copy_from_slice(&[0; 8]);
    assert!(SessionParams::decode(&bad_noise).is_err());
    // Mismatches are refused.
    let mut bad = p.clone();
    bad.vector_len += 1;
    assert!(matches!(bad.validate(), Err(ParamsError::Dp(_))));
    let mut bad = p.clone();
    bad.max_weight = 2;
    assert!(matches!(bad.validate(), Err(ParamsError::Dp(_))));

    let inputs: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..dim)
                .map(|j| ((i * 13) as f64 + j as f64 * 0.37).cos() * 0.02)
                .collect()
        })
        .collect();
    let vanish = (0..n)
        .map(|i| (i >= n - dropped).then_some(Vanish::Silent(Round::MaskedInput)))
        .collect();
    let cfg = SimConfig {
        inputs: inputs.clone(),
        weights: vec![1; n],
        vanish,
        identity_seeds: Vec::new(),
        params: Arc::new(p),
        seed: 77,
        client_tamper: None,
        server_tamper: None,
        record: false,
    };
    let report = sim::run(&cfg).unwrap();
    let out = report.result.expect("session completes");
    let m = n - dropped;
    assert_eq!(out.included.len(), m);
    assert_eq!(out.weight_sum, m as u64);
    let mean = out.weighted_mean();
    assert_eq!(mean.len(), dim as usize);
    let mse = (0..dim as usize)
        .map(|j| {
            let truth = inputs[..m].iter().map(|x| x[j]).sum::<f64>() / m as f64;
            (mean[j] - truth).powi(2)
        })
        .sum::<f64>()
        / f64::from(dim);
    let pred = cal.predicted_mse(m as u64);
    assert!(
        (mse / pred - 1.0).abs() < 0.15,
        "mse {mse} predicted {pred}"
    );
    // The achieved guarantee for the 24 included clients meets the target calibrated for 24.
    let g = accounting::guarantee(&dp, m as u64, 1e-6, 1, false);
    assert!(g.epsilon() <= 2.0 + 1e-9);
}

/// The session builder calibrates DP for the cohort and graph it chooses: the guarantee holds
/// with `max(1, t + 1 - c)` noisy clients, `L` is the padded dimension, and a session built so
/// runs end to end with the predicted error. Bad targets and weighted sums are refused.
#[test]
fn the_builder_calibrates_dp_for_its_cohort() {
    use secagg::ddp::SessionDp;
    use secagg::ids::ParticipantId;
    use secagg::protocol::builder::BuildError;
    use secagg::protocol::sim::{self, SimConfig};
    use secagg::protocol::SessionParams;
    let (n, dim) = (40u16, 300u32);
    let ids = || (1..=n).map(|i| ParticipantId::new(i).unwrap());
    let p = SessionParams::builder([3; 32], ids(), dim)
        .distributed_dp(SessionDp::new(2.0, 1.0))
        .build()
        .unwrap();
    let dp = p.dp.expect("DP configured");
    assert_eq!(dp.dim(), dim as usize);
    assert_eq!(p.vector_len as usize, dp.padded_dim());
    assert_eq!((p.bits.get(), p.levels, p.max_weight), (32, 2, 1));
    let noisy = SessionDp::noisy_clients(p.threshold, p.max_corrupt_neighbours);
    assert!(noisy >= 1 && noisy <= u64::from(p.threshold));
    let delta = SessionDp::default_delta(n as usize);
    let g = accounting::guarantee(&dp, noisy, delta, 1, false);
    assert!(g.epsilon() <= 2.0 + 1e-9, "epsilon {}", g.epsilon());
    // One noisy client fewer than the session guarantees would not meet the target: the
    // calibration is for that count, not for the whole cohort.
    if noisy > 1 {
        assert!(accounting::guarantee(&dp, noisy - 1, delta, 1, false).epsilon() > 2.0);
    }

    let inputs: Vec<Vec<f64>> = (0..n as usize)
        .map(|i| {
            (0..dim)
                .map(|j| ((i * 7 + j as usize) as f64).sin() * 0.03)
                .collect()
        })
        .collect();
    let cfg = SimConfig {
        inputs: inputs.clone(),
        weights: vec![1; n as usize],
        vanish: vec![None; n as usize],
        identity_seeds: Vec::new(),
        params: Arc::new(p),
        seed: 5,
        client_tamper: None,
        server_tamper: None,
        record: false,
    };
    let out = sim::run(&cfg).unwrap().result.expect("session completes");
    let mean = out.weighted_mean();
    assert_eq!(mean.len(), dim as usize);
    let mse = (0..dim as usize)
        .map(|j| {
            let truth = inputs.iter().map(|x| x[j]).sum::<f64>() / f64::from(n);
            (mean[j] - truth).powi(2)
        })
        .sum::<f64>()
        / f64::from(dim);
    let cal = calibrate(&SessionDp::new(2.0, 1.0).target(
        dim,
        32,
        n as usize,
        cfg.params.threshold,
        cfg.params.max_corrupt_neighbours,
    ))
    .unwrap();
    let pred = cal.predicted_mse(u64::from(n));
    assert!(
        (mse / pred - 1.0).abs() < 0.25,
        "mse {mse} predicted {pred}"
    );

    let refused = |b: secagg::protocol::builder::SessionParamsBuilder| b.build().unwrap_err();
    assert!(matches!(
        refused(
            SessionParams::builder([3; 32], ids(), dim).distributed_dp(SessionDp::new(-1.0, 1.0))
        ),
        BuildError::Dp(_)
    ));
    assert!(matches!(
        refused(
            SessionParams::builder([3; 32], ids(), dim)
                .max_weight(10)
                .distributed_dp(SessionDp::new(2.0, 1.0))
        ),
        BuildError::Params(_)
    ));
}

/// Skellam end to end on a small ring (its exact Poisson sampler costs O(mu) per draw, so the
/// noise is kept small): calibration meets the target, the wrap bound is finite and below the
/// target, and the decoded mean has the predicted variance.
#[test]
fn skellam_round_has_the_predicted_variance() {
    let n = 10u64;
    let t = CalibrationTarget {
        mechanism: Mechanism::Skellam,
        epsilon: 4.0,
        bits: 8,
        ..target(n, n, 512)
    };
    let cal = calibrate(&t).unwrap();
    let cfg = cal.config;
    assert_eq!(cfg.mechanism(), Mechanism::Skellam);
    assert!(cal.guarantee.epsilon() <= 4.0 + 1e-9 && cal.wrap_probability <= 1e-6);
    let rot = Rotation::new(&SessionId([4; 32]), cfg.padded_dim());
    let mut sum = RingVec::zeros(Bits::new(8).unwrap(), cfg.padded_dim());
    let mut truth = vec![0.0; 512];
    for i in 0..n {
        let x: Vec<f64> = (0..512)
            .map(|j| ((i + 3 * j) as f64).sin() * 0.05)
            .collect();
        let (v, _) = encode(&cfg, &rot, &x, &mut ChaCha20Rng::seed_from_u64(500 + i)).unwrap();
        sum.add_assign(&v).unwrap();
        truth
            .iter_mut()
            .zip(&x)
            .for_each(|(a, b)| *a += b / n as f64);
    }
    let out = decode_sum(&cfg, &rot, &sum, n).unwrap();
    let mse = out
        .mean
        .iter()
        .zip(&truth)
        .map(|(m, t)| (m - t).powi(2))
        .sum::<f64>()
        / 512.0;
    // 512 coordinates: relative sd of the estimate about 6%.
    let pred = cal.predicted_mse(n);
    assert!(
        (mse / pred - 1.0).abs() < 0.25,
        "mse {mse} predicted {pred}"
    );
}
