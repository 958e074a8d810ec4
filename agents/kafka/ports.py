"""Free loopback ports for the brokers and workers the project starts on this machine."""

from __future__ import annotations

import socket
from contextlib import ExitStack

HOST = "127.0.0.1"


def free_ports(count: int, host: str = HOST) -> list[int]:
    """``count`` distinct ports free on ``host`` now (all bound at once, so none repeats)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port(host: str = HOST) -> int:
    return free_ports(1, host)[0]


def port_or_free(preferred: int, host: str = HOST) -> int:
    """``preferred`` when it can be bound now (a person remembers 9092), else a free port."""
    with socket.socket() as sock:
        try:
            sock.bind((host, preferred))
        except OSError:
            return free_port(host)
    return preferred
