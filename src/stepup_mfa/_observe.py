"""Observability: the structured fields of every log record, and the observer hook.

Two things live here, each once:

- :func:`log_fields`, the one helper that builds the ``extra=`` mapping of every record the
  library logs (on the ``stepup_mfa`` logger and its children). Every attribute has the
  ``stepup_`` prefix and a fixed meaning (see ``docs/observability.md``); client-supplied text
  goes through :func:`loggable`, and no caller ever passes a token, a signature, a client secret
  or an introspection answer.
- :class:`Observer`, what ``Guard(observer=...)`` accepts: it hears every decision and every
  exchange with the authorization server (metadata, JWKS, introspection). The exchanges are
  reported by the two flow drivers (``_verify/flow.py``), from one place, so the blocking and
  the asyncio paths report identically. ``stepup_mfa.integrations.opentelemetry`` implements it.

This module imports the standard library only (the core's types for annotations), so every layer
may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ._core.credentials import RequestView
    from ._core.decision import Decision
    from ._core.policy import Policy

#: The name of a policy without one, in logs and metrics.
UNNAMED_POLICY = "unnamed"

#: What an exchange with the authorization server is for.
CallKind = Literal["metadata", "jwks", "introspection", "other"]

#: ``flight_key`` prefixes the verifiers give their requests (discovery.py, jwt_verifier.py,
#: introspection.py), read here only to name the exchange.
_KINDS: dict[str, CallKind] = {
    "metadata": "metadata",
    "jwks": "jwks",
    "introspect": "introspection",
}


def loggable(text: str) -> str:
    """``text`` with control characters escaped: methods and paths come from the client, and a
    CR/LF in them must not forge a log line."""
    return text if text.isprintable() else repr(text)[1:-1]


def policy_name(policy: Policy) -> str:
    """The policy's name (``Policy(name=...)``, the key of a policy table), or ``unnamed``."""
    return policy.name or UNNAMED_POLICY


def log_fields(
    event: str,
    *,
    method: str | None = None,
    path: str | None = None,
    policy: str | None = None,
    outcome: Literal["allowed", "refused"] | None = None,
    status: int | None = None,
    error: str | None = None,
    reason: str | None = None,
    cause: str | None = None,
    issuer: str | None = None,
    url: str | None = None,
    http_status: int | None = None,
    error_type: str | None = None,
    operation: str | None = None,
    protocol: str | None = None,
    count: int | None = None,
) -> dict[str, object]:
    """The ``extra=`` of a log record: ``stepup_event`` and each given field as ``stepup_<name>``.

    ``event`` is a stable name for what happened (``refused``, ``jwks_unavailable``...); the
    others are documented in ``docs/observability.md``. Text that comes from a client (method,
    path) is escaped by :func:`loggable`. Never pass a token or anything derived from one.
    """
    fields: dict[str, object] = {"stepup_event": event}
    for name, value in (
        ("method", method),
        ("path", path),
    ):
        if value is not None:
            fields["stepup_" + name] = loggable(value)
    for name, other in (
        ("policy", policy),
        ("outcome", outcome),
        ("status", status),
        ("error", error),
        ("reason", reason),
        ("cause", cause),
        ("issuer", issuer),
        ("url", url),
        ("http_status", http_status),
        ("error_type", error_type),
        ("operation", operation),
        ("protocol", protocol),
        ("count", count),
    ):
        if other is not None:
            fields["stepup_" + name] = other
    return fields


# -- the observer hook ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """One exchange with the authorization server, as observers see it.

    Only what is safe to record: ``kind`` (what the exchange is for: ``metadata``, ``jwks``,
    ``introspection`` or ``other``), the HTTP ``method``, the ``url`` without query or
    credentials, and the server's host (``server_address``) and ``server_port``. Never its headers
    or body (the introspection request carries the token and the client's credentials).
    """

    kind: CallKind
    method: str
    url: str
    server_address: str
    server_port: int | None

    @classmethod
    def of(cls, method: str, url: str, flight_key: str | None) -> Call:
        """The call for a request to ``url`` with ``method``; ``flight_key`` (the flow's
        single-flight key, such as ``jwks ...``) names its ``kind``."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            explicit = parts.port
        except ValueError:
            explicit = None
        port = explicit if explicit is not None else {"https": 443, "http": 80}.get(parts.scheme)
        shown_host = f"[{host}]" if ":" in host else host
        shown_port = "" if explicit is None else f":{explicit}"
        shown = f"{parts.scheme}://{shown_host}{shown_port}{parts.path}"
        word = (flight_key or "").split(" ", 1)[0].split(":", 1)[0]
        return cls(_KINDS.get(word, "other"), method, shown, host, port)


class CallWatch(Protocol):
    """How one exchange ended; exactly one of the two is called, once."""

    def answered(self, status: int) -> None:
        """The server answered with HTTP ``status``."""

    def failed(self, error_type: str) -> None:
        """No response: ``error_type`` is low-cardinality (``ConnectError``, ``ReadTimeout``,
        ``response_too_large``, ``CancelledError``...)."""


class CallObserver(Protocol):
    """What the flow drivers report to: every exchange that goes on the wire (an exchange shared
    by single flight is reported once, by the request that led it)."""

    def calling(self, call: Call) -> CallWatch:
        """``call`` is about to go on the wire; the returned watch hears how it ended."""


class Observer(CallObserver, Protocol):
    """What ``Guard(observer=...)`` accepts: decisions and exchanges with the authorization
    server. Called on the request's thread or task; keep it cheap and never raise.

    An observer that also has a ``recalled(policy, decision)`` method (:class:`RecallObserver`;
    the OpenTelemetry integration's has) keeps the Guard's hot path for tokens seen before
    (:meth:`~stepup_mfa.Guard.recall`) on: a request answered there is reported to
    ``recalled``, with no request view (none is built on that path). Without it, every request
    takes the full path so that ``decided`` sees its request."""

    def decided(self, request: RequestView, policy: Policy, decision: Decision) -> None:
        """The Guard judged ``request`` under ``policy`` and reached ``decision``."""


@runtime_checkable
class RecallObserver(Protocol):
    """An :class:`Observer` that hears the decisions of the hot path as well (see there)."""

    def recalled(self, policy: Policy, decision: Decision) -> None:
        """The Guard admitted a request under ``policy`` by the ``decision`` it remembered for
        the same ``Authorization`` line (a token seen before)."""
