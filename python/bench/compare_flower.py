#!/usr/bin/env python3
"""Flower's SecAgg+ and secagg's, side by side, in one run of the same Flower app.

Both runs use Flower's own ``DefaultWorkflow`` + ``FedAvg`` and real ``ClientApp``s; only the
secure-aggregation mod and fit workflow differ (``flwr.client.mod.secaggplus_mod`` +
``flwr.server.workflow.SecAggPlusWorkflow`` vs ``secagg.flower``'s drop-ins, built with the
same keyword arguments). Transport is the in-process grid of ``tests/flower_harness.py``: each
message is deep-copied to the addressed ClientApp and the reply back. Same clients, vectors,
weights, dropouts (the same nodes vanish at the same stage), same k and t.

Columns (CPU time, ``time.process_time``: all threads of this process, so the figures hold on
a shared machine):

* ``client SA cpu``: mean (and max) per client that completed the round, of the ClientApp call
  (the mod and Flower's client runtime around it) minus the "training" callback and minus
  Flower's plumbing on the client (below); ``(+plumbing)`` adds that plumbing back;
* ``server SA cpu``: the fit workflow's CPU minus the time spent inside the grid (clients and
  message copies) and minus Flower's plumbing on the server; ``(+plumbing)`` adds it back;
* ``flower msg passing``: Flower's own message passing and plumbing, which both
  implementations pay alike: the grid's message construction and deep copies, the
  FitIns/FitRes <-> RecordDict conversions and parameter (de)serialization (wrapped where the
  two implementations call them), and the strategy's configure_fit / aggregate_fit; summed
  over the server and all clients;
* ``upload/client``: mean bytes a surviving client sends over the round (all stages);
* ``max err``: largest deviation of the aggregated model from the plaintext weighted mean of
  the included clients, against the quantization bound.

Usage::

    python python/bench/compare_flower.py --clients 100 --dim 100000 --dropout 0.1
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import flower_harness  # noqa: E402
from flower_harness import (  # noqa: E402
    PLUMBING, InProcessGrid, instrument_flower_plumbing, make_client_app, run_server_app,
    set_task_identity)


def run(impl: str, args, nids, vectors, weights, dropped, wf_kwargs):
    import flwr
    if impl == "flower":
        from flwr.client.mod import secaggplus_mod
        from flwr.server.workflow import SecAggPlusWorkflow
    else:
        from secagg.flower import SecAggPlusWorkflow, make_secaggplus_mod
        secaggplus_mod = make_secaggplus_mod(assumed_corrupt_rate=args.assumed_corrupt_rate)
    train_cpu: dict = {}
    app = make_client_app(vectors, weights, secaggplus_mod, train_cpu=train_cpu)
    grid = InProcessGrid(app, nids, dropped=dropped)
    wf = SecAggPlusWorkflow(**wf_kwargs)
    timing = {}

    class Timed:
        def __call__(self, grid_, ctx):
            c0 = sum(grid.client_cpu.values()) + grid.grid_cpu
            t0 = time.process_time()
            w0 = time.perf_counter()
            wf(grid_, ctx)
            timing["wall"] = time.perf_counter() - w0
            inner = sum(grid.client_cpu.values()) + grid.grid_cpu - c0
            timing["server"] = time.process_time() - t0 - inner

    for k in PLUMBING:
        PLUMBING[k] = 0.0
    _, history, _ = run_server_app(Timed(), grid, args.dim, 1)
    survivors = [nid for nid in nids if nid not in dropped]
    per_client = [grid.client_cpu[nid] - train_cpu.get(nid, 0.0) - grid.client_plumbing[nid]
                  for nid in survivors]
    per_client_total = [grid.client_cpu[nid] - train_cpu.get(nid, 0.0) for nid in survivors]
    up = [grid.bytes_up[nid] for nid in survivors]
    res = {"impl": impl, "flwr": flwr.__version__, "ok": bool(history)}
    if history:
        agg = history[-1].astype(np.float64)
        w = sum(weights[i] for i in survivors)
        want = sum(weights[i] * vectors[i].astype(np.float64) for i in survivors) / w
        step = 2 * wf_kwargs["clipping_range"] / wf_kwargs["quantization_range"]
        bound = step * wf_kwargs["max_weight"] * len(survivors) / w + 1e-6
        res.update(err=float(np.max(np.abs(agg - want))), bound=bound)
    if impl == "secagg" and wf.last_round is not None:
        res["k_t"] = f"{wf.last_round.degree + 1}/{wf.last_round.threshold}"
        res["bits"] = wf.last_round.bits
    else:
        res["k_t"] = f"{wf_kwargs['num_shares']}/{wf_kwargs['reconstruction_threshold']}"
    plumbing = PLUMBING["server"] + sum(grid.client_plumbing.values()) + grid.grid_cpu
    res.update(client=float(np.mean(per_client)), client_max=float(np.max(per_client)),
               client_total=float(np.mean(per_client_total)),
               server_total=timing.get("server", float("nan")),
               server=timing.get("server", float("nan")) - PLUMBING["server"], grid=plumbing,
               wall=timing.get("wall", float("nan")), up=float(np.mean(up)))
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--dim", type=int, default=100_000)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--drop-at", default="collect_masked_vectors",
                    choices=["share_keys", "collect_masked_vectors", "unmask"],
                    help="stage at which the dropped clients vanish (Flower's SecAgg+ aborts "
                         "for share_keys)")
    ap.add_argument("--num-shares", type=int, default=None,
                    help="k including the client itself (default 2*ceil(log2 n)+1)")
    ap.add_argument("--threshold", type=int, default=None, help="t (default k//2+1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", choices=["flower", "secagg"], default=None)
    ap.add_argument("--assumed-corrupt-rate", type=float, default=0.02,
                    help="our clients' policy: the corruption rate whose corrupted-neighbour "
                         "bound the session must tolerate (their default 0.05 refuses Flower's "
                         "k=19, t=10 at n=500; Flower checks nothing of the kind)")
    args = ap.parse_args()

    logging.getLogger("flwr").setLevel(logging.ERROR)
    set_task_identity()
    import importlib
    import secagg.flower
    instrument_flower_plumbing([
        importlib.import_module("flwr.client.mod.secure_aggregation.secaggplus_mod"),
        importlib.import_module("flwr.server.workflow.secure_aggregation.secaggplus_workflow"),
        secagg.flower, flower_harness])
    import random
    random.seed(args.seed)  # Flower's workflow shuffles node ids with `random`
    np.random.seed(args.seed)  # and rounds stochastically with np.random
    rng = np.random.default_rng(args.seed)
    n, length = args.clients, args.dim
    nids = [int(x) for x in rng.choice(2**62, size=n, replace=False) + 1]
    vectors = {nid: rng.uniform(-1, 1, length).astype(np.float32) for nid in nids}
    max_weight = 1000
    weights = {nid: int(rng.integers(1, max_weight + 1)) for nid in nids}
    n_drop = int(round(args.dropout * n))
    dropped = {int(nid): args.drop_at
               for nid in rng.choice(nids, size=n_drop, replace=False)} if n_drop else {}
    k = args.num_shares or 2 * math.ceil(math.log2(n)) + 1
    t = args.threshold or k // 2 + 1
    # Flower's defaults, stated explicitly; both implementations get exactly these.
    wf_kwargs = dict(num_shares=k, reconstruction_threshold=t, max_weight=float(max_weight),
                     clipping_range=8.0, quantization_range=2**22, modulus_range=2**32,
                     timeout=None)
    print(f"# n={n} L={length} dropout={args.dropout} ({n_drop} clients vanish at "
          f"'{args.drop_at}') k={k} t={t} clip=8 levels=2^22 max_weight={max_weight}; "
          f"our client policy assumes {args.assumed_corrupt_rate:g} corruption; "
          f"CPU seconds (process_time)")
    results = []
    for impl in ("flower", "secagg"):
        if args.only and impl != args.only:
            continue
        r = run(impl, args, nids, vectors, weights, dropped, wf_kwargs)
        results.append(r)
        sys.stdout.flush()
    hdr = (f"{'impl':<8} {'k/t':>6} {'client SA cpu (mean/max)':>25} {'(+plumbing)':>11} "
           f"{'server SA cpu':>13} {'(+plumbing)':>11} {'flower msg passing':>18} "
           f"{'upload/client':>14} {'max err <= bound':>24} {'wall':>7}")
    print(hdr)
    for r in results:
        if not r["ok"]:
            print(f"{r['impl']:<8} {r['k_t']:>6} round FAILED (no aggregate)")
            continue
        ok = "OK" if r["err"] <= r["bound"] else "FAIL"
        print(f"{r['impl']:<8} {r['k_t']:>6} {r['client']:>13.4f}s/{r['client_max']:.4f}s "
              f"{r['client_total']:>10.4f}s {r['server']:>12.3f}s {r['server_total']:>10.3f}s "
              f"{r['grid']:>17.3f}s {r['up'] / 1e3:>11.1f} kB "
              f"{r['err']:>9.2e} <= {r['bound']:.2e} {ok:>4} {r['wall']:>6.1f}s")
    if len(results) == 2 and all(r["ok"] for r in results):
        f, s = results
        print(f"ratios flower/secagg: client SA cpu {f['client'] / s['client']:.1f}x "
              f"(with plumbing {f['client_total'] / s['client_total']:.1f}x), server SA cpu "
              f"{f['server'] / s['server']:.1f}x (with plumbing "
              f"{f['server_total'] / s['server_total']:.1f}x); upload secagg/flower "
              f"{s['up'] / f['up']:.3f}x")
    return 0 if all(r["ok"] and r["err"] <= r["bound"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
