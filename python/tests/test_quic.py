"""The QUIC client (`participate`, blocking and asyncio) against the core's coordinator, over
loopback, with one client that never connects (a dropout)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

import secagg


def test_participate_over_quic(tmp_path):
    n, length = 12, 64
    coord = secagg.Coordinator()
    cert = tmp_path / "coordinator.pem"
    cert.write_text(coord.cert_pem)
    params = secagg.Params.build(list(range(1, n + 1)), length, dropout_rate=0.2, max_weight=3,
                                 timeouts_ms=[2000, 20000, 20000, 20000, 20000])
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", coord.run_session(params)))
    t.start()
    rng = np.random.default_rng(2)
    inputs = {i: rng.uniform(-0.5, 0.5, length).astype(np.float32) for i in range(1, n + 1)}
    weights = {i: 1 + i % 3 for i in inputs}
    absent = 5  # never connects: dropped at the round-0 deadline
    outcomes = {}

    def client(i):
        outcomes[i] = secagg.participate(coord.address, i, inputs[i], weights[i],
                                         cert_path=str(cert), server_name="localhost")

    async def async_clients(ids):
        got = await asyncio.gather(*[
            secagg.participate_async(coord.address, i, inputs[i], weights[i],
                                     cert_path=str(cert)) for i in ids])
        outcomes.update(zip(ids, got))

    ids = [i for i in inputs if i != absent]
    threads = [threading.Thread(target=client, args=(i,)) for i in ids[:6]]
    for th in threads:
        th.start()
    asyncio.run(async_clients(ids[6:]))
    for th in threads:
        th.join(60)
    t.join(60)
    r = result["r"]
    assert set(r.included) == set(ids)
    assert outcomes == {i: "included" for i in ids}
    w = sum(weights[i] for i in ids)
    want = sum(weights[i] * inputs[i].astype(np.float64) for i in ids) / w
    assert np.max(np.abs(r.weighted_mean - want)) <= params.step * params.max_weight * len(ids) / w


def test_participate_errors(tmp_path):
    cert = tmp_path / "c.pem"
    cert.write_text(secagg.Coordinator().cert_pem)
    with pytest.raises(secagg.TransportError):
        # nobody listens there: the handshake times out
        secagg.participate("127.0.0.1:9", 1, np.zeros(4), cert_path=str(cert),
                           connect_timeout_s=0.5)
    with pytest.raises(secagg.InputError):
        secagg.participate("127.0.0.1:9", 0, np.zeros(4), cert_path=str(cert))
    with pytest.raises(secagg.InputError):
        secagg.participate("127.0.0.1:9", 1, np.zeros(4, dtype=np.int32), cert_path=str(cert))
    with pytest.raises(secagg.TransportError):
        secagg.participate("127.0.0.1:9", 1, np.zeros(4), cert_path=str(tmp_path / "missing"))
