"""``stepup-mfa explain``: what a ``WWW-Authenticate`` challenge asks of the client.

For developers of clients of a protected API: paste the header of a refused response and read
what went wrong and what to send next (for a step-up, the ``acr_values`` and ``max_age`` to put
in the next authorization request, RFC 9470 §4).
"""

from __future__ import annotations

from urllib.parse import urlencode

from ._core.challenge import Challenge, parse_www_authenticate

MEANING = {
    None: "no token was accepted: send an access token (Authorization: Bearer <token>)",
    "invalid_request": "the request is malformed (for example two Authorization headers, or a "
    "token sent two ways): fix the request, do not retry it as is",
    "invalid_token": "the token is expired, revoked, malformed or not for this API: get a new "
    "one (refresh it, or send the user to log in again)",
    "insufficient_scope": "the token is valid but lacks a scope: ask for the listed scopes in a "
    "new authorization request",
    "insufficient_user_authentication": "the token is valid but the user's authentication is too "
    "weak or too old for this call (RFC 9470): send the user back to the authorization server "
    "with the parameters below, then retry with the new token",
}


def explain(header: str) -> str:
    """A plain-language reading of ``header``; raises ``MalformedHeader`` if it is not one."""
    lines: list[str] = []
    for challenge in parse_www_authenticate(header):
        lines += _explain_one(challenge)
    return "\n".join(lines) if lines else "no challenge in this header"


def _explain_one(challenge: Challenge) -> list[str]:
    realm = challenge.param("realm")
    lines = [f"{challenge.scheme} challenge" + (f' (realm "{realm}")' if realm else "")]
    error = challenge.error
    meaning = MEANING.get(error, "an error this tool does not know; see the API's documentation")
    lines.append(f"  error: {error or '(none)'}: {meaning}")
    description = challenge.param("error_description")
    if description:
        lines.append(f"  description: {description}")
    request: dict[str, str] = {}
    if challenge.acr_values:
        acr_values = " ".join(challenge.acr_values)
        lines.append(f"  acr_values: {acr_values}  (any one, in order of preference)")
        request["acr_values"] = acr_values
    if challenge.max_age is not None:
        lines.append(
            f"  max_age: {challenge.max_age}  (the user must have authenticated within the last "
            f"{challenge.max_age} seconds)"
        )
        request["max_age"] = str(challenge.max_age)
    if challenge.scopes:
        lines.append("  scope: " + " ".join(sorted(challenge.scopes)))
        request["scope"] = " ".join(sorted(challenge.scopes))
    if request and error in ("insufficient_user_authentication", "insufficient_scope"):
        lines.append("  next authorization request adds: " + urlencode(request))
    return lines
