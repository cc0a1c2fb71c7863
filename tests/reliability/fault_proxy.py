"""A TCP proxy on loopback that injects network faults between a client and a server.

No Docker here, so no toxiproxy: this is a small anyio proxy. Each new
connection takes the proxy's current :class:`Fault`; connections already open
keep theirs. Faults:

* ``PASS``: bytes flow both ways.
* ``HANG_CONNECT``: the TCP handshake never completes (a listener that never
  accepts, its backlog full), as behind a firewall that drops SYNs.
* ``DRIP``: the server's answer arrives one byte every ``drip_seconds``.
* ``RESET``: half of the server's first answer, then a TCP reset.
* ``HALF_OPEN``: the connection is accepted and the request read, and then
  nothing, ever, as from a peer that vanished without a FIN.
* ``LATENCY``: every chunk of the answer waits ``latency_seconds`` first.
* ``REFUSE``: the connection is reset as soon as it is accepted.
"""

from __future__ import annotations

import contextlib
import enum
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
from anyio.abc import SocketStream, TaskGroup

__all__ = ["Fault", "FaultProxy", "fault_proxy"]

# Room for a few clients connecting at once (a webhook sender's concurrency) without a
# dropped SYN; small, so that a hung connect fills it in a few connections.
BACKLOG = 8


class Fault(enum.Enum):
    PASS = "pass"
    HANG_CONNECT = "hang_connect"
    DRIP = "drip"
    RESET = "reset"
    HALF_OPEN = "half_open"
    LATENCY = "latency"
    REFUSE = "refuse"


@dataclass
class FaultProxy:
    """The proxy's knobs and counters; ``url`` is where clients connect."""

    url: str
    fault: Fault = Fault.PASS
    drip_seconds: float = 0.05
    latency_seconds: float = 0.5
    connections: dict[Fault, int] = field(default_factory=dict)
    changed: anyio.Event = field(default_factory=anyio.Event)
    fillers: list[socket.socket] = field(default_factory=list)
    times: int | None = None  # connections left to fault; None: until set again

    def met(self, fault: Fault) -> bool:
        """Whether a connection met ``fault`` (a hung connect's never reaches the proxy:
        the queue filled for it is the sign)."""
        return (
            bool(self.fillers) if fault is Fault.HANG_CONNECT else bool(self.connections.get(fault))
        )

    def set(self, fault: Fault, *, times: int | None = None) -> None:
        """Fault the next ``times`` connections (all of them with None), then pass."""
        self.times = times
        for sock in self.fillers:
            sock.close()
        self.fillers.clear()
        self.fault = fault
        self.changed.set()
        self.changed = anyio.Event()
        if fault is Fault.HANG_CONNECT:
            # Fill the (small) accept queue while nothing accepts: later SYNs are dropped.
            host, port = self.url.removeprefix("http://").split(":")
            for _ in range(4 * BACKLOG):  # until a connect is no longer answered
                try:
                    self.fillers.append(socket.create_connection((host, int(port)), timeout=0.2))
                except OSError:
                    break


def _raw(stream: SocketStream) -> socket.socket:
    return stream.extra(anyio.abc.SocketAttribute.raw_socket)  # noqa: S610 - anyio, not Django


def _reset(sock: socket.socket) -> None:
    # SO_LINGER with a zero timeout: close() sends a RST instead of a FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def _pipe(source: SocketStream, sink: SocketStream, proxy: FaultProxy, fault: Fault) -> None:
    with contextlib.suppress(
        anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError
    ):
        while True:
            chunk = await source.receive()
            if fault is Fault.LATENCY:
                await anyio.sleep(proxy.latency_seconds)
            if fault is Fault.DRIP:
                for i in range(len(chunk)):
                    await sink.send(chunk[i : i + 1])
                    await anyio.sleep(proxy.drip_seconds)
                continue
            if fault is Fault.RESET:
                await sink.send(chunk[: max(1, len(chunk) // 2)])
                _reset(_raw(sink))
                await sink.aclose()
                return
            await sink.send(chunk)
    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        await sink.send_eof()


async def _serve_one(client: SocketStream, upstream: tuple[str, int], proxy: FaultProxy) -> None:
    fault = proxy.fault
    proxy.connections[fault] = proxy.connections.get(fault, 0) + 1
    if proxy.times is not None and fault is not Fault.PASS:
        proxy.times -= 1
        if proxy.times <= 0:
            proxy.set(Fault.PASS)
    async with client:
        if fault is Fault.REFUSE:
            _reset(_raw(client))
            return
        if fault is Fault.HALF_OPEN:
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                await client.receive()
            await anyio.sleep_forever()
        async with await anyio.connect_tcp(*upstream) as server, anyio.create_task_group() as tg:
            tg.start_soon(_pipe, client, server, proxy, Fault.PASS)
            await _pipe(server, client, proxy, fault)
            tg.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def fault_proxy(upstream_url: str) -> AsyncIterator[FaultProxy]:
    """Proxy ``http://host:port`` on a port of its own until the block exits."""
    host, port = upstream_url.removeprefix("http://").rstrip("/").split(":")
    upstream = (host, int(port))
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", backlog=BACKLOG)
    bound = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 - anyio
    proxy = FaultProxy(url=f"http://127.0.0.1:{bound}")

    async def accept(tg: TaskGroup) -> None:
        async with listener:
            while True:
                stream = await listener.listeners[0].accept()
                if proxy.fault is Fault.HANG_CONNECT:
                    # Accepting nothing more until the fault changes keeps the queue full.
                    async with stream:
                        await proxy.changed.wait()
                    continue
                tg.start_soon(_serve_one, stream, upstream, proxy)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(accept, tg)
            yield proxy
            tg.cancel_scope.cancel()
    finally:
        proxy.set(Fault.PASS)
