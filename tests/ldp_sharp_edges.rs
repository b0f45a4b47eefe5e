//! Regression tests for the sharp edges of issue 14, section 2: error messages name the value the
//! caller gave, batch errors name the row and attribute, no public method panics on
//! caller-sized arguments, counts are tagged with their protocol, huge domains are refused
//! before allocating, and the multidimensional `ε` names say which level they are.

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use secagg::ldp::*;

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(14)
}

#[test]
fn rsfd_accepts_the_whole_documented_epsilon_range() {
    // was: "epsilon must be ... got 30.69" (the derived epsilon')
    for v in [
        RsFdVariant::Grr,
        RsFdVariant::OueZero,
        RsFdVariant::OueRandom,
        RsFdVariant::Adp,
    ] {
        let p = RsFd::new(&[2, 2], MAX_EPSILON, v).unwrap();
        let expect = (2.0 * MAX_EPSILON.exp_m1()).ln_1p();
        assert!((p.eps_prime() - expect).abs() < 1e-12);
        assert!(p.eps_prime() > MAX_EPSILON);
        assert_eq!(p.nominal_epsilon(), MAX_EPSILON);
        assert_eq!(p.nominal_level(), EpsilonLevel::Attribute);
        // it still works end to end
        let r = p.randomize(&[1, 0], &mut rng()).unwrap();
        let mut c = p.new_counts();
        p.accumulate(&mut c, &r).unwrap();
        assert!(p
            .estimate(&c)
            .unwrap()
            .iter()
            .flatten()
            .all(|x| x.is_finite()));
    }
    // out of range: the message names the caller's value, not epsilon'
    let e = RsFd::new(&[2, 2], 30.5, RsFdVariant::Grr).unwrap_err();
    assert_eq!(
        e,
        LdpError::InvalidEpsilon {
            value: 30.5,
            max: MAX_EPSILON
        }
    );
    assert!(e.to_string().contains("got 30.5"), "{e}");
}

#[test]
fn spl_names_the_callers_epsilon() {
    // was: "got 5e-7" (epsilon / d)
    let e = Spl::new(&[2; 10], 5e-6, BaseOracle::Grr).unwrap_err();
    assert!(matches!(
        e,
        LdpError::SplitEpsilonTooSmall { epsilon, d: 10, .. } if epsilon == 5e-6
    ));
    let msg = e.to_string();
    assert!(
        msg.contains("epsilon = 0.000005") && msg.contains("10 attributes"),
        "{msg}"
    );
}

#[test]
fn ragged_batches_name_the_length() {
    // was: "expected 2 attribute values, got 1" (3 mod 2)
    let p = Spl::new(&[4, 4], 1.0, BaseOracle::Grr).unwrap();
    let e = p.randomize_batch(&[1, 2, 3], &mut rng()).unwrap_err();
    assert_eq!(e, LdpError::RaggedRows { len: 3, d: 2 });
    assert!(e.to_string().contains("3 values"), "{e}");
    assert!(p.randomize_columns(&[1, 2, 3], &mut rng()).is_err());
    let r = RsFd::new(&[4, 4], 1.0, RsFdVariant::Grr).unwrap();
    assert_eq!(
        r.randomize_columns(&[1, 2, 3], &mut rng()).unwrap_err(),
        LdpError::RaggedRows { len: 3, d: 2 }
    );
}

#[test]
fn batch_errors_name_row_and_attribute() {
    let p = RsFd::new(&[4, 5, 6], 1.0, RsFdVariant::Adp).unwrap();
    // row 2, attribute 1 holds 5, outside [0, 5)
    let rows = [0, 0, 0, 1, 1, 1, 2, 5, 2];
    for e in [
        p.randomize_batch(&rows, &mut rng()).unwrap_err(),
        p.randomize_columns(&rows, &mut rng()).unwrap_err(),
    ] {
        assert_eq!(
            e.to_string(),
            "row 2: attribute 1: value 5 is outside the domain [0, 5)"
        );
        assert_eq!(e.root(), &LdpError::ValueOutOfDomain { value: 5, k: 5 });
    }
    // a single tuple names the attribute
    let e = p.randomize(&[0, 0, 9], &mut rng()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "attribute 2: value 9 is outside the domain [0, 6)"
    );
    // single oracle batches name the row
    let g = Grr::new(4, 1.0).unwrap();
    let e = g.randomize_batch(&[0, 1, 7, 2], &mut rng()).unwrap_err();
    assert_eq!(e.to_string(), "row 2: value 7 is outside the domain [0, 4)");
    let u = Ue::oue(4, 1.0).unwrap();
    let e = u.randomize_batch(&[0, 4], &mut rng()).unwrap_err();
    assert!(matches!(e, LdpError::AtRow { row: 1, .. }), "{e}");
    // server side: the row of the first invalid report, earlier ones kept
    let mut agg = g.aggregator();
    let e = agg.add_all(&[1, 2, 9, 0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 2: GRR value 9 is out of range: must be below 4"
    );
    assert_eq!(agg.n(), 2);
    assert_eq!(agg.support_counts(), vec![0, 1, 1, 0]);
    // the same for HR's symbols (K = 8 for k = 6) and a long batch (one-pass checked histogram)
    let h = Hr::new(6, 1.0).unwrap();
    let mut syms: Vec<u32> = (0..1000u32).map(|i| (i * 5) % 8).collect();
    let mut want = h.aggregator();
    want.add_all(&syms[..777]).unwrap();
    syms[777] = 8;
    let mut agg = h.aggregator();
    let e = agg.add_all(&syms).unwrap_err();
    assert!(e.to_string().starts_with("row 777: "), "{e}");
    assert_eq!(agg.n(), 777);
    assert_eq!(agg.support_counts(), want.support_counts());
    // multidimensional server side
    let spl = Spl::new(&[3, 3], 1.0, BaseOracle::Grr).unwrap();
    let good = spl.randomize(&[1, 1], &mut rng()).unwrap();
    let bad = vec![AttrReport::Value(0), AttrReport::Value(3)];
    let mut c = spl.new_counts();
    let e = spl
        .accumulate_batch(&mut c, &[good.clone(), good, bad])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 2: attribute 1: GRR value 3 is out of range: must be below 3"
    );
    assert_eq!(c.n(), 2);
}

#[test]
fn column_batch_errors_name_row_and_attribute() {
    let p = RsFd::new(&[4, 70], 1.0, RsFdVariant::Grr).unwrap();
    let rows: Vec<u32> = (0..20).flat_map(|i| [i % 4, i % 70]).collect();
    let batch = p.randomize_columns(&rows, &mut rng()).unwrap();
    let mut cols = batch.columns().to_vec();
    if let Column::Values(v) = &mut cols[1] {
        v[13] = 70;
    }
    let bad = TupleBatch::from_columns(20, cols).unwrap();
    let mut c = p.new_counts();
    let e = p.accumulate_columns(&mut c, &bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 13: attribute 1: GRR value 70 is out of range: must be below 70"
    );
    assert_eq!(c.n(), 0, "nothing added on error");
}

#[test]
fn byte_counts_are_pluralised() {
    let g = Grr::new(4, 1.0).unwrap();
    let e = g.decode_report(&[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "report length mismatch: expected 1 byte, got 0 bytes"
    );
    let e = g.decode_report(&[1, 2]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "report length mismatch: expected 1 byte, got 2 bytes"
    );
    let u = Ue::oue(16, 1.0).unwrap();
    let e = u.decode_report(&[0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "report length mismatch: expected 2 bytes, got 1 byte"
    );
}

#[test]
fn smp_bad_attribute_index_says_so() {
    // was: "malformed report: value out of range"
    let p = Smp::new(&[3, 10, 20], 1.0, BaseOracle::Grr).unwrap();
    let e = p.decode_report(&[3, 0]).unwrap_err();
    assert_eq!(e, LdpError::AttributeOutOfRange { index: 3, d: 3 });
    assert!(e.to_string().contains("attribute index 3"), "{e}");
    let mut c = p.new_counts();
    let r = SmpReport {
        attribute: 7,
        report: AttrReport::Value(0),
    };
    assert_eq!(
        p.accumulate(&mut c, &r).unwrap_err(),
        LdpError::AttributeOutOfRange { index: 7, d: 3 }
    );
    // a bad value inside a good attribute names the attribute and the value
    let e = p.decode_report(&[1, 12]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "attribute 1: GRR value 12 is out of range: must be below 10"
    );
}

#[test]
fn low_level_methods_do_not_panic_on_caller_sized_arguments() {
    // Grr::accumulate with a short count slice
    let g = Grr::new(8, 1.0).unwrap();
    let mut short = vec![0u64; 3];
    assert_eq!(
        g.accumulate(&mut short, &5).unwrap_err(),
        LdpError::AccumulatorLength {
            expected: 8,
            got: 3
        }
    );
    assert!(g.accumulate_batch(&mut short, &[5]).is_err());
    assert!(g.support_counts(&short, 0).is_err());
    // Hr::support_counts(&[1, 2, 3], 6)
    let h = Hr::new(6, 1.0).unwrap();
    assert!(h.support_counts(&[1, 2, 3], 6).is_err());
    let mut acc = vec![0u64; h.accumulator_len()];
    h.accumulate(&mut acc, &3).unwrap();
    assert!(
        h.support_counts(&acc, 5).is_err(),
        "n inconsistent with acc"
    );
    assert_eq!(h.support_counts(&acc, 1).unwrap().len(), 6);
    // every oracle's accumulate / support_counts with the wrong length
    let u = Ue::oue(10, 1.0).unwrap();
    let bv = u.randomize(3, &mut rng()).unwrap();
    assert!(u.accumulate(&mut [0u64; 10], &bv).is_err());
    assert!(u.support_counts(&[0u64; 10], 0).is_err());
    let l = Lh::olh(10, 1.0).unwrap();
    let lr = l.randomize(3, &mut rng()).unwrap();
    assert!(l.accumulate(&mut [0u64; 2], &lr).is_err());
    let s = Ss::new(10, 1.0).unwrap();
    let sr = s.randomize(3, &mut rng()).unwrap();
    assert!(s.accumulate(&mut [], &sr).is_err());
    let a = Adp::new(100, 1.0).unwrap();
    let ar = a.randomize(3, &mut rng()).unwrap();
    assert!(a.accumulate(&mut [0u64; 100], &ar).is_err());
    // merging inconsistent accumulators
    assert!(u.merge_accumulators(&mut [0u64; 3], &[0u64; 3]).is_err());
    // variance(attr >= d), support_params(attr >= d)
    let spl = Spl::new(&[3, 4], 1.0, BaseOracle::Grr).unwrap();
    let smp = Smp::new(&[3, 4], 1.0, BaseOracle::Grr).unwrap();
    let rsfd = RsFd::new(&[3, 4], 1.0, RsFdVariant::Grr).unwrap();
    let oob = LdpError::AttributeOutOfRange { index: 2, d: 2 };
    assert_eq!(spl.variance(2, 0.1, 100.0).unwrap_err(), oob);
    assert_eq!(smp.variance(2, 0.1, 100.0).unwrap_err(), oob);
    assert_eq!(rsfd.variance(2, 0.1, 100.0).unwrap_err(), oob);
    assert_eq!(
        rsfd.variance_f0(9, 100.0).unwrap_err().root(),
        &LdpError::AttributeOutOfRange { index: 9, d: 2 }
    );
    assert_eq!(rsfd.support_params(2).unwrap_err(), oob);
    assert!(rsfd.variance(1, 0.1, 100.0).unwrap() > 0.0);
    // BitVector::set past the end
    let mut b = BitVector::zeros(5);
    assert!(b.set(5, true).is_err());
    assert!(b.set(4, true).is_ok());
    // TupleBatch built by the caller with mismatched columns
    assert!(TupleBatch::from_columns(2, vec![Column::Values(vec![1])]).is_err());
    assert!(TupleBatch::from_columns(
        1,
        vec![Column::Unary {
            k: 65,
            words: vec![0]
        }]
    )
    .is_err());
}

#[test]
fn counts_are_tagged_with_their_protocol() {
    let dom = [3u32, 4];
    let spl = Spl::new(&dom, 1.0, BaseOracle::Grr).unwrap();
    let smp = Smp::new(&dom, 1.0, BaseOracle::Grr).unwrap();
    let rsfd = RsFd::new(&dom, 1.0, RsFdVariant::Grr).unwrap();
    let rsfd_oue = RsFd::new(&dom, 1.0, RsFdVariant::OueZero).unwrap();
    let rsfd_eps2 = RsFd::new(&dom, 2.0, RsFdVariant::Grr).unwrap();
    let mut spl_counts = spl.new_counts();
    let r = spl.randomize(&[1, 2], &mut rng()).unwrap();
    spl.accumulate(&mut spl_counts, &r).unwrap();
    // was: RsFd::estimate accepted Spl counts, Spl::estimate accepted Smp counts
    let e = rsfd.estimate(&spl_counts).unwrap_err();
    assert!(
        matches!(&e, LdpError::ProtocolMismatch { expected, got }
            if expected.starts_with("RS+FD[GRR]") && got.starts_with("Spl[GRR]")),
        "{e}"
    );
    assert!(spl.estimate(&smp.new_counts()).is_err());
    assert!(rsfd.estimate(&rsfd_oue.new_counts()).is_err());
    assert!(rsfd.estimate(&rsfd_eps2.new_counts()).is_err());
    assert!(rsfd.estimate(&rsfd.new_counts()).is_ok());
    // accumulate into and merge with another protocol's counts
    let rr = rsfd.randomize(&[1, 2], &mut rng()).unwrap();
    let mut c = spl.new_counts();
    assert!(matches!(
        rsfd.accumulate(&mut c, &rr).unwrap_err(),
        LdpError::ProtocolMismatch { .. }
    ));
    assert_eq!(c.n(), 0);
    let mut a = rsfd.new_counts();
    assert!(a.merge(&spl_counts).is_err());
    assert!(a.merge(&rsfd.new_counts()).is_ok());
    assert_eq!(spl_counts.protocol(), spl.describe());
    // tuple-calibrated and paper-calibrated RS+FD are different protocols
    let cal = RsFd::tuple_calibrated(&dom, rsfd.eps_prime(), RsFdVariant::Grr).unwrap();
    assert!(cal.estimate(&rsfd.new_counts()).is_err());
    // single-attribute aggregators of different oracles do not merge
    let mut g = Grr::new(4, 1.0).unwrap().aggregator();
    let e = g
        .merge(&Grr::new(4, 2.0).unwrap().aggregator())
        .unwrap_err();
    assert!(matches!(e, LdpError::ProtocolMismatch { .. }), "{e}");
}

#[test]
fn huge_parameters_are_refused_before_allocating() {
    // was: a 16 GiB allocation (abort)
    let e = Hr::new(1 << 30, 1.0).unwrap_err();
    assert!(
        matches!(e, LdpError::TooLarge { size, max, .. } if size == 1 << 31 && max == MAX_COUNTERS as u64),
        "{e}"
    );
    // was: a 2 GB report
    let e = Ss::new(1 << 30, 1e-3).unwrap_err();
    assert!(
        matches!(e, LdpError::TooLarge { unit: "bytes", max, .. } if max == MAX_REPORT_BYTES as u64),
        "{e}"
    );
    assert!(e.to_string().contains("MAX_REPORT_BYTES"), "{e}");
    // unary encodings: report of k bits
    assert!(matches!(
        Ue::oue(1 << 24, 1.0).unwrap_err(),
        LdpError::TooLarge { .. }
    ));
    assert!(Ue::oue(1 << 23, 1.0).is_ok());
    assert!(matches!(
        Adp::new(MAX_DOMAIN, 10.0).unwrap_err(),
        LdpError::TooLarge { unit: "bytes", .. }
    ));
    // server counters
    for e in [
        Grr::new(MAX_DOMAIN, 1.0).unwrap_err(),
        Lh::olh(MAX_DOMAIN, 1.0).unwrap_err(),
        Adp::grr(MAX_DOMAIN, 10.0).unwrap_err(),
        synthetic::Zipf::new(MAX_DOMAIN, 1.0).unwrap_err(),
    ] {
        assert!(
            matches!(
                e,
                LdpError::TooLarge {
                    unit: "counters",
                    ..
                }
            ),
            "{e}"
        );
    }
    // multidimensional: sum of the domains, and the report
    let e = Spl::new(&[1 << 26, 1 << 26, 1 << 26], 3.0, BaseOracle::Grr).unwrap_err();
    assert!(matches!(e, LdpError::TooLarge { .. }), "{e}");
    let e = RsFd::new(&[1 << 22; 3], 1.0, RsFdVariant::OueZero).unwrap_err();
    assert!(matches!(e, LdpError::TooLarge { unit: "bytes", .. }), "{e}");
    // OLH's bucket count at a large epsilon
    let e = Lh::olh(16, 25.0).unwrap_err();
    assert!(matches!(e, LdpError::TooLarge { .. }), "{e}");
}

#[test]
fn epsilon_names_say_which_level() {
    let dom = [8u32, 16, 32, 64, 128];
    let spl = Spl::new(&dom, 1.0, BaseOracle::Adp).unwrap();
    let smp = Smp::new(&dom, 1.0, BaseOracle::Adp).unwrap();
    let rsfd = RsFd::new(&dom, 1.0, RsFdVariant::Adp).unwrap();
    let cal = RsFd::tuple_calibrated(&dom, 1.0, RsFdVariant::Adp).unwrap();
    assert_eq!(spl.nominal_level(), EpsilonLevel::Tuple);
    assert_eq!(smp.nominal_level(), EpsilonLevel::Tuple);
    assert_eq!(rsfd.nominal_level(), EpsilonLevel::Attribute);
    assert_eq!(cal.nominal_level(), EpsilonLevel::Tuple);
    // the tuple-level loss is the configured epsilon for tuple-level protocols ...
    for (nominal, tuple) in [
        (spl.nominal_epsilon(), spl.tuple_epsilon()),
        (smp.nominal_epsilon(), smp.tuple_epsilon()),
        (cal.nominal_epsilon(), cal.tuple_epsilon()),
    ] {
        assert!(
            (nominal - 1.0).abs() < 1e-12 && (tuple - 1.0).abs() < 1e-9,
            "{tuple}"
        );
    }
    // ... and epsilon' = ln(d(e^eps - 1) + 1) for the paper-calibrated RS+FD
    assert_eq!(rsfd.nominal_epsilon(), 1.0);
    assert!((rsfd.tuple_epsilon() - 2.2609).abs() < 1e-4);
    assert!((cal.nominal_attribute_epsilon() - (1f64.exp_m1() / 5.0).ln_1p()).abs() < 1e-12);
    assert!(rsfd.describe().contains("at attribute level"));
    assert!(cal.describe().contains("at tuple level"));
}

#[test]
fn estimate_from_no_reports_is_nan_as_documented() {
    let g = Grr::new(4, 1.0).unwrap();
    let agg = g.aggregator();
    assert!(agg.estimate().iter().all(|x| x.is_nan()));
    assert!(g.params().estimate(&[0, 3], 0).iter().all(|x| x.is_nan()));
}

#[test]
fn batch_apis_match_per_report_apis() {
    // every oracle: the batch server equals the per-report server
    fn check<O: FrequencyOracle>(o: &O) {
        let values: Vec<u32> = (0..600u32).map(|i| (i * 7) % o.domain_size()).collect();
        let reports = o.randomize_batch(&values, &mut rng()).unwrap();
        let mut one = o.aggregator();
        for r in &reports {
            one.add(r).unwrap();
        }
        let mut all = o.aggregator();
        all.add_all(&reports).unwrap();
        assert_eq!(one.support_counts(), all.support_counts(), "{}", o.name());
        // and a plain recount from the reports' supports
        assert_eq!(one.n(), 600);
    }
    check(&Grr::new(10, 1.0).unwrap());
    check(&Ue::oue(130, 1.0).unwrap());
    check(&Ue::sue(64, 2.0).unwrap());
    check(&Lh::olh(10, 1.0).unwrap());
    check(&Hr::new(10, 1.0).unwrap());
    check(&Ss::new(10, 1.0).unwrap());
    check(&Adp::new(200, 1.0).unwrap());
    // multidimensional: columns and per-report give the same counts, through the trait
    fn multi<P: MultidimProtocol>(p: &P) {
        let d = p.domains().len();
        let rows: Vec<u32> = (0..300 * d as u32)
            .map(|i| (i * 13) % p.domains()[i as usize % d])
            .collect();
        let per = p.randomize_batch(&rows, &mut rng()).unwrap();
        let cols = p.randomize_columns(&rows, &mut rng()).unwrap();
        let mut a = p.new_counts();
        p.accumulate_batch(&mut a, &per).unwrap();
        let mut b = p.new_counts();
        p.accumulate_columns(&mut b, &cols).unwrap();
        assert_eq!(a, b, "{}", p.name());
    }
    let dom = [3u32, 70, 130];
    multi(&Spl::new(&dom, 3.0, BaseOracle::Adp).unwrap());
    multi(&Smp::new(&dom, 3.0, BaseOracle::Adp).unwrap());
    multi(&RsFd::new(&dom, 1.0, RsFdVariant::Adp).unwrap());
    multi(&RsFd::new(&dom, 1.0, RsFdVariant::OueRandom).unwrap());
}

#[test]
fn oue_bit_sliced_counts_equal_a_plain_recount() {
    // more than 255 reports, so the bit planes are flushed several times, plus a remainder
    let u = Ue::oue(200, 0.5).unwrap();
    let values: Vec<u32> = (0..1000u32).map(|i| i % 200).collect();
    let reports = u.randomize_batch(&values, &mut rng()).unwrap();
    let mut plain = vec![0u64; 200];
    for r in &reports {
        for i in r.iter_ones() {
            plain[i as usize] += 1;
        }
    }
    let mut agg = u.aggregator();
    agg.add_all(&reports[..517]).unwrap();
    let mut other = u.aggregator();
    for r in &reports[517..] {
        other.add(r).unwrap();
    }
    agg.merge(&other).unwrap();
    assert_eq!(agg.support_counts(), plain);
    assert_eq!(agg.n(), 1000);
}
