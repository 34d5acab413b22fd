"""Requirement by requirement: how a principal fares against a policy, and what an issuer offers.

:func:`assess` is the one place where each requirement of a :class:`Policy` (scopes, ``acr``,
``amr``, ``max_age``) is judged; :func:`~stepup_mfa._core.decision.unmet_requirements` builds the
refusal from its answer, and ``stepup-mfa doctor`` prints the same answer line by line, so the
diagnosis cannot drift from the decision. Application rules (:class:`~stepup_mfa.Rule`) are code,
judged by the decision only after every requirement here is met.

:func:`acr_problems` compares the ``acr_values`` of policies with an issuer's
``acr_values_supported`` (RFC 8414 / OpenID Connect Discovery metadata, R9470-14): a policy asking
for a value the issuer does not list sends every client into a re-authentication loop the issuer
cannot satisfy.

Pure: the time is an argument, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .policy import Policy
from .principal import Principal


@dataclass(frozen=True, slots=True)
class Assessment:
    """How one principal fares against each requirement of one policy at one moment.

    - ``missing_scopes``: the policy's scopes the token does not grant.
    - ``acr_met``: the token's ``acr`` is one of the policy's ``acr_values`` (True when the policy
      names none).
    - ``unmet_amr_groups``: the policy's ``amr`` groups none of whose methods the token shows.
    - ``auth_age``: seconds since ``auth_time`` (``None`` without one); an ``auth_time`` ahead of
      ``now`` counts as now (OIDC-4).
    - ``fresh``: within ``max_age`` (True when the policy has none; False without ``auth_time``,
      R9470-10).
    """

    missing_scopes: frozenset[str]
    acr_met: bool
    unmet_amr_groups: tuple[frozenset[str], ...]
    auth_age: float | None
    fresh: bool

    @property
    def needs_step_up(self) -> bool:
        """Whether a stronger or more recent authentication is needed (RFC 9470)."""
        return not self.acr_met or bool(self.unmet_amr_groups) or not self.fresh

    @property
    def met(self) -> bool:
        """Whether every requirement judged here is met (application rules aside)."""
        return not self.missing_scopes and not self.needs_step_up


def auth_age(auth_time: float | None, now: float) -> float | None:
    """Seconds since ``auth_time`` at ``now``; an ``auth_time`` in the future counts as now."""
    if auth_time is None:
        return None
    return now - min(auth_time, now)


def is_fresh(auth_time: float | None, max_age: int, now: float) -> bool:
    """Whether an authentication at ``auth_time`` is at most ``max_age`` seconds old at ``now``.

    Without ``auth_time`` recency cannot be proven, so the answer is no (R9470-10, OIDC-2). Only an
    elapsed time strictly greater than ``max_age`` fails (OIDC-3). An ``auth_time`` slightly in the
    future (clock skew, already bounded by the verifier, OIDC-4) counts as now: the window is
    ``now - min(auth_time, now)``, and the verifiers also move such an ``auth_time`` back to the
    moment they verified the token (:func:`~stepup_mfa._core.validity.settle_auth_time`), so that
    leeway never stretches ``max_age``.
    """
    if auth_time is None:
        return False
    return now - min(auth_time, now) <= max_age


def seconds_left(auth_time: float | None, max_age: int, now: float) -> float | None:
    """How long an authentication at ``auth_time`` stays within ``max_age`` after ``now``:
    negative once it is too old, ``None`` without ``auth_time``. ``is_fresh`` is ``>= 0``."""
    age = auth_age(auth_time, now)
    return None if age is None else max_age - age


def assess(principal: Principal, policy: Policy, now: float) -> Assessment:
    """Judge every requirement of ``policy`` (scopes, acr, amr, max_age) for ``principal``."""
    max_age = policy.max_age
    return Assessment(
        missing_scopes=policy.scopes - principal.scopes,
        acr_met=not policy.acr_values or principal.acr in policy.acr_values,
        unmet_amr_groups=tuple(g for g in policy.amr_groups if g.isdisjoint(principal.amr)),
        auth_age=auth_age(principal.auth_time, now),
        fresh=max_age is None or is_fresh(principal.auth_time, max_age, now),
    )


def supported_acr_values(metadata_value: object) -> tuple[str, ...] | None:
    """The ``acr_values_supported`` member of issuer metadata as strings; ``None`` when the
    member is absent or not a list (then nothing can be said about the policies)."""
    if not isinstance(metadata_value, list):
        return None
    return tuple(value for value in metadata_value if isinstance(value, str))


def acr_problems(
    policies: Iterable[Policy], supported: Sequence[str] | None, *, issuer: str | None = None
) -> tuple[str, ...]:
    """One message per policy whose ``acr_values`` name a value ``supported`` does not list.

    ``supported`` is the issuer's ``acr_values_supported``; ``None`` (the metadata has none) says
    nothing (R9470-14). Each message names the policy, the values the issuer does not list, and
    the values it does; ``issuer`` is named too when given (several issuers).
    """
    if supported is None:
        return ()
    known = frozenset(supported)
    listed = " ".join(supported) or "(none)"
    problems: list[str] = []
    seen: set[tuple[str | None, tuple[str, ...]]] = set()
    for policy in policies:
        unknown = [value for value in policy.acr_values if value not in known]
        key = (policy.name, policy.acr_values)
        if not unknown or key in seen:
            continue
        seen.add(key)
        name = (
            repr(policy.name)
            if policy.name
            else "(unnamed, acr_values " + " ".join(policy.acr_values) + ")"
        )
        at = f"issuer {issuer}" if issuer else "the issuer"
        still = (
            "; its other acr_values can still be met"
            if len(unknown) < len(policy.acr_values)
            else "; no client can ever satisfy it"
        )
        problems.append(
            f"policy {name} asks for acr_values {' '.join(unknown)} that {at} does not list in "
            f"acr_values_supported ({listed}){still} (R9470-14)"
        )
    return tuple(problems)


def issuers_acr_problems(
    policies: Sequence[Policy], found: Sequence[tuple[str, Mapping[str, Any] | None]]
) -> tuple[str, ...]:
    """:func:`acr_problems` for each issuer's metadata (``None``: not had, nothing said); the
    issuer is named when there are several."""
    problems: list[str] = []
    for issuer, metadata in found:
        if metadata is not None:
            supported = supported_acr_values(metadata.get("acr_values_supported"))
            named = issuer if len(found) > 1 else None
            problems += acr_problems(policies, supported, issuer=named)
    return tuple(problems)
