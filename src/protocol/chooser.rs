//! Parameter chooser for SecAgg+ (Bell, Bonawitz, Gascón, Lepoint, Raykova,
//! "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead",
//! CCS 2020, ePrint 2020/704), semi-honest setting.
//!
//! Given the number of clients `n`, the tolerated dropout fraction `delta`
//! and the corrupted fraction `gamma`, [`choose_graph_params`] returns the
//! degree `k` of the communication graph (number of neighbours, excluding
//! the client itself) and the Shamir threshold `t` used inside every
//! neighbourhood, for statistical security 2^-[`SECURITY_BITS`] and failure
//! probability 2^-[`FAILURE_BITS`].
//!
//! # Model
//!
//! The communication graph is a *random Harary graph*: the `n` clients are
//! placed on a ring in uniformly random order and every client is connected
//! to the `k/2` nearest clients on each side (`k` even). The set of `A`
//! corrupted clients and the set of `D` dropped clients are fixed before the
//! permutation is drawn, so the neighbourhood of a client behaves like a
//! uniform sample without replacement.
//!
//! With `A = floor((gamma + 1e-12) * n)`, `D = floor((delta + 1e-12) * n)`,
//! `B = A + D` ("bad" clients) and `S = n - D` (surviving clients), a degree
//! `k` is accepted with threshold `t` iff
//!
//! 1. **connectivity** (security): the union bound
//!    `n (n-k-1)/2 * [B]_k / [n]_k < 2^-(SECURITY_BITS+1)` on the probability
//!    that the honest surviving clients are disconnected holds, where
//!    `[x]_k` is the falling factorial (disconnecting a Harary graph of degree
//!    `k` needs two disjoint runs of `k/2` consecutive bad clients; there are
//!    at most `n(n-k-1)/2` such pairs of runs and `[B]_k/[n]_k` is the
//!    probability that `k` fixed positions are all bad). It holds trivially
//!    when `k > B` or `k = n - 1`;
//! 2. **privacy** (security): `t = max(2, t1)`, where `t1` is the smallest
//!    integer with `Pr[X >= t1] < 2^-(SECURITY_BITS+1) / n`,
//!    `X ~ Hypergeometric(population n, marked A, draws k)` (number of
//!    corrupted neighbours; the `1/n` is a union bound over clients and the
//!    `+1` splits the security budget between events 1 and 2);
//! 3. **correctness**: `Pr[Y < t] < 2^-FAILURE_BITS / n` where
//!    `Y ~ Hypergeometric(population n, marked S, draws k)` (number of
//!    surviving neighbours).
//!
//! Degrees are tried in the order `k = 2, 4, 6, ...` while `k < n - 1`; the
//! first accepted one is returned. If none is accepted, the complete graph
//! `k = n - 1` is tried last with the same rules 2 and 3 (rule 1 holds
//! trivially); in the complete graph those rules reduce to
//! `t = max(2, A + 1)` and `t <= S - 1`. If that fails too, the parameters
//! are infeasible.
//!
//! This reproduces the values published by Bell et al. for the semi-honest
//! setting (5%/5%: n=100 -> 12/6, n=1000 -> 30/17, n=10^6 -> 38/22;
//! 33%/33%: n=100 -> 68/34, n=1000 -> 286/150). See protocol-spec/secagg.md, "SecAgg+ parameters".
//!
//! All probabilities are handled as natural logarithms, built from sums of
//! logarithms of ratios `<= 1` (no factorials of large numbers are formed),
//! so `n` up to 10^7 and beyond is fast and accurate. The cost is
//! `O(k_final^2)` floating point operations after an `O(k_final)` scan.

use core::f64::consts::LN_2;

use crate::prelude::*;

/// The elementary functions the chooser needs: the platform's with `std` (the chooser vectors
/// were generated with them), `libm`'s without. They agree to within an ulp or so, which can only
/// move a result that sits exactly on a probability boundary.
mod fmath {
    #[cfg(feature = "std")]
    pub fn ln(x: f64) -> f64 {
        x.ln()
    }
    #[cfg(feature = "std")]
    pub fn exp(x: f64) -> f64 {
        x.exp()
    }
    #[cfg(feature = "std")]
    pub fn ln_1p(x: f64) -> f64 {
        x.ln_1p()
    }
    #[cfg(feature = "std")]
    pub fn floor(x: f64) -> f64 {
        x.floor()
    }
    #[cfg(not(feature = "std"))]
    pub use libm::{exp, floor, log as ln, log1p as ln_1p};
}

/// Statistical security parameter sigma: security holds except with
/// probability 2^-40.
pub const SECURITY_BITS: u32 = 40;

/// Largest even degree the search tries below the complete graph (session degrees are `u16`).
pub const MAX_SEARCH_DEGREE: u64 = u16::MAX as u64 - 1;

/// Correctness parameter eta: the protocol fails with probability < 2^-20.
pub const FAILURE_BITS: u32 = 20;

/// Tolerance added to the fractions before multiplying by `n` and flooring,
/// so that e.g. `0.29 * 100 = 28.999999999999996` counts as 29 clients.
pub const RATE_EPSILON: f64 = 1e-12;

/// Errors returned by [`choose_graph_params`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ChooserError {
    /// Fewer than two clients.
    #[error("the number of clients must be at least 2 (got {n})")]
    TooFewClients {
        /// The number of clients provided.
        n: u64,
    },
    /// A fraction was NaN, negative, or not below 1.
    #[error("the {name} fraction must be in [0, 1) (got {value})")]
    InvalidFraction {
        /// `"dropout"` or `"corrupt"`.
        name: &'static str,
        /// The value provided.
        value: f64,
    },
    /// The corrupted plus dropped clients leave no honest surviving client.
    #[error(
        "{corrupt} corrupted plus {dropout} dropped clients leave no honest surviving client out of {n}"
    )]
    NoHonestSurvivor {
        /// Number of clients.
        n: u64,
        /// Number of corrupted clients `floor(gamma * n)`.
        corrupt: u64,
        /// Number of dropped clients `floor(delta * n)`.
        dropout: u64,
    },
    /// No degree (not even the complete graph) satisfies all conditions.
    #[error(
        "no graph degree and threshold satisfy the requirements for n = {n}, dropout = {dropout}, corrupt = {corrupt}"
    )]
    Infeasible {
        /// Number of clients.
        n: u64,
        /// Dropout fraction provided.
        dropout: f64,
        /// Corrupt fraction provided.
        corrupt: f64,
    },
}

/// Communication-graph parameters for SecAgg+.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphParams {
    /// Number of neighbours of each client, excluding itself.
    /// Either even (random Harary graph) or `n - 1` (complete graph).
    pub degree: u32,
    /// Shamir threshold inside each neighbourhood (`2 <= threshold <= degree`).
    pub threshold: u32,
}

/// Chooses the degree and Shamir threshold for `n` clients, a fraction
/// `dropout` of which may drop out and a fraction `corrupt` of which may be
/// corrupted (semi-honest adversary controlling the server), following the
/// random-Harary-graph analysis described in the module documentation.
///
/// When no even degree below `n - 1` works, the complete graph
/// (`degree = n - 1`) is returned if it satisfies the privacy and
/// correctness rules (then `threshold = max(2, floor(corrupt * n) + 1)`).
///
/// # Errors
/// * [`ChooserError::TooFewClients`] if `n < 2`;
/// * [`ChooserError::InvalidFraction`] if a fraction is not in `[0, 1)`;
/// * [`ChooserError::NoHonestSurvivor`] if `floor(corrupt*n) + floor(dropout*n) >= n`;
/// * [`ChooserError::Infeasible`] if even the complete graph does not work
///   (or the resulting degree would not fit in a `u32`).
pub fn choose_graph_params(
    n: u64,
    dropout: f64,
    corrupt: f64,
) -> Result<GraphParams, ChooserError> {
    let (num_corrupt, num_dropout) = client_counts(n, dropout, corrupt)?;
    let infeasible = ChooserError::Infeasible {
        n,
        dropout,
        corrupt,
    };
    let finder = Finder::new(n, num_corrupt, num_dropout, 0);
    let (degree, threshold) = finder.search().ok_or_else(|| infeasible.clone())?;
    Ok(GraphParams {
        degree: u32::try_from(degree).map_err(|_| infeasible.clone())?,
        threshold: u32::try_from(threshold).map_err(|_| infeasible)?,
    })
}

/// Communication-graph parameters for the active (malicious-server) model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveGraphParams {
    /// Number of neighbours of each client, excluding itself (even, or `n - 1`).
    pub degree: u32,
    /// Shamir threshold inside each neighbourhood: `2t > degree + max_corrupt_neighbours`.
    pub threshold: u32,
    /// `c`: more than `c` corrupted neighbours occur with probability below
    /// 2^-(sigma+1) / n per client (the session parameter `max_corrupt_neighbours`).
    pub max_corrupt_neighbours: u32,
}

/// Chooses the degree, threshold and corrupted-neighbour bound for the **active** model
/// (malicious server colluding with a fraction `corrupt` of the clients; the graph itself is
/// assumed to be uniformly random, see the spec's threat-model section for graph grinding).
///
/// Same search as [`choose_graph_params`], with rule 2 replaced by: `c = t1 - 1` where `t1` is
/// rule 2's tail bound (so more than `c` corrupted neighbours has probability below
/// 2^-(sigma+1)/n), and `t = floor((k + c) / 2) + 1`, the smallest threshold with `2t > k + c`
/// (a server showing different survivor sets to different neighbours of a client then cannot
/// collect `t` shares of both of its secrets). Rule 3 (correctness) is unchanged.
///
/// This reproduces the published semi-malicious values of Google's federated-compute
/// parameter finder for 5% corrupted and 5% dropped clients: n = 100 -> 16/11 and
/// n = 1000 -> 52/37 (degree / threshold).
///
/// # Errors
/// As [`choose_graph_params`].
pub fn choose_active_graph_params(
    n: u64,
    dropout: f64,
    corrupt: f64,
) -> Result<ActiveGraphParams, ChooserError> {
    choose_active_graph_params_with_margin(n, dropout, corrupt, 0)
}

/// Default grinding margin in bits for active sessions built by this crate's coordinator and
/// examples: the server chooses the session nonce, hence the graph, and may try many nonces
/// offline; with this margin each graph is bad with probability below 2^-(41 + 64), so even
/// 2^64 trials (about 4 million CPU-years at ~7 us per permutation for n = 1000) succeed with
/// probability below 2^-41.
pub const GRINDING_MARGIN_BITS: u32 = 64;

/// [`choose_active_graph_params`] with both security events (connectivity and the corrupted-
/// neighbour tail) tightened by `2^-margin_bits`, so that a server grinding up to
/// `2^margin_bits` nonces for a bad graph still succeeds with probability below 2^-41 (union
/// bound over its trials). `margin_bits = 0` is the published rule.
///
/// # Errors
/// As [`choose_graph_params`].
pub fn choose_active_graph_params_with_margin(
    n: u64,
    dropout: f64,
    corrupt: f64,
    margin_bits: u32,
) -> Result<ActiveGraphParams, ChooserError> {
    let (num_corrupt, num_dropout) = client_counts(n, dropout, corrupt)?;
    let infeasible = || ChooserError::Infeasible {
        n,
        dropout,
        corrupt,
    };
    let finder = Finder::new(n, num_corrupt, num_dropout, margin_bits);
    let (degree, (threshold, c)) = finder.search_active().ok_or_else(infeasible)?;
    let fit = |v: u64| u32::try_from(v).map_err(|_| infeasible());
    Ok(ActiveGraphParams {
        degree: fit(degree)?,
        threshold: fit(threshold)?,
        max_corrupt_neighbours: fit(c)?,
    })
}

/// The graph, threshold `t` and corrupted-neighbour bound `c` of a session with `n` clients
/// under `model`, from [`choose_graph_params`] (semi-honest, `c = t - 1`) or
/// [`choose_active_graph_params_with_margin`] with [`GRINDING_MARGIN_BITS`] (active). Values
/// that do not fit the session parameters'
/// `u16` fields are reported as infeasible.
///
/// A positive `dropout` plans for at least one dropout: in a small cohort `floor(dropout * n)`
/// is 0 (5% of 10 clients), the chooser would then pick a ring on which a single dropout
/// prunes its neighbours and aborts the session, while one client dropping is the normal case.
pub fn choose_session_graph(
    n: u64,
    dropout: f64,
    corrupt: f64,
    model: super::params::ThreatModel,
) -> Result<(super::params::Graph, u16, u16), ChooserError> {
    let planned = if dropout > 0.0 && n >= 2 {
        dropout.max(1.0 / n as f64)
    } else {
        dropout
    };
    // A cohort too small to survive any dropout (n = 3) keeps the rate it was given.
    match choose_session_graph_at(n, planned, corrupt, model) {
        Err(ChooserError::Infeasible { .. } | ChooserError::NoHonestSurvivor { .. })
            if planned != dropout =>
        {
            choose_session_graph_at(n, dropout, corrupt, model)
        }
        r => r,
    }
}

fn choose_session_graph_at(
    n: u64,
    dropout: f64,
    corrupt: f64,
    model: super::params::ThreatModel,
) -> Result<(super::params::Graph, u16, u16), ChooserError> {
    let (k, t, c) = match model {
        super::params::ThreatModel::Active => {
            let p =
                choose_active_graph_params_with_margin(n, dropout, corrupt, GRINDING_MARGIN_BITS)?;
            (p.degree, p.threshold, p.max_corrupt_neighbours)
        }
        _ => {
            let p = choose_graph_params(n, dropout, corrupt)?;
            (p.degree, p.threshold, p.threshold - 1)
        }
    };
    let fit = |v: u32| {
        u16::try_from(v).map_err(|_| ChooserError::Infeasible {
            n,
            dropout,
            corrupt,
        })
    };
    let graph = if k as u64 >= n - 1 {
        super::params::Graph::Complete
    } else {
        super::params::Graph::Harary { degree: fit(k)? }
    };
    Ok((graph, fit(t)?, fit(c)?))
}

/// The corrupted-neighbour bound `c` for a given graph: the smallest `c` such that more than
/// `c` of a client's `degree` neighbours are corrupted with probability below
/// 2^-(sigma+1) / n, when a fraction `corrupt` of the `n` clients is corrupted and the graph is
/// a uniformly random Harary graph (for the complete graph, `degree = n - 1`, this is the
/// number of corrupted clients). A client uses it to check a session's declared
/// `max_corrupt_neighbours` against its own assumption.
///
/// # Errors
/// [`ChooserError::TooFewClients`], [`ChooserError::InvalidFraction`], or
/// [`ChooserError::Infeasible`] if `degree` is 0 or not below `n`.
///
/// `margin_bits` tightens the budget as in [`choose_active_graph_params_with_margin`].
pub fn corrupt_neighbour_bound(
    n: u64,
    degree: u64,
    corrupt: f64,
    margin_bits: u32,
) -> Result<u64, ChooserError> {
    if n < 2 {
        return Err(ChooserError::TooFewClients { n });
    }
    if !(0.0..1.0).contains(&corrupt) {
        return Err(ChooserError::InvalidFraction {
            name: "corrupt",
            value: corrupt,
        });
    }
    if degree == 0 || degree >= n {
        return Err(ChooserError::Infeasible {
            n,
            dropout: 0.0,
            corrupt,
        });
    }
    let finder = Finder::new(n, count_of(corrupt, n), 0, margin_bits);
    Ok(finder.corrupt_tail(degree).saturating_sub(1))
}

/// The argument checks shared by both choosers: `n >= 2`, fractions in `[0, 1)`, and at least
/// one honest surviving client. Returns the numbers of corrupted and dropped clients.
fn client_counts(n: u64, dropout: f64, corrupt: f64) -> Result<(u64, u64), ChooserError> {
    if n < 2 {
        return Err(ChooserError::TooFewClients { n });
    }
    for (name, value) in [("dropout", dropout), ("corrupt", corrupt)] {
        if !(0.0..1.0).contains(&value) {
            return Err(ChooserError::InvalidFraction { name, value });
        }
    }
    let num_corrupt = count_of(corrupt, n);
    let num_dropout = count_of(dropout, n);
    if num_corrupt + num_dropout >= n {
        return Err(ChooserError::NoHonestSurvivor {
            n,
            corrupt: num_corrupt,
            dropout: num_dropout,
        });
    }
    Ok((num_corrupt, num_dropout))
}

/// `floor((rate + RATE_EPSILON) * n)`, clamped to `n`.
fn count_of(rate: f64, n: u64) -> u64 {
    let c = fmath::floor((rate + RATE_EPSILON) * n as f64);
    // `c` is finite and >= 0 here; the cast saturates anyway.
    (c as u64).min(n)
}

struct Finder {
    n: u64,
    corrupt: u64,
    bad: u64,
    surviving: u64,
    /// ln(2^-(sigma+1)): per-event security budget.
    ln_sec_event: f64,
    /// ln(2^-(sigma+1) / n): per-client privacy budget.
    ln_sec_client: f64,
    /// ln(2^-eta / n): per-client correctness budget.
    ln_fail_client: f64,
}

impl Finder {
    /// `margin_bits` tightens both security events by 2^-margin (graph grinding, see
    /// [`choose_active_graph_params_with_margin`]); 0 for the published rules.
    fn new(n: u64, corrupt: u64, dropout: u64, margin_bits: u32) -> Self {
        let ln_n = fmath::ln(n as f64);
        let ln_sec_event = -f64::from(SECURITY_BITS + 1 + margin_bits) * LN_2;
        Finder {
            n,
            corrupt,
            bad: corrupt + dropout,
            surviving: n - dropout,
            ln_sec_event,
            ln_sec_client: ln_sec_event - ln_n,
            ln_fail_client: -f64::from(FAILURE_BITS) * LN_2 - ln_n,
        }
    }

    /// Returns the first accepted `(k, t)` in the search order (semi-honest rules).
    fn search(&self) -> Option<(u64, u64)> {
        self.search_with(|k| self.threshold_for(k))
    }

    /// Returns the first accepted `(k, (t, c))` under the active-model rules.
    fn search_active(&self) -> Option<(u64, (u64, u64))> {
        self.search_with(|k| self.active_threshold_for(k))
    }

    /// The degree search shared by both models: `accept(k)` applies rules 2 and 3.
    fn search_with<T>(&self, accept: impl Fn(u64) -> Option<T>) -> Option<(u64, T)> {
        let n = self.n;
        // Running value of ln([B]_k / [n]_k) = sum_{i<k} ln((B-i)/(n-i)),
        // valid while k <= B (for k > B the probability is 0).
        let mut ln_all_bad = 0.0_f64;
        let mut k = 2_u64;
        // Degrees above `MAX_SEARCH_DEGREE` never fit a session (`u16`) and would make an
        // infeasible search O(n^2); the complete graph is still tried last.
        while k < n - 1 && k <= MAX_SEARCH_DEGREE {
            for i in (k - 2)..k {
                if i < self.bad {
                    ln_all_bad += fmath::ln((self.bad - i) as f64 / (n - i) as f64);
                }
            }
            // The connectivity bound is non-increasing in k, so failing
            // degrees are skipped cheaply before the O(k) threshold checks.
            if self.connected_enough(k, ln_all_bad) {
                if let Some(t) = accept(k) {
                    return Some((k, t));
                }
            }
            k += 2;
        }
        // Complete graph: always connected.
        accept(n - 1).map(|t| (n - 1, t))
    }

    /// Rule 1 for a degree `k < n - 1`.
    fn connected_enough(&self, k: u64, ln_all_bad: f64) -> bool {
        if k > self.bad {
            return true;
        }
        let n = self.n as f64;
        let ln_pairs = fmath::ln(n) + fmath::ln((self.n - k - 1) as f64) - LN_2;
        ln_pairs + ln_all_bad < self.ln_sec_event
    }

    /// Rules 2 and 3 for degree `k`: returns the threshold if accepted.
    fn threshold_for(&self, k: u64) -> Option<u64> {
        let t = self.corrupt_tail(k).max(2);
        (t <= k && self.correct(k, t)).then_some(t)
    }

    /// Active model for degree `k`: `c = t1 - 1` corrupted neighbours at most (rule 2's tail
    /// bound), `t` the smallest threshold with `2t > k + c` (and `t >= 2`), then rule 3.
    fn active_threshold_for(&self, k: u64) -> Option<(u64, u64)> {
        let c = self.corrupt_tail(k).saturating_sub(1);
        let t = ((k + c) / 2 + 1).max(2);
        (t <= k && self.correct(k, t)).then_some((t, c))
    }

    /// Rule 2's `t1`: the smallest integer with `Pr[X >= t1] < 2^-(sigma+1) / n`,
    /// `X ~ Hyp(n, A, k)` the number of corrupted neighbours.
    fn corrupt_tail(&self, k: u64) -> u64 {
        let x = Hypergeometric::new(self.n, self.corrupt, k);
        let lpmf = x.log_pmf_all();
        // Walk from the top of the support downwards accumulating the upper
        // tail; the answer is one past the last support point whose tail
        // reaches the budget.
        let mut t1 = x.hi + 1;
        let mut tail = f64::NEG_INFINITY;
        for (idx, &lp) in lpmf.iter().enumerate().rev() {
            tail = log_add_exp(tail, lp);
            if tail >= self.ln_sec_client {
                break;
            }
            t1 = x.lo + idx as u64;
        }
        t1
    }

    /// Rule 3: `Pr[Y < t] < 2^-eta / n`, `Y ~ Hyp(n, S, k)` the surviving neighbours.
    fn correct(&self, k: u64, t: u64) -> bool {
        let y = Hypergeometric::new(self.n, self.surviving, k);
        if t <= y.lo {
            return true;
        }
        let lpmf = y.log_pmf_all();
        let upto = ((t - y.lo) as usize).min(lpmf.len());
        let mut head = f64::NEG_INFINITY;
        for &lp in &lpmf[..upto] {
            head = log_add_exp(head, lp);
        }
        head < self.ln_fail_client
    }
}

/// Hypergeometric distribution: `draws` items sampled without replacement
/// from `population` items of which `marked` are marked; the variable is
/// the number of marked items drawn. Support is `lo..=hi`.
struct Hypergeometric {
    population: u64,
    marked: u64,
    draws: u64,
    lo: u64,
    hi: u64,
}

impl Hypergeometric {
    fn new(population: u64, marked: u64, draws: u64) -> Self {
        debug_assert!(marked <= population && draws <= population);
        let lo = (draws + marked).saturating_sub(population);
        let hi = draws.min(marked);
        Hypergeometric {
            population,
            marked,
            draws,
            lo,
            hi,
        }
    }

    /// Natural log of the pmf at every support point `lo..=hi`.
    ///
    /// pmf(x) = C(m, x) [K]_x [N-K]_{m-x} / [N]_m with m draws, K marked,
    /// N population. The anchor at `lo` pairs every numerator factor with a
    /// denominator factor so each logarithm is of a ratio in (0, 1]; the
    /// other points follow from
    /// pmf(x+1)/pmf(x) = (K-x)(m-x) / ((x+1)(N-K-m+x+1)), where
    /// N-K-m+x+1 >= 1 on the support (evaluated as (N-K+x+1)-m in `u64`).
    fn log_pmf_all(&self) -> Vec<f64> {
        let (nn, kk, m, lo) = (self.population, self.marked, self.draws, self.lo);
        let mut anchor = 0.0_f64;
        // ln C(m, lo)
        for i in 0..lo {
            anchor += fmath::ln((m - i) as f64 / (i + 1) as f64);
        }
        // ln([K]_lo / [N]_lo)
        for i in 0..lo {
            anchor += fmath::ln((kk - i) as f64 / (nn - i) as f64);
        }
        // ln([N-K]_{m-lo} / [N-lo]_{m-lo})
        for j in 0..(m - lo) {
            anchor += fmath::ln((nn - kk - j) as f64 / (nn - lo - j) as f64);
        }
        let len = (self.hi - lo + 1) as usize;
        let mut out = Vec::with_capacity(len);
        let mut cur = anchor;
        out.push(cur);
        for x in lo..self.hi {
            let ratio = ((kk - x) as f64 / (x + 1) as f64)
                * ((m - x) as f64 / (nn - kk + x + 1 - m) as f64);
            cur += fmath::ln(ratio);
            out.push(cur);
        }
        out
    }
}

/// ln(e^a + e^b), robust to infinities.
fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + fmath::ln_1p(fmath::exp(lo - hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(n: u64, dropout: f64, corrupt: f64) -> (u32, u32) {
        let p = choose_graph_params(n, dropout, corrupt).expect("feasible");
        (p.degree, p.threshold)
    }

    fn active(n: u64, dropout: f64, corrupt: f64) -> (u32, u32, u32) {
        let p = choose_active_graph_params(n, dropout, corrupt).expect("feasible");
        (p.degree, p.threshold, p.max_corrupt_neighbours)
    }

    #[test]
    fn active_reproduces_published_semi_malicious_values() {
        let (k, t, _) = active(100, 0.05, 0.05);
        assert_eq!((k, t), (16, 11));
        let (k, t, _) = active(1000, 0.05, 0.05);
        assert_eq!((k, t), (52, 37));
    }

    #[test]
    fn active_invariants_over_grid() {
        for n in [10u64, 50, 100, 300, 1000, 5000] {
            for (d, c) in [
                (0.0, 0.0),
                (0.05, 0.05),
                (0.1, 0.05),
                (0.05, 0.1),
                (0.2, 0.2),
            ] {
                let Ok(p) = choose_active_graph_params(n, d, c) else {
                    continue;
                };
                let (k, t, cc) = (p.degree, p.threshold, p.max_corrupt_neighbours);
                assert!(2 * t > k + cc, "n={n} d={d} c={c}: {k}/{t}/{cc}");
                assert!(t <= k && t >= 2);
                assert!(k as u64 == n - 1 || k % 2 == 0);
                // c is exactly the bound a client recomputes from the same rate.
                assert_eq!(
                    corrupt_neighbour_bound(n, k as u64, c, 0).unwrap(),
                    cc as u64
                );
                // Never weaker than the semi-honest threshold.
                if let Ok(s) = choose_graph_params(n, d, c) {
                    assert!(k >= s.degree || k as u64 == n - 1);
                }
            }
        }
    }

    #[test]
    fn grinding_margin_tightens_the_corrupt_bound() {
        for n in [100u64, 1000, 10_000] {
            let plain = choose_active_graph_params(n, 0.05, 0.05).unwrap();
            let hard = choose_active_graph_params_with_margin(n, 0.05, 0.05, 64).unwrap();
            assert!(2 * hard.threshold > hard.degree + hard.max_corrupt_neighbours);
            assert!(hard.degree >= plain.degree, "n={n}: {plain:?} vs {hard:?}");
            // The hardened c is the 2^-(41+64)/n tail bound for that degree.
            let c = corrupt_neighbour_bound(n, hard.degree as u64, 0.05, 64).unwrap();
            assert_eq!(c, hard.max_corrupt_neighbours as u64);
            // The same degree under the plain budget tolerates fewer corruptions.
            let plain_c = corrupt_neighbour_bound(n, hard.degree as u64, 0.05, 0).unwrap();
            assert!(plain_c <= c);
        }
    }

    #[test]
    fn corrupt_bound_of_complete_graph_is_the_corrupt_count() {
        // With k = n - 1 every corrupted client is a neighbour of every honest one.
        assert_eq!(corrupt_neighbour_bound(10, 9, 0.2, 0).unwrap(), 2);
        assert_eq!(corrupt_neighbour_bound(100, 99, 0.05, 64).unwrap(), 5);
        assert!(corrupt_neighbour_bound(10, 10, 0.2, 0).is_err());
        assert!(corrupt_neighbour_bound(10, 4, 1.5, 0).is_err());
    }

    #[test]
    fn published_values_5_percent() {
        assert_eq!(params(100, 0.05, 0.05), (12, 6));
        assert_eq!(params(1_000, 0.05, 0.05), (30, 17));
        assert_eq!(params(1_000_000, 0.05, 0.05), (38, 22));
    }

    #[test]
    fn published_values_33_percent() {
        assert_eq!(params(100, 0.33, 0.33), (68, 34));
        assert_eq!(params(1_000, 0.33, 0.33), (286, 150));
    }

    #[test]
    fn reference_table() {
        // Table of SPEC.md; each entry cross-checked against an independent
        // 60-digit mpmath implementation of the same rules.
        let table: [(u64, f64, (u32, u32)); 17] = [
            (100, 0.05, (12, 6)),
            (1_000, 0.05, (30, 17)),
            (10_000, 0.05, (34, 20)),
            (100_000, 0.05, (36, 21)),
            (1_000_000, 0.05, (38, 22)),
            (10_000_000, 0.05, (42, 24)),
            (100, 0.10, (22, 11)),
            (1_000, 0.10, (48, 27)),
            (10_000, 0.10, (54, 31)),
            (100_000, 0.10, (58, 33)),
            (1_000_000, 0.10, (64, 36)),
            (10_000_000, 0.10, (68, 38)),
            (100, 0.33, (68, 34)),
            (1_000, 0.33, (286, 150)),
            (10_000, 0.33, (422, 221)),
            (100_000, 0.33, (480, 251)),
            (1_000_000, 0.33, (518, 270)),
        ];
        for (n, rate, expected) in table {
            assert_eq!(params(n, rate, rate), expected, "n={n} rate={rate}");
        }
    }

    #[test]
    fn invariants_over_grid() {
        for &(dropout, corrupt) in &[
            (0.05, 0.05),
            (0.1, 0.1),
            (0.2, 0.1),
            (0.0, 0.3),
            (0.33, 0.33),
        ] {
            let mut prev = 0;
            for n in [
                100_u64, 200, 500, 1_000, 2_000, 5_000, 10_000, 100_000, 1_000_000,
            ] {
                let p = choose_graph_params(n, dropout, corrupt).unwrap();
                assert!(p.threshold >= 2, "{p:?}");
                assert!(p.threshold <= p.degree, "{p:?}");
                assert!(u64::from(p.degree) < n, "{p:?}");
                assert!(
                    p.degree.is_multiple_of(2) || u64::from(p.degree) == n - 1,
                    "{p:?}"
                );
                assert!(p.degree >= prev, "degree not monotone in n at n={n}: {p:?}");
                prev = p.degree;
            }
        }
    }

    #[test]
    fn threshold_exceeds_expected_corrupt_and_below_expected_survivors() {
        for n in [100_u64, 1_000, 100_000] {
            let p = choose_graph_params(n, 0.1, 0.1).unwrap();
            let k = f64::from(p.degree);
            assert!(f64::from(p.threshold) > 0.1 * k);
            assert!(f64::from(p.threshold) < 0.9 * k);
        }
    }

    #[test]
    fn small_cohorts_survive_one_dropout() {
        // Issue 11: at n = 6 with 5% dropout the session chooser planned 0 dropouts and one
        // dropout aborted the session. Now every client keeps t neighbours after losing one.
        for n in 4..40u64 {
            for model in [
                super::super::params::ThreatModel::SemiHonest,
                super::super::params::ThreatModel::Active,
            ] {
                let Ok((g, t, _)) = choose_session_graph(n, 0.05, 0.0, model) else {
                    continue;
                };
                let k = match g {
                    super::super::params::Graph::Harary { degree } => u64::from(degree),
                    _ => n - 1,
                };
                assert!(k > u64::from(t), "n {n} {model:?}: k {k}, t {t}");
                assert!(n - 1 > u64::from(t), "n {n} {model:?}: t {t}");
            }
        }
    }

    #[test]
    fn no_adversary_no_dropout() {
        // A = D = 0: the smallest degree is 2 with threshold 2.
        assert_eq!(params(1_000, 0.0, 0.0), (2, 2));
    }

    #[test]
    fn complete_graph_fallback() {
        // 10 clients, 4 corrupt, 4 dropped (B = 8, S = 6): degree 2..=8 fail
        // the connectivity bound (degree 8 gives 5 * 2/90 > 2^-41), the
        // complete graph passes with t = A + 1 = 5 <= S - 1.
        assert_eq!(params(10, 0.4, 0.4), (9, 5));
        // 3 clients, nobody bad: Harary degree 2 is already complete.
        assert_eq!(params(3, 0.0, 0.0), (2, 2));
        // Degree 8 > B = 6 is trivially connected, so no fallback here.
        assert_eq!(params(10, 0.3, 0.3), (8, 4));
    }

    #[test]
    fn errors() {
        assert_eq!(
            choose_graph_params(1, 0.1, 0.1),
            Err(ChooserError::TooFewClients { n: 1 })
        );
        assert!(matches!(
            choose_graph_params(100, 1.0, 0.1),
            Err(ChooserError::InvalidFraction {
                name: "dropout",
                ..
            })
        ));
        assert!(matches!(
            choose_graph_params(100, 0.1, -0.1),
            Err(ChooserError::InvalidFraction {
                name: "corrupt",
                ..
            })
        ));
        assert!(matches!(
            choose_graph_params(100, f64::NAN, 0.1),
            Err(ChooserError::InvalidFraction { .. })
        ));
        assert!(matches!(
            choose_graph_params(100, 0.5, 0.5),
            Err(ChooserError::NoHonestSurvivor { .. })
        ));
        assert!(matches!(
            choose_graph_params(2, 0.0, 0.0),
            Err(ChooserError::Infeasible { .. })
        ));
        assert!(matches!(
            // A = 4, D = 5: complete graph needs t = 5 <= S - 1 = 4.
            choose_graph_params(10, 0.5, 0.4),
            Err(ChooserError::Infeasible { .. })
        ));
    }

    #[test]
    fn large_n_is_fast() {
        let start = std::time::Instant::now();
        let p = choose_graph_params(10_000_000, 0.05, 0.05).unwrap();
        assert!(p.threshold <= p.degree);
        let q = choose_graph_params(10_000_000, 0.33, 0.33).unwrap();
        assert!(q.threshold <= q.degree);
        // Generous bound so that debug builds on a loaded machine pass.
        assert!(start.elapsed().as_secs() < 10);
    }
}
