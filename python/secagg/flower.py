"""Drop-in secure aggregation for Flower: ``secaggplus_mod`` and ``SecAggPlusWorkflow``.

Replace Flower's SecAgg+ with this package's in a Flower app by changing two imports::

    # from flwr.client.mod import secaggplus_mod
    # from flwr.server.workflow import SecAggPlusWorkflow
    from secagg.flower import secaggplus_mod, SecAggPlusWorkflow

Everything else stays: the ``ClientApp(..., mods=[secaggplus_mod])``, the
``DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(num_shares=..., reconstruction_threshold=...))``
and the strategy (FedAvg and friends receive the weighted mean, exactly as with Flower's
workflow). Flower's parameter names are accepted (``num_shares``, ``reconstruction_threshold``,
``max_weight``, ``clipping_range``, ``quantization_range``, ``modulus_range``, ``timeout``), as
well as this package's (``dropout_rate``, ``corruption_rate``, ``degree``, ``threshold``,
``bits``); without ``num_shares`` the SecAgg+ chooser picks the graph.

How it maps onto Flower's messages: the workflow runs the sans-IO :class:`secagg.Server`;
each of its messages travels to the addressed node inside a ``ConfigRecord`` named
``"secagg"`` (``stage``, ``msg`` bytes; the first one also carries the encoded session
parameters and the node's participant id), and the node's reply comes back the same way.
Flower node ids are mapped to participant ids ``1..n`` in the order of the sorted sampled node
ids. Four request/reply exchanges per round, as with Flower's SecAgg+: parameters -> keys, key
directory -> encrypted shares, share bundle + fit instructions -> masked input (the client trains
here), unmask request -> revealed shares.

Dropouts: a node that does not answer (or answers with an error) is reported to the server as
gone, at every stage; the server drops it, or, if its masked input is already in the sum, keeps
it in and recovers its self mask. The round completes as long as each remaining client keeps
``threshold`` live neighbours (the chooser's guarantee at the configured dropout rate); it never
aborts merely because a client dropped before sending its masked input.

Distributed differential privacy (``SecAggPlusWorkflow(dp_epsilon=...)``): every client adds
its share of discrete Gaussian (or Skellam) noise before masking, calibrated so that one round
is ``(dp_epsilon, dp_delta)``-DP even if only the ``max(1, t + 1 - c)`` honest clients a
completed session is sure to include contribute noise (``protocol-spec/ddp.md``). With DP the
node sends its *update* (trained parameters minus the global parameters it received), clipped
to L2 norm ``dp_l2_clip``; the workflow adds the unweighted mean update to the global
parameters (``num_examples`` is not used: a weight would reveal more than the DP sum covers).
A node can insist on DP with ``make_secaggplus_mod(require_dp_epsilon=...)``.

Client state: a client's secrets must live across the four exchanges. They are kept in Rust,
in this process (keyed by run id and node id), never in the Flower ``Context`` (which would
serialize private keys into Python objects, as Flower's mod does). This requires the ClientApp
of a node to run in one long-lived process for the duration of a round (an in-process
simulation, or a SuperNode running its ClientApp in-process); a node whose process restarts
mid-round simply drops out of that round.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union, cast

import numpy as np

from . import _secagg as _core
from ._secagg import ClientAbortedError, MessageRejectedError, Params, Server

try:  # Flower is an optional dependency of the package, required by this module.
    from flwr.app import ArrayRecord, ConfigRecord, Context, Message, RecordDict
    from flwr.app.message_type import MessageType
    from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.compat.common import recorddict_compat as compat
    from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
except ImportError as e:  # pragma: no cover
    raise ImportError(
        "secagg.flower needs Flower: pip install 'secagg[flower]' (or pip install flwr)"
    ) from e

__all__ = ["secaggplus_mod", "make_secaggplus_mod", "SecAggPlusWorkflow", "RECORD_KEY"]

log = logging.getLogger("secagg.flower")

#: Name of the ConfigRecord that carries this package's messages.
RECORD_KEY = "secagg"

# Server message type codes (protocol-spec): byte 1 of every message.
_FINISHED = 0x15

_STAGES = ("setup", "share_keys", "collect_masked_vectors", "unmask")

# ---------------------------------------------------------------------------------- client


@dataclass
class _NodeState:
    client: Any
    max_weight: int
    shapes: Optional[List[Tuple[int, ...]]] = None
    dp: bool = False


_CLIENTS: Dict[Tuple[int, int], _NodeState] = {}
_CLIENTS_LOCK = threading.Lock()


def _flatten(arrays: List[np.ndarray]) -> np.ndarray:
    """One float64/float32 vector from the model's arrays (float32 kept as is)."""
    if not arrays:
        return np.zeros(0, dtype=np.float32)
    if all(a.dtype == np.float32 for a in arrays):
        return np.concatenate([a.ravel() for a in arrays])
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def make_secaggplus_mod(**policy: Any) -> Callable[[Message, Context, Any], Message]:
    """A client mod like :func:`secaggplus_mod` whose client policy (what session parameters
    this node accepts, checked before any key is generated) takes ``policy``: keyword
    arguments of :class:`secagg.Policy` (``min_clients``, ``max_clients``, ``min_threshold``,
    ``max_degree``, ``assumed_corrupt_rate``, ``max_round_timeout_ms``, and
    ``require_dp_epsilon`` / ``require_dp_delta`` to refuse sessions without distributed DP of at
    most that epsilon for this node). The default policy
    refuses cohorts under 10 clients and graphs whose threshold does not tolerate the
    corrupted neighbours that a 5% corruption rate implies (Flower's suggested ``num_shares``
    / ``reconstruction_threshold`` for large cohorts can fall below that: lower
    ``assumed_corrupt_rate`` deliberately, or let the chooser pick the graph)."""
    _core.Policy(1, **policy)  # validate the arguments now, not at the first message

    def mod(msg: Message, ctxt: Context, call_next: Any) -> Message:
        return _run_mod(msg, ctxt, call_next, policy)

    mod.__name__ = mod.__qualname__ = "secaggplus_mod"
    return mod


def secaggplus_mod(msg: Message, ctxt: Context, call_next: Any) -> Message:
    """Flower client mod running this package's secure aggregation (replaces
    ``flwr.client.mod.secaggplus_mod``), with the default client policy (see
    :func:`make_secaggplus_mod`). Messages without a ``"secagg"`` ConfigRecord, and
    non-train messages, pass through to ``call_next`` unchanged."""
    return _run_mod(msg, ctxt, call_next, {})


def _run_mod(msg: Message, ctxt: Context, call_next: Any, policy_kw: Dict[str, Any]) -> Message:
    if msg.metadata.message_type != MessageType.TRAIN:
        return call_next(msg, ctxt)
    # The record is read with one dict lookup: `RecordDict.config_records` would rebuild a
    # type-checked view of every record on each access.
    cfg = msg.content.get(RECORD_KEY)
    if not isinstance(cfg, ConfigRecord):
        return call_next(msg, ctxt)
    key = (int(msg.metadata.run_id), int(msg.metadata.dst_node_id))
    stage = str(cfg["stage"])
    out = RecordDict()
    if stage == "setup":
        params = Params.decode(cast(bytes, cfg["params"]))
        policy = _core.Policy(params.input_len, **policy_kw)
        client, hello = _core.Client.start(params, int(cast(int, cfg["participant_id"])), policy)
        with _CLIENTS_LOCK:
            _CLIENTS[key] = _NodeState(client=client, max_weight=params.max_weight, dp=params.dp)
        reply: Optional[bytes] = hello
    else:
        with _CLIENTS_LOCK:
            node = _CLIENTS.get(key)
        if node is None:
            raise RuntimeError("secagg: no session state for this node (it did not take part "
                               "in the setup stage, or its process restarted)")
        try:
            reply = node.client.handle(cast(bytes, cfg["msg"]))
        except ClientAbortedError:
            with _CLIENTS_LOCK:
                _CLIENTS.pop(key, None)
            raise
        if node.client.status == "needs_input":
            # The share bundle arrived: train now (the message carries the fit instructions,
            # as Flower's own mod receives them), then mask the update.
            base: Optional[np.ndarray] = None
            if node.dp:
                # With DP the node sends its update: the global parameters are those of the fit
                # instructions this message carries (read before training can touch them).
                fitins = compat.recorddict_to_fitins(msg.content, keep_input=True)
                base = np.asarray(_flatten(parameters_to_ndarrays(fitins.parameters)),
                                  dtype=np.float64)
            res = call_next(msg, ctxt)
            if res.has_error():
                raise RuntimeError(f"secagg: training failed: {res.error}")
            out = res.content
            fitres = compat.recorddict_to_fitres(out, keep_input=True)
            vec = _flatten(parameters_to_ndarrays(fitres.parameters))
            if base is not None:
                # The update, not the model: the DP clip bounds what one client changes.
                # Unweighted: the DP sum covers the vectors, not a weight.
                if base.shape != vec.shape:
                    raise RuntimeError("secagg: the trained model's shape differs from the "
                                       "global model's")
                reply = node.client.set_input(np.asarray(vec, dtype=np.float64) - base, 1)
            else:
                w = int(fitres.num_examples)
                if w > node.max_weight:
                    log.warning("secagg: weight %s clipped to max_weight %s", w, node.max_weight)
                    w = node.max_weight
                reply = node.client.set_input(vec, max(w, 0))
            for record in out.values():
                if isinstance(record, ArrayRecord):
                    record.clear()
        if node.client.status in ("finished", "aborted"):
            with _CLIENTS_LOCK:
                _CLIENTS.pop(key, None)
    rec: Dict[str, Any] = {"stage": stage}
    if reply is not None:
        rec["msg"] = reply
    out[RECORD_KEY] = ConfigRecord(rec, False)
    return Message(out, reply_to=msg)


# ---------------------------------------------------------------------------------- server


@dataclass
class RoundStats:
    """What one secure-aggregation round did (kept on the workflow as ``last_round``)."""

    n: int = 0
    degree: int = 0
    threshold: int = 0
    bits: int = 0
    dropped: Dict[str, List[int]] = field(default_factory=dict)
    included: List[int] = field(default_factory=list)
    weighted_mean: Optional[np.ndarray] = None
    dp_epsilon: Optional[float] = None
    server_cpu_s: float = 0.0
    bytes_up: Dict[int, int] = field(default_factory=dict)


class SecAggPlusWorkflow:
    """Flower fit workflow running this package's SecAgg+ (replaces
    ``flwr.server.workflow.SecAggPlusWorkflow``; use as
    ``DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(...))``).

    Parameters (Flower's names first):

    * ``num_shares``: Flower's share count per client *including itself* (int, or a fraction of
      the sampled clients); the graph degree is ``num_shares - 1`` rounded down to even (the
      complete graph when that reaches ``n - 1``; an even count below ``n`` is raised by one,
      as Flower does). ``None`` (default): the SecAgg+ chooser
      picks degree and threshold from ``dropout_rate`` and ``corruption_rate``.
    * ``reconstruction_threshold``: shares needed to rebuild a secret (int, or a fraction of
      ``num_shares``).
    * ``max_weight`` (1000): largest client weight (``num_examples`` is clipped to it).
    * ``clipping_range`` (8.0) and ``quantization_range`` (2**22): the quantizer's clip bound
      and number of levels.
    * ``modulus_range``: accepted for compatibility; the ring width is the smallest that holds
      the sum without wrapping (or ``bits``), so the sum never silently overflows.
    * ``timeout``: seconds to wait for replies at each stage (``None``: wait for all).
    * ``dropout_rate`` / ``corruption_rate`` (0.05 / 0.05): the chooser's assumptions.
    * ``degree`` / ``threshold`` / ``bits``: this package's names, overriding the above.
    * ``dp_epsilon`` (``None``: no DP), ``dp_delta`` (``None``: ``min(1e-6, 1/n^2)``),
      ``dp_l2_clip`` (1.0), ``dp_mechanism`` (``"discrete-gaussian"`` or ``"skellam"``):
      distributed DP per round (module docs). ``max_weight``, ``clipping_range`` and
      ``quantization_range`` are then unused.
    """

    def __init__(
        self,
        num_shares: Optional[Union[int, float]] = None,
        reconstruction_threshold: Optional[Union[int, float]] = None,
        *,
        max_weight: float = 1000.0,
        clipping_range: float = 8.0,
        quantization_range: int = 4194304,
        modulus_range: int = 4294967296,
        timeout: Optional[float] = None,
        dropout_rate: float = 0.05,
        corruption_rate: float = 0.05,
        degree: Optional[int] = None,
        threshold: Optional[int] = None,
        bits: Optional[int] = None,
        dp_epsilon: Optional[float] = None,
        dp_delta: Optional[float] = None,
        dp_l2_clip: float = 1.0,
        dp_mechanism: str = "discrete-gaussian",
    ) -> None:
        if num_shares is not None and not isinstance(num_shares, (int, float)):
            raise TypeError("num_shares must be an int, a float or None")
        if (num_shares is None) != (reconstruction_threshold is None) and degree is None:
            raise ValueError("give both num_shares and reconstruction_threshold, or neither")
        if not max_weight >= 1 or max_weight > 2**32 - 1:
            raise ValueError(f"max_weight must be in [1, 2^32 - 1], got {max_weight}")
        if not clipping_range > 0 or not math.isfinite(clipping_range):
            raise ValueError(f"clipping_range must be positive and finite, got {clipping_range}")
        if not isinstance(quantization_range, int) or quantization_range < 2:
            raise ValueError(f"quantization_range must be an int >= 2, got {quantization_range}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive or None, got {timeout}")
        if dp_epsilon is not None and not (dp_epsilon > 0 and math.isfinite(dp_epsilon)):
            raise ValueError(f"dp_epsilon must be positive and finite, got {dp_epsilon}")
        if not dp_l2_clip > 0 or not math.isfinite(dp_l2_clip):
            raise ValueError(f"dp_l2_clip must be positive and finite, got {dp_l2_clip}")
        self.num_shares = num_shares
        self.reconstruction_threshold = reconstruction_threshold
        self.max_weight = int(max_weight)
        self.clipping_range = float(clipping_range)
        self.quantization_range = quantization_range
        self.modulus_range = modulus_range
        self.timeout = timeout
        self.dropout_rate = dropout_rate
        self.corruption_rate = corruption_rate
        self.degree = degree
        self.threshold = threshold
        self.bits = bits
        self.dp_epsilon = dp_epsilon
        self.dp_delta = dp_delta
        self.dp_l2_clip = float(dp_l2_clip)
        self.dp_mechanism = dp_mechanism
        self.last_round: Optional[RoundStats] = None

    # -- parameters

    def _graph(self, n: int) -> Tuple[Optional[int], Optional[int]]:
        """(degree, threshold) to pass to the builder; (None, None) lets the chooser pick;
        degree None with a threshold means the complete graph."""
        if self.degree is not None or self.threshold is not None:
            if self.threshold is None:
                raise ValueError("degree needs threshold")
            d = self.degree
            return (None if d is None or d >= n - 1 else d), self.threshold
        if self.num_shares is None:
            return None, None
        k = self.num_shares
        shares = round(k * n) if isinstance(k, float) else int(k)
        shares = max(3, min(shares, n))
        if shares < n and shares % 2 == 0:
            shares += 1  # as Flower does: an odd count, the node and k/2 on each side
        rt = cast(Union[int, float], self.reconstruction_threshold)
        t = round(rt * shares) if isinstance(rt, float) else int(rt)
        deg = shares - 1
        t = max(2, min(t, deg if deg < n - 1 else n - 1))
        return (None if deg >= n - 1 else deg), t

    def build_params(self, n: int, vector_len: int) -> Params:
        """The session parameters for ``n`` clients and inputs of ``vector_len`` values."""
        degree, threshold = self._graph(n)
        timeouts = None
        if self.timeout is not None:
            timeouts = [min(int(self.timeout * 1000) + 1, 2**32 - 1)] * 5
        if self.dp_epsilon is not None:
            return Params.build(
                list(range(1, n + 1)), vector_len,
                dropout_rate=self.dropout_rate, corruption_rate=self.corruption_rate,
                bits=self.bits, degree=degree, threshold=threshold, timeouts_ms=timeouts,
                dp_epsilon=self.dp_epsilon, dp_delta=self.dp_delta, dp_l2_clip=self.dp_l2_clip,
                dp_mechanism=self.dp_mechanism,
            )
        return Params.build(
            list(range(1, n + 1)), vector_len,
            dropout_rate=self.dropout_rate, corruption_rate=self.corruption_rate,
            clip=self.clipping_range, levels=self.quantization_range,
            max_weight=self.max_weight, bits=self.bits, degree=degree, threshold=threshold,
            timeouts_ms=timeouts,
        )

    # -- the workflow

    def __call__(self, grid: Any, context: Any) -> None:
        """Runs one secure-aggregation fit round (Flower's ``Workflow`` protocol)."""
        import time

        t_cpu = time.process_time()
        cpu_in_grid = [0.0]

        def send(msgs: List[Message]) -> List[Message]:
            t0 = time.process_time()
            try:
                return list(grid.send_and_receive(msgs, timeout=self.timeout))
            finally:
                cpu_in_grid[0] += time.process_time() - t0

        cfg = context.state.config_records[MAIN_CONFIGS_RECORD]
        current_round = int(cast(int, cfg["current_round"]))
        parameters = compat.arrayrecord_to_parameters(
            context.state.array_records[MAIN_PARAMS_RECORD], keep_input=True)
        proxy_fitins = context.strategy.configure_fit(
            current_round, parameters, context.client_manager)
        if not proxy_fitins:
            log.info("configure_fit: no clients selected, cancel")
            return
        templates = parameters_to_ndarrays(parameters)
        shapes = [a.shape for a in templates]
        dtypes = [a.dtype for a in templates]
        vector_len = int(sum(int(np.prod(s)) for s in shapes))
        node_ids = sorted(proxy.node_id for proxy, _ in proxy_fitins)
        n = len(node_ids)
        if n > 65535:
            raise ValueError(f"at most 65535 clients per round, got {n}")
        pid_of = {nid: i + 1 for i, nid in enumerate(node_ids)}
        nid_of = {i + 1: nid for i, nid in enumerate(node_ids)}
        fitins = {proxy.node_id: compat.fitins_to_recorddict(f, True) for proxy, f in proxy_fitins}
        proxies = {proxy.node_id: proxy for proxy, _ in proxy_fitins}

        params = self.build_params(n, vector_len)
        server = Server(params)
        stats = RoundStats(n=n, degree=params.degree, threshold=params.threshold,
                           bits=params.bits,
                           dp_epsilon=params.dp_epsilon(self.dp_delta) if params.dp else None)
        encoded = params.encode()
        group = str(current_round)

        def message(nid: int, stage: str, rec: Dict[str, Any],
                    base: Optional[RecordDict] = None) -> Message:
            content = base if base is not None else RecordDict()
            content[RECORD_KEY] = ConfigRecord({"stage": stage, **rec}, False)
            return Message(content=content, dst_node_id=nid,
                           message_type=MessageType.TRAIN, group_id=group)

        fit_replies: Dict[int, Any] = {}
        failures: List[Any] = []

        def exchange(stage: str, out: List[Message]) -> None:
            """Sends, feeds every reply to the server, and reports every node that did not
            answer as gone (so the round closes now rather than at its deadline)."""
            addressed = {m.metadata.dst_node_id for m in out}
            replies = send(out)
            answered = set()
            for r in replies:
                nid = r.metadata.src_node_id
                if nid not in addressed:
                    continue
                if r.has_error():
                    failures.append(Exception(r.error))
                    continue
                rec = r.content.get(RECORD_KEY)
                data = rec.get("msg") if isinstance(rec, ConfigRecord) else None
                if not isinstance(data, bytes):
                    failures.append(Exception(f"node {nid}: reply without a secagg message"))
                    continue
                stats.bytes_up[nid] = stats.bytes_up.get(nid, 0) + len(data)
                try:
                    server.handle_message(pid_of[nid], data)
                except MessageRejectedError as e:
                    failures.append(e)
                    continue
                answered.add(nid)
                if stage == "collect_masked_vectors":
                    fit_replies[nid] = r.content
            gone = sorted(addressed - answered)
            if gone:
                stats.dropped[stage] = gone
            for nid in gone:
                server.client_gone(pid_of[nid])

        # Stage 0: the parameters to every sampled node; the replies are AdvertiseKeys.
        stage_idx = 0
        exchange(_STAGES[0], [message(nid, _STAGES[0], {"params": encoded,
                                                          "participant_id": pid_of[nid]})
                              for nid in node_ids])
        while not server.finished:
            out = [(to, m) for to, m in server.drain() if len(m) > 1 and m[1] != _FINISHED]
            if not out:
                # Nobody left to hear from in this round: close it at its deadline.
                deadline = server.poll_timeout()
                if deadline is None:
                    break
                server.handle_timeout(deadline)
                continue
            stage_idx = min(stage_idx + 1, len(_STAGES) - 1)
            stage = _STAGES[stage_idx]
            msgs = []
            for to, data in out:
                nid = nid_of[to]
                base = fitins[nid] if stage == "collect_masked_vectors" else None
                msgs.append(message(nid, stage, {"msg": data}, base))
            exchange(stage, msgs)
        server.drain()  # the Finished notices: the clients learn nothing new from them

        try:
            result = server.result()
        except _core.SessionAbortedError as e:
            log.error("secure aggregation aborted: %s (client failures: %s)", e,
                      "; ".join(str(f)[:200] for f in failures[:3]) or "none")
            self.last_round = stats
            stats.server_cpu_s = time.process_time() - t_cpu - cpu_in_grid[0]
            return
        assert result is not None
        mean = result.weighted_mean
        if params.dp:
            # The clients sent updates: the new model is the global one plus the mean update.
            mean = np.asarray(_flatten(templates), dtype=np.float64) + mean
        stats.included = [nid_of[p] for p in result.included]
        stats.weighted_mean = mean
        arrays, off = [], 0
        for s, dt in zip(shapes, dtypes):
            size = int(np.prod(s))
            arrays.append(mean[off:off + size].reshape(s).astype(dt))
            off += size
        aggregated = ndarrays_to_parameters(arrays)
        results = []
        for nid in stats.included:
            content = fit_replies.get(nid)
            if content is None:
                continue
            fitres = compat.recorddict_to_fitres(content, keep_input=True)
            fitres.parameters = aggregated
            results.append((proxies[nid], fitres))
        stats.server_cpu_s = time.process_time() - t_cpu - cpu_in_grid[0]
        self.last_round = stats
        log.info("secure aggregation: %s of %s clients included", len(results), n)
        params_agg, metrics_agg = context.strategy.aggregate_fit(current_round, results, failures)
        if params_agg:
            context.state.array_records[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(
                params_agg, True)
            context.history.add_metrics_distributed_fit(server_round=current_round,
                                                        metrics=metrics_agg)
