"""The client side: an ``httpx.Auth`` that answers step-up challenges by re-authenticating.

A client of an API protected by stepup-mfa (an MCP client calling ``transfer_money``, or any
HTTP client) gets ``401 insufficient_user_authentication`` with ``acr_values``/``max_age`` when
the user's login is too weak or too old, and ``403 insufficient_scope`` with ``scope`` when the
token lacks a scope. :class:`StepUpAuth` reads the challenge (:func:`~stepup_mfa.
parse_www_authenticate`), calls the application's ``reauthenticate`` callback with what the
server asked for (:class:`StepUpNeeded`), and retries the request once with the token it returns.
One retry, never more: if the new token is refused too, that answer is the caller's to see.

The flow is written once (:meth:`StepUpFlow.flow`, a generator that yields requests to send and
:class:`StepUpNeeded` to answer) and driven twice, as httpx drives its own auth flows:
``sync_auth_flow`` calls the callback, ``async_auth_flow`` awaits it when it is a coroutine
function. ``StepUpAuth`` plugs into ``httpx``; :class:`stepup_mfa.integrations.mcp.McpStepUpAuth`
is the same flow for ``httpx2``, the client library of the MCP SDK::

    def reauthenticate(needed: StepUpNeeded) -> str:
        return login(acr_values=needed.acr_values, max_age=needed.max_age, scope=needed.scope)

    auth = StepUpAuth(token, reauthenticate)
    httpx.get("https://api.example.com/cats/", auth=auth)
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from .._core.challenge import Challenge, parse_www_authenticate
from .._core.errors import ConfigurationError, MalformedHeader

__all__ = ["StepUpAuth", "StepUpFlow", "StepUpNeeded"]

STEP_UP = "insufficient_user_authentication"
SCOPE = "insufficient_scope"


@dataclass(frozen=True, slots=True)
class StepUpNeeded:
    """What the server asked for: re-authenticate with ``acr_values`` within ``max_age`` seconds,
    for ``scopes`` (the token's scopes so far and every scope challenged, RFC 6750 §3.1).

    ``error`` is the challenge's error code (``insufficient_user_authentication`` or
    ``insufficient_scope``), ``resource_metadata`` the RFC 9728 metadata URL it named, and
    ``challenge`` the parsed challenge itself.
    """

    error: str
    acr_values: tuple[str, ...]
    max_age: int | None
    scopes: frozenset[str]
    resource_metadata: str | None
    challenge: Challenge

    @property
    def scope(self) -> str:
        """``scopes`` as the space-separated ``scope`` parameter of an authorization request."""
        return " ".join(sorted(self.scopes))


#: The application's re-authentication: given what the server asked for, a new access token.
Reauthenticate = Callable[[StepUpNeeded], "str | Awaitable[str]"]


def needed_by(
    status: int, challenges: Iterable[str], scopes: frozenset[str]
) -> StepUpNeeded | None:
    """The step-up a response asks for (``None``: not a step-up or scope challenge).

    Only the two answers a new token can fix: 401 ``insufficient_user_authentication`` (RFC 9470
    §3) and 403 ``insufficient_scope`` (RFC 6750 §3.1). A malformed challenge is no request.
    """
    for value in challenges:
        try:
            parsed = parse_www_authenticate(value)
        except MalformedHeader:
            continue
        for challenge in parsed:
            if challenge.scheme.lower() != "bearer":
                continue
            error = challenge.error
            if (status, error) not in ((401, STEP_UP), (403, SCOPE)):
                continue
            return StepUpNeeded(
                error=error or "",
                acr_values=challenge.acr_values,
                max_age=challenge.max_age,
                scopes=scopes | challenge.scopes,
                resource_metadata=challenge.param("resource_metadata"),
                challenge=challenge,
            )
    return None


class StepUpFlow:
    """The auth flow, written once; mixed into an ``Auth`` class of httpx or httpx2.

    ``token`` is the current access token (``None``: send none until the first challenge is
    answered); ``scopes`` the scopes it was granted, so a scope step-up asks for their union with
    the challenged ones. ``reauthenticate`` may be a plain function or a coroutine function
    (the latter only with an async client).
    """

    requires_request_body = True  # the body is sent twice when the request is retried
    requires_response_body = False

    def __init__(
        self,
        token: str | None,
        reauthenticate: Reauthenticate,
        *,
        scopes: Iterable[str] = (),
    ) -> None:
        if not callable(reauthenticate):
            raise ConfigurationError("reauthenticate must be callable")
        if token is not None and not isinstance(token, str):
            raise ConfigurationError("token must be a string or None")
        self.token = token
        self.scopes = frozenset(scopes)
        self.reauthenticate = reauthenticate
        #: How many times the callback ran (for logs and tests).
        self.reauthentications = 0

    def flow(self, request: Any) -> Generator[Any, Any, None]:
        """Send ``request``; on a step-up or scope challenge, yield :class:`StepUpNeeded`, receive
        the new token, and send the request once more. The second answer is final."""
        if self.token is not None:
            request.headers["Authorization"] = "Bearer " + self.token
        response = yield request
        needed = needed_by(
            response.status_code, response.headers.get_list("www-authenticate"), self.scopes
        )
        if needed is None:
            return
        token = yield needed
        if not isinstance(token, str) or not token:
            raise ConfigurationError("reauthenticate must return the new access token")
        self.reauthentications += 1
        self.token = token
        self.scopes = needed.scopes
        request.headers["Authorization"] = "Bearer " + token
        yield request

    def _answer(self, needed: StepUpNeeded) -> Any:
        return self.reauthenticate(needed)

    # -- the two drivers --------------------------------------------------------------------------

    def sync_auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        """httpx's blocking auth flow for ``request``: :meth:`flow`, with a plain callback."""
        request.read()
        flow = self.flow(request)
        sent: Any = None
        while True:
            try:
                item = flow.send(sent)
            except StopIteration:
                return
            if isinstance(item, StepUpNeeded):
                sent = self._answer(item)
                if inspect.isawaitable(sent):
                    close = getattr(sent, "close", None)
                    if close is not None:
                        close()
                    raise ConfigurationError(
                        "reauthenticate is a coroutine function: use it with an async client"
                    )
            else:
                sent = yield item

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        """httpx's asyncio auth flow for ``request``: :meth:`flow`, with a plain or a coroutine
        callback."""
        await request.aread()
        flow = self.flow(request)
        sent: Any = None
        while True:
            try:
                item = flow.send(sent)
            except StopIteration:
                return
            if isinstance(item, StepUpNeeded):
                sent = self._answer(item)
                if inspect.isawaitable(sent):
                    sent = await sent
            else:
                sent = yield item

    def auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        """The same as :meth:`sync_auth_flow` for ``request`` (httpx's generic entry point)."""
        return self.sync_auth_flow(request)


class StepUpAuth(StepUpFlow, httpx.Auth):
    """:class:`StepUpFlow` for ``httpx.Client`` and ``httpx.AsyncClient`` (``auth=``)."""
