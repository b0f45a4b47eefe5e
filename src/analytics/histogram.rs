//! Histograms under secure aggregation: the categorical questions of the LDP path answered in
//! the distributed model (spec `protocol-spec/analytics.md`, "Histograms under SecAgg").
//!
//! A client with value `v_i` in `[0, k_i)` for each attribute `i` inputs the multi-hot vector
//! `x` of length `L = Σ k_i` with `x[o_i + v_i] = 1` (`o_i = Σ_{j<i} k_j`), zero elsewhere; the
//! coordinator learns only the sum, i.e. the histogram. Without DP the session quantizes
//! `{0, 1}` exactly (`clip = 1`, odd `levels`: 0 and 1 are quantization points), so the
//! histogram is exact. With DP ([`crate::ddp`]) each client adds its noise share and the
//! coordinator learns a noisy histogram; the L2 clip must be at least `sqrt(d)`, the norm of a
//! multi-hot vector, so no input is clipped.
//!
//! [`HistogramSpec::client`] is the one call from a categorical value to a SecAgg client (its
//! first message is the masked-input protocol's first message); [`HistogramSpec::estimates`]
//! turns the session's output into [`FrequencyEstimates`], the format of the LDP path.

use std::sync::Arc;

use rand_core::CryptoRng;

use super::{AnalyticsError, AttributeEstimate, FrequencyEstimates, PrivacySummary};
use super::{MAX_ATTRIBUTES, MAX_TASK_CELLS};
use crate::crypto::sign::SigningKey;
use crate::ids::ParticipantId;
use crate::ldp::PostProcess;
use crate::protocol::error::ClientSetupError;
use crate::protocol::{Client, SessionParams};

/// The shape of a histogram: the domain sizes of its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSpec {
    domains: Vec<u32>,
}

impl HistogramSpec {
    /// `1..=64` attributes, every `k_i >= 2`, `Σ k_i <= 2^22`.
    pub fn new(domains: &[u32]) -> Result<Self, AnalyticsError> {
        if domains.is_empty() || domains.len() > MAX_ATTRIBUTES {
            return Err(AnalyticsError::Histogram(format!(
                "{} attributes; 1 to {MAX_ATTRIBUTES} allowed",
                domains.len()
            )));
        }
        if let Some(k) = domains.iter().find(|&&k| k < 2) {
            return Err(AnalyticsError::Histogram(format!(
                "domain size {k}: at least 2"
            )));
        }
        let cells: u64 = domains.iter().map(|&k| u64::from(k)).sum();
        if cells > MAX_TASK_CELLS {
            return Err(AnalyticsError::Histogram(format!(
                "{cells} cells exceed the cap {MAX_TASK_CELLS}"
            )));
        }
        Ok(HistogramSpec {
            domains: domains.to_vec(),
        })
    }

    /// Domain sizes.
    pub fn domains(&self) -> &[u32] {
        &self.domains
    }

    /// The SecAgg vector length `L = Σ k_i` (the DP dimension with DP).
    pub fn vector_len(&self) -> u32 {
        // At most MAX_TASK_CELLS = 2^22.
        self.domains.iter().sum()
    }

    /// L2 norm of every input, `sqrt(d)`.
    pub fn input_norm(&self) -> f64 {
        (self.domains.len() as f64).sqrt()
    }

    /// The multi-hot input vector of one client.
    pub fn input(&self, values: &[u32]) -> Result<Vec<f64>, AnalyticsError> {
        if values.len() != self.domains.len() {
            return Err(AnalyticsError::Histogram(format!(
                "expected {} attribute values, got {}",
                self.domains.len(),
                values.len()
            )));
        }
        let mut x = vec![0.0; self.vector_len() as usize];
        let mut offset = 0usize;
        for (i, (&v, &k)) in values.iter().zip(&self.domains).enumerate() {
            if v >= k {
                return Err(AnalyticsError::Histogram(format!(
                    "attribute {i}: value {v} is outside [0, {k})"
                )));
            }
            if let Some(c) = x.get_mut(offset + v as usize) {
                *c = 1.0;
            }
            offset += k as usize;
        }
        Ok(x)
    }

    /// Whether a session's parameters sum these histograms faithfully: the vector length (or
    /// DP dimension) is `Σ k_i`, weight 1; without DP `clip = 1` and an odd number of levels
    /// (0 and 1 exact); with DP an L2 clip of at least `sqrt(d)`.
    pub fn check_params(&self, p: &SessionParams) -> Result<(), AnalyticsError> {
        let bad = |s: String| Err(AnalyticsError::Histogram(s));
        match &p.dp {
            None => {
                if p.vector_len != self.vector_len() {
                    return bad(format!(
                        "vector length {} is not the {} cells",
                        p.vector_len,
                        self.vector_len()
                    ));
                }
                if p.clip != 1.0 || p.levels.is_multiple_of(2) {
                    return bad(format!(
                        "clip {} and levels {} do not quantize 0 and 1 exactly (need clip 1, odd levels)",
                        p.clip, p.levels
                    ));
                }
            }
            Some(dp) => {
                if dp.dim() != self.vector_len() as usize {
                    return bad(format!(
                        "DP dimension {} is not the {} cells",
                        dp.dim(),
                        self.vector_len()
                    ));
                }
                if dp.clip() < self.input_norm() {
                    return bad(format!(
                        "DP clip {} is below the input norm sqrt(d) = {:.4}",
                        dp.clip(),
                        self.input_norm()
                    ));
                }
            }
        }
        if p.max_weight != 1 {
            return bad(format!("max_weight {} (need 1)", p.max_weight));
        }
        Ok(())
    }

    /// The one call from a categorical value (tuple) to a SecAgg client: checks the session
    /// fits ([`HistogramSpec::check_params`]), builds the multi-hot input and starts
    /// [`Client::new`] with weight 1. Returns the client and its first message.
    pub fn client<R: CryptoRng + ?Sized>(
        &self,
        params: Arc<SessionParams>,
        me: ParticipantId,
        identity: Option<SigningKey>,
        values: &[u32],
        rng: &mut R,
    ) -> Result<(Client, Vec<u8>), HistogramClientError> {
        self.check_params(&params)?;
        let x = self.input(values)?;
        Ok(Client::new(params, me, identity, &x, 1, rng)?)
    }

    /// Turns a SecAgg result (the dequantized or DP-decoded sum of `included` inputs) into
    /// frequency estimates. Without DP the counts are rounded to integers and the standard
    /// errors are 0 (the histogram is exact). With DP, `delta` is the delta the guarantee is
    /// stated for; the standard error of every frequency is the predicted one,
    /// `sqrt(included (σ² + 1/6)) / (s · included)` with `σ²` one client's noise variance and
    /// `s` the scale (1/6: mean variance of the randomized rounding).
    pub fn estimates(
        &self,
        params: &SessionParams,
        dequantized_sum: &[f64],
        included: u64,
        delta: f64,
    ) -> Result<FrequencyEstimates, AnalyticsError> {
        if dequantized_sum.len() != self.vector_len() as usize {
            return Err(AnalyticsError::Histogram(format!(
                "sum of length {} for {} cells",
                dequantized_sum.len(),
                self.vector_len()
            )));
        }
        let nf = included as f64;
        let (method, privacy, count_sd) = match &params.dp {
            None => ("SecAgg".to_string(), PrivacySummary::None, 0.0),
            Some(dp) => {
                let s = dp.scale();
                let var = nf * (crate::ddp::calibrate::noise_variance(dp) + 1.0 / 6.0) / (s * s);
                let g = crate::ddp::accounting::guarantee(dp, included, delta, 1, true);
                (
                    "SecAgg+DDP".to_string(),
                    PrivacySummary::Distributed {
                        epsilon: g.epsilon(),
                        delta,
                        clients: included,
                    },
                    var.sqrt(),
                )
            }
        };
        let mut attributes = Vec::with_capacity(self.domains.len());
        let mut offset = 0usize;
        for &k in &self.domains {
            let cells = dequantized_sum
                .get(offset..offset + k as usize)
                .ok_or_else(|| AnalyticsError::Histogram("sum too short".into()))?;
            offset += k as usize;
            let raw: Vec<f64> = cells
                .iter()
                .map(|&c| {
                    let c = if params.dp.is_none() { c.round() } else { c };
                    c / nf
                })
                .collect();
            let (norm_sub, std_err) = if included == 0 {
                (vec![f64::NAN; raw.len()], vec![f64::NAN; raw.len()])
            } else {
                (
                    PostProcess::NormSub.apply(&raw)?,
                    vec![count_sd / nf; raw.len()],
                )
            };
            attributes.push(AttributeEstimate {
                reports: included,
                raw,
                norm_sub,
                std_err,
            });
        }
        Ok(FrequencyEstimates {
            method,
            n: included,
            attributes,
            privacy,
        })
    }
}

/// Why [`HistogramSpec::client`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistogramClientError {
    /// The value or the session's shape.
    #[error(transparent)]
    Histogram(#[from] AnalyticsError),
    /// The SecAgg client refused to start.
    #[error(transparent)]
    Setup(#[from] ClientSetupError),
}
