"""secagg: secure aggregation (SecAgg, SecAgg+) and local differential privacy.

A thin Python layer over the Rust ``secagg`` crate. The protocol is sans-IO: a
:class:`Client` and a :class:`Server` exchange opaque ``bytes``; the caller moves
them (over Flower, QUIC, HTTP, queues, ...). ``secagg.flower`` is a drop-in
replacement for Flower's ``secaggplus_mod`` / ``SecAggPlusWorkflow``.

Quick start (one process, no network)::

    import numpy as np, secagg
    ids = list(range(1, 21))
    params = secagg.Params.build(ids, vector_len=3, max_weight=10)
    server = secagg.Server(params)
    clients = {}
    for i in ids:
        clients[i], hello = secagg.Client.start(params, i)
        clients[i].set_input(np.full(3, 0.25, dtype=np.float32), weight=10)
        server.handle_message(i, hello)
    secagg.run_to_completion(server, clients)
    print(server.result().weighted_mean)
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Dict, Mapping

from ._secagg import (
    AggregateResult,
    Client,
    ClientAbortedError,
    InputError,
    LdpError,
    MessageRejectedError,
    Params,
    ParamsError,
    Policy,
    PolicyError,
    SecaggError,
    Server,
    SessionAbortedError,
    TransportError,
    choose_graph,
)
from . import ldp

try:  # the QUIC transport (cargo feature `quic`, on by default)
    from ._secagg import Coordinator, participate
except ImportError:  # pragma: no cover
    Coordinator = None  # type: ignore[assignment,misc]
    participate = None  # type: ignore[assignment]

__all__ = [
    "AggregateResult",
    "Client",
    "ClientAbortedError",
    "InputError",
    "LdpError",
    "MessageRejectedError",
    "Params",
    "ParamsError",
    "Policy",
    "PolicyError",
    "SecaggError",
    "Server",
    "SessionAbortedError",
    "TransportError",
    "choose_graph",
    "Coordinator",
    "ldp",
    "participate",
    "participate_async",
    "run_to_completion",
]

__version__ = "0.1.0"


def run_to_completion(server: Server, clients: Mapping[int, Client]) -> Dict[int, str]:
    """Delivers the server's messages to in-process ``clients`` (and their replies back)
    until nothing is left to send; returns each client's outcome (``None`` if it never
    finished). Clients missing from ``clients`` behave as dropouts: call
    :meth:`Server.handle_timeout` (or :meth:`Server.client_gone`) for them.
    A test and simulation helper: real deployments move the bytes over a network."""
    while True:
        out = server.drain()
        if not out:
            break
        for to, msg in out:
            c = clients.get(to)
            if c is None:
                continue
            try:
                reply = c.handle(msg)
            except ClientAbortedError:
                continue
            if reply is not None:
                try:
                    server.handle_message(to, reply)
                except MessageRejectedError:
                    pass
    return {i: c.outcome for i, c in clients.items()}


async def participate_async(*args: Any, **kwargs: Any) -> str:
    """:func:`participate` for asyncio: runs the blocking call (which releases the GIL) in the
    loop's default executor, so the event loop keeps running during the session."""
    if participate is None:  # pragma: no cover
        raise RuntimeError("secagg was built without the QUIC transport (cargo feature quic)")
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(participate, *args, **kwargs))
