"""Ports picked for one local stack never collide (a CI run once gave Kafka and the registry one port)."""

from __future__ import annotations

import socket

from setka_runtime.local_broker import free_port


def test_ports_handed_out_in_one_process_are_all_different_and_bindable() -> None:
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    for port in ports[:20]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
