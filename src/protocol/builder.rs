//! [`SessionParams::builder`]: session parameters from what an operator knows (cohort, vector
//! length, expected dropout and corruption rates, threat model), with the graph, threshold and
//! corruption bound chosen by the SecAgg+ chooser ([`choose_session_graph`]) and every other
//! field given a documented default.
//!
//! Invariant: [`SessionParamsBuilder::build`] returns only parameters that pass
//! [`SessionParams::validate`]; with the default rates (5% dropout, 5% corruption) and the
//! default timeouts they also pass a default [`super::ClientPolicy`] for cohorts of 10 to
//! 10 000.

use crate::ids::ParticipantId;
use crate::prelude::*;
use crate::quantize::bits_for;

use super::chooser::{choose_session_graph, ChooserError};
use super::params::{Graph, ParamsError, SessionParams, ThreatModel};

/// Errors of [`SessionParamsBuilder::build`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The chooser found no graph for the cohort and rates.
    #[error("graph chooser: {0}")]
    Chooser(#[from] ChooserError),
    /// The resulting parameters are invalid.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// No distributed-DP configuration meets the target for this session.
    #[error("distributed DP: {0}")]
    Dp(#[from] crate::ddp::DdpError),
}

/// Builds [`SessionParams`]; see [`SessionParams::builder`] for the defaults.
#[derive(Debug, Clone)]
pub struct SessionParamsBuilder {
    nonce: [u8; 32],
    participants: Vec<ParticipantId>,
    vector_len: u32,
    threat_model: ThreatModel,
    identity_keys: Vec<[u8; 32]>,
    dropout_rate: f64,
    corruption_rate: f64,
    graph: Option<(Graph, u16, u16)>,
    clip: f64,
    levels: u64,
    max_weight: u32,
    bits: Option<crate::ring::Bits>,
    round_timeout_ms: [u32; 5],
    mask_prg: crate::crypto::prg::MaskPrg,
    #[cfg(feature = "std")]
    dp: Option<crate::ddp::SessionDp>,
}

impl SessionParams {
    /// A builder for a session of `participants` (sorted here) with inputs of `vector_len`
    /// coordinates; `nonce` must be fresh for every session (e.g. 32 random bytes).
    ///
    /// Defaults: semi-honest; graph, threshold `t` and corruption bound `c` from the SecAgg+
    /// chooser for 5% dropout and 5% corruption (the active model adds the 64-bit grinding
    /// margin); clip bound 1.0 with 2^16 levels; weight 1 (a plain sum); the smallest ring
    /// width that holds the sum; 60 s per round.
    ///
    /// ```
    /// use secagg::ids::ParticipantId;
    /// use secagg::protocol::{Graph, SessionParams};
    ///
    /// let ids = (1..=100).map(|i| ParticipantId::new(i).unwrap());
    /// let params = SessionParams::builder([7; 32], ids, 1000)
    ///     .dropout_rate(0.05)
    ///     .corruption_rate(0.05)
    ///     .build()
    ///     .unwrap();
    /// // The semi-honest chooser's SecAgg+ graph for n = 100, 5% / 5%: degree 12, t = 6.
    /// assert_eq!(params.graph, Graph::Harary { degree: 12 });
    /// assert_eq!(params.threshold, 6);
    /// assert!(params.validate().is_ok());
    /// ```
    pub fn builder(
        nonce: [u8; 32],
        participants: impl IntoIterator<Item = ParticipantId>,
        vector_len: u32,
    ) -> SessionParamsBuilder {
        let mut participants: Vec<ParticipantId> = participants.into_iter().collect();
        participants.sort_unstable();
        SessionParamsBuilder {
            nonce,
            participants,
            vector_len,
            threat_model: ThreatModel::SemiHonest,
            identity_keys: Vec::new(),
            dropout_rate: 0.05,
            corruption_rate: 0.05,
            graph: None,
            clip: 1.0,
            levels: 1 << 16,
            max_weight: 1,
            bits: None,
            round_timeout_ms: [60_000; 5],
            mask_prg: crate::crypto::prg::MaskPrg::Aes128Ctr,
            #[cfg(feature = "std")]
            dp: None,
        }
    }
}

impl SessionParamsBuilder {
    /// The active model, with each participant's Ed25519 identity key (in the order of the
    /// sorted participants).
    pub fn active(mut self, identity_keys: Vec<[u8; 32]>) -> Self {
        self.threat_model = ThreatModel::Active;
        self.identity_keys = identity_keys;
        self
    }

    /// The fraction of clients expected to drop out (default 0.05); the chooser keeps the sum
    /// recoverable with at most this many dropouts except with probability 2^-40 (spec
    /// section 20).
    pub fn dropout_rate(mut self, rate: f64) -> Self {
        self.dropout_rate = rate;
        self
    }

    /// The fraction of clients assumed to collude with the server (default 0.05).
    pub fn corruption_rate(mut self, rate: f64) -> Self {
        self.corruption_rate = rate;
        self
    }

    /// Overrides the chooser: this graph, threshold `t` and corruption bound `c` (still
    /// validated).
    pub fn graph(mut self, graph: Graph, threshold: u16, max_corrupt_neighbours: u16) -> Self {
        self.graph = Some((graph, threshold, max_corrupt_neighbours));
        self
    }

    /// Quantization: inputs are clipped to `[-clip, clip]` and rounded to `levels` values
    /// (defaults 1.0 and 2^16).
    pub fn quantization(mut self, clip: f64, levels: u64) -> Self {
        self.clip = clip;
        self.levels = levels;
        self
    }

    /// The largest client weight (default 1: a plain sum).
    pub fn max_weight(mut self, max_weight: u32) -> Self {
        self.max_weight = max_weight;
        self
    }

    /// The ring width (default: the smallest that holds the sum of every client's quantized
    /// input and weight).
    pub fn bits(mut self, bits: crate::ring::Bits) -> Self {
        self.bits = Some(bits);
        self
    }

    /// The mask PRG suite (default AES-128-CTR, fast wherever the CPU has AES instructions;
    /// ChaCha20 for cohorts of devices without them).
    pub fn mask_prg(mut self, suite: crate::crypto::prg::MaskPrg) -> Self {
        self.mask_prg = suite;
        self
    }

    /// Distributed differential privacy (spec `ddp.md`): the noise is calibrated for this
    /// cohort once the graph is chosen ([`crate::ddp::SessionDp`]: the guarantee holds with the
    /// `max(1, t + 1 - c)` honest clients a completed session is sure to include). The builder's
    /// `vector_len` is then the clients' input dimension; the session's `L` becomes the
    /// rotation's padded length, the ring width defaults to 32 bits, the quantizer is unused
    /// (`levels` 2) and the sum is unweighted (`max_weight` must stay 1).
    #[cfg(feature = "std")]
    pub fn distributed_dp(mut self, dp: crate::ddp::SessionDp) -> Self {
        self.dp = Some(dp);
        self
    }

    /// Each round's deadline in milliseconds (default 60 000).
    pub fn round_timeouts_ms(mut self, timeouts: [u32; 5]) -> Self {
        self.round_timeout_ms = timeouts;
        self
    }

    /// Chooses what was not given and validates the result.
    ///
    /// # Errors
    /// [`BuildError::Chooser`] if no graph fits the cohort and rates (e.g. rates outside
    /// `[0, 1)` or fewer than 2 clients); [`BuildError::Params`] if the parameters are invalid.
    pub fn build(self) -> Result<SessionParams, BuildError> {
        let n = self.participants.len();
        let (graph, threshold, max_corrupt_neighbours) = match self.graph {
            Some(g) => g,
            None => choose_session_graph(
                n as u64,
                self.dropout_rate,
                self.corruption_rate,
                self.threat_model,
            )?,
        };
        // With DP the noise is calibrated for this cohort and graph; the session's L is then the
        // rotation's padded length and the quantizer is unused (`levels` 2, only valid).
        #[cfg(feature = "std")]
        let dp = match self.dp {
            Some(target) => {
                let bits = self.bits.unwrap_or(crate::ring::Bits::B32);
                let cal = crate::ddp::calibrate(&target.target(
                    self.vector_len,
                    bits.get() as u8,
                    n,
                    threshold,
                    max_corrupt_neighbours,
                ))?;
                Some((bits, cal.config))
            }
            None => None,
        };
        #[cfg(not(feature = "std"))]
        let dp: Option<(crate::ring::Bits, crate::ddp::DpConfig)> = None;
        let (vector_len, bits, levels, dp) = match dp {
            Some((bits, config)) => (config.padded_dim() as u32, bits, 2, Some(config)),
            None => {
                let bits = match self.bits {
                    Some(b) => b,
                    None => {
                        let sum = bits_for(n as u64, self.levels).map_err(ParamsError::Quantize)?;
                        let weights = bits_for(n as u64, u64::from(self.max_weight) + 1)
                            .map_err(ParamsError::Quantize)?;
                        sum.max(weights)
                    }
                };
                (self.vector_len, bits, self.levels, None)
            }
        };
        let params = SessionParams {
            nonce: self.nonce,
            participants: self.participants,
            threat_model: self.threat_model,
            identity_keys: self.identity_keys,
            graph,
            threshold,
            max_corrupt_neighbours,
            dp,
            mask_prg: self.mask_prg,
            vector_len,
            bits,
            clip: self.clip,
            levels,
            max_weight: self.max_weight,
            round_timeout_ms: self.round_timeout_ms,
        };
        params.validate()?;
        Ok(params)
    }
}
