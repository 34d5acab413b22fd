"""What the attack rounds' real-server tests share: a free port, a request written byte for byte
over a raw socket, and a server process started on 127.0.0.1 and stopped again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def raw_request(port: int, request_line: str, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
    """One request written byte for byte (``request_line`` whole; ``Host`` and ``Connection:
    close`` added unless given); the status and the body, read to the close or to the end of a
    sized body."""
    lines = [request_line]
    if not any(name.lower() == "host" for name, _ in headers):
        lines.append(f"Host: 127.0.0.1:{port}")
    lines += [f"{name}: {value}" for name, value in headers]
    if not any(name.lower() == "connection" for name, _ in headers):
        lines.append("Connection: close")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            head, found, body = received.partition(b"\r\n\r\n")
            length = _content_length(head) if found else None
            if length is not None and len(body) >= length:
                break
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


@contextmanager
def served(
    name: str, arguments: list[str], env: Mapping[str, str], ready: Callable[[int], object]
) -> Iterator[None]:
    """``python <arguments>`` started in this folder (importable from it), until ``ready()`` stops
    raising ``OSError`` (30 s at most); terminated on the way out."""
    environment = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", ""), os.getcwd()]),
        **env,
    )
    process = subprocess.Popen(
        [sys.executable, *arguments],
        cwd=HERE,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"{name} exited"
            try:
                ready(process.pid)
                break
            except OSError:
                assert time.monotonic() < deadline, f"{name} did not start"
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
