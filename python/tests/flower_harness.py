"""Runs a real Flower ``ServerApp`` against real ``ClientApp``s in one process.

The only thing replaced is transport: :class:`InProcessGrid` (a ``flwr`` ``Grid``) hands each
message, deep-copied as a wire would, to the addressed node's ``ClientApp`` (with its mods)
and returns the replies; an exception in a ClientApp becomes an error reply, as Flower's
client runtime does. Nodes in ``dropped`` stop answering from their stage on (at every stage
of either SecAgg implementation), so dropouts can be placed at each stage.

Shared by ``test_flower.py`` and ``bench/compare_flower.py``. It reads the stage from the
``secagg`` record (this package) or from Flower's ``secaggplus_configs`` record, and keeps
per-node CPU time, upload bytes and the grid's own CPU time (message construction and copies:
"Flower's message passing", which both implementations share).
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict
from typing import Callable, Dict, Iterable, List, Optional

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, RecordDict  # noqa: F401
from flwr.app.error import Error
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.common.constant import ErrorCode
from flwr.compat.common import recorddict_compat as compat
from flwr.serverapp.grid import Grid

FLOWER_RECORD = "secaggplus_configs"
OUR_RECORD = "secagg"
STAGES = ("setup", "share_keys", "collect_masked_vectors", "unmask")


def set_task_identity() -> None:
    """flwr stamps run/node/task ids into Message metadata from a process-wide identity that
    the SuperLink runtime normally sets; give it neutral values."""
    try:
        from flwr.supercore.task_identity import TaskIdentity
    except ImportError:  # older flwr
        return
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 0, 0, 0


def stage_of(content: RecordDict) -> Optional[str]:
    for key in (OUR_RECORD, FLOWER_RECORD):
        if key in content.config_records:
            st = content.config_records[key].get("stage")
            if isinstance(st, str):
                return st
    return None


def payload_size(rd: RecordDict) -> int:
    """Wire size of a record dict's payload: bytes/str in config records (8 per number)
    plus array data."""
    total = 0
    for rec in rd.config_records.values():
        for v in rec.values():
            for x in (v if isinstance(v, list) else [v]):
                if isinstance(x, (bytes, str)):
                    total += len(x)
                elif isinstance(x, (int, float, bool)):
                    total += 8
    for rec in rd.array_records.values():
        for arr in rec.values():
            total += len(arr.data)
    return total


# CPU time spent in Flower's own plumbing (record <-> FitIns/FitRes conversions, parameter
# (de)serialization, the strategy's configure/aggregate), which either secure-aggregation
# implementation pays the same; by side. Filled once `instrument_flower_plumbing` ran.
PLUMBING = {"client": 0.0, "server": 0.0, "train": 0.0}
_SIDE = {"side": "server"}
_DEPTH = [0]


def instrument_flower_plumbing(modules, clock: Callable[[], float] = time.process_time) -> None:
    """Wraps Flower's conversion helpers (in the compat module, and where ``modules`` bound
    them by name) so their CPU time lands in :data:`PLUMBING` rather than in either
    implementation's own cost. Idempotent."""
    import flwr.common as fc

    def wrap(fn):
        if getattr(fn, "_plumbing", False):
            return fn

        def wrapper(*a, **k):
            if _DEPTH[0]:
                return fn(*a, **k)
            _DEPTH[0] += 1
            t0 = clock()
            try:
                return fn(*a, **k)
            finally:
                _DEPTH[0] -= 1
                PLUMBING[_SIDE["side"]] += clock() - t0
        wrapper._plumbing = True
        return wrapper

    # Flower's message objects: construction and the type checks on every record insertion
    # (an outermost-call guard keeps nested calls from counting twice).
    from flwr.app.message import typeddict as _td
    from flwr.app.message import message as _msg
    from flwr.app.message import configrecord as _cr
    from flwr.app.message import arrayrecord as _ar

    def wrap_method(cls, name):
        fn = getattr(cls, name)
        if getattr(fn, "_plumbing", False):
            return

        def method(self, *a, **k):
            if _DEPTH[0]:
                return fn(self, *a, **k)
            _DEPTH[0] += 1
            t0 = clock()
            try:
                return fn(self, *a, **k)
            finally:
                _DEPTH[0] -= 1
                PLUMBING[_SIDE["side"]] += clock() - t0
        method._plumbing = True
        setattr(cls, name, method)

    wrap_method(_td.TypedDict, "__setitem__")
    wrap_method(_msg.Message, "__init__")
    wrap_method(_cr.ConfigRecord, "__init__")
    wrap_method(_ar.ArrayRecord, "__init__")

    for name in ("fitins_to_recorddict", "recorddict_to_fitins", "fitres_to_recorddict",
                 "recorddict_to_fitres", "parameters_to_arrayrecord",
                 "arrayrecord_to_parameters"):
        setattr(compat, name, wrap(getattr(compat, name)))
    for mod in list(modules) + [fc]:
        for name in ("parameters_to_ndarrays", "ndarrays_to_parameters"):
            if hasattr(mod, name):
                setattr(mod, name, wrap(getattr(mod, name)))


class InProcessGrid(Grid):
    """Delivers messages to in-process ClientApps (see the module doc)."""

    def __init__(self, client_app, node_ids: Iterable[int],
                 dropped: Optional[Dict[int, str]] = None,
                 clock: Callable[[], float] = time.process_time,
                 dropped_by_round: Optional[Dict[str, Dict[int, str]]] = None) -> None:
        self.client_app = client_app
        self.node_ids = list(node_ids)
        self.dropped = dict(dropped or {})  # node id -> first stage it does not answer
        self.dropped_by_round = dropped_by_round or {}  # group id (FL round) -> same
        self.clock = clock
        self.contexts = {
            nid: Context(run_id=0, node_id=nid, node_config={}, state=RecordDict(),
                         run_config={}) for nid in self.node_ids}
        self.client_cpu: Dict[int, float] = defaultdict(float)
        self.bytes_up: Dict[int, int] = defaultdict(int)
        self.grid_cpu = 0.0
        self.client_plumbing: Dict[int, float] = defaultdict(float)
        self.silenced: Dict[str, List[int]] = defaultdict(list)

    # --- the parts of the Grid interface the workflows use
    def set_run(self, run_id):  # pragma: no cover
        pass

    @property
    def run(self):
        # The client-manager updater reads the run id from here.
        from types import SimpleNamespace
        return SimpleNamespace(run_id=0)

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        return Message(content, dst_node_id, message_type, group_id=group_id, ttl=ttl)

    def get_node_ids(self):
        return list(self.node_ids)

    def push_messages(self, messages):  # pragma: no cover
        raise NotImplementedError

    def pull_messages(self, message_ids):  # pragma: no cover
        raise NotImplementedError

    def send_and_receive(self, messages, *, timeout=None):
        replies = []
        for msg in messages:
            nid = msg.metadata.dst_node_id
            stage = stage_of(msg.content)
            drop_at = self.dropped_by_round.get(msg.metadata.group_id, self.dropped).get(nid)
            if (stage is not None and drop_at is not None
                    and STAGES.index(stage) >= STAGES.index(drop_at)):
                self.silenced[stage].append(nid)
                continue
            t0 = self.clock()
            wire = Message(copy.deepcopy(msg.content), nid, msg.metadata.message_type,
                           group_id=msg.metadata.group_id)
            self.grid_cpu += self.clock() - t0
            t0 = self.clock()
            p0 = PLUMBING["client"]
            _SIDE["side"] = "client"
            try:
                reply = self.client_app(wire, self.contexts[nid])
            except Exception as exc:  # what Flower's client runtime does with an app error
                reply = Message(Error(ErrorCode.CLIENT_APP_RAISED_EXCEPTION,
                                      f"{type(exc).__name__}: {exc}"), reply_to=wire)
            finally:
                _SIDE["side"] = "server"
            self.client_cpu[nid] += self.clock() - t0
            self.client_plumbing[nid] += PLUMBING["client"] - p0
            if reply.has_content() and stage is not None:
                self.bytes_up[nid] += payload_size(reply.content)
            t0 = self.clock()
            reply = Message(copy.deepcopy(reply.content), reply_to=wire) \
                if reply.has_content() else reply
            self.grid_cpu += self.clock() - t0
            replies.append(reply)
        return replies


def make_client_app(vectors: Dict[int, np.ndarray], weights: Dict[int, int], mod,
                    train_cpu: Optional[Dict[int, float]] = None,
                    clock: Callable[[], float] = time.process_time, mix: float = 0.0):
    """A ClientApp whose "training" returns the node's fixed vector (plus ``mix`` times the
    global model it received) with ``num_examples`` = its weight; ``mod`` is the
    secure-aggregation client mod under test. Time spent in training is recorded in
    ``train_cpu`` (so it can be excluded from the mod's cost)."""
    from flwr.clientapp import ClientApp

    app = ClientApp(mods=[mod])

    @app.train()
    def train(msg: Message, ctx: Context) -> Message:
        t0 = clock()
        side, _SIDE["side"] = _SIDE["side"], "train"  # the app's own work, not plumbing
        nid = ctx.node_id
        vec = vectors[nid]
        if mix:
            fitins = compat.recorddict_to_fitins(msg.content, keep_input=True)
            vec = (vec + mix * parameters_to_ndarrays(fitins.parameters)[0]).astype(vec.dtype)
        fitres = FitRes(status=Status(Code.OK, ""),
                        parameters=ndarrays_to_parameters([vec]),
                        num_examples=int(weights[nid]), metrics={})
        out = Message(compat.fitres_to_recorddict(fitres, False), reply_to=msg)
        _SIDE["side"] = side
        if train_cpu is not None:
            train_cpu[nid] = train_cpu.get(nid, 0.0) + clock() - t0
        return out

    return app


def run_server_app(workflow, grid: InProcessGrid, length: int, num_rounds: int,
                   dtype=np.float32):
    """Runs Flower's DefaultWorkflow with ``workflow`` as its fit workflow and FedAvg over all
    nodes for ``num_rounds`` rounds; returns (LegacyContext, per-round aggregated vectors)."""
    from flwr.server import ServerConfig
    from flwr.server.compat.legacy_context import LegacyContext
    from flwr.server.strategy import FedAvg
    from flwr.server.workflow import DefaultWorkflow
    from flwr.server.workflow.constant import MAIN_PARAMS_RECORD

    n = len(grid.node_ids)
    history: List[np.ndarray] = []

    class Recording(FedAvg):
        """FedAvg that records each round's aggregate; its own CPU counts as plumbing."""

        def configure_fit(self, server_round, parameters, client_manager):
            t0 = time.process_time()
            try:
                return super().configure_fit(server_round, parameters, client_manager)
            finally:
                PLUMBING["server"] += time.process_time() - t0

        def aggregate_fit(self, server_round, results, failures):
            t0 = time.process_time()
            out = super().aggregate_fit(server_round, results, failures)
            PLUMBING["server"] += time.process_time() - t0
            if out[0] is not None:
                history.append(parameters_to_ndarrays(out[0])[0])
            return out

    strategy = Recording(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=2,
                         min_available_clients=n,
                         initial_parameters=ndarrays_to_parameters([np.zeros(length, dtype)]))
    base = Context(run_id=0, node_id=0, node_config={}, state=RecordDict(), run_config={})
    ctx = LegacyContext(base, config=ServerConfig(num_rounds=num_rounds), strategy=strategy)
    DefaultWorkflow(fit_workflow=workflow)(grid, ctx)
    final = parameters_to_ndarrays(
        compat.arrayrecord_to_parameters(ctx.state.array_records[MAIN_PARAMS_RECORD], True))
    return ctx, history, final
