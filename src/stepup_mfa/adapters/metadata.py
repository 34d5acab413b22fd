"""Serving RFC 9728 protected resource metadata from any ASGI or WSGI app.

The document is built (and validated) once by :class:`~stepup_mfa.ResourceMetadata`; these apps
only answer ``GET``/``HEAD`` at its well-known path (R9728-1, R9728-2) and hand every other path to
the wrapped app (or answer 404 when there is none)::

    metadata = ResourceMetadata("https://api.example.com/v1",
                                authorization_servers=["https://idp.example.com"])
    guard = Guard(verifier, resource_metadata=metadata.url)          # challenges name it (R9728-11)
    app = ResourceMetadataApp(metadata, app)                         # ASGI
    wsgi_app = ResourceMetadataWSGI(metadata, wsgi_app)              # WSGI

The route is public: the metadata is how a client learns where to get a token. Under
``Guard(require_https=True)`` nothing changes for it; serve it over TLS like the API (R9728-2).
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING

from .._core.resource_metadata import ResourceMetadata
from .asgi import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["ResourceMetadataApp", "ResourceMetadataWSGI", "metadata_response"]

_ALLOWED = "GET, HEAD"


def metadata_response(
    metadata: ResourceMetadata, method: str, body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for a request to the metadata path (one answer, two servers).

    ``metadata`` is the document served and ``body`` its serialised JSON; ``method`` is the
    request's: ``GET`` gets the body, ``HEAD`` the headers only, anything else 405."""
    if method not in ("GET", "HEAD"):
        return (
            405,
            [("Allow", _ALLOWED), ("Content-Type", "text/plain; charset=utf-8")],
            (b"Method Not Allowed" if method != "HEAD" else b""),
        )
    headers = [
        ("Content-Type", "application/json"),
        ("Cache-Control", "public, max-age=3600"),
    ]
    return 200, headers, body if method == "GET" else b""


def _asgi_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root_path = scope.get("root_path") or ""
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :] or "/"
    return path


class ResourceMetadataApp:
    """An ASGI app serving ``metadata`` at its well-known path; other requests go to ``app``."""

    __slots__ = ("_body", "app", "metadata", "path")

    def __init__(self, metadata: ResourceMetadata, app: ASGIApp | None = None) -> None:
        if not isinstance(metadata, ResourceMetadata):
            raise TypeError("metadata must be a ResourceMetadata")
        self.metadata = metadata
        self.app = app
        self.path = metadata.path.partition("?")[0]
        self._body = metadata.to_json()

    def serves(self, scope: Scope) -> bool:
        """Whether the HTTP request of this ASGI ``scope`` asks for the metadata document."""
        return scope["type"] == "http" and _asgi_path(scope) == self.path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.serves(scope):
            status, headers, body = metadata_response(
                self.metadata, scope.get("method", "GET"), self._body
            )
            await _send(send, status, headers, body, len(self._body) if status == 200 else None)
            return
        if self.app is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "lifespan":
            await _lifespan_noop(receive, send)
            return
        if scope["type"] == "http":
            await _send(send, 404, [("Content-Type", "text/plain; charset=utf-8")], b"Not Found")


async def _send(
    send: Send,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    length: int | None = None,
) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    raw.append((b"content-length", str(len(body) if length is None else length).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _lifespan_noop(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class ResourceMetadataWSGI:
    """A WSGI app serving ``metadata`` at its well-known path; other requests go to ``app``."""

    __slots__ = ("_body", "app", "metadata", "path")

    def __init__(self, metadata: ResourceMetadata, app: WSGIApplication | None = None) -> None:
        if not isinstance(metadata, ResourceMetadata):
            raise TypeError("metadata must be a ResourceMetadata")
        self.metadata = metadata
        self.app = app
        self.path = metadata.path.partition("?")[0]
        self._body = metadata.to_json()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") == self.path:
            status, headers, body = metadata_response(
                self.metadata, environ.get("REQUEST_METHOD", "GET"), self._body
            )
            length = len(self._body) if status == 200 else len(body)
            headers.append(("Content-Length", str(length)))
            start_response(_status_line(status), headers)
            return [body]
        if self.app is not None:
            result: Iterable[bytes] = self.app(environ, start_response)
            return result
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"Not Found"]


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"
