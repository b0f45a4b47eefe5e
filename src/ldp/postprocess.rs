//! Post-processing of frequency estimates.
//!
//! * [`PostProcess::Raw`]: the unbiased estimate itself (the only one the closed-form variances
//!   describe).
//! * [`PostProcess::NormSub`]: Euclidean projection onto the probability simplex
//!   `{x : x_i >= 0, Σ x_i = 1}`, i.e. `x_i = max(f̂_i − θ, 0)` with the unique `θ` making the sum
//!   1 (Wang et al., NDSS 2020, "Norm-Sub"). Computed exactly by sorting, `O(k log k)`.
//! * [`PostProcess::NormMul`]: clip negatives to 0 and rescale to sum 1 ("Norm-Mul"); if nothing
//!   is positive, the uniform distribution.
//!
//! Both post-processed estimates are biased. On skewed data with a large domain the projection
//! is typically many times more accurate than the raw estimate while clip-and-rescale can be
//! worse than raw (it inflates every spurious positive value): the caller chooses.
//!
//! Invariant: the input must be non-empty and finite; otherwise [`LdpError::InvalidParameter`].

use super::LdpError;

/// A post-processing method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PostProcess {
    /// No post-processing.
    Raw,
    /// Projection onto the probability simplex.
    NormSub,
    /// Clip at zero and rescale.
    NormMul,
}

impl PostProcess {
    /// All methods, in table order.
    pub const ALL: [PostProcess; 3] =
        [PostProcess::Raw, PostProcess::NormSub, PostProcess::NormMul];

    /// Applies the method to an estimate.
    pub fn apply(self, estimate: &[f64]) -> Result<Vec<f64>, LdpError> {
        if estimate.is_empty() || estimate.iter().any(|x| !x.is_finite()) {
            return Err(LdpError::InvalidParameter(
                "post-processing needs a non-empty finite estimate",
            ));
        }
        Ok(match self {
            PostProcess::Raw => estimate.to_vec(),
            PostProcess::NormSub => project_simplex(estimate),
            PostProcess::NormMul => clip_rescale(estimate),
        })
    }

    /// Short label.
    pub fn label(self) -> &'static str {
        match self {
            PostProcess::Raw => "raw",
            PostProcess::NormSub => "Norm-Sub",
            PostProcess::NormMul => "Norm-Mul",
        }
    }
}

/// Euclidean projection of a finite, non-empty `v` onto the probability simplex.
fn project_simplex(v: &[f64]) -> Vec<f64> {
    let mut u = v.to_vec();
    u.sort_unstable_by(|a, b| b.total_cmp(a));
    // θ = (Σ_{i<=ρ} u_i − 1)/ρ for the largest ρ with u_ρ − θ_ρ > 0
    // ρ = 1 always qualifies (u_1 − (u_1 − 1) = 1 > 0); start there rather than testing it in
    // floating point, where huge u_1 would absorb the 1 and skip the projection.
    let mut cum = u[0];
    let mut theta = u[0] - 1.0;
    for (j, &x) in u.iter().enumerate().skip(1) {
        cum += x;
        let t = (cum - 1.0) / (j + 1) as f64;
        if x - t > 0.0 {
            theta = t;
        }
    }
    v.iter().map(|&x| (x - theta).max(0.0)).collect()
}

/// Clip at zero and rescale to sum 1 (uniform if nothing is positive).
fn clip_rescale(v: &[f64]) -> Vec<f64> {
    let s: f64 = v.iter().map(|&x| x.max(0.0)).sum();
    if s > 0.0 {
        v.iter().map(|&x| x.max(0.0) / s).collect()
    } else {
        vec![1.0 / v.len() as f64; v.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
    }

    #[test]
    fn projection_is_on_simplex_and_optimal() {
        let cases: [&[f64]; 5] = [
            &[0.5, 0.3, 0.2],
            &[1.2, -0.3, 0.4, 0.0],
            &[-1.0, -2.0, -3.0],
            &[0.1, 0.1, 0.1],
            &[5.0],
        ];
        for v in cases {
            let x = PostProcess::NormSub.apply(v).unwrap();
            assert!(
                (x.iter().sum::<f64>() - 1.0).abs() < 1e-12,
                "{v:?} -> {x:?}"
            );
            assert!(x.iter().all(|&y| y >= 0.0));
            // no simplex vertex or midpoint is closer
            let d = dist(&x, v);
            for i in 0..v.len() {
                for j in 0..v.len() {
                    let mut e = vec![0.0; v.len()];
                    e[i] += 0.5;
                    e[j] += 0.5;
                    assert!(dist(&e, v) >= d - 1e-12);
                }
            }
        }
        // points already on the simplex are fixed
        let p = [0.5, 0.3, 0.2];
        let x = PostProcess::NormSub.apply(&p).unwrap();
        assert!(dist(&x, &p) < 1e-24);
    }

    #[test]
    fn clip_rescale_and_errors() {
        assert_eq!(
            PostProcess::NormMul.apply(&[0.5, -0.5, 1.5]).unwrap(),
            vec![0.25, 0.0, 0.75]
        );
        assert_eq!(
            PostProcess::NormMul.apply(&[-1.0, -1.0]).unwrap(),
            vec![0.5, 0.5]
        );
        assert!(PostProcess::Raw.apply(&[]).is_err());
        assert!(PostProcess::NormSub.apply(&[f64::NAN, 1.0]).is_err());
    }
}
