"""Assertions that read a response the way a client must: by parsing ``WWW-Authenticate``.

Comparing raw header strings breaks on parameter order, quoting and case, all of which RFC 9110
§11 leaves free; these helpers parse the header with the library's public parser and compare the
parts that carry meaning. Each returns the matching :class:`Challenge` for further checks.

Every helper takes either a response object (anything with ``status_code`` or ``status`` and
``headers``: Flask, Werkzeug, Starlette/httpx test clients) or a status and a header value::

    assert_step_up(response, max_age=60, acr_values="urn:example:acr:mfa")
    assert_step_up(401, 'Bearer error="insufficient_user_authentication", max_age="60"')

A keyword left at ``...`` (the default) is not checked; ``None`` asserts that the parameter is
absent.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Any

from .._core.challenge import Challenge, parse_www_authenticate

_ANY = ...
Expected = Any  # a value, None (must be absent) or ... (not checked)

__all__ = [
    "assert_challenge",
    "assert_insufficient_scope",
    "assert_invalid_request",
    "assert_invalid_token",
    "assert_step_up",
    "assert_unauthenticated",
    "assert_unavailable",
    "challenges_of",
]


def _status_and_header(response_or_status: Any, www_authenticate: str | None) -> tuple[int, str]:
    if isinstance(response_or_status, int):
        return response_or_status, www_authenticate or ""
    response = response_or_status
    status = getattr(response, "status_code", None)
    if status is None:
        status = getattr(response, "status", None)
    if not isinstance(status, int):
        raise TypeError(f"cannot read a status from {type(response).__name__}")
    headers = response.headers
    for getter in ("getlist", "get_list"):
        values = getattr(headers, getter, None)
        if values is not None:
            return status, ", ".join(values("WWW-Authenticate"))
    return status, headers.get("WWW-Authenticate") or ""


def challenges_of(response_or_status: Any, www_authenticate: str | None = None) -> list[Challenge]:
    """The parsed challenges of a response (an empty list when there is no header).

    ``response_or_status`` is a response object, or a status with ``www_authenticate`` the header
    value (see the module docstring).
    """
    _, header = _status_and_header(response_or_status, www_authenticate)
    return parse_www_authenticate(header) if header.strip() else []


def _fail(message: str, status: int, header: str) -> AssertionError:
    shown = header or "(none)"
    return AssertionError(f"{message}\n  status: {status}\n  WWW-Authenticate: {shown}")


def _check_param(
    challenge: Challenge, name: str, expected: Expected, status: int, header: str
) -> None:
    if expected is _ANY:
        return
    actual = challenge.param(name)
    if expected is None:
        if actual is not None:
            raise _fail(f"expected no {name!r} parameter, got {actual!r}", status, header)
        return
    if name in ("acr_values", "scope"):
        wanted: Sequence[str] = expected.split() if isinstance(expected, str) else list(expected)
        got = actual.split() if actual is not None else None
        ok = (
            got == list(wanted)
            if name == "acr_values"
            else got is not None and set(got) == set(wanted)
        )
        shown = " ".join(wanted)
    elif name == "max_age":
        ok = actual is not None and actual.isdigit() and int(actual) == int(expected)
        shown = str(expected)
    else:
        ok = actual == expected
        shown = str(expected)
    if not ok:
        raise _fail(f"expected {name}={shown!r}, got {actual!r}", status, header)


def assert_challenge(
    response_or_status: Any,
    www_authenticate: str | None = None,
    *,
    status: int,
    error: str | None,
    scheme: str = "Bearer",
    **params: Expected,
) -> Challenge:
    """The general form: the ``status``, and a ``scheme`` challenge with ``error`` and ``params``.

    ``response_or_status``: a response, or a status with ``www_authenticate`` (as in every
    helper here).

    ``error=None`` asserts a challenge that names no error (no credentials were sent).
    """
    actual_status, header = _status_and_header(response_or_status, www_authenticate)
    if actual_status != status:
        raise _fail(f"expected status {status}, got {actual_status}", actual_status, header)
    if not header.strip():
        raise _fail("expected a WWW-Authenticate header", actual_status, header)
    challenges = [c for c in parse_www_authenticate(header) if c.scheme.lower() == scheme.lower()]
    if not challenges:
        raise _fail(f"expected a {scheme} challenge", actual_status, header)
    matching = [c for c in challenges if c.error == error]
    if not matching:
        found = ", ".join(repr(c.error) for c in challenges)
        raise _fail(f"expected error={error!r}, found {found}", actual_status, header)
    challenge = matching[0]
    for name, expected in params.items():
        _check_param(challenge, name, expected, actual_status, header)
    return challenge


def assert_step_up(
    response_or_status: Any,
    www_authenticate: str | None = None,
    *,
    max_age: int | types.EllipsisType | None = _ANY,
    acr_values: str | Sequence[str] | types.EllipsisType | None = _ANY,
    scope: str | Sequence[str] | types.EllipsisType | None = _ANY,
    scheme: str = "Bearer",
) -> Challenge:
    """401 with ``error="insufficient_user_authentication"`` (RFC 9470 §3, R9470-1/2) asking for
    ``max_age`` (R9470-4) and ``acr_values`` in this order of preference (R9470-3), and ``scope``
    when given; the challenge's ``scheme`` is ``Bearer`` unless told otherwise.
    ``response_or_status``: a response, or a status with ``www_authenticate``."""
    return assert_challenge(
        response_or_status,
        www_authenticate,
        status=401,
        error="insufficient_user_authentication",
        scheme=scheme,
        max_age=max_age,
        acr_values=acr_values,
        scope=scope,
    )


def assert_invalid_token(
    response_or_status: Any, www_authenticate: str | None = None, *, scheme: str = "Bearer"
) -> Challenge:
    """401 with ``error="invalid_token"`` and no step-up hints: a bad token never learns what the
    route requires (R6750-16, R9068-8, R9470-12). ``response_or_status``: a response, or a
    status with ``www_authenticate``; ``scheme`` the challenge's."""
    return assert_challenge(
        response_or_status,
        www_authenticate,
        status=401,
        error="invalid_token",
        scheme=scheme,
        acr_values=None,
        max_age=None,
    )


def assert_insufficient_scope(
    response_or_status: Any,
    www_authenticate: str | None = None,
    *,
    scope: str | Sequence[str] | types.EllipsisType | None = _ANY,
    scheme: str = "Bearer",
) -> Challenge:
    """403 with ``error="insufficient_scope"`` naming ``scope`` (any order) (R6750-17).
    ``response_or_status``: a response, or a status with ``www_authenticate``; ``scheme`` the
    challenge's."""
    return assert_challenge(
        response_or_status,
        www_authenticate,
        status=403,
        error="insufficient_scope",
        scheme=scheme,
        scope=scope,
    )


def assert_invalid_request(
    response_or_status: Any, www_authenticate: str | None = None, *, scheme: str = "Bearer"
) -> Challenge:
    """400 with ``error="invalid_request"`` (R6750-3, R6750-15). ``response_or_status``: a
    response, or a status with ``www_authenticate``; ``scheme`` the challenge's."""
    return assert_challenge(
        response_or_status, www_authenticate, status=400, error="invalid_request", scheme=scheme
    )


def assert_unauthenticated(
    response_or_status: Any,
    www_authenticate: str | None = None,
    *,
    realm: str | types.EllipsisType | None = _ANY,
    scheme: str = "Bearer",
) -> Challenge:
    """401 with a challenge that names no error: no credentials were sent (R6750-9, R6750-18).
    ``realm`` is the expected realm. ``response_or_status``: a response, or a status with
    ``www_authenticate``; ``scheme`` the challenge's."""
    return assert_challenge(
        response_or_status, www_authenticate, status=401, error=None, scheme=scheme, realm=realm
    )


def assert_unavailable(response_or_status: Any, www_authenticate: str | None = None) -> None:
    """503 that does not blame the client's token: the authorization server could not be used
    (R7662-3, R8414-3). ``response_or_status``: a response, or a status with
    ``www_authenticate``."""
    status, header = _status_and_header(response_or_status, www_authenticate)
    if status != 503:
        raise _fail(f"expected status 503, got {status}", status, header)
    if header.strip():
        for challenge in parse_www_authenticate(header):
            if challenge.error == "invalid_token":
                raise _fail("a 503 must not blame the token (invalid_token)", status, header)
