"""``WWW-Authenticate`` challenges: one renderer, one parser (RFC 9110 §11, RFC 6750 §3, 9470 §3).

The renderer is the only place where a header value is built. Every auth-param value is emitted
as a quoted-string; values are first reduced to the characters RFC 6750 §3 allows, so that nothing
can close the quoted-string or start a new header line (R6750-14, R9110-3).

The parser is public: clients of an API protected by stepup-mfa use it to read a step-up challenge
(``acr_values``, ``max_age``) and send the user back to the authorization server. Scheme and
parameter names compare case-insensitively and each parameter may appear once (R9110-2, R6750-11).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from .credentials import B64TOKEN
from .errors import MalformedHeader

#: RFC 6750 §3: error and error_description use %x20-21 / %x23-5B / %x5D-7E.
_NOT_ALLOWED_IN_VALUE = re.compile(r"[^\x20\x21\x23-\x5B\x5D-\x7E]")

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN_RE = re.compile(_TOKEN)
#: RFC 9110 §11.2 token68 has exactly RFC 6750's b64token grammar: one pattern, one home.
_TOKEN68_RE = B64TOKEN
#: An absolute URI whose characters can travel in a quoted-string unescaped (RFC 3986 §4.3;
#: RFC 6750 §3 limits auth-param values to %x21 / %x23-5B / %x5D-7E). Policies use it for acr
#: values, challenge settings for ``error_uri`` and ``resource_metadata``.
ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[\x21\x23-\x5B\x5D-\x7E]+")
_QDTEXT = r"[\t \x21\x23-\x5B\x5D-\x7E\x80-\xFF]"
_QUOTED_PAIR = r"\\[\t \x21-\x7E\x80-\xFF]"
_AUTH_PARAM_RE = re.compile(
    rf"({_TOKEN})[ \t]*=[ \t]*(?:({_TOKEN})|\"((?:{_QDTEXT}|{_QUOTED_PAIR})*)\")"
)
_QUOTED_PAIR_RE = re.compile(r"\\(.)")
_OWS_COMMA_RE = re.compile(r"[ \t]*(?:,[ \t]*)*")
_SPACES_RE = re.compile(r" +")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge: a scheme and its auth-params, in order (names lower-case when parsed).

    - ``scheme``: the auth-scheme (``Bearer``, ``DPoP``), compared case-insensitively.
    - ``params``: the auth-params in order, name to unquoted value.
    - ``token68``: the token68 form some schemes use instead of auth-params (RFC 9110 §11.2).
    """

    scheme: str
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    token68: str | None = None

    def param(self, name: str) -> str | None:
        """The value of ``name``, compared case-insensitively."""
        value = self.params.get(name)
        if value is not None:
            return value
        lowered = name.lower()
        for key, candidate in self.params.items():
            if key.lower() == lowered:
                return candidate
        return None

    @property
    def error(self) -> str | None:
        return self.param("error")

    @property
    def acr_values(self) -> tuple[str, ...]:
        """The acceptable acr values, in order of preference (RFC 9470 §3)."""
        value = self.param("acr_values")
        return tuple(value.split()) if value else ()

    @property
    def max_age(self) -> int | None:
        """Seconds allowed since the last active authentication (RFC 9470 §3)."""
        value = self.param("max_age")
        # isdigit() alone accepts "²" (obs-text may reach here), which int() refuses.
        return int(value) if value is not None and value.isascii() and value.isdigit() else None

    @property
    def scopes(self) -> frozenset[str]:
        value = self.param("scope")
        return frozenset(value.split()) if value else frozenset()


def sanitize(value: str) -> str:
    """Drop every character RFC 6750 §3 forbids in an auth-param value (``"``, ``\\``, CR, LF,
    other controls and anything outside ASCII), so the value can be quoted safely."""
    return _NOT_ALLOWED_IN_VALUE.sub("", value)


def quote(value: str) -> str:
    """The one quoting helper: a sanitized value as a quoted-string."""
    return f'"{sanitize(value)}"'


def render_challenge(challenge: Challenge) -> str:
    """``Scheme name="value", ...``; a challenge always carries at least one param (R6750-10)."""
    if not challenge.params and challenge.token68 is None:
        raise ValueError("a challenge needs at least one auth-param (RFC 6750 §3)")
    names = [challenge.scheme, *challenge.params]
    if not all(_TOKEN_RE.fullmatch(name) for name in names) or (
        challenge.token68 is not None and not _TOKEN68_RE.fullmatch(challenge.token68)
    ):
        raise ValueError("scheme, parameter names and token68 must be tokens (RFC 9110 §11)")
    if challenge.token68 is not None:
        return f"{challenge.scheme} {challenge.token68}"
    params = ", ".join(f"{name}={quote(value)}" for name, value in challenge.params.items())
    return f"{challenge.scheme} {params}"


def render_www_authenticate(challenges: Iterable[Challenge]) -> str:
    """Several ``challenges`` in one field value, comma-separated (RFC 9110 §11.6.1)."""
    return ", ".join(render_challenge(c) for c in challenges)


def parse_www_authenticate(value: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` field ``value`` into its challenges.

    Raises :class:`~stepup_mfa.MalformedHeader` (and nothing else) when the value does not follow
    the RFC 9110 §11 grammar or repeats a parameter within one challenge.
    """
    if not isinstance(value, str):
        raise MalformedHeader("WWW-Authenticate must be a string")
    challenges: list[Challenge] = []
    end = len(value)
    pos = _skip_list_separators(value, 0)
    while pos < end:
        scheme_match = _TOKEN_RE.match(value, pos)
        if scheme_match is None:
            raise MalformedHeader("expected an auth-scheme")
        scheme = scheme_match.group(0)
        pos = scheme_match.end()
        params: dict[str, str] = {}
        token68: str | None = None
        spaces = _SPACES_RE.match(value, pos)
        if spaces is not None and not _at_item_end(value, spaces.end()):
            pos = spaces.end()
            param = _AUTH_PARAM_RE.match(value, pos)
            if param is None:
                t68 = _TOKEN68_RE.match(value, pos)
                if t68 is None or not _at_item_end(value, t68.end()):
                    raise MalformedHeader("expected auth-params or a token68")
                token68 = t68.group(0)
                pos = t68.end()
            while param is not None:
                name = param.group(1).lower()
                if name in params:
                    raise MalformedHeader("a parameter is repeated within one challenge")
                token_value, quoted_value = param.group(2), param.group(3)
                params[name] = (
                    token_value
                    if token_value is not None
                    else _QUOTED_PAIR_RE.sub(r"\1", quoted_value)
                )
                pos = param.end()
                if not _at_item_end(value, pos):
                    raise MalformedHeader("expected a comma after an auth-param")
                param = _AUTH_PARAM_RE.match(value, _skip_list_separators(value, pos))
        if not _at_item_end(value, pos):
            raise MalformedHeader("unexpected text after an auth-scheme")
        challenges.append(Challenge(scheme, MappingProxyType(params), token68))
        pos = _skip_list_separators(value, pos)
    return challenges


def _at_item_end(value: str, pos: int) -> bool:
    rest = value[pos:].lstrip(" \t")
    return not rest or rest[0] == ","


def _skip_list_separators(value: str, pos: int) -> int:
    match = _OWS_COMMA_RE.match(value, pos)
    return match.end() if match else pos


def params_of(pairs: Sequence[tuple[str, str | None]]) -> Mapping[str, str]:
    """Build an ordered, read-only param map, leaving out the params that have no value."""
    return MappingProxyType({name: value for name, value in pairs if value is not None})
