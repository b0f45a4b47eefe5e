#!/usr/bin/env python3
"""One Flower SecAgg+ round in this process, timed in CPU seconds (for compare_flower.sh).

Flower's own code runs on both sides: the server is ``SecAggPlusWorkflow`` (its four stage
methods in order, as its ``__call__`` runs them) and each client is ``secaggplus_mod``. Only the
transport is replaced: ``LoopbackGrid.send_and_receive`` deep-copies each message (as a wire
would) and calls the addressed client's mod directly. Clients in the dropout set answer the
setup and share-keys stages, then go silent, so the server must rebuild their pairwise masks
(the expensive case, as in ``examples/bench.rs``).

Clock: ``time.process_time`` (CPU of this process, robust on a shared machine). Client CPU is
the time inside ``secaggplus_mod`` minus the "training" callback; server CPU is the time of the
stage methods minus everything spent inside the grid. The unmasked sum is checked against the
plain sum of the survivors' vectors (error at most survivors x quantization step).

Prints one JSON object per configuration on stdout. Tested with flwr 1.42.0 only (it reaches
into workflow internals that other versions may move).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.metadata
import json
import random
import sys
import time

import numpy as np

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters
from flwr.compat.common import recorddict_compat as compat
from flwr.server.client_manager import SimpleClientManager
from flwr.server.compat.grid_client_proxy import GridClientProxy
from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.server_config import ServerConfig
from flwr.server.strategy import FedAvg
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
from flwr.server.workflow.secure_aggregation.secaggplus_workflow import (
    SecAggPlusWorkflow,
    WorkflowState,
)
from flwr.serverapp.grid import Grid
from flwr.supercore.task_identity import TaskIdentity

client_mod = importlib.import_module("flwr.client.mod.secure_aggregation.secaggplus_mod")
workflow_mod = importlib.import_module(
    "flwr.server.workflow.secure_aggregation.secaggplus_workflow"
)

STAGES = ("setup", "share_keys", "collect_masked_vectors", "unmask")
clock = time.process_time


class LoopbackGrid(Grid):
    """Hands every message to the addressed in-process client and collects the replies."""

    def __init__(self, vectors: dict, weight: int, silent: set):
        self.vectors = vectors
        self.weight = weight
        self.silent = silent  # node ids that stop answering from collect_masked_vectors on
        self.contexts = {
            nid: Context(run_id=0, node_id=nid, node_config={}, state=RecordDict(), run_config={})
            for nid in vectors
        }
        self.client_cpu = {}  # node id -> CPU seconds inside secaggplus_mod
        self.inside = 0.0  # all CPU seconds spent inside send_and_receive

    def set_run(self, run_id):
        pass

    @property
    def run(self):
        return None

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        return Message(content, dst_node_id, message_type, group_id=group_id, ttl=ttl)

    def get_node_ids(self):
        return list(self.vectors)

    def push_messages(self, messages):
        raise NotImplementedError

    def pull_messages(self, message_ids):
        raise NotImplementedError

    def send_and_receive(self, messages, *, timeout=None):
        start = clock()
        replies = []
        for msg in messages:
            nid = msg.metadata.dst_node_id
            stage = msg.content.config_records[client_mod.RECORD_KEY_CONFIGS]["stage"]
            if nid in self.silent and STAGES.index(stage) >= 2:
                continue
            delivered = Message(
                copy.deepcopy(msg.content), nid, msg.metadata.message_type,
                group_id=msg.metadata.group_id,
            )
            train = [0.0]

            def train_app(m, ctx, nid=nid):
                t = clock()
                res = FitRes(
                    status=Status(Code.OK, ""),
                    parameters=ndarrays_to_parameters([self.vectors[nid]]),
                    num_examples=self.weight,
                    metrics={},
                )
                out = Message(compat.fitres_to_recorddict(res, False), reply_to=m)
                train[0] += clock() - t
                return out

            t = clock()
            reply = client_mod.secaggplus_mod(delivered, self.contexts[nid], train_app)
            self.client_cpu[nid] = self.client_cpu.get(nid, 0.0) + clock() - t - train[0]
            replies.append(reply)
        self.inside += clock() - start
        return replies


def run(n: int, length: int, dropout: float, k: int, t: int, seed: int) -> dict:
    # Messages read the run, node and task ids the Flower runtime sets for its process.
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 0, 0, 0
    rng = np.random.default_rng(seed)
    random.seed(seed)
    np.random.seed(seed)
    nodes = [int(x) + 1 for x in rng.choice(2**62, size=n, replace=False)]
    vectors = {nid: rng.uniform(-1.0, 1.0, size=length) for nid in nodes}
    silent = set(rng.choice(nodes, size=int(round(dropout * n)), replace=False).tolist())
    # Flower counts the client itself among the num_shares holders; num_shares = 1.0 selects
    # the complete graph.
    wf = SecAggPlusWorkflow(num_shares=k, reconstruction_threshold=t)
    grid = LoopbackGrid(vectors, wf.max_weight, silent)
    captured = {}
    dequantize = workflow_mod.dequantize

    def capture(values, clipping_range, target_range):
        captured["sum"] = np.array(values[0], dtype=np.float64)
        return dequantize(values, clipping_range, target_range)

    workflow_mod.dequantize = capture
    try:
        manager = SimpleClientManager()
        for nid in nodes:
            manager.register(GridClientProxy(nid, grid, 0))
        base = Context(run_id=0, node_id=0, node_config={}, state=RecordDict(), run_config={})
        ctx = LegacyContext(
            base,
            config=ServerConfig(num_rounds=1),
            strategy=FedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=n,
                            min_available_clients=n),
            client_manager=manager,
        )
        ctx.state.config_records[MAIN_CONFIGS_RECORD] = ConfigRecord({"current_round": 1})
        ctx.state.array_records[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(
            ndarrays_to_parameters([np.zeros(length)]), True
        )
        state = WorkflowState()
        start = clock()
        for stage in (wf.setup_stage, wf.share_keys_stage, wf.collect_masked_vectors_stage,
                      wf.unmask_stage):
            if not stage(grid, ctx, state):
                raise RuntimeError(f"{stage.__name__} failed: {state.failures[:1]}")
        server_cpu = clock() - start - grid.inside
    finally:
        workflow_mod.dequantize = dequantize
    survivors = [nid for nid in nodes if nid not in silent]
    step = 2 * wf.clipping_range / wf.quantization_range
    got = captured["sum"] * step - len(survivors) * wf.clipping_range
    want = np.sum([vectors[nid] for nid in survivors], axis=0)
    err = float(np.max(np.abs(got - want)))
    if err > len(survivors) * step:
        raise RuntimeError(f"wrong sum: error {err} > {len(survivors) * step}")
    client = [grid.client_cpu[nid] for nid in survivors]
    return {
        "n": n, "len": length, "dropout": dropout, "num_shares": k, "threshold": t,
        "survivors": len(survivors), "client_cpu_s": sum(client) / len(client),
        "server_cpu_s": server_cpu, "max_error": err, "flwr": importlib.metadata.version("flwr"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--len", type=int, required=True)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--num-shares", type=float, required=True,
                    help="Flower's num_shares (1.0 = complete graph)")
    ap.add_argument("--threshold", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    k = a.num_shares if a.num_shares == 1.0 else int(a.num_shares)
    print(json.dumps(run(a.n, a.len, a.dropout, k, a.threshold, a.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
