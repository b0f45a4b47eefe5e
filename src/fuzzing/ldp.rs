//! Target `ldp_decode`: every LDP report decoder.

use super::input::Src;
use crate::ldp::{
    Adp, BaseOracle, FrequencyOracle, Grr, Hr, Lh, MultidimProtocol, RsFd, RsFdVariant, Smp, Spl,
    Ss, Ue,
};

/// Protocol codes of the `ldp_decode` input (first byte, modulo [`ldp_kind::COUNT`]).
pub mod ldp_kind {
    pub const GRR: u8 = 0;
    pub const SUE: u8 = 1;
    pub const OUE: u8 = 2;
    pub const BLH: u8 = 3;
    pub const OLH: u8 = 4;
    pub const HR: u8 = 5;
    pub const SS: u8 = 6;
    pub const ADP: u8 = 7;
    /// Then `+ 0, 1, 2` for GRR, OUE, ADP bases.
    pub const SPL: u8 = 8;
    /// Then `+ 0, 1, 2` for GRR, OUE, ADP bases.
    pub const SMP: u8 = 11;
    /// Then `+ 0..4` for GRR, OUE-z, OUE-r, ADP.
    pub const RSFD: u8 = 14;
    pub const COUNT: u8 = 18;
}

/// Oracles are only aggregated (which allocates O(k)) for domains up to this size.
const AGGREGATE_MAX: u64 = 1 << 16;

fn single<O: FrequencyOracle>(o: Result<O, crate::ldp::LdpError>, report: &[u8]) {
    let Ok(o) = o else { return };
    let small = u64::from(o.domain_size()) <= AGGREGATE_MAX;
    match o.decode_report(report) {
        Ok(r) => {
            assert_eq!(report.len(), o.report_len());
            let mut out = Vec::new();
            o.encode_report(&r, &mut out)
                .expect("a decoded report encodes");
            assert_eq!(out, report, "re-encoding differs");
            if small {
                let mut agg = o.aggregator();
                agg.add(&r).expect("a decoded report is valid");
                agg.add_bytes(report).expect("a decoded report is valid");
            }
        }
        Err(_) => {
            if small {
                assert!(o.aggregator().add_bytes(report).is_err());
            }
        }
    }
}

fn multi<P: MultidimProtocol>(p: Result<P, crate::ldp::LdpError>, report: &[u8]) {
    let Ok(p) = p else { return };
    let small = p.domains().iter().map(|&k| u64::from(k)).sum::<u64>() <= AGGREGATE_MAX;
    if let Ok(r) = p.decode_report(report) {
        let mut out = Vec::new();
        p.encode_report(&r, &mut out)
            .expect("a decoded report encodes");
        assert_eq!(out, report, "re-encoding differs");
        if small {
            let mut counts = p.new_counts();
            p.accumulate(&mut counts, &r)
                .expect("a decoded report is valid");
        }
    }
}

/// `ldp_decode`. Input: `u8 kind, f64 epsilon, u8 d, d * u32 domain size, report bytes`
/// (single-attribute oracles use the first domain; `d` is `1 + d % 4`). Constructors reject
/// invalid parameters with typed errors; decoders reject any report that is not the exact
/// encoding of a valid one, and a decoded report re-encodes to the same bytes and is accepted
/// by the aggregator.
pub fn ldp_decode(data: &[u8]) {
    let mut src = Src::new(data);
    let kind = src.u8() % ldp_kind::COUNT;
    let eps = src.f64();
    let d = (src.u8() % 4) as usize + 1;
    let domains: Vec<u32> = (0..d).map(|_| src.u32()).collect();
    let k = domains[0];
    let report = src.rest();
    let base = |b: u8| match b {
        0 => BaseOracle::Grr,
        1 => BaseOracle::Oue,
        _ => BaseOracle::Adp,
    };
    match kind {
        ldp_kind::GRR => single(Grr::new(k, eps), report),
        ldp_kind::SUE => single(Ue::sue(k, eps), report),
        ldp_kind::OUE => single(Ue::oue(k, eps), report),
        ldp_kind::BLH => single(Lh::blh(k, eps), report),
        ldp_kind::OLH => single(Lh::olh(k, eps), report),
        ldp_kind::HR => single(Hr::new(k, eps), report),
        ldp_kind::SS => single(Ss::new(k, eps), report),
        ldp_kind::ADP => single(Adp::new(k, eps), report),
        8..=10 => multi(Spl::new(&domains, eps, base(kind - 8)), report),
        11..=13 => multi(Smp::new(&domains, eps, base(kind - 11)), report),
        _ => {
            let variant = match kind - ldp_kind::RSFD {
                0 => RsFdVariant::Grr,
                1 => RsFdVariant::OueZero,
                2 => RsFdVariant::OueRandom,
                _ => RsFdVariant::Adp,
            };
            multi(RsFd::new(&domains, eps, variant), report)
        }
    }
}
