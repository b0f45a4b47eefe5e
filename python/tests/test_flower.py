"""secagg.flower in a real Flower app: Flower's DefaultWorkflow, FedAvg, ClientApps with our
mod, several FL rounds, clients dropping at every stage; the aggregate must equal the
plaintext weighted mean of the included clients within the quantization bound."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from flower_harness import (  # noqa: E402
    STAGES, InProcessGrid, make_client_app, run_server_app, set_task_identity)

import secagg  # noqa: E402
from secagg.flower import SecAggPlusWorkflow, secaggplus_mod  # noqa: E402

logging.getLogger("flwr").setLevel(logging.WARNING)
set_task_identity()


def setup(n, length, seed, max_weight):
    rng = np.random.default_rng(seed)
    nids = [int(x) for x in rng.choice(2**62, size=n, replace=False) + 1]
    vectors = {nid: rng.uniform(-1, 1, length).astype(np.float32) for nid in nids}
    weights = {nid: int(rng.integers(1, max_weight + 1)) for nid in nids}
    return rng, nids, vectors, weights


def expected_mean(ids, vectors, weights, offset):
    w = sum(weights[i] for i in ids)
    return sum(weights[i] * (vectors[i].astype(np.float64) + offset) for i in ids) / w


def recording_rounds(wf):
    """A workflow wrapper that keeps each FL round's ``last_round`` stats, and their list."""
    seen = []

    def spy(grid_, ctx):
        wf(grid_, ctx)
        seen.append(wf.last_round)

    return spy, seen


def bound(wf, params_step, ids, weights):
    """Each included client's rounding error is below one step on (w / max_weight) * x."""
    w = sum(weights[i] for i in ids)
    return params_step * wf.max_weight * len(ids) / w + 1e-6  # + float32 output rounding


@pytest.mark.parametrize("use_flower_names", [True, False])
def test_rounds_with_dropouts_at_every_stage(use_flower_names):
    n, length, rounds, max_weight = 24, 300, 3, 100
    rng, nids, vectors, weights = setup(n, length, 3 if use_flower_names else 4, max_weight)
    # Each FL round, a different client drops at each of the four stages.
    plan = {}
    for r in range(1, rounds + 1):
        chosen = rng.choice(nids, size=4, replace=False)
        plan[str(r)] = {int(nid): STAGES[k] for k, nid in enumerate(chosen)}
    mix = 0.5
    app = make_client_app(vectors, weights, secaggplus_mod, mix=mix)
    grid = InProcessGrid(app, nids, dropped_by_round=plan)
    if use_flower_names:
        wf = SecAggPlusWorkflow(num_shares=11, reconstruction_threshold=5,
                                max_weight=max_weight, clipping_range=4.0,
                                quantization_range=2**20, modulus_range=2**32, timeout=None)
    else:
        wf = SecAggPlusWorkflow(dropout_rate=0.25, corruption_rate=0.05, max_weight=max_weight,
                                clipping_range=4.0, quantization_range=2**20)
    spy, rounds_seen = recording_rounds(wf)
    _, history, final = run_server_app(spy, grid, length, rounds)
    assert len(history) == rounds and len(rounds_seen) == rounds
    step = 2 * 4.0 / (2**20 - 1)
    g = np.zeros(length)
    for r, (st, agg) in enumerate(zip(rounds_seen, history), start=1):
        if use_flower_names:
            assert (st.degree, st.threshold) == (10, 5)
        dropped_plan = plan[str(r)]
        # Those that vanished before their masked input are out; the one that vanished in
        # the unmask stage had its input in the sum, so it is in.
        out = {nid for nid, s in dropped_plan.items() if s != "unmask"}
        assert set(st.included) == set(nids) - out, (r, st.dropped)
        for s in STAGES:
            assert any(dropped_plan.get(nid) == s for nid in st.dropped.get(s, [])), (s, st.dropped)
        want = expected_mean(st.included, vectors, weights, mix * g)
        err = np.max(np.abs(agg.astype(np.float64) - want))
        assert err <= bound(wf, step, st.included, weights), (r, err)
        # and it is not trivially close: the plaintext mean differs from zero
        assert np.max(np.abs(want)) > 0.05
        g = agg.astype(np.float64)
    np.testing.assert_array_equal(final[0], history[-1])


def test_failing_client_app_is_a_dropout():
    """A ClientApp that raises (or trains to NaN) at the masked-input stage is dropped; the
    round completes with the others."""
    n, length = 20, 50
    _, nids, vectors, weights = setup(n, length, 9, 10)
    bad_nan, bad_raise = nids[0], nids[1]
    vectors[bad_nan] = vectors[bad_nan].copy()
    vectors[bad_nan][3] = np.nan
    del vectors[bad_raise]  # its train function raises KeyError
    app = make_client_app(vectors, weights, secaggplus_mod)
    grid = InProcessGrid(app, nids)
    wf = SecAggPlusWorkflow(num_shares=9, reconstruction_threshold=4, max_weight=10,
                            clipping_range=2.0, quantization_range=2**16)
    _, history, _ = run_server_app(wf, grid, length, 1)
    st = wf.last_round
    assert set(st.included) == set(nids) - {bad_nan, bad_raise}
    assert set(st.dropped["collect_masked_vectors"]) == {bad_nan, bad_raise}
    want = expected_mean(st.included, vectors, weights, 0.0)
    assert np.max(np.abs(history[0] - want)) <= bound(wf, 4.0 / (2**16 - 1), st.included, weights)


def test_too_many_dropouts_leave_the_model_unchanged():
    """When more clients vanish than the graph tolerates, the round ends without a result and
    the global model is not touched (no partial or wrong aggregate)."""
    n, length = 20, 10
    _, nids, vectors, weights = setup(n, length, 11, 10)
    app = make_client_app(vectors, weights, secaggplus_mod)
    grid = InProcessGrid(app, nids, dropped={nid: "share_keys" for nid in nids[:15]})
    wf = SecAggPlusWorkflow(num_shares=5, reconstruction_threshold=3, max_weight=10)
    _, history, final = run_server_app(wf, grid, length, 1)
    assert history == []
    np.testing.assert_array_equal(final[0], np.zeros(length, dtype=np.float32))
    assert wf.last_round is not None and wf.last_round.included == []


def test_parameter_mapping_and_checks():
    wf = SecAggPlusWorkflow(num_shares=0.5, reconstruction_threshold=0.5)
    p = wf.build_params(40, 10)
    assert p.degree == 20 and p.threshold == 10  # 21 shares, as Flower rounds them
    assert SecAggPlusWorkflow(num_shares=100, reconstruction_threshold=30).build_params(
        40, 10).complete_graph
    p = SecAggPlusWorkflow(max_weight=7.0, clipping_range=3.0,
                           quantization_range=1000).build_params(30, 5)
    assert (p.max_weight, p.clip, p.levels) == (7, 3.0, 1000)
    with pytest.raises(ValueError):
        SecAggPlusWorkflow(num_shares=5)  # threshold missing
    with pytest.raises(ValueError):
        SecAggPlusWorkflow(max_weight=0)
    with pytest.raises(ValueError):
        SecAggPlusWorkflow(clipping_range=float("nan"))
    with pytest.raises(secagg.ParamsError):
        SecAggPlusWorkflow(num_shares=5, reconstruction_threshold=4,
                           quantization_range=2**40).build_params(30, 5)


def test_client_policy_refusal_is_reported_and_configurable():
    """A session the default client policy refuses (8 clients: the sum of so few says too
    much about each input): every client refuses before generating any key and the round ends
    without a result; a deliberately relaxed policy accepts it."""
    from secagg.flower import make_secaggplus_mod

    n, length = 8, 8
    _, nids, vectors, weights = setup(n, length, 13, 10)
    wf = SecAggPlusWorkflow(num_shares=5, reconstruction_threshold=3, max_weight=10)
    with pytest.raises(secagg.PolicyError):
        secagg.Policy(length).check(wf.build_params(n, length), 1)
    grid = InProcessGrid(make_client_app(vectors, weights, secaggplus_mod), nids)
    _, history, _ = run_server_app(wf, grid, length, 1)
    assert history == [] and wf.last_round.dropped["setup"] == sorted(nids)
    relaxed = make_secaggplus_mod(min_clients=5)
    grid = InProcessGrid(make_client_app(vectors, weights, relaxed), nids)
    _, history, _ = run_server_app(wf, grid, length, 1)
    assert len(history) == 1 and len(wf.last_round.included) == n
    with pytest.raises(ValueError):
        make_secaggplus_mod(assumed_corrupt_rate=2.0)


def test_distributed_dp_rounds_add_the_noisy_mean_update():
    """With ``dp_epsilon`` every node sends its update (trained minus global), clipped and
    noised before masking; the new model is the global one plus the noisy mean update, whose
    error has the calibrated variance (a missing update or missing noise would not)."""
    from secagg.flower import make_secaggplus_mod

    n, length, rounds = 30, 500, 2
    _, nids, vectors, weights = setup(n, length, 21, 1)
    # Updates of L2 norm at most 0.5 (inside the clip), mostly along one direction, so the mean
    # update (norm ~0.45) stands well above the noise.
    common = np.random.default_rng(5).normal(size=length)
    common /= np.linalg.norm(common)
    for nid in nids:
        own = vectors[nid] / np.linalg.norm(vectors[nid])
        vectors[nid] = (0.45 * common + 0.05 * own).astype(np.float32)
    app = make_client_app(vectors, weights, secaggplus_mod, mix=1.0)
    grid = InProcessGrid(app, nids)
    wf = SecAggPlusWorkflow(dp_epsilon=16.0, dp_l2_clip=1.0, dropout_rate=0.1)
    p = wf.build_params(n, length)
    assert p.dp and p.input_len == length and p.vector_len >= length and p.max_weight == 1
    eps = p.dp_epsilon()
    assert eps is not None and 0 < eps <= 16.0 + 1e-9
    assert secagg.Params.build(list(range(1, 31)), 5).dp_epsilon() is None
    spy, seen = recording_rounds(wf)
    _, history, _ = run_server_app(spy, grid, length, rounds)
    assert len(history) == rounds
    truth = sum(vectors[i].astype(np.float64) for i in nids) / n
    g = np.zeros(length)
    for st, agg in zip(seen, history):
        assert len(st.included) == n and st.dp_epsilon is not None and st.dp_epsilon <= 16.0 + 1e-9
        err = agg.astype(np.float64) - g - truth
        # The error is the calibrated noise: its mean square over 500 coordinates is within
        # about 6% (one standard deviation) of the prediction, and it has no component along
        # the updates' common direction beyond the noise (a missing update would leave -0.45
        # there, 9 standard deviations away).
        ratio = float(np.mean(err ** 2)) / p.dp_predicted_mse(n)
        assert 0.75 < ratio < 1.3, ratio
        assert abs(float(err @ common)) < 5 * np.sqrt(p.dp_predicted_mse(n)), float(err @ common)
        g = agg.astype(np.float64)

    # A node that requires DP refuses plain sessions and sessions weaker than it asks.
    strict = make_secaggplus_mod(require_dp_epsilon=8.0, min_clients=10)
    for workflow, accepted in ((SecAggPlusWorkflow(dropout_rate=0.1), False),
                               (SecAggPlusWorkflow(dp_epsilon=16.0, dropout_rate=0.1), False),
                               (SecAggPlusWorkflow(dp_epsilon=4.0, dropout_rate=0.1), True)):
        grid = InProcessGrid(make_client_app(vectors, weights, strict, mix=1.0), nids)
        _, history, _ = run_server_app(workflow, grid, length, 1)
        assert (len(history) == 1) == accepted
        if not accepted:
            assert workflow.last_round.dropped["setup"] == sorted(nids)
    with pytest.raises(secagg.ParamsError):
        secagg.Policy(10, require_dp_delta=1e-6)
    with pytest.raises(ValueError):
        SecAggPlusWorkflow(dp_epsilon=-1.0)
