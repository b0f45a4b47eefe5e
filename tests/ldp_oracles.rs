//! Statistical, privacy-enumeration and bad-input tests of the single-attribute oracles.

mod ldp_common;

use ldp_common::{rng, zipf_population, ErrorStats};
use secagg::ldp::hr::Hr;
use secagg::ldp::lh::{lh_hash, LhReport, LH_PRIME};
use secagg::ldp::ss::SsReport;
use secagg::ldp::*;

/// MSE of the raw estimate vs closed form, and unbiasedness, over seeded repetitions.
fn statistical<O: FrequencyOracle>(o: &O, n: usize, reps: usize, seed: u64) {
    let k = o.domain_size();
    let (values, freqs) = zipf_population(n, k);
    let mut rng = rng(seed);
    let mut stats = ErrorStats::new(freqs.clone());
    for _ in 0..reps {
        let reports = o.randomize_batch(&values, &mut rng).unwrap();
        let mut agg = o.aggregator();
        agg.add_all(&reports).unwrap();
        stats.add(&agg.estimate());
    }
    let pp = o.params();
    let var: Vec<f64> = freqs.iter().map(|&f| pp.variance(f, n as f64)).collect();
    stats.check(&var, &format!("{} k={k} eps={}", o.name(), o.epsilon()));
}

/// reps chosen so that reps * k >= ~2000 squared-error samples (relative standard error of the
/// MSE about 3 %, so the [0.85, 1.15] band is about 5 standard errors wide on each side).
fn reps_for(k: u32) -> usize {
    (2000 / k as usize).max(40)
}

/// Users per repetition (the MSE/variance ratio does not depend on n).
const N: usize = 1000;

#[test]
fn grr_statistics() {
    for (i, &(k, eps)) in [(16u32, 1.0), (16, 4.0), (5, 0.5)].iter().enumerate() {
        statistical(&Grr::new(k, eps).unwrap(), N, reps_for(k), 10 + i as u64);
    }
}

#[test]
fn sue_oue_statistics() {
    for (i, &(k, eps)) in [(16u32, 1.0), (5, 0.5), (70, 2.0)].iter().enumerate() {
        statistical(&Ue::sue(k, eps).unwrap(), N, reps_for(k), 20 + i as u64);
    }
    // (16, 4) exercises geometric skipping (q = 0.018), the others word-parallel sampling
    for (i, &(k, eps)) in [(16u32, 1.0), (16, 4.0), (5, 0.5), (70, 2.0)]
        .iter()
        .enumerate()
    {
        statistical(&Ue::oue(k, eps).unwrap(), N, reps_for(k), 30 + i as u64);
    }
}

#[test]
fn blh_olh_statistics() {
    for (i, &(k, eps)) in [(16u32, 1.0), (16, 4.0), (5, 0.5)].iter().enumerate() {
        statistical(&Lh::blh(k, eps).unwrap(), N, reps_for(k), 40 + i as u64);
        statistical(&Lh::olh(k, eps).unwrap(), N, reps_for(k), 50 + i as u64);
    }
}

#[test]
fn hr_statistics() {
    for (i, &(k, eps)) in [(16u32, 1.0), (16, 4.0), (5, 0.5), (100, 2.0)]
        .iter()
        .enumerate()
    {
        statistical(&Hr::new(k, eps).unwrap(), N, reps_for(k), 60 + i as u64);
    }
}

#[test]
fn ss_statistics() {
    for (i, &(k, eps)) in [(16u32, 1.0), (16, 4.0), (5, 0.5), (100, 2.0)]
        .iter()
        .enumerate()
    {
        let o = Ss::new(k, eps).unwrap();
        statistical(&o, N, reps_for(k), 70 + i as u64);
    }
    assert_eq!(Ss::new(16, 4.0).unwrap().omega(), 1);
    assert_eq!(Ss::new(1024, 1.0).unwrap().omega(), 275);
}

#[test]
fn adp_statistics_and_rule() {
    assert!(Adp::new(16, 2.0).unwrap().is_grr()); // 16 < 3e^2 + 2 = 24.2
    assert!(!Adp::new(32, 2.0).unwrap().is_grr());
    for (i, &(k, eps)) in [(16u32, 2.0), (32, 2.0)].iter().enumerate() {
        statistical(&Adp::new(k, eps).unwrap(), N, reps_for(k), 80 + i as u64);
    }
}

/// Closed-form n·Var*(f=0) values from the reference table (k=1024 and k=16).
#[test]
fn closed_form_variances_match_reference_table() {
    let nvar = |pp: PureParams| pp.variance_f0(1.0);
    let close = |a: f64, b: f64| (a - b).abs() / b < 6e-3;
    assert!(close(nvar(Grr::new(16, 1.0).unwrap().params()), 5.66));
    assert!(close(nvar(Grr::new(1024, 1.0).unwrap().params()), 347.0));
    assert!(close(nvar(Ue::sue(16, 1.0).unwrap().params()), 3.92));
    assert!(close(nvar(Ue::oue(16, 2.0).unwrap().params()), 0.724));
    assert!(close(nvar(Lh::blh(16, 1.0).unwrap().params()), 4.68));
    assert!(close(nvar(Lh::olh(16, 4.0).unwrap().params()), 0.076));
    assert!(close(nvar(Hr::new(16, 0.5).unwrap().params()), 16.7));
    assert!(close(nvar(Ss::new(1024, 1.0).unwrap().params()), 3.67));
    assert!(close(nvar(Ss::new(128, 4.0).unwrap().params()), 0.0584));
    assert_eq!(Lh::olh(16, 0.5).unwrap().buckets(), 3);
    assert_eq!(Lh::olh(16, 4.0).unwrap().buckets(), 56);
}

// ---------------------------------------------------------------- privacy by enumeration

/// ln max over outputs and value pairs of P[y|v]/P[y|v'], from a full table P[v][y].
fn max_log_ratio(table: &[Vec<f64>]) -> f64 {
    let mut best = 0.0f64;
    for a in table {
        for b in table {
            for (pa, pb) in a.iter().zip(b) {
                assert!(*pb > 0.0);
                best = best.max((pa / pb).ln());
            }
        }
    }
    best
}

fn assert_eps(label: &str, enumerated: f64, reported: f64, nominal: f64) {
    assert!(
        (enumerated - reported).abs() < 1e-9,
        "{label}: enumerated {enumerated} reported {reported}"
    );
    assert!(
        (reported - nominal).abs() < 1e-9,
        "{label}: reported {reported} nominal {nominal}"
    );
}

#[test]
fn privacy_enumeration_grr_ue_hr() {
    for k in [2u32, 3, 5, 8] {
        for eps in [0.3, 1.0, 2.5] {
            let g = Grr::new(k, eps).unwrap();
            let t: Vec<Vec<f64>> = (0..k)
                .map(|v| {
                    (0..k)
                        .map(|y| {
                            if y == v {
                                g.p()
                            } else {
                                (1.0 - g.p()) / f64::from(k - 1)
                            }
                        })
                        .collect()
                })
                .collect();
            let s: f64 = t[0].iter().sum();
            assert!((s - 1.0).abs() < 1e-12);
            assert_eps("GRR", max_log_ratio(&t), g.true_epsilon(), eps);

            for u in [Ue::sue(k, eps).unwrap(), Ue::oue(k, eps).unwrap()] {
                let t: Vec<Vec<f64>> = (0..k)
                    .map(|v| {
                        (0..1u32 << k)
                            .map(|y| {
                                (0..k)
                                    .map(|i| {
                                        let pr = if i == v { u.p() } else { u.q() };
                                        if (y >> i) & 1 == 1 {
                                            pr
                                        } else {
                                            1.0 - pr
                                        }
                                    })
                                    .product()
                            })
                            .collect()
                    })
                    .collect();
                assert_eps(u.name(), max_log_ratio(&t), u.true_epsilon(), eps);
            }

            let h = Hr::new(k, eps).unwrap();
            let big_k = h.output_size();
            let p = eps.exp() / (eps.exp() + 1.0);
            let t: Vec<Vec<f64>> = (0..k)
                .map(|v| {
                    (0..big_k)
                        .map(|y| if Hr::in_set(v, y) { p } else { 1.0 - p } / f64::from(big_k / 2))
                        .collect()
                })
                .collect();
            assert_eps("HR", max_log_ratio(&t), h.true_epsilon(), eps);
        }
    }
}

#[test]
fn hr_sets_are_balanced_and_pairwise_quarter() {
    let h = Hr::new(11, 1.0).unwrap();
    let big_k = h.output_size();
    assert_eq!(big_k, 16);
    for u in 0..11 {
        assert_eq!(
            (0..big_k).filter(|&y| Hr::in_set(u, y)).count() as u32,
            big_k / 2
        );
        for v in 0..11 {
            if u != v {
                let both = (0..big_k)
                    .filter(|&y| Hr::in_set(u, y) && Hr::in_set(v, y))
                    .count();
                assert_eq!(both as u32, big_k / 4);
            }
        }
    }
}

fn binom(n: u32, r: u32) -> f64 {
    (0..r).fold(1.0, |acc, i| acc * f64::from(n - i) / f64::from(i + 1))
}

#[test]
fn privacy_enumeration_ss() {
    for k in [2u32, 4, 6, 9] {
        for eps in [0.2, 0.7, 1.5, 3.0] {
            let s = Ss::new(k, eps).unwrap();
            let w = s.omega();
            let p_in = s.params().p_star();
            let subsets: Vec<u32> = (0..1u32 << k).filter(|m| m.count_ones() == w).collect();
            let t: Vec<Vec<f64>> = (0..k)
                .map(|v| {
                    subsets
                        .iter()
                        .map(|m| {
                            if (m >> v) & 1 == 1 {
                                p_in / binom(k - 1, w - 1)
                            } else {
                                (1.0 - p_in) / binom(k - 1, w)
                            }
                        })
                        .collect()
                })
                .collect();
            let total: f64 = t[0].iter().sum();
            assert!((total - 1.0).abs() < 1e-9);
            assert_eps("SS", max_log_ratio(&t), s.true_epsilon(), eps);
        }
    }
}

#[test]
fn privacy_enumeration_lh() {
    // The hash key is public and independent of v: P[(a,b,y)|v] = P[a,b] · GRR_g(y | H(v)).
    let mut r = rng(5);
    let keys: Vec<(u64, u64)> = (0..24)
        .map(|_| {
            let rep = Lh::blh(2, 1.0).unwrap().randomize(0, &mut r).unwrap();
            (rep.a, rep.b)
        })
        .chain([(1, 0), (LH_PRIME - 1, LH_PRIME - 1)])
        .collect();
    for k in [2u32, 5, 9] {
        for eps in [0.3, 1.0, 3.0] {
            for o in [Lh::blh(k, eps).unwrap(), Lh::olh(k, eps).unwrap()] {
                let g = o.buckets();
                let p = o.params().p_star();
                let mut best = 0.0f64;
                for &(a, b) in &keys {
                    let t: Vec<Vec<f64>> = (0..k)
                        .map(|v| {
                            let x = lh_hash(a, b, v, g);
                            (0..g)
                                .map(|y| {
                                    if y == x {
                                        p
                                    } else {
                                        (1.0 - p) / f64::from(g - 1)
                                    }
                                })
                                .collect()
                        })
                        .collect();
                    best = best.max(max_log_ratio(&t));
                }
                assert_eps(o.name(), best, o.true_epsilon(), eps);
            }
        }
    }
}

/// Empirical output distributions of the samplers against their definitions.
#[test]
fn sampler_output_distributions() {
    let mut r = rng(99);
    let draws = 40_000;
    // SS: P[subset | v]
    let s = Ss::new(6, 0.7).unwrap();
    let w = s.omega();
    let p_in = s.params().p_star();
    let mut hist = std::collections::HashMap::new();
    for _ in 0..draws {
        let rep = s.randomize(2, &mut r).unwrap();
        *hist
            .entry(rep.0.iter().fold(0u32, |m, &x| m | 1 << x))
            .or_insert(0u32) += 1;
    }
    for m in (0..64u32).filter(|m| m.count_ones() == w) {
        let p = if (m >> 2) & 1 == 1 {
            p_in / binom(5, w - 1)
        } else {
            (1.0 - p_in) / binom(5, w)
        };
        let got = f64::from(*hist.get(&m).unwrap_or(&0)) / f64::from(draws);
        let se = (p * (1.0 - p) / f64::from(draws)).sqrt();
        assert!((got - p).abs() < 5.0 * se, "SS subset {m:b}: {got} vs {p}");
    }
    // HR: P[y | v]
    let h = Hr::new(5, 1.3).unwrap();
    let p = 1.3f64.exp() / (1.3f64.exp() + 1.0);
    let mut hist = [0u32; 8];
    for _ in 0..draws {
        hist[h.randomize(3, &mut r).unwrap() as usize] += 1;
    }
    for (y, &c) in hist.iter().enumerate() {
        let pr = if Hr::in_set(3, y as u32) { p } else { 1.0 - p } / 4.0;
        let got = f64::from(c) / f64::from(draws);
        assert!(
            (got - pr).abs() < 5.0 * (pr * (1.0 - pr) / f64::from(draws)).sqrt(),
            "HR y={y}"
        );
    }
    // GRR
    let g = Grr::new(4, 0.9).unwrap();
    let mut hist = [0u32; 4];
    for _ in 0..draws {
        hist[g.randomize(1, &mut r).unwrap() as usize] += 1;
    }
    for (y, &c) in hist.iter().enumerate() {
        let pr = if y == 1 { g.p() } else { g.q() };
        let got = f64::from(c) / f64::from(draws);
        assert!(
            (got - pr).abs() < 5.0 * (pr * (1.0 - pr) / f64::from(draws)).sqrt(),
            "GRR y={y}"
        );
    }
}

/// The single-word samplers of GRR (large k, where the replacement comes from the reciprocal
/// division) and of local hashing (keep the bucket, else one of the other g - 1): the kept rate
/// within 5 standard errors and the replacements uniform by a chi-square test at about the 1e-6
/// level (either fails if the decision and the replacement were not independent and exact).
#[test]
fn single_word_sampler_distributions() {
    let mut r = rng(101);
    let draws = 300_000u32;
    let chi2_ok = |hist: &[u32], label: &str| {
        let total: u32 = hist.iter().sum();
        let e = f64::from(total) / hist.len() as f64;
        let chi2: f64 = hist.iter().map(|&c| (f64::from(c) - e).powi(2) / e).sum();
        let df = (hist.len() - 1) as f64;
        assert!(
            chi2 < df + 7.0 * (2.0 * df).sqrt() + 10.0,
            "{label}: chi2 {chi2}, df {df}"
        );
    };
    for &(k, eps, v) in &[(1000u32, 1.0f64, 17u32), (3, 0.2, 2), (300, 6.0, 299)] {
        let g = Grr::new(k, eps).unwrap();
        let mut others = vec![0u32; k as usize - 1];
        let mut kept = 0u32;
        for _ in 0..draws {
            let y = g.randomize(v, &mut r).unwrap();
            if y == v {
                kept += 1;
            } else {
                others[(if y > v { y - 1 } else { y }) as usize] += 1;
            }
        }
        let p = g.p();
        let d = f64::from(draws);
        let se = (p * (1.0 - p) / d).sqrt();
        assert!(
            (f64::from(kept) / d - p).abs() < 5.0 * se,
            "GRR k={k} kept {kept}"
        );
        chi2_ok(&others, &format!("GRR k={k} eps={eps}"));
    }
    for o in [Lh::olh(50, 2.5).unwrap(), Lh::blh(50, 1.0).unwrap()] {
        let g = o.buckets();
        let mut shift = vec![0u32; g as usize];
        for _ in 0..draws / 3 {
            let rep = o.randomize(7, &mut r).unwrap();
            let x = lh_hash(rep.a, rep.b, 7, g);
            shift[((rep.y + g - x) % g) as usize] += 1;
        }
        let p = o.params().p_star();
        let d = f64::from(draws / 3);
        let se = (p * (1.0 - p) / d).sqrt();
        assert!(
            (f64::from(shift[0]) / d - p).abs() < 5.0 * se,
            "{} kept",
            o.name()
        );
        if g > 2 {
            chi2_ok(&shift[1..], o.name());
        }
    }
}

// ---------------------------------------------------------------- bad input

#[test]
fn bad_parameters_are_typed_errors() {
    for eps in [
        0.0,
        -0.0,
        -1.0,
        1e-300,
        5e-7,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        31.0,
    ] {
        assert!(
            matches!(Grr::new(4, eps), Err(LdpError::InvalidEpsilon { .. })),
            "{eps}"
        );
        assert!(matches!(
            Ue::oue(4, eps),
            Err(LdpError::InvalidEpsilon { .. })
        ));
        assert!(matches!(
            Ue::sue(4, eps),
            Err(LdpError::InvalidEpsilon { .. })
        ));
        assert!(matches!(
            Lh::olh(4, eps),
            Err(LdpError::InvalidEpsilon { .. }) | Err(LdpError::InvalidParameter(_))
        ));
        assert!(matches!(
            Lh::blh(4, eps),
            Err(LdpError::InvalidEpsilon { .. })
        ));
        assert!(matches!(
            Hr::new(4, eps),
            Err(LdpError::InvalidEpsilon { .. })
        ));
        assert!(matches!(
            Ss::new(4, eps),
            Err(LdpError::InvalidEpsilon { .. })
        ));
        assert!(matches!(
            Adp::new(4, eps),
            Err(LdpError::InvalidEpsilon { .. })
        ));
    }
    for k in [0u32, 1] {
        assert!(matches!(Grr::new(k, 1.0), Err(LdpError::DomainTooSmall(_))));
        assert!(matches!(Ue::oue(k, 1.0), Err(LdpError::DomainTooSmall(_))));
        assert!(matches!(Lh::olh(k, 1.0), Err(LdpError::DomainTooSmall(_))));
        assert!(matches!(Hr::new(k, 1.0), Err(LdpError::DomainTooSmall(_))));
        assert!(matches!(Ss::new(k, 1.0), Err(LdpError::DomainTooSmall(_))));
    }
    assert!(matches!(
        Grr::new(u32::MAX, 1.0),
        Err(LdpError::DomainTooLarge { .. })
    ));
    assert!(matches!(Lh::olh(4, 25.0), Err(LdpError::TooLarge { .. })));
}

#[test]
fn out_of_domain_values_are_typed_errors() {
    let mut r = rng(1);
    let oob = |e: LdpError| matches!(e.root(), LdpError::ValueOutOfDomain { value: 7, k: 7 });
    assert!(oob(Grr::new(7, 1.0)
        .unwrap()
        .randomize(7, &mut r)
        .unwrap_err()));
    assert!(oob(Grr::new(7, 1.0)
        .unwrap()
        .randomize_batch(&[1, 7], &mut r)
        .unwrap_err()));
    assert!(oob(Ue::oue(7, 1.0)
        .unwrap()
        .randomize(7, &mut r)
        .unwrap_err()));
    assert!(oob(Lh::olh(7, 1.0)
        .unwrap()
        .randomize(7, &mut r)
        .unwrap_err()));
    assert!(oob(Hr::new(7, 1.0)
        .unwrap()
        .randomize(7, &mut r)
        .unwrap_err()));
    assert!(oob(Ss::new(7, 1.0)
        .unwrap()
        .randomize(7, &mut r)
        .unwrap_err()));
    assert!(oob(Adp::new(7, 1.0)
        .unwrap()
        .randomize(7, &mut r)
        .unwrap_err()));
}

#[test]
fn invalid_reports_are_rejected_by_aggregators() {
    let g = Grr::new(5, 1.0).unwrap();
    let mut agg = g.aggregator();
    assert!(agg.add(&5).is_err());
    assert_eq!(agg.n(), 0);
    let u = Ue::oue(5, 1.0).unwrap();
    assert!(u.aggregator().add(&BitVector::zeros(6)).is_err());
    let l = Lh::olh(5, 1.0).unwrap();
    let mut la = l.aggregator();
    assert!(la.add(&LhReport { a: 0, b: 0, y: 0 }).is_err());
    assert!(la
        .add(&LhReport {
            a: 1,
            b: LH_PRIME,
            y: 0
        })
        .is_err());
    assert!(la
        .add(&LhReport {
            a: 1,
            b: 0,
            y: l.buckets()
        })
        .is_err());
    let s = Ss::new(9, 1.0).unwrap();
    assert_eq!(s.omega(), 2);
    let mut sa = s.aggregator();
    assert!(sa.add(&SsReport(vec![3, 3])).is_err());
    assert!(sa.add(&SsReport(vec![4, 3])).is_err());
    assert!(sa.add(&SsReport(vec![3, 9])).is_err());
    assert!(sa.add(&SsReport(vec![3])).is_err());
    assert!(sa.add(&SsReport(vec![3, 8])).is_ok());
    let a = Adp::new(5, 1.0).unwrap();
    assert!(a
        .aggregator()
        .add(&AttrReport::Unary(BitVector::zeros(5)))
        .is_err());
    let h = Hr::new(5, 1.0).unwrap();
    assert!(h.aggregator().add(&8).is_err());
}

#[test]
fn malformed_bytes_are_typed_errors() {
    let g = Grr::new(300, 1.0).unwrap();
    assert_eq!(g.report_len(), 2);
    assert!(matches!(
        g.decode_report(&[1]),
        Err(LdpError::ReportLength {
            expected: 2,
            got: 1
        })
    ));
    assert!(matches!(
        g.decode_report(&[0x2c, 0x01]),
        Err(LdpError::FieldOutOfRange {
            value: 300,
            bound: 300,
            ..
        })
    ));
    assert_eq!(g.decode_report(&[0x2b, 0x01]).unwrap(), 299);
    let u = Ue::oue(10, 1.0).unwrap();
    assert!(matches!(
        u.decode_report(&[0, 0x04]),
        Err(LdpError::MalformedReport(_))
    )); // bit 10
    assert!(u.decode_report(&[0xff, 0x03]).is_ok());
    let l = Lh::olh(10, 1.0).unwrap();
    let mut bytes = vec![0u8; l.report_len()];
    assert!(l.decode_report(&bytes).is_err()); // a = 0
    bytes[0] = 1;
    assert!(l.decode_report(&bytes).is_ok());
    bytes[16] = l.buckets() as u8;
    assert!(l.decode_report(&bytes).is_err());
    let s = Ss::new(9, 1.0).unwrap();
    assert!(s.decode_report(&[3, 3]).is_err());
    assert!(s.decode_report(&[2, 3]).is_ok());
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40), k in 2u32..300) {
            let _ = Grr::new(k, 1.0).unwrap().decode_report(&bytes);
            let _ = Ue::oue(k, 1.0).unwrap().decode_report(&bytes);
            let _ = Lh::olh(k, 2.0).unwrap().decode_report(&bytes);
            let _ = Hr::new(k, 1.0).unwrap().decode_report(&bytes);
            let _ = Ss::new(k, 1.0).unwrap().decode_report(&bytes);
            let _ = Adp::new(k, 1.0).unwrap().decode_report(&bytes);
        }

        #[test]
        fn encode_decode_roundtrip(k in 2u32..200, eps in 0.1f64..6.0, seed in any::<u64>()) {
            let mut r = rng(seed);
            let v = (seed % u64::from(k)) as u32;
            macro_rules! rt { ($o:expr) => {{
                let o = $o;
                let rep = o.randomize(v, &mut r).unwrap();
                let mut out = Vec::new();
                o.encode_report(&rep, &mut out).unwrap();
                prop_assert_eq!(out.len(), o.report_len());
                prop_assert_eq!(o.decode_report(&out).unwrap(), rep);
            }}}
            rt!(Grr::new(k, eps).unwrap());
            rt!(Ue::oue(k, eps).unwrap());
            rt!(Ue::sue(k, eps).unwrap());
            rt!(Lh::blh(k, eps).unwrap());
            rt!(Lh::olh(k, eps).unwrap());
            rt!(Hr::new(k, eps).unwrap());
            rt!(Ss::new(k, eps).unwrap());
            rt!(Adp::new(k, eps).unwrap());
        }
    }
}

/// On skewed data with k = 1024 the simplex projection beats the raw estimate by a wide margin.
#[test]
fn post_processing_on_skewed_large_domain() {
    let (values, freqs) = zipf_population(20_000, 1024);
    let mut r = rng(7);
    let mse = |est: &[f64]| {
        est.iter()
            .zip(&freqs)
            .map(|(e, f)| (e - f).powi(2))
            .sum::<f64>()
            / freqs.len() as f64
    };
    for (label, est) in [
        ("GRR eps=1", {
            let o = Grr::new(1024, 1.0).unwrap();
            let mut a = o.aggregator();
            a.add_all(&o.randomize_batch(&values, &mut r).unwrap())
                .unwrap();
            a.estimate()
        }),
        ("OUE eps=1", {
            let o = Ue::oue(1024, 1.0).unwrap();
            let mut a = o.aggregator();
            a.add_all(&o.randomize_batch(&values, &mut r).unwrap())
                .unwrap();
            a.estimate()
        }),
    ] {
        let raw = mse(&est);
        let sub = mse(&PostProcess::NormSub.apply(&est).unwrap());
        let mul = mse(&PostProcess::NormMul.apply(&est).unwrap());
        eprintln!("{label}: raw {raw:.3e} norm-sub {sub:.3e} norm-mul {mul:.3e}");
        assert!(sub * 3.0 < raw, "{label}: Norm-Sub {sub} vs raw {raw}");
    }
}
