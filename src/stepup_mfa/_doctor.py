"""``stepup-mfa doctor``: why is this token refused here?

Given the API's settings (the ``STEPUP_*`` variables, or flags naming the same settings), a route
table or a policy, and one access token, say step by step what the library decides for each
route: the decoded header and claims (never the token itself, nor its signature), the issuer's
metadata and the acr values it supports (R9470-14), the key lookup against the live JWKS (or the
introspection answer), each requirement of each route's policy, met or not, with the countdown
of every ``max_age``, and the exact challenge a refused request gets, with the fix to try.

Nothing here decides anything: the verdict of each route is ``Guard.check`` itself on a request
carrying the token, the verification is the configured verifier's own flow, and the requirement
lines come from :func:`~stepup_mfa._core.requirements.assess`, the function the decision is built
from. The doctor only explains.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._core.credentials import RequestView
from ._core.decision import Decision
from ._core.errors import (
    AuthError,
    ConfigurationError,
    InvalidToken,
    StepUpError,
    VerifierUnavailable,
)
from ._core.policy import ANONYMOUS, AUTHENTICATED, Policy
from ._core.principal import Principal
from ._core.requirements import Assessment, assess, issuers_acr_problems, seconds_left
from ._core.requirements import supported_acr_values as _supported
from ._core.validity import (
    EXPIRED,
    FUTURE_AUTH_TIME,
    ISSUED_IN_FUTURE,
    NOT_YET_VALID,
    WRONG_AUDIENCE,
)
from ._guard import Guard
from ._settings import StepUpSettings
from ._verify.base import HasIssuerMetadata, TokenVerifier
from ._verify.flow import HttpRequest, SyncTransport, TransportError, run_sync
from ._verify.jwks import KeySet, load_jwk_set
from ._verify.jws import decode_json_segment, split_compact_jws
from ._verify.jwt_verifier import DEFAULT_ALGORITHMS, DEFAULT_REQUIRED_CLAIMS, JWTVerifier
from ._verify.strict_json import MalformedJSON, loads_json_marking_duplicates
from ._verify.transports import HttpxTransport
from .routes import RouteTable

_DATE_CLAIMS = ("exp", "nbf", "iat", "auth_time")
_PLAIN_TYPS = ("jwt", "application/jwt")


@dataclass(frozen=True, slots=True)
class JudgedRoute:
    """One route the doctor judges the token for: how it is shown, the request, the policy."""

    label: str
    method: str
    path: str
    policy: Policy


def seed_routes(settings: StepUpSettings) -> tuple[JudgedRoute, ...]:
    """The seed scenario's routes: ``/`` anonymous, ``/dogs/`` authenticated, ``/cats/`` MFA
    within ``STEPUP_MFA_MAX_AGE`` (the policy the examples build from the settings)."""
    return (
        JudgedRoute("GET /", "GET", "/", ANONYMOUS),
        JudgedRoute("GET /dogs/", "GET", "/dogs/", AUTHENTICATED),
        JudgedRoute("GET /cats/", "GET", "/cats/", settings.mfa_policy(name="mfa-recent")),
    )


def table_routes(table: RouteTable) -> tuple[JudgedRoute, ...]:
    """Every entry of a route table, then its default policy."""
    judged: list[JudgedRoute] = []
    for route in table.routes:
        given = route.methods.split(",") if isinstance(route.methods, str) else route.methods
        methods = [method.strip().upper() for method in given]
        method = next((m for m in methods if m != "*"), "GET")
        judged.append(
            JudgedRoute(f"{','.join(methods)} {route.path}", method, route.path, route.policy)
        )
    judged.append(JudgedRoute("any other route (the default)", "GET", "/", table.default))
    return tuple(judged)


def policy_routes(policies: Sequence[Policy]) -> tuple[JudgedRoute, ...]:
    """Policies given on the command line, each judged as a route of its own."""
    return tuple(
        JudgedRoute(f"policy {policy.name or index + 1}", "GET", "/", policy)
        for index, policy in enumerate(policies)
    )


@dataclass
class RouteReport:
    """What one route decides for the token, and why."""

    route: JudgedRoute
    decision: Decision
    assessment: Assessment | None
    requirements: list[tuple[str, bool]]
    fixes: list[str]

    @property
    def accepted(self) -> bool:
        return self.decision.allowed


@dataclass
class Diagnosis:
    """Everything the doctor found; :meth:`text` and :meth:`as_dict` render it."""

    now: float
    settings: StepUpSettings
    token_kind: str
    token_length: int
    header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    decode_problem: str | None = None
    metadata: list[tuple[str, Mapping[str, Any] | None]] = field(default_factory=list)
    acr_problems: tuple[str, ...] = ()
    strict_acr: bool = False
    key_lines: list[str] = field(default_factory=list)
    principal: Principal | None = None
    verify_error: StepUpError | None = None
    verify_fixes: list[str] = field(default_factory=list)
    routes: list[RouteReport] = field(default_factory=list)
    #: The token and its signature segment: never shown, even if an answer echoes them.
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        """Every route accepts the token (and, with ``strict_acr``, the app would start)."""
        if self.strict_acr and self.acr_problems:
            return False
        return all(report.accepted for report in self.routes)

    # -- rendering ------------------------------------------------------------------------------

    def text(self) -> str:
        lines: list[str] = []
        settings = self.settings
        step = 0

        def title(text: str) -> None:
            nonlocal step
            step += 1
            lines.append("")
            lines.append(f"{step}. {text}")

        lines.append("stepup-mfa doctor (the token itself and its signature are never shown)")
        title("Settings")
        lines.append(f"   issuer    {settings.issuer}")
        lines.append(f"   audience  {settings.audience}")
        lines.append(f"   mode      {settings.token_mode}")
        if settings.token_mode == "jwt":
            accepted = "at+jwt, and JWT or none" if settings.accept_jwt_typ else "at+jwt only"
            lines.append(f"   typ       {accepted}")
        lines.append(f"   now       {_when(self.now)}")
        title("Token")
        if self.decode_problem:
            lines.append(f"   a token of {self.token_length} characters")
        elif self.token_kind == "jwt":
            lines.append(f"   a JWT of {self.token_length} characters")
            if self.header is not None:
                lines.append("   header  " + _json(self.header))
            if self.claims is not None:
                lines.append("   claims")
                for name, value in self.claims.items():
                    lines.append(f"     {name}: {_json(value)}{self._date_note(name, value)}")
        if self.token_kind == "opaque":
            lines.append(f"   an opaque token of {self.token_length} characters")
        if self.decode_problem:
            lines.append(f"   cannot be decoded: {self.decode_problem}")
        title("Issuer metadata (RFC 8414) and its acr values (R9470-14)")
        if not self.metadata:
            lines.append("   not fetched")
        for issuer, metadata in self.metadata:
            if metadata is None:
                lines.append(f"   {issuer}: the metadata cannot be had (see the verifier below)")
                continue
            lines.append(f"   {issuer}: found")
            for member in ("jwks_uri", "introspection_endpoint"):
                if isinstance(metadata.get(member), str):
                    lines.append(f"     {member}: {metadata[member]}")
            supported = _supported(metadata.get("acr_values_supported"))
            if supported is None:
                lines.append("     acr_values_supported: not published (nothing to check)")
            else:
                lines.append("     acr_values_supported: " + (" ".join(supported) or "(none)"))
        if self.acr_problems:
            kind = "ERROR (strict: the app would not start)" if self.strict_acr else "WARNING"
            for problem in self.acr_problems:
                lines.append(f"   {kind}: {problem}")
        elif any(m is not None for _, m in self.metadata):
            lines.append("   every policy's acr values are listed by the issuer")
        if settings.token_mode == "jwt":
            title("Signing key (the live JWKS)")
        else:
            title("Introspection (RFC 7662)")
        lines.extend("   " + line for line in self.key_lines or ["nothing to look up"])
        title("The verifier's answer")
        if self.principal is not None:
            what = (
                "the signature and claims check out"
                if self.principal.kind == "jwt"
                else "the introspection answer is active and for this API"
            )
            lines.append(f"   accepted: {what}")
            principal = self.principal
            if principal.kind == "introspection":
                for name, value in principal.claims.items():
                    lines.append(f"     {name}: {_json(value)}{self._date_note(name, value)}")
        elif self.verify_error is not None:
            lines.append(f"   REFUSED: {_error_text(self.verify_error)}")
        for fix in self.verify_fixes:
            lines.append(f"   fix: {fix}")
        title("Routes")
        for index, report in enumerate(self.routes, 1):
            policy = report.route.policy
            lines.append(f"   {step}.{index} {report.route.label}  (policy {_describe(policy)})")
            for text, met in report.requirements:
                lines.append(f"        {'met    ' if met else 'NOT met'}  {text}")
            decision = report.decision
            if decision.allowed:
                lines.append(f"        verdict: ACCEPTED ({decision.status})")
            else:
                lines.append(
                    f"        verdict: REFUSED {decision.status} {decision.error.code}: "
                    f"{decision.error.description}"
                )
                for name, value in decision.headers:
                    lines.append(f"        {name}: {value}")
            for fix in report.fixes:
                lines.append(f"        fix: {fix}")
        count = sum(report.accepted for report in self.routes)
        lines.append("")
        summary = f"{count} of {len(self.routes)} routes accept this token"
        if self.strict_acr and self.acr_problems:
            summary += "; the acr check fails (strict)"
        lines.append(("OK: " if self.ok else "NOT OK: ") + summary)
        return "\n".join(lines) + "\n"

    def _date_note(self, name: str, value: object) -> str:
        date = _number(value)
        if name not in _DATE_CLAIMS or date is None:
            return ""
        return f"  ({_when(date)}, {_relative(date - self.now)})"

    def as_dict(self) -> dict[str, Any]:
        """The diagnosis as JSON-ready data (``--json``), the same facts as :meth:`text`."""
        principal = self.principal
        return {
            "ok": self.ok,
            "now": self.now,
            "settings": {
                "issuer": self.settings.issuer,
                "audience": self.settings.audience,
                "token_mode": self.settings.token_mode,
                "accept_jwt_typ": self.settings.accept_jwt_typ,
            },
            "token": {
                "kind": self.token_kind,
                "length": self.token_length,
                "header": self.header,
                "claims": self.claims,
                "decode_problem": self.decode_problem,
            },
            "metadata": [
                {
                    "issuer": issuer,
                    "found": metadata is not None,
                    "acr_values_supported": None
                    if metadata is None
                    else _supported(metadata.get("acr_values_supported")),
                }
                for issuer, metadata in self.metadata
            ],
            "acr_problems": list(self.acr_problems),
            "keys": self.key_lines,
            "verifier": {
                "accepted": principal is not None,
                "introspection_answer": dict(principal.claims)
                if principal is not None and principal.kind == "introspection"
                else None,
                "error": None if self.verify_error is None else _error_dict(self.verify_error),
                "fixes": self.verify_fixes,
            },
            "routes": [
                {
                    "route": report.route.label,
                    "policy": report.route.policy.name,
                    "accepted": report.accepted,
                    "status": report.decision.status,
                    "error": None
                    if report.decision.allowed
                    else _error_dict(report.decision.error),
                    "www_authenticate": None
                    if report.decision.allowed
                    else report.decision.www_authenticate,
                    "requirements": [
                        {"requirement": text, "met": met} for text, met in report.requirements
                    ],
                    "seconds_left": _seconds_left(report),
                    "fixes": report.fixes,
                }
                for report in self.routes
            ],
        }


def diagnose(
    settings: StepUpSettings,
    token: str,
    routes: Sequence[JudgedRoute],
    *,
    clock: Callable[[], float] = time.time,
    transport: SyncTransport | None = None,
    realm: str | None = "api",
    strict_acr: bool = False,
    verifier: TokenVerifier | None = None,
) -> Diagnosis:
    """Judge ``token`` for each of ``routes`` as an API with ``settings`` would.

    One instant (``clock()`` read once) serves every step, so countdowns and verdicts agree. The
    verdict of each route is :meth:`Guard.check` of a request carrying the token.
    """
    now = clock()
    if verifier is None:
        verifier = settings.verifier()
    own_transport = HttpxTransport() if transport is None else None
    wire: SyncTransport
    if own_transport is not None:
        wire = own_transport
    else:
        assert transport is not None
        wire = transport
    guard = Guard(verifier, realm=realm, clock=lambda: now, transport=wire, refresh_ahead=None)
    diagnosis = Diagnosis(now, settings, "jwt", len(token), strict_acr=strict_acr)
    diagnosis.secrets = tuple(
        secret for secret in (token, token.rpartition(".")[2]) if len(secret) >= 8
    )
    try:
        _decode(diagnosis, token)
        _metadata(diagnosis, verifier, wire, [route.policy for route in routes])
        if isinstance(verifier, JWTVerifier) and diagnosis.claims is not None:
            _keys(diagnosis, wire)
        elif diagnosis.token_kind == "opaque":
            diagnosis.key_lines.append("the token is sent to the introspection endpoint")
        try:
            diagnosis.principal = run_sync(verifier.verify(token, now), wire)
        except StepUpError as error:
            diagnosis.verify_error = error
            diagnosis.verify_fixes = verify_fixes(error, diagnosis)
        for route in routes:
            view = RequestView(route.method, route.path, ("Bearer " + token,), scheme="https")
            decision = guard.check(view, route.policy)
            diagnosis.routes.append(_route_report(route, decision, diagnosis))
    finally:
        if own_transport is not None:
            own_transport.close()
    return diagnosis


# -- the steps -------------------------------------------------------------------------------------


def _decode(diagnosis: Diagnosis, token: str) -> None:
    """The header and claims, decoded with the verifier's own strict parsers (unverified)."""
    if diagnosis.settings.token_mode == "introspection" and token.count(".") != 2:
        diagnosis.token_kind = "opaque"
        return
    try:
        header_b64, payload_b64, _signature, _input = split_compact_jws(token)
        diagnosis.header = decode_json_segment(header_b64)
        diagnosis.claims = decode_json_segment(payload_b64)
    except InvalidToken as error:
        if diagnosis.settings.token_mode == "introspection":
            diagnosis.token_kind = "opaque"
        else:
            diagnosis.decode_problem = (
                f"{error.description}: a JWT access token is three base64url parts "
                "separated by dots (is this an opaque token? then STEPUP_TOKEN_MODE=introspection)"
            )


def _metadata(
    diagnosis: Diagnosis, verifier: TokenVerifier, wire: SyncTransport, policies: list[Policy]
) -> None:
    if not isinstance(verifier, HasIssuerMetadata):
        return
    try:
        found = run_sync(verifier.issuer_metadata_flow(), wire)
    except StepUpError:
        return
    diagnosis.metadata = list(found)
    diagnosis.acr_problems = issuers_acr_problems(policies, found)


def _keys(diagnosis: Diagnosis, wire: SyncTransport) -> None:
    """Which key the token names and whether the issuer's live JWKS publishes it."""
    header = diagnosis.header or {}
    claims = diagnosis.claims or {}
    lines = diagnosis.key_lines
    kid = header.get("kid")
    alg = header.get("alg")
    lines.append(f"the token names kid {_json(kid)} and alg {_json(alg)}")
    iss = claims.get("iss")
    metadata = dict(diagnosis.metadata).get(iss) if isinstance(iss, str) else None
    if iss not in dict(diagnosis.metadata):
        lines.append(f"its iss {_json(iss)} is not a configured issuer: no key set is looked at")
        return
    if metadata is None or not isinstance(metadata.get("jwks_uri"), str):
        lines.append("the issuer's jwks_uri is unknown (no metadata)")
        return
    jwks_uri = str(metadata["jwks_uri"])
    key_set = _fetch_jwks(jwks_uri, wire, lines)
    if key_set is None:
        return
    kids = sorted(key_set.by_kid)
    lines.append(f"{jwks_uri} publishes {len(key_set.keys)} usable keys, kids {' '.join(kids)}")
    pool = key_set.by_kid.get(kid, ()) if isinstance(kid, str) else key_set.keys
    if not pool:
        lines.append(f"kid {_json(kid)} is NOT in the issuer's JWKS")
        return
    serving = [key for key in pool if isinstance(alg, str) and alg in key.algorithms]
    if serving:
        lines.append(f"kid {_json(kid)} found: a {serving[0].kty} key for {alg}")
    else:
        lines.append(f"kid {_json(kid)} found, but its key does not verify {_json(alg)}")


def _fetch_jwks(jwks_uri: str, wire: SyncTransport, lines: list[str]) -> KeySet | None:
    request = HttpRequest("GET", jwks_uri, headers=(("accept", "application/json"),))
    try:
        response = run_sync(_one(request), wire)
    except TransportError as error:
        lines.append(f"{jwks_uri}: {error.reason}")
        return None
    if response.status != 200:
        lines.append(f"{jwks_uri} answered {response.status}")
        return None
    try:
        document = loads_json_marking_duplicates(response.body)
        return load_jwk_set(document, frozenset(DEFAULT_ALGORITHMS))
    except (MalformedJSON, ValueError):
        lines.append(f"{jwks_uri} is not a usable JWKS")
        return None


def _one(request: HttpRequest) -> Any:
    response = yield request
    return response


def _route_report(route: JudgedRoute, decision: Decision, diagnosis: Diagnosis) -> RouteReport:
    policy = route.policy
    principal = diagnosis.principal
    requirements: list[tuple[str, bool]] = []
    fixes: list[str] = []
    assessment: Assessment | None = None
    if not policy.authenticated:
        requirements.append(("anonymous: no token is looked at", True))
    elif principal is None:
        requirements.append(("a valid token", False))
    else:
        requirements.append(("a valid token", True))
        assessment = assess(principal, policy, diagnosis.now)
        requirements += requirement_lines(principal, policy, assessment, diagnosis.now)
        if policy.require_bound_token:
            requirements.append(("a sender-constrained (DPoP-bound) token", decision.allowed))
        if policy.rules:
            names = ", ".join(rule.name for rule in policy.rules)
            requirements.append((f"application rules {names} (judged by the Guard)", True))
    if not decision.allowed:
        if principal is None and diagnosis.verify_error is not None:
            fixes.append("see the verifier's answer above")
        else:
            fixes += route_fixes(decision, principal, policy, assessment)
    return RouteReport(route, decision, assessment, requirements, fixes)


def requirement_lines(
    principal: Principal, policy: Policy, assessment: Assessment, now: float
) -> list[tuple[str, bool]]:
    """One line per requirement of ``policy``, from the assessment the decision uses."""
    lines: list[tuple[str, bool]] = []
    if policy.scopes:
        granted = " ".join(sorted(principal.scopes)) or "(none)"
        text = f"scope {' '.join(sorted(policy.scopes))}: the token grants {granted}"
        if assessment.missing_scopes:
            text += f"; missing {' '.join(sorted(assessment.missing_scopes))}"
        lines.append((text, not assessment.missing_scopes))
    if policy.acr_values:
        has = _json(principal.acr) if principal.acr is not None else "no acr claim"
        lines.append(
            (f"acr one of {' '.join(policy.acr_values)}: the token has {has}", assessment.acr_met)
        )
    for group in policy.amr_groups:
        shown = " ".join(principal.amr) or "no amr"
        lines.append(
            (
                f"amr one of {' '.join(sorted(group))}: the token has {shown}",
                group not in assessment.unmet_amr_groups,
            )
        )
    if policy.max_age is not None:
        left = seconds_left(principal.auth_time, policy.max_age, now)
        if left is None:
            text = f"max_age {policy.max_age} s: the token has no auth_time, so recency is unproven"
        elif left >= 0:
            text = (
                f"max_age {policy.max_age} s: authenticated {_duration(assessment.auth_age)} ago, "
                f"{_duration(left)} left"
            )
        else:
            text = (
                f"max_age {policy.max_age} s: authenticated {_duration(assessment.auth_age)} ago, "
                f"too old by {_duration(-left)}"
            )
        lines.append((text, assessment.fresh))
    return lines


# -- the fixes -------------------------------------------------------------------------------------


def verify_fixes(error: StepUpError, diagnosis: Diagnosis) -> list[str]:
    """What to try for a token the verifier refused, from its refusal and the decoded token."""
    settings = diagnosis.settings
    header = diagnosis.header or {}
    claims = diagnosis.claims or {}
    now = diagnosis.now
    description = error.description
    if isinstance(error, VerifierUnavailable):
        return [
            "the authorization server (metadata, JWKS or introspection) cannot be used now: "
            + (error.cause or "is it running and reachable from here?")
        ]
    if not isinstance(error, InvalidToken):
        return []
    fixes: list[str] = []
    if description == "The access token type is wrong":
        typ = header.get("typ")
        if typ is None or (isinstance(typ, str) and typ.lower() in _PLAIN_TYPS):
            fixes.append(
                f"the token is typed {_json(typ) if typ is not None else 'not at all'}, not "
                "at+jwt (RFC 9068): if your authorization server does not type its access "
                "tokens, set STEPUP_ACCEPT_JWT_TYP=1 (doctor: --accept-jwt-typ)"
            )
        else:
            fixes.append(
                f"typ {_json(typ)} is not an access token: is this an ID token or another JWT? "
                "Send the access token"
            )
    elif description == WRONG_AUDIENCE:
        aud = claims.get("aud")
        fixes.append(
            f"the token's aud is {_json(aud)}, this API's audience setting is "
            f"{_json(settings.audience)}: have the authorization server issue tokens for "
            f"{settings.audience} (an audience mapper, or the resource / audience parameter of "
            "the token request), or set STEPUP_AUDIENCE to the identifier the tokens carry"
        )
    elif description == "The access token was issued by an untrusted issuer":
        fixes.append(
            f"the token's iss is {_json(claims.get('iss'))}, STEPUP_ISSUER is "
            f"{_json(settings.issuer)}: issuers compare exactly (a trailing slash counts); "
            "use the issuer the tokens name, or a token from this issuer"
        )
    elif description == "The access token signing key is unknown":
        fixes.append(
            f"kid {_json(header.get('kid'))} is not in the issuer's JWKS: the key was rotated "
            "out, or the token comes from another issuer or environment (staging vs production)"
        )
    elif description == EXPIRED:
        exp = _number(claims.get("exp"))
        ago = f" {_duration(now - exp)} ago" if exp is not None else ""
        fixes.append(f"the token expired{ago}: get a new one (refresh it, or log in again)")
    elif description in (NOT_YET_VALID, ISSUED_IN_FUTURE, FUTURE_AUTH_TIME):
        name = {NOT_YET_VALID: "nbf", ISSUED_IN_FUTURE: "iat", FUTURE_AUTH_TIME: "auth_time"}[
            description
        ]
        value = _number(claims.get(name))
        ahead = f" {_duration(value - now)}" if value is not None else ""
        fixes.append(
            f"{name} is{ahead} ahead of this machine's clock, more than the allowed skew: the "
            "clocks of the authorization server and this API disagree (check NTP on both)"
        )
    elif description == "The access token lacks a required claim":
        missing = [name for name in DEFAULT_REQUIRED_CLAIMS if claims.get(name) is None]
        fixes.append(
            f"the token lacks {' '.join(missing) or 'a required claim'} (RFC 9068 §2.2): the "
            "authorization server must issue RFC 9068 access tokens"
        )
    elif description == "The access token algorithm is not allowed":
        fixes.append(f"alg {_json(header.get('alg'))} is not allowed (asymmetric algorithms only)")
    elif description == "The token is not an access token":
        fixes.append(
            "it carries nonce or events: an ID token or a logout token, not an access token"
        )
    elif description == "The access token signature is invalid":
        fixes.append(
            "the signature does not verify: the token was altered or signed by another key"
        )
    elif settings.token_mode == "introspection":
        fixes.append(
            "the introspection answer refuses the token (active false, expired, revoked, or for "
            "another audience): get a new token for this API"
        )
    elif diagnosis.decode_problem:
        fixes.append(diagnosis.decode_problem)
    return fixes


def route_fixes(
    decision: Decision, principal: Principal | None, policy: Policy, assessment: Assessment | None
) -> list[str]:
    """What to try for a route that refuses a verified token."""
    if decision.allowed:
        return []
    error = decision.error
    fixes: list[str] = []
    if principal is None or assessment is None:
        if isinstance(error, AuthError) and error.code == "invalid_request":
            fixes.append("the token cannot be sent as it is in an Authorization header")
        return fixes
    if error.code == "invalid_token":
        fixes.append(
            f"{error.description}: the token's binding (cnf) does not fit a Bearer request"
        )
    if not assessment.acr_met:
        if principal.acr is None:
            fixes.append(
                "the access token carries no acr claim: the authorization server must put acr "
                "in access tokens (not only in ID tokens), or no step-up can ever succeed"
            )
        else:
            fixes.append(
                f"acr is {principal.acr}, the route wants {' '.join(policy.acr_values)}: the "
                "client must send the user back to the authorization server with these "
                "acr_values (a step-up); if the issuer never issues them, fix the policy"
            )
    if assessment.unmet_amr_groups:
        fixes.append(
            "the token's amr lacks a method the route needs: log in with that method (the "
            "route's acr_values ask for it in the challenge)"
        )
    if not assessment.fresh:
        if principal.auth_time is None:
            fixes.append(
                "the token has no auth_time: the authorization server must include auth_time in "
                "access tokens (RFC 9470 §3), or no max_age route can ever accept them"
            )
        else:
            fixes.append(
                f"the login is older than max_age {policy.max_age}: the client must send the user "
                f"back with max_age={policy.max_age} and use the new token"
            )
    if assessment.missing_scopes:
        fixes.append(
            f"ask for scope {' '.join(sorted(assessment.missing_scopes))} in the authorization "
            "request"
        )
    if not fixes and error.code == "insufficient_scope":
        fixes.append("an application rule of the route refuses this token")
    return fixes


# -- formatting ------------------------------------------------------------------------------------


def _describe(policy: Policy) -> str:
    parts: list[str] = [policy.name or "unnamed"]
    if not policy.authenticated:
        return parts[0]
    details: list[str] = []
    if policy.scopes:
        details.append("scopes " + " ".join(sorted(policy.scopes)))
    if policy.acr_values:
        details.append("acr " + " ".join(policy.acr_values))
    if policy.amr_groups:
        details.append("amr " + " & ".join("|".join(sorted(g)) for g in policy.amr_groups))
    if policy.max_age is not None:
        details.append(f"max_age {policy.max_age}")
    if policy.require_bound_token:
        details.append("bound token")
    return parts[0] + (": " + ", ".join(details) if details else "")


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 253_402_300_800
    )


def _number(value: object) -> float | None:
    return float(value) if _is_number(value) else None  # type: ignore[arg-type]


def _when(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "out of range"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    whole = round(seconds)
    if whole < 120:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 120:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _relative(delta: float) -> str:
    return f"in {_duration(delta)}" if delta > 0 else f"{_duration(-delta)} ago"


def _error_text(error: StepUpError) -> str:
    return (
        f"{error.code}: {error}"
        if isinstance(error, VerifierUnavailable)
        else (f"{error.code}: {error.description}")
    )


def _error_dict(error: StepUpError) -> dict[str, Any]:
    return {"code": error.code, "description": error.description, "status": error.status}


def _seconds_left(report: RouteReport) -> float | None:
    policy = report.route.policy
    assessment = report.assessment
    if policy.max_age is None or assessment is None or assessment.auth_age is None:
        return None
    return policy.max_age - assessment.auth_age


def render(diagnosis: Diagnosis, as_json: bool = False) -> str:
    """The report as plain text, or as JSON (``--json``)."""
    if as_json:
        text = json.dumps(diagnosis.as_dict(), indent=2, sort_keys=True) + "\n"
    else:
        text = diagnosis.text()
    for secret in diagnosis.secrets:  # a last guard: an answer that echoes the token
        text = text.replace(secret, "[the token]")
    return text


def read_token(text: str) -> str:
    """The token from what was pasted: an ``Authorization`` value or line is accepted too."""
    token = text.strip()
    for prefix in ("authorization:", "bearer "):
        if token[: len(prefix)].lower() == prefix:
            token = token[len(prefix) :].strip()
    if not token:
        raise ConfigurationError("no token given (as an argument, or on standard input with -)")
    return token


# -- the command -----------------------------------------------------------------------------------

#: Flag (argparse dest) -> the ``STEPUP_*`` variable it overrides.
_FLAG_VARIABLES = {
    "issuer": "STEPUP_ISSUER",
    "audience": "STEPUP_AUDIENCE",
    "token_mode": "STEPUP_TOKEN_MODE",
    "introspection_client_id": "STEPUP_INTROSPECTION_CLIENT_ID",
    "mfa_acr": "STEPUP_MFA_ACR",
    "mfa_max_age": "STEPUP_MFA_MAX_AGE",
}
_SWITCH_VARIABLES = {
    "accept_jwt_typ": "STEPUP_ACCEPT_JWT_TYP",
    "allow_insecure_http": "STEPUP_ALLOW_INSECURE_HTTP",
}
#: The policy names a route table may use without defining them: the examples build these from
#: the settings (``settings.mfa_policy``), so the doctor does too.
SETTINGS_POLICIES = ("mfa", "mfa-recent")


def settings_from(args: Any, env: Mapping[str, str]) -> tuple[StepUpSettings, bool]:
    """The settings ``STEPUP_*`` give, each flag overriding its variable; and ``strict_acr``."""
    values = dict(env)
    for dest, variable in _FLAG_VARIABLES.items():
        value = getattr(args, dest, None)
        if value is not None:
            values[variable] = str(value)
    for dest, variable in _SWITCH_VARIABLES.items():
        if getattr(args, dest, False):
            values[variable] = "1"
    if getattr(args, "strict_acr", False):
        values["STEPUP_STRICT_ACR"] = "1"
    settings = StepUpSettings.from_env(values)
    return settings, settings.strict_acr


def routes_from(args: Any, settings: StepUpSettings) -> tuple[JudgedRoute, ...]:
    """``--routes FILE`` (every entry and the default), else ``--policy`` specs, else the seed."""
    import os
    import tomllib

    from .routes import _policy, read_toml

    if args.routes:
        if not os.path.isfile(args.routes):
            # the value itself is not repeated: a token given where the path belongs would show
            raise ConfigurationError("--routes: no such file (the value given is not repeated)")
        data = read_toml(args.routes, "the route table")
        defined = data.get("policies", {})
        extra = {
            name: settings.mfa_policy(name=name)
            for name in SETTINGS_POLICIES
            if not (isinstance(defined, Mapping) and name in defined)
        }
        table = RouteTable.from_dict(data, source=args.routes, policies=extra)
        return table_routes(table)
    if args.policy:
        policies: list[Policy] = []
        for index, spec in enumerate(args.policy, 1):
            where = f"--policy {index}"
            try:
                parsed = tomllib.loads("policy = {" + spec + "}")["policy"]
            except tomllib.TOMLDecodeError as error:
                raise ConfigurationError(
                    f"{where}: not a TOML inline table body: {error}"
                ) from None
            policies.append(_policy(f"command-line {index}", parsed, where))
        return policy_routes(policies)
    return seed_routes(settings)


def run(args: Any, stdin: Any, stdout: Any, stderr: Any) -> int:
    """``stepup-mfa doctor``: 0 when every route accepts the token, 1 if not, 2 for misuse."""
    import os

    try:
        settings, strict_acr = settings_from(args, os.environ)
        routes = routes_from(args, settings)
        token = read_token(stdin.read() if args.token == "-" else args.token)
        diagnosis = diagnose(settings, token, routes, realm=args.realm, strict_acr=strict_acr)
    except ConfigurationError as error:
        print(f"stepup-mfa doctor: {error}", file=stderr)
        return 2
    stdout.write(render(diagnosis, as_json=args.json))
    return 0 if diagnosis.ok else 1
