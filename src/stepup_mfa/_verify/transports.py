"""Default transports on httpx: no redirects, bounded bodies, TLS verified, every failure mapped
to :class:`TransportError` so that flows see one kind of fault.

httpx is used rather than urllib because it gives one client API for blocking and asyncio code
with connection pooling, timeouts and TLS verification done right.
"""

from __future__ import annotations

import ssl

import httpx

from .flow import HttpRequest, HttpResponse, TransportError

#: Largest response body read from an authorization server (metadata, JWKS, introspection).
MAX_RESPONSE_BYTES = 1 << 20


def _response(status: int, headers: httpx.Headers, chunks: list[bytes]) -> HttpResponse:
    return HttpResponse(
        status=status,
        headers={k.lower(): v for k, v in headers.items()},
        body=b"".join(chunks),
    )


class HttpxTransport:
    """Blocking transport. Redirects are never followed (a 3xx is an answer, not a hop)."""

    def __init__(
        self, client: httpx.Client | None = None, *, verify: bool | ssl.SSLContext = True
    ) -> None:
        self._client = client or httpx.Client(follow_redirects=False, verify=verify)

    def send(self, request: HttpRequest) -> HttpResponse:
        try:
            with self._client.stream(
                request.method,
                request.url,
                headers=list(request.headers),
                content=request.body,
                timeout=request.timeout,
                follow_redirects=False,
            ) as response:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise TransportError("response body too large", "response_too_large")
                    chunks.append(chunk)
                return _response(response.status_code, response.headers, chunks)
        except httpx.HTTPError as exc:
            raise TransportError(_reason(exc), type(exc).__name__) from exc

    def close(self) -> None:
        self._client.close()


class AsyncHttpxTransport:
    """The asyncio counterpart of :class:`HttpxTransport`."""

    def __init__(
        self, client: httpx.AsyncClient | None = None, *, verify: bool | ssl.SSLContext = True
    ) -> None:
        self._client = client or httpx.AsyncClient(follow_redirects=False, verify=verify)

    async def send(self, request: HttpRequest) -> HttpResponse:
        try:
            async with self._client.stream(
                request.method,
                request.url,
                headers=list(request.headers),
                content=request.body,
                timeout=request.timeout,
                follow_redirects=False,
            ) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise TransportError("response body too large", "response_too_large")
                    chunks.append(chunk)
                return _response(response.status_code, response.headers, chunks)
        except httpx.HTTPError as exc:
            raise TransportError(_reason(exc), type(exc).__name__) from exc

    async def aclose(self) -> None:
        await self._client.aclose()


def _reason(error: httpx.HTTPError) -> str:
    """What failed, for logs and start-up errors: the exception's kind and, bounded, its text
    (``ConnectError: [SSL: WRONG_VERSION_NUMBER]...`` says https was sent to an http server)."""
    text = str(error).strip()
    reason = type(error).__name__ + (": " + text[:200] if text else "")
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        reason += " (is the server plain http? the URL says https)"
    elif isinstance(error, httpx.ConnectError) and "refused" in text.lower():
        reason += " (is the authorization server running, on this host and port?)"
    return reason
