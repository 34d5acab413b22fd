"""A raw-socket HTTP/1.1 client: the request target goes on the wire byte for byte.

httpx, requests and urllib normalise paths (dot segments, percent-encoding, case of the method),
which would hide exactly what these tests attack. Every request is sent with
``Connection: close``; the answer is read by its framing (``Content-Length``, chunked, or to the
close), within one deadline, so a server that never answers is reported as a hang.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

TIMEOUT = 5.0


class Hang(AssertionError):
    """The server neither answered nor closed the connection within the deadline."""


@dataclass(frozen=True)
class RawResponse:
    status: int | None  # None: the server closed the connection without an answer
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    raw_head: bytes = b""

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def handler(self) -> str | None:
        """The handler that produced a 2xx/101 answer, from the body or the handler header."""
        if self.status is None or not (200 <= self.status < 300 or self.status == 101):
            return None
        try:
            document = json.loads(self.body)
        except ValueError:
            document = None
        if isinstance(document, dict) and set(document) == {"handler"}:
            return str(document["handler"])
        return self.header("x-binding-handler")

    def describe(self) -> str:
        head = self.raw_head.decode("latin-1", "replace")
        return f"{head!r} body={self.body[:200]!r}"


def build_request(
    method: bytes,
    target: bytes,
    host: bytes | None,
    headers: Sequence[tuple[bytes, bytes]] = (),
    version: bytes = b"HTTP/1.1",
    *,
    close: bool = True,
) -> bytes:
    lines = [method + b" " + target + b" " + version]
    if host is not None:
        lines.append(b"Host: " + host)
    lines.extend(name + b": " + value for name, value in headers)
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _recv(sock: socket.socket, deadline: float) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    sock.settimeout(remaining)
    return sock.recv(65536)


def exchange(
    port: int,
    request: bytes,
    *,
    head: bool = False,
    upgrade: bool = False,
    timeout: float = TIMEOUT,
) -> RawResponse:
    """Send ``request`` to 127.0.0.1:``port`` and read one response.

    ``head``: the request was ``HEAD`` (no body follows). ``upgrade``: stop after a ``101``
    head, reading the first websocket frame if it arrives in time.
    """
    deadline = time.monotonic() + timeout
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except OSError:
            pass  # the server may close early on a malformed request; read what it said
        try:
            while b"\r\n\r\n" not in data:
                chunk = _recv(sock, deadline)
                if not chunk:
                    break
                data += chunk
            if b"\r\n\r\n" not in data:
                return _parse_head(data, b"") if data else RawResponse(None, raw_head=data)
            head_bytes, _, rest = data.partition(b"\r\n\r\n")
            response = _parse_head(head_bytes, b"")
            status = response.status or 0
            if status == 101:
                if upgrade:
                    body = rest
                    try:
                        while len(body) < 2:
                            chunk = _recv(sock, min(deadline, time.monotonic() + 1.0))
                            if not chunk:
                                break
                            body += chunk
                    except (TimeoutError, OSError):
                        pass
                    return _with_body(response, _ws_text(body))
                return response
            if head or status in (204, 304) or 100 <= status < 200:
                return response
            length = response.header("content-length")
            if response.header("transfer-encoding") and "chunked" in (
                response.header("transfer-encoding") or ""
            ):
                body = rest
                while not _chunked_complete(body):
                    chunk = _recv(sock, deadline)
                    if not chunk:
                        break
                    body += chunk
                return _with_body(response, _dechunk(body))
            if length is not None and length.strip().isdigit():
                want = int(length.strip())
                body = rest
                while len(body) < want:
                    chunk = _recv(sock, deadline)
                    if not chunk:
                        break
                    body += chunk
                return _with_body(response, body[:want])
            body = rest
            while True:
                chunk = _recv(sock, deadline)
                if not chunk:
                    break
                body += chunk
            return _with_body(response, body)
        except TimeoutError:
            raise Hang(f"no complete answer within {timeout} s; got {data[:300]!r}") from None
        except ConnectionResetError:
            if b"\r\n\r\n" in data:
                return _parse_head(data.partition(b"\r\n\r\n")[0], b"")
            return RawResponse(None, raw_head=data)


def _parse_head(head: bytes, body: bytes) -> RawResponse:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        return RawResponse(None, raw_head=head)
    reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers.append((name.decode("latin-1").strip(), value.decode("latin-1").strip()))
    return RawResponse(status, reason, headers, body, head)


def _with_body(response: RawResponse, body: bytes) -> RawResponse:
    return RawResponse(response.status, response.reason, response.headers, body, response.raw_head)


def _chunked_complete(body: bytes) -> bool:
    return body.endswith(b"0\r\n\r\n") or b"\r\n0\r\n\r\n" in body or body.startswith(b"0\r\n")


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2 :]
    return out


def _ws_text(frame: bytes) -> bytes:
    """The payload of one unmasked server frame (enough for the handler's short text)."""
    if len(frame) < 2:
        return b""
    length = frame[1] & 0x7F
    offset = 2
    if length == 126:
        length = int.from_bytes(frame[2:4], "big")
        offset = 4
    return frame[offset : offset + length]
