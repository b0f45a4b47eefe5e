//! Deterministic generation of the published LDP test vectors
//! (`protocol-spec/test-vectors/ldp_*.json`).
//!
//! The library does not enable ChaCha20's RNG, so the caller supplies the RNG constructor; the
//! generator (`cargo run --example gen-ldp-test-vectors`) and the replay test both pass
//! `ChaCha20Rng::from_seed`. Each vector records the protocol, its public parameters, the derived
//! constants, the RNG seed, the inputs, the encoded reports, the support counts, the raw
//! estimates and a list of malformed encodings that a decoder must reject.
//!
//! Normative for other implementations: the report encodings, the support counts and estimates
//! computed from them, and the rejection of the malformed encodings. Informative: the mapping from
//! seed to reports, which depends on this crate's RNG consumption (and, for unary encodings with
//! `q < 1/24`, on the platform's `ln`).

use std::collections::BTreeMap;

use rand_core::CryptoRng;
use serde::Serialize;

use super::{
    Adp, BaseOracle, FrequencyOracle, Grr, Hr, LdpError, Lh, MultidimProtocol, RsFd, RsFdVariant,
    Smp, Spl, Ss, Ue,
};

/// One test vector.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestVector {
    /// Protocol name as printed by the crate, e.g. `"OLH"` or `"RS+FD[OUE-r]"`.
    pub protocol: String,
    /// Domain sizes (one entry for single-attribute oracles).
    pub domains: Vec<u32>,
    /// The ε passed to the constructor: for multidimensional protocols the tuple-level ε (Spl,
    /// Smp, tuple-calibrated RS+FD) or the nominal attribute-level ε (RS+FD's paper
    /// calibration).
    pub epsilon: f64,
    /// Derived constants (`p_star`, `q_star`, `g`, `omega`, `K`, `eps_prime`, ...).
    pub derived: BTreeMap<String, f64>,
    /// Encoded length of every report in bytes (`null`-free: Smp lists the per-attribute maximum).
    pub report_len: usize,
    /// RNG seed (hex, 32 bytes) for `ChaCha20Rng::from_seed`.
    pub rng_seed: String,
    /// Input tuples (single-attribute: one-element tuples).
    pub inputs: Vec<Vec<u32>>,
    /// Encoded reports, hex, one per input.
    pub reports: Vec<String>,
    /// Support counts per attribute after aggregating every report.
    pub support_counts: Vec<Vec<u64>>,
    /// Raw unbiased estimates per attribute.
    pub estimates: Vec<Vec<f64>>,
    /// Encodings that must be rejected, hex.
    pub invalid_reports: Vec<String>,
}

/// One vector file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VectorFile {
    /// File name under `protocol-spec/test-vectors/`.
    pub file: String,
    /// What the file covers.
    pub description: String,
    /// The command that produced it.
    pub generator: String,
    /// The vectors.
    pub vectors: Vec<TestVector>,
}

/// Lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn seed_for(index: usize) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..16].copy_from_slice(b"secagg-ldp-tv-v1");
    s[16..24].copy_from_slice(&(index as u64).to_le_bytes());
    s
}

/// Generic malformed encodings: truncated and extended versions of a valid one.
fn length_mutations(valid: &[u8]) -> Vec<Vec<u8>> {
    let mut ext = valid.to_vec();
    ext.push(0);
    let mut out = vec![valid[..valid.len() - 1].to_vec(), ext];
    // a one-byte report truncates to the empty string: list it once
    if valid.len() > 1 {
        out.push(Vec::new());
    }
    out
}

fn single<O: FrequencyOracle, R: CryptoRng + ?Sized>(
    o: &O,
    derived: BTreeMap<String, f64>,
    inputs: &[u32],
    seed: [u8; 32],
    rng: &mut R,
    extra_invalid: Vec<Vec<u8>>,
) -> Result<TestVector, LdpError> {
    let mut agg = o.aggregator();
    let mut reports = Vec::new();
    let mut first = Vec::new();
    for &v in inputs {
        let r = o.randomize(v, rng)?;
        let mut bytes = Vec::new();
        o.encode_report(&r, &mut bytes)?;
        agg.add(&r)?;
        if first.is_empty() {
            first = bytes.clone();
        }
        reports.push(to_hex(&bytes));
    }
    let mut derived = derived;
    derived.insert("p_star".into(), o.params().p_star());
    derived.insert("q_star".into(), o.params().q_star());
    derived.insert("true_epsilon".into(), o.true_epsilon());
    let mut invalid = length_mutations(&first);
    invalid.extend(extra_invalid);
    Ok(TestVector {
        protocol: o.name().to_string(),
        domains: vec![o.domain_size()],
        epsilon: o.epsilon(),
        derived,
        report_len: o.report_len(),
        rng_seed: to_hex(&seed),
        inputs: inputs.iter().map(|&v| vec![v]).collect(),
        reports,
        support_counts: vec![agg.support_counts()],
        estimates: vec![agg.estimate()],
        invalid_reports: invalid.iter().map(|b| to_hex(b)).collect(),
    })
}

fn multi<P: MultidimProtocol, R: CryptoRng + ?Sized>(
    p: &P,
    derived: BTreeMap<String, f64>,
    inputs: &[Vec<u32>],
    seed: [u8; 32],
    rng: &mut R,
    extra_invalid: Vec<Vec<u8>>,
) -> Result<TestVector, LdpError> {
    let mut counts = p.new_counts();
    let mut reports = Vec::new();
    let mut first = Vec::new();
    let mut max_len = 0;
    for t in inputs {
        let r = p.randomize(t, rng)?;
        let mut bytes = Vec::new();
        p.encode_report(&r, &mut bytes)?;
        p.accumulate(&mut counts, &r)?;
        max_len = max_len.max(bytes.len());
        if first.is_empty() {
            first = bytes.clone();
        }
        reports.push(to_hex(&bytes));
    }
    let estimates = p.estimate(&counts)?;
    if estimates.iter().flatten().any(|x| !x.is_finite()) {
        return Err(LdpError::InvalidParameter(
            "test vector has an attribute without reports",
        ));
    }
    let mut derived = derived;
    let loss = p.privacy();
    derived.insert("tuple_epsilon".into(), loss.tuple);
    for (i, a) in loss.attribute.iter().enumerate() {
        derived.insert(format!("attribute_epsilon_{i}"), *a);
    }
    let mut invalid = length_mutations(&first);
    invalid.extend(extra_invalid);
    Ok(TestVector {
        protocol: p.name(),
        domains: p.domains().to_vec(),
        epsilon: p.nominal_epsilon(),
        derived,
        report_len: max_len,
        rng_seed: to_hex(&seed),
        inputs: inputs.to_vec(),
        reports,
        support_counts: (0..p.domains().len())
            .map(|i| counts.counts(i).to_vec())
            .collect(),
        estimates,
        invalid_reports: invalid.iter().map(|b| to_hex(b)).collect(),
    })
}

fn d(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Generates every vector file; `make_rng(seed)` must return `ChaCha20Rng::from_seed(seed)` to
/// reproduce the published files.
pub fn generate<R: CryptoRng, F: FnMut([u8; 32]) -> R>(
    mut make_rng: F,
) -> Result<Vec<VectorFile>, LdpError> {
    let mut idx = 0usize;
    let mut next = |make: &mut F| {
        idx += 1;
        let s = seed_for(idx);
        (s, make(s))
    };
    let single_inputs = |k: u32| -> Vec<u32> {
        (1..=12u32)
            .map(|i| (i.wrapping_mul(0x9E37_79B9) >> 7) % k)
            .collect()
    };
    let mut files = Vec::new();
    let cmd = "cargo run --example gen-ldp-test-vectors".to_string();

    // GRR
    let mut v = Vec::new();
    for &(k, eps) in &[(2u32, 1.0), (16, 0.5), (300, 2.0)] {
        let o = Grr::new(k, eps)?;
        let (s, mut r) = next(&mut make_rng);
        let w = super::wire::width(u64::from(k));
        let oob = u64::from(k).to_le_bytes()[..w].to_vec();
        v.push(single(&o, d(&[]), &single_inputs(k), s, &mut r, vec![oob])?);
    }
    files.push(VectorFile {
        file: "ldp_grr.json".into(),
        description: "Generalised randomised response: report = value, width(k) bytes LE".into(),
        generator: cmd.clone(),
        vectors: v,
    });

    // SUE / OUE
    let mut v = Vec::new();
    for &(k, eps) in &[(5u32, 1.0), (16, 4.0), (70, 0.5)] {
        for o in [Ue::sue(k, eps)?, Ue::oue(k, eps)?] {
            let (s, mut r) = next(&mut make_rng);
            let mut extra = Vec::new();
            if k % 8 != 0 {
                // a set padding bit
                let mut b = vec![0u8; o.report_len()];
                *b.last_mut().expect("non-empty") = 0x80;
                extra.push(b);
            }
            v.push(single(&o, d(&[]), &single_inputs(k), s, &mut r, extra)?);
        }
    }
    files.push(VectorFile {
        file: "ldp_ue.json".into(),
        description: "Unary encodings (SUE, OUE): report = k bits, LSB-first, ceil(k/8) bytes"
            .into(),
        generator: cmd.clone(),
        vectors: v,
    });

    // BLH / OLH
    let mut v = Vec::new();
    for &(k, eps) in &[(10u32, 1.0), (200, 4.0)] {
        for o in [Lh::blh(k, eps)?, Lh::olh(k, eps)?] {
            let (s, mut r) = next(&mut make_rng);
            let g = o.buckets();
            let yw = super::wire::width(u64::from(g));
            let mut zero_a = vec![0u8; o.report_len()];
            zero_a[8] = 1;
            let mut big_b = vec![0u8; o.report_len()];
            big_b[0] = 1;
            big_b[8..16].copy_from_slice(&super::lh::LH_PRIME.to_le_bytes());
            let mut big_y = vec![0u8; o.report_len()];
            big_y[0] = 1;
            big_y[16..].copy_from_slice(&u64::from(g).to_le_bytes()[..yw]);
            v.push(single(
                &o,
                d(&[("g", f64::from(g))]),
                &single_inputs(k),
                s,
                &mut r,
                vec![zero_a, big_b, big_y],
            )?);
        }
    }
    files.push(VectorFile {
        file: "ldp_lh.json".into(),
        description: "Local hashing (BLH, OLH): report = a (8 B LE) | b (8 B LE) | y (width(g) B); H(v) = floor(((a v + b) mod (2^61-1)) g / 2^61)".into(),
        generator: cmd.clone(),
        vectors: v,
    });

    // HR
    let mut v = Vec::new();
    for &(k, eps) in &[(3u32, 1.0), (100, 0.5), (300, 2.0)] {
        let o = Hr::new(k, eps)?;
        let (s, mut r) = next(&mut make_rng);
        let big = o.output_size();
        // K = 2^ceil(log2(k+1)) is never a power of 256 for these k, so y = K is encodable
        let bad = u64::from(big).to_le_bytes()[..super::wire::width(u64::from(big))].to_vec();
        v.push(single(
            &o,
            d(&[("K", f64::from(big))]),
            &single_inputs(k),
            s,
            &mut r,
            vec![bad],
        )?);
    }
    files.push(VectorFile {
        file: "ldp_hr.json".into(),
        description: "Hadamard response (high privacy): report = symbol y < K, width(K) bytes"
            .into(),
        generator: cmd.clone(),
        vectors: v,
    });

    // SS
    let mut v = Vec::new();
    for &(k, eps) in &[(9u32, 1.0), (64, 0.5), (300, 3.0)] {
        let o = Ss::new(k, eps)?;
        let (s, mut r) = next(&mut make_rng);
        let w = super::wire::width(u64::from(k));
        let om = o.omega() as usize;
        // non-increasing: every value 0 (invalid when omega >= 2), or value k (out of domain)
        let mut bad = vec![0u8; om * w];
        if om == 1 {
            bad = u64::from(k).to_le_bytes()[..w].to_vec();
        }
        v.push(single(
            &o,
            d(&[("omega", f64::from(o.omega()))]),
            &single_inputs(k),
            s,
            &mut r,
            vec![bad],
        )?);
    }
    files.push(VectorFile {
        file: "ldp_ss.json".into(),
        description:
            "Subset selection: report = omega strictly increasing values, width(k) bytes each"
                .into(),
        generator: cmd.clone(),
        vectors: v,
    });

    // ADP
    let mut v = Vec::new();
    for &(k, eps) in &[(16u32, 2.0), (32, 2.0)] {
        let o = Adp::new(k, eps)?;
        let (s, mut r) = next(&mut make_rng);
        v.push(single(&o, d(&[]), &single_inputs(k), s, &mut r, vec![])?);
    }
    files.push(VectorFile {
        file: "ldp_adp.json".into(),
        description: "ADP: GRR if k < 3e^eps + 2, else OUE; encoded as the chosen oracle".into(),
        generator: cmd.clone(),
        vectors: v,
    });

    // multidimensional
    let dom = [3u32, 10, 20];
    let tuples: Vec<Vec<u32>> = (0..24u32)
        .map(|i| vec![i % 3, (i * 7) % 10, (i * i) % 20])
        .collect();
    let mut v = Vec::new();
    for b in [BaseOracle::Grr, BaseOracle::Oue, BaseOracle::Adp] {
        let (s, mut r) = next(&mut make_rng);
        v.push(multi(
            &Spl::new(&dom, 1.5, b)?,
            d(&[]),
            &tuples,
            s,
            &mut r,
            vec![],
        )?);
    }
    files.push(VectorFile {
        file: "ldp_spl.json".into(),
        description: "Spl: concatenation of the d attribute reports, each at eps/d".into(),
        generator: cmd.clone(),
        vectors: v,
    });
    let mut v = Vec::new();
    for b in [BaseOracle::Grr, BaseOracle::Oue, BaseOracle::Adp] {
        let (s, mut r) = next(&mut make_rng);
        v.push(multi(
            &Smp::new(&dom, 1.5, b)?,
            d(&[]),
            &tuples,
            s,
            &mut r,
            vec![vec![3, 0]],
        )?);
    }
    files.push(VectorFile {
        file: "ldp_smp.json".into(),
        description: "Smp: attribute index (width(d) bytes) then that attribute's report".into(),
        generator: cmd.clone(),
        vectors: v,
    });
    let mut v = Vec::new();
    for variant in [
        RsFdVariant::Grr,
        RsFdVariant::OueZero,
        RsFdVariant::OueRandom,
        RsFdVariant::Adp,
    ] {
        for calibrated in [false, true] {
            let p = if calibrated {
                RsFd::tuple_calibrated(&dom, 1.5, variant)?
            } else {
                RsFd::new(&dom, 1.5, variant)?
            };
            let (s, mut r) = next(&mut make_rng);
            let derived = d(&[
                ("eps_prime", p.eps_prime()),
                ("tuple_calibrated", if calibrated { 1.0 } else { 0.0 }),
            ]);
            v.push(multi(&p, derived, &tuples, s, &mut r, vec![])?);
        }
    }
    files.push(VectorFile {
        file: "ldp_rsfd.json".into(),
        description: "RS+FD: concatenation of the d attribute reports (sampled attribute hidden)"
            .into(),
        generator: cmd,
        vectors: v,
    });
    Ok(files)
}
