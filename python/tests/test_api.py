"""The Python API against the Rust test vectors, full rounds, and bad input."""

from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest

import secagg

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "protocol-spec", "test-vectors")


def load(name):
    with open(os.path.join(VECTORS, name)) as f:
        return json.load(f)


# ------------------------------------------------------------------ test vectors


def test_chooser_matches_vectors():
    d = load("chooser.json")
    assert d["cases"]
    for c in d["cases"]:
        if c["n"] > 100_000:
            continue  # the large cases are slow in a debug-free sense but fine; keep CI short
        k, t, _ = secagg.choose_graph(c["n"], c["dropout"], c["corrupt"])
        if c["graph"] == "harary":
            assert (k, t) == (c["degree"], c["threshold"]), c
        else:
            assert k == c["n"] - 1 and t == c["threshold"], c


TRANSCRIPTS = sorted(glob.glob(os.path.join(VECTORS, "transcript_*.json")))


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: os.path.basename(p)[11:-5])
def test_server_replays_transcript(path):
    """Feeds the transcript's client messages, timeouts and disconnections to the Python
    Server: every message it queues and its result must be the recorded ones, byte for byte."""
    with open(path) as f:
        d = json.load(f)
    params = secagg.Params.decode(bytes.fromhex(d["params"]["encoded"]))
    assert params.encode().hex() == d["params"]["encoded"]
    server = secagg.Server(params, now_ms=0)
    queued = []
    for e in d["events"]:
        ev = e["event"]
        if ev == "to_server":
            data = bytes.fromhex(e["hex"])
            if "refused" in e:
                with pytest.raises(secagg.MessageRejectedError) as info:
                    server.handle_message(e["from"], data, now_ms=e["now"])
                assert info.value.kind  # the Rust reason's name, e.g. "Conflicting"
            else:
                server.handle_message(e["from"], data, now_ms=e["now"])
        elif ev == "timeout":
            server.handle_timeout(e["now"])
        elif ev == "gone":
            server.client_gone(e["id"], now_ms=e["now"])
        elif ev == "from_server":
            if not queued:
                queued = server.drain()
            to, data = queued.pop(0)
            assert (to, data.hex()) == (e["to"], e["hex"])
    assert queued == [] and server.drain() == []
    want = d["result"]
    assert server.finished
    if "abort" in want:
        with pytest.raises(secagg.SessionAbortedError):
            server.result()
        return
    r = server.result()
    assert r.sum.tolist() == [int(x) for x in want["sum"]]
    assert r.included == want["included"]
    assert r.weight_sum == want["weight_sum"]
    np.testing.assert_allclose(r.dequantized_sum, want["dequantized_sum"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.weighted_mean, want["weighted_mean"], rtol=0, atol=1e-12)
    assert r.sum.dtype == np.uint64 and r.weighted_mean.dtype == np.float64


def test_malformed_client_messages_are_rejected_and_server_stays_usable():
    d = load("decoding.json")
    bad = [bytes.fromhex(c["hex"]) for c in d["cases"] if c["direction"] == "client"]
    assert bad
    ids, params, server, clients = start_round(12, 4)
    for data in bad:
        with pytest.raises(secagg.MessageRejectedError) as info:
            server.handle_message(ids[0], data)
        assert isinstance(info.value, secagg.SecaggError) and info.value.kind
    finish_round(server, clients, params)


def test_malformed_server_messages_abort_the_client_with_a_typed_error():
    d = load("decoding.json")
    bad = [bytes.fromhex(c["hex"]) for c in d["cases"] if c["direction"] == "server"]
    assert bad
    ids = list(range(1, 11))
    params = secagg.Params.build(ids, 4)
    for data in bad:
        c, _ = secagg.Client.start(params, 1)
        with pytest.raises(secagg.ClientAbortedError) as info:
            c.handle(data)
        assert c.status == "aborted" and c.outcome == "aborted" and info.value.kind
        assert c.abort_reason and "aborted" in c.abort_reason


# ------------------------------------------------------------------ full rounds


def start_round(n, length, **kw):
    ids = list(range(1, n + 1))
    params = secagg.Params.build(ids, length, **kw)
    server = secagg.Server(params)
    clients = {}
    for i in ids:
        clients[i], hello = secagg.Client.start(params, i)
        assert isinstance(hello, bytes)
        server.handle_message(i, hello)
    return ids, params, server, clients


def finish_round(server, clients, params, inputs=None, weights=None):
    rng = np.random.default_rng(0)
    inputs = inputs or {i: rng.uniform(-0.5, 0.5, params.vector_len) for i in clients}
    weights = weights or {i: 1 for i in clients}
    for i, c in clients.items():
        assert c.set_input(inputs[i], weights[i]) is None
    outcomes = secagg.run_to_completion(server, clients)
    r = server.result()
    inc = r.included
    assert set(inc) <= set(clients)
    w = sum(weights[i] for i in inc)
    want = sum(weights[i] * np.asarray(inputs[i], dtype=np.float64) for i in inc) / w
    # Each client's rounding error is below one step on w/max_weight * x, so the mean's error
    # is below step * max_weight * len(inc) / sum(w).
    bound = params.step * params.max_weight * len(inc) / w * 1.0001
    assert np.max(np.abs(r.weighted_mean - want)) <= bound
    return r, outcomes


def test_weighted_round_float32_and_float64():
    ids = list(range(1, 16))
    params = secagg.Params.build(ids, 1000, max_weight=50, clip=2.0, levels=2**20)
    server = secagg.Server(params)
    rng = np.random.default_rng(7)
    inputs = {i: (rng.normal(0, 0.5, 1000).astype(np.float32) if i % 2
                  else rng.normal(0, 0.5, 1000)) for i in ids}
    inputs = {i: np.clip(v, -2, 2) for i, v in inputs.items()}
    weights = {i: int(rng.integers(0, 51)) for i in ids}
    clients = {}
    for i in ids:
        clients[i], hello = secagg.Client.start(params, i)
        server.handle_message(i, hello)
    r, outcomes = finish_round(server, clients, params, inputs, weights)
    assert set(outcomes.values()) == {"included"}
    assert r.weight_sum == sum(weights.values())
    # the dequantized sum is sum(w/max_weight * x)
    want_sum = sum(weights[i] / 50 * inputs[i].astype(np.float64) for i in ids)
    assert np.max(np.abs(r.dequantized_sum - want_sum)) <= len(ids) * params.step


def test_input_after_share_bundle_returns_the_masked_input():
    ids, params, server, clients = start_round(10, 3)
    # Deliver until every client needs its input (the share bundle arrived).
    for _ in range(2):
        for to, msg in server.drain():
            reply = clients[to].handle(msg)
            if reply is not None:
                server.handle_message(to, reply)
    assert {c.status for c in clients.values()} == {"needs_input"}
    for i, c in clients.items():
        msg = c.set_input(np.full(3, 0.5), 1)
        assert isinstance(msg, bytes)
        server.handle_message(i, msg)
    secagg.run_to_completion(server, clients)
    np.testing.assert_allclose(server.result().weighted_mean, 0.5, atol=params.step)


@pytest.mark.parametrize("round_", [0, 1, 2, 4])
def test_dropout_at_each_round(round_):
    """One client vanishes in ``round_`` (reported gone); the rest complete the round. (With
    the default 5% dropout rate the chooser plans for no dropout among 12 clients: a ring with
    t = 2, where one dropout isolates its neighbours and the session aborts.)"""
    ids, params, server, clients = start_round(12, 5, dropout_rate=0.2)
    victim = 3
    if round_ == 0:
        # Never sends its keys (its hello was already handled: use a fresh server).
        server = secagg.Server(params)
        for i in ids:
            clients[i], hello = secagg.Client.start(params, i)
            if i != victim:
                server.handle_message(i, hello)
        server.client_gone(victim)
    inputs = {i: np.full(5, i / 20.0) for i in ids}
    for i, c in clients.items():
        c.set_input(inputs[i], 1)
    rounds_seen = 0
    while not server.finished:
        out = server.drain()
        if not out:
            server.handle_timeout(server.poll_timeout())
            continue
        rounds_seen += 1
        for to, msg in out:
            if to == victim and server.round >= round_ and round_ > 0:
                server.client_gone(victim)
                continue
            c = clients[to]
            reply = c.handle(msg)
            if reply is not None:
                try:
                    server.handle_message(to, reply)
                except secagg.MessageRejectedError as e:
                    # Unmasking completes as soon as every secret can be rebuilt.
                    assert server.finished and e.kind == "SessionOver", e
    r = server.result()
    if round_ == 4:
        assert victim in r.included  # its masked input is in: its self mask is recovered
    else:
        assert victim not in r.included
        assert server.fate(victim) in ("dropped", "excluded")
    want = np.mean([inputs[i] for i in r.included], axis=0)
    assert np.max(np.abs(r.weighted_mean - want)) <= params.step


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("bad, kind", [
    (np.zeros(4, dtype=np.int64), "Dtype"),
    (np.zeros(4, dtype=np.float16), "Dtype"),
    (np.zeros((2, 2), dtype=np.float64), "Dtype"),
    ([0.0, 0.0, 0.0, 0.0], "Dtype"),
    (np.zeros(5), "InputLength"),
    (np.array([0.0, np.nan, 0.0, 0.0]), "NotFinite"),
    (np.array([0.0, np.inf, 0.0, 0.0], dtype=np.float32), "NotFinite"),
])
def test_bad_input_is_a_clear_exception_and_the_round_goes_on(bad, kind):
    ids, params, server, clients = start_round(10, 4)
    with pytest.raises(secagg.InputError) as info:
        clients[1].set_input(bad, 1)
    assert isinstance(info.value, ValueError)
    if kind != "NotFinite":
        assert info.value.kind == kind, str(info.value)
    else:
        assert "finite" in str(info.value).lower() or "nan" in str(info.value).lower(), \
            (info.value.kind, str(info.value))
    assert clients[1].status == "waiting"
    finish_round(server, clients, params)  # the same client retries with a good input


def test_bad_weight_and_ids():
    ids, params, server, clients = start_round(10, 2, max_weight=5)
    with pytest.raises(secagg.InputError) as info:
        clients[1].set_input(np.zeros(2), 6)
    assert info.value.kind == "Weight"
    with pytest.raises(secagg.InputError):
        clients[1].set_input(np.zeros(2), -1)
    with pytest.raises(secagg.InputError):
        server.handle_message(0, b"x")
    with pytest.raises(secagg.InputError):
        server.handle_message(70000, b"x")
    with pytest.raises(secagg.MessageRejectedError):
        server.handle_message(11, b"\x01\x02")  # not a participant / malformed
    with pytest.raises(TypeError):
        server.handle_message(1, "not bytes")
    finish_round(server, clients, params)
    with pytest.raises(secagg.InputError) as info:
        clients[1].set_input(np.zeros(2), 1)
    assert info.value.kind == "InputTooLate"


@pytest.mark.parametrize("kw, kind", [
    (dict(participants=[1], vector_len=3), None),
    (dict(participants=list(range(1, 11)), vector_len=0), "VectorLength"),
    (dict(participants=list(range(1, 11)), vector_len=3, dropout_rate=1.5), "InvalidFraction"),
    (dict(participants=list(range(1, 11)), vector_len=3, clip=-1.0), None),
    (dict(participants=list(range(1, 11)), vector_len=3, levels=1), None),
    (dict(participants=list(range(1, 11)), vector_len=3, bits=65), "InvalidBits"),
    (dict(participants=list(range(1, 11)), vector_len=3, degree=4, threshold=9), None),
    (dict(participants=list(range(1, 11)), vector_len=3, nonce=b"short"), "Nonce"),
    (dict(participants=[0, 1, 2], vector_len=3), "ParticipantId"),
    (dict(participants=list(range(1, 11)), vector_len=3, max_weight=0), "MaxWeight"),
    (dict(participants=list(range(1, 11)), vector_len=3, mask_prg="rot13"), "MaskPrg"),
    (dict(participants=list(range(1, 11)), vector_len=3, timeouts_ms=[1, 2]), "Timeouts"),
])
def test_out_of_range_params(kw, kind):
    with pytest.raises(secagg.SecaggError) as info:
        secagg.Params.build(**kw)
    assert isinstance(info.value, ValueError), type(info.value)
    assert str(info.value)
    if kind is not None:
        assert info.value.kind == kind, (info.value.kind, str(info.value))


def test_params_roundtrip_and_policy():
    ids = list(range(1, 101))
    p = secagg.Params.build(ids, 1000, dropout_rate=0.05, corruption_rate=0.05)
    assert (p.degree, p.threshold) == (12, 6)  # the chooser, as in the Rust doc example
    q = secagg.Params.decode(p.encode())
    assert q.session_id == p.session_id and len(p.session_id) == 32
    assert p.session_id != secagg.Params.build(ids, 1000).session_id  # fresh OS nonce
    with pytest.raises(secagg.ParamsError):
        secagg.Params.decode(p.encode()[:-1])
    with pytest.raises(secagg.PolicyError) as info:
        secagg.Client.start(p, 1, secagg.Policy(999))
    assert info.value.kind == "VectorLength"
    small = secagg.Params.build([1, 2, 3], 4, threshold=2)  # complete graph, t = 2
    with pytest.raises(secagg.PolicyError):
        secagg.Client.start(small, 1)  # the default policy wants >= 10 clients
    c, _ = secagg.Client.start(small, 1, secagg.Policy(4, min_clients=3))
    assert c.id == 1 and c.status == "waiting" and c.waiting_round == 0
    with pytest.raises(secagg.PolicyError):
        secagg.Client.start(p, 101)  # not a participant (the policy checks first)


def test_exception_hierarchy():
    for cls in (secagg.ParamsError, secagg.InputError, secagg.PolicyError,
                secagg.ClientAbortedError, secagg.MessageRejectedError,
                secagg.SessionAbortedError, secagg.LdpError, secagg.TransportError):
        assert issubclass(cls, secagg.SecaggError)
    assert issubclass(secagg.InputError, ValueError)
    assert issubclass(secagg.ParamsError, ValueError)
