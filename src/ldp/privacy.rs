//! Exact worst-case privacy accounting of the multidimensional protocols.
//!
//! For a protocol with output `y` and user tuples `v, v'`, the privacy loss is
//! `ln sup_y P[y|v]/P[y|v']`, at two levels: **tuple** (any two tuples) and **attribute**
//! (`v, v'` differ in attribute `j` only; reported per `j`). Closed forms:
//!
//! * **Spl**: tuple `Σ_i ε_i = ε` (each attribute at `ε/d`); attribute `j`: `ε/d`.
//! * **Smp**: tuple `ε`; attribute `ε` (the sampled attribute's report is an `ε`-LDP report and
//!   the sampled index does not depend on the data).
//! * **RS+FD** (randomiser at `ε' = ln(d(e^ε − 1) + 1)` on one hidden attribute, fake data on the
//!   others): with `F_i` the fake-data distribution of attribute `i` and `A_i` its randomiser,
//!   `P[y|v] = (1/d) Π_i F_i(y_i) · Σ_j T_j(y_j|v_j)` where `T_j = A_j/F_j`, and
//!   `T_j(y|v)/T_j(y|v') <= e^{ε'}`. Hence
//!   - tuple level: exactly `ε'` for every variant (take `y` pointing at every `v_j` and away
//!     from every `v'_j`) — **not** `ε`;
//!   - attribute level `j`: `ln[(e^{ε'} x_j + S_j)/(x_j + S_j)]`, `S_j = Σ_{l≠j} t_l`, where
//!     `t_l = min_y T_l(y|·)` and `x_j` is the largest `T_j(y|v'_j)` among outputs with
//!     `T_j(y|v_j) = e^{ε'} T_j(y|v'_j)`:
//!     GRR (uniform fake data): `x = t = k q`; OUE-z: `x = t = (1−p)/(1−q)`;
//!     OUE-r: `x = k b/(p/q + (k−1) b)`, `t = k b/((k−1) p/q + b)` with `b = (1−p)/(1−q)`.
//!     This equals `ε` exactly for OUE-z and for GRR when all `k_i` are equal. For GRR with
//!     unequal domains it differs from `ε` in both directions: attributes with large domains
//!     exceed `ε`, attributes with small domains come out below it (the table's GRR column is the
//!     largest of them). OUE-r exceeds `ε` on every attribute.
//!
//! Numbers (computed by [`MultidimProtocol::privacy`](crate::ldp::MultidimProtocol::privacy) for [`RsFd`](crate::ldp::RsFd), enumeration-checked in the tests on
//! small domains), `d = 5`, `k = [8, 16, 32, 64, 128]`:
//!
//! | ε | ε' (tuple, all variants) | attribute: GRR | OUE-z | OUE-r | ADP |
//! |---|---|---|---|---|---|
//! | 0.5 | 1.4454 | 0.5438 | 0.5000 | 0.9599 | 0.5453 |
//! | 1   | 2.2609 | 1.1483 | 1.0000 | 1.9232 | 1.1000 |
//! | 2   | 3.4948 | 2.4176 | 2.0000 | 3.3503 | 2.0689 |
//! | 4   | 5.5947 | 4.8150 | 4.0000 | 5.5471 | 4.0725 |
//!
//! An RS+FD calibrated to a tuple-level `ε` ([`crate::ldp::RsFd::tuple_calibrated`]) runs the
//! randomiser at `ε' = ε`.

/// Worst-case privacy loss of a protocol (natural-log units).
#[derive(Clone, Debug, PartialEq)]
pub struct PrivacyLoss {
    /// The ε the protocol was configured with (the constructor's argument); whether it is a
    /// tuple-level or a nominal attribute-level ε is
    /// [`MultidimProtocol::nominal_level`](crate::ldp::MultidimProtocol::nominal_level).
    pub nominal: f64,
    /// Worst case over any two tuples.
    pub tuple: f64,
    /// Worst case when only attribute `j` differs, for each `j`.
    pub attribute: Vec<f64>,
}

impl PrivacyLoss {
    /// Worst attribute-level loss over all attributes.
    pub fn attribute_max(&self) -> f64 {
        self.attribute.iter().copied().fold(0.0, f64::max)
    }
}
