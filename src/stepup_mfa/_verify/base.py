"""The contract between the Guard and the token verifiers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from .._core.principal import Principal
from .flow import Flow


class TokenVerifier(Protocol):
    """Turns an access token into a :class:`Principal`, or refuses it.

    ``cached`` is the hot path: a memory lookup with no I/O and no generator. ``verify`` is the
    sans-I/O flow the Guard drives when the cache has no answer. Both raise
    :class:`~stepup_mfa.InvalidToken` for a bad token and ``verify`` raises
    :class:`~stepup_mfa.VerifierUnavailable` when the authorization server cannot be used; neither
    ever returns a principal for a token it could not check (fail closed).

    ``max_cache_age`` (seconds) lets a route refuse cached answers older than that; ``0`` means
    "ask the authorization server now" (R7662-10). Verifiers whose answers cannot go stale, such
    as a verified JWT signature, may ignore it.
    """

    def cached(
        self, token: str, now: float, max_cache_age: float | None = None
    ) -> Principal | None:
        """The principal remembered for ``token`` and still valid at ``now``, else ``None``
        (no I/O); an answer older than ``max_cache_age`` seconds counts as none."""

    def verify(self, token: str, now: float) -> Flow[Principal]:
        """The flow that checks ``token`` at time ``now`` (seconds since the epoch), asking the
        authorization server when it must, and returns its principal."""


@runtime_checkable
class RefreshesKeys(Protocol):
    """A verifier whose keys the Guard may refresh in the background, ahead of expiry.

    ``refresh_due(now, ahead)``: whether some key set reaches its max-age within ``ahead``
    seconds; ``refresh_flow(now, ahead)``: the flow that refreshes those (failures keep the old
    keys). :class:`~stepup_mfa.JWTVerifier` implements it from its key state.
    """

    def refresh_due(self, now: float, ahead: float = 0.0) -> bool: ...

    def refresh_flow(self, now: float, ahead: float = 0.0) -> Flow[None]: ...


@runtime_checkable
class WarmsUp(Protocol):
    """A verifier with work worth doing before the first request (metadata, keys):
    :meth:`~stepup_mfa.Guard.startup` runs ``startup_flow(now)``."""

    def startup_flow(self, now: float) -> Flow[None]: ...


@runtime_checkable
class KeepsStore(Protocol):
    """A verifier whose answers live in ``store`` under :meth:`store_key` (``None``: no store).

    The Guard's asyncio path uses it to read a store's shared tier ahead of ``cached``
    (:class:`~stepup_mfa._verify.cache.LoadsAhead`).
    """

    @property
    def store(self) -> object: ...

    def store_key(self, token: str) -> str: ...


@runtime_checkable
class HasIssuerMetadata(Protocol):
    """A verifier that can fetch its issuers' metadata (RFC 8414) for start-up checks:
    :meth:`~stepup_mfa.Guard.check_acr_values` compares ``acr_values_supported`` with the
    policies (R9470-14). Each item is (issuer, document or ``None`` when it cannot be had)."""

    def issuer_metadata_flow(self) -> Flow[tuple[tuple[str, Mapping[str, Any] | None], ...]]: ...
