"""Route policies: what a request must prove, validated when the policy is built.

A policy is an immutable, hashable value. Every value that will later appear in a challenge
(scopes, acr values, ``max_age``) is checked here, at start-up, so that a bad configuration fails
loudly before the first request instead of producing an unsafe header (R6750-12, R9470-4, S10).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .challenge import ABSOLUTE_URI
from .errors import ConfigurationError, PolicyWarning
from .principal import Principal
from .validity import seconds_option

#: RFC 6750 §3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")
#: An acr value travels space-separated inside a quoted-string and must survive being copied into
#: an authorization request unchanged (OIDC-9): no space, quote, backslash or comma.
_ACR_VALUE = re.compile(r"[\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]+")

#: RFC 8176 §2 registered Authentication Method Reference values (R8176-1).
REGISTERED_AMR = frozenset(
    {
        "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin",
        "pwd", "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia",
    }
)  # fmt: skip

#: ``amr`` values that show a factor beyond a password was used, or that several were (R8176-3,
#: "factors" mode). A policy that wants the explicit mode names ``{"mfa"}`` instead.
SECOND_FACTOR_AMR = frozenset(
    {"mfa", "otp", "hwk", "swk", "sms", "tel", "sc", "fpt", "face", "iris", "retina", "vbm", "mca"}
)


@dataclass(frozen=True, slots=True)
class Rule:
    """A user-supplied requirement: ``check(principal)`` must return True.

    ``name`` appears in logs (never in responses). A failing rule refuses with 403, because no
    re-authentication can be asked for a condition the authorization server does not know.
    """

    name: str
    check: Callable[[Principal], bool]


@dataclass(frozen=True, slots=True)
class Policy:
    """What a route requires.

    - ``authenticated``: a valid token is needed. ``False`` makes the route anonymous and then no
      other requirement may be set.
    - ``scopes``: every one of them must be granted (RFC 6750 §3, R9068-12).
    - ``acr_values``: any one of them satisfies, listed in order of preference (RFC 9470 §3,
      R9470-3). :meth:`AcrLadder.at_least` builds such a list from an ordered ladder.
    - ``amr``: any one of these methods must appear in ``amr`` (R8176-2). ``amr`` cannot be asked
      for in a challenge (R8176-4), so pair it with the ``acr_values`` the server maps to it.
      ``amr_groups`` holds several such "any of" groups that must all be met (what ``&`` builds).
    - ``max_age``: at most this many seconds since ``auth_time`` (RFC 9470 §3, OIDC-3).
    - ``rules``: extra checks of the application's own.
    - ``max_cache_age``: for verifiers that cache answers (introspection), do not use one older than
      this many seconds on this route; ``0`` asks the authorization server every time (R7662-10).
    - ``require_bound_token``: only a sender-constrained token is accepted: a DPoP-bound token with
      its proof (RFC 9449). A plain bearer token is refused with ``invalid_token``, so a stolen
      token is useless on this route without its key (the high-value policy pairs it with MFA).
    - ``name``: a label for logs and explanations (``mfa-60s``); never sent in a response and not
      part of equality.
    """

    authenticated: bool = True
    scopes: frozenset[str] = frozenset()
    acr_values: tuple[str, ...] = ()
    amr_groups: tuple[frozenset[str], ...] = ()
    max_age: int | None = None
    rules: tuple[Rule, ...] = ()
    max_cache_age: int | None = None
    require_bound_token: bool = False
    name: str | None = field(default=None, compare=False)

    def __init__(
        self,
        *,
        authenticated: bool = True,
        scopes: Iterable[str] | str = (),
        acr_values: Iterable[str] | str = (),
        amr: Iterable[str] | str = (),
        amr_groups: Iterable[Iterable[str]] = (),
        max_age: int | None = None,
        rules: Sequence[Rule] = (),
        max_cache_age: int | None = None,
        require_bound_token: bool = False,
        name: str | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "authenticated", _boolean("authenticated", authenticated))
        set_(self, "scopes", frozenset(_words("scopes", scopes, _SCOPE_TOKEN)))
        set_(self, "acr_values", tuple(dict.fromkeys(_words("acr_values", acr_values, _ACR_VALUE))))
        groups = [
            _words("amr", amr, _SCOPE_TOKEN),
            *(_words("amr", g, _SCOPE_TOKEN) for g in amr_groups),
        ]
        set_(self, "amr_groups", _essential_groups(frozenset(g) for g in groups if g))
        set_(self, "max_age", _seconds("max_age", max_age))
        set_(self, "rules", tuple(rules))
        set_(self, "max_cache_age", _seconds("max_cache_age", max_cache_age))
        set_(self, "require_bound_token", _boolean("require_bound_token", require_bound_token))
        set_(self, "name", name)
        self._validate()

    def _validate(self) -> None:
        if not self.authenticated and self.requires_anything:
            raise ConfigurationError(
                "an anonymous policy cannot have requirements; drop authenticated=False"
            )
        for rule in self.rules:
            if not isinstance(rule, Rule):
                raise ConfigurationError("rules must be Rule(name, check) values")
        unregistered = sorted(self.amr_methods - REGISTERED_AMR)
        if unregistered:
            warnings.warn(
                f"amr values {unregistered} are not registered in RFC 8176; amr matches exactly",
                PolicyWarning,
                stacklevel=3,
            )
        if self.amr_groups and not self.acr_values:
            warnings.warn(
                "an amr requirement cannot be named in a challenge (RFC 8176, RFC 9470 §3); "
                "also require the acr value the authorization server maps to it",
                PolicyWarning,
                stacklevel=3,
            )
        for acr in self.acr_values:
            if not ABSOLUTE_URI.fullmatch(acr) and not acr.isdigit():
                warnings.warn(
                    f"acr value {acr!r} is neither an absolute URI nor a registered name (OIDC §2)",
                    PolicyWarning,
                    stacklevel=3,
                )
        if self.max_age == 0:
            warnings.warn(
                "max_age=0 asks for an authentication in this very second; "
                "nearly every request will be challenged",
                PolicyWarning,
                stacklevel=3,
            )

    @property
    def requires_anything(self) -> bool:
        """Whether the policy asks for more than a valid token."""
        return bool(self.scopes or self.acr_values or self.amr_groups or self.rules) or (
            self.max_age is not None or self.require_bound_token
        )

    @property
    def needs_step_up_facts(self) -> bool:
        """Whether the policy judges how the user authenticated (acr, amr, auth_time)."""
        return bool(self.acr_values or self.amr_groups) or self.max_age is not None

    @property
    def amr_methods(self) -> frozenset[str]:
        """Every method named by any ``amr`` group (for display and validation)."""
        return frozenset().union(*self.amr_groups)

    def __and__(self, other: Policy) -> Policy:
        """A policy that requires everything both require."""
        if not isinstance(other, Policy):
            return NotImplemented
        return Policy(
            authenticated=self.authenticated or other.authenticated,
            scopes=self.scopes | other.scopes,
            acr_values=_both("acr_values", self.acr_values, other.acr_values),
            amr_groups=self.amr_groups + other.amr_groups,
            max_age=_smaller(self.max_age, other.max_age),
            rules=self.rules + tuple(r for r in other.rules if r not in self.rules),
            max_cache_age=_smaller(self.max_cache_age, other.max_cache_age),
            require_bound_token=self.require_bound_token or other.require_bound_token,
            # Named only when both sides are: "authenticated" would misname
            # AUTHENTICATED & Policy(scopes="admin") in every log line.
            name=f"{self.name} & {other.name}" if self.name and other.name else None,
        )


@dataclass(frozen=True, slots=True)
class AcrLadder:
    """Assurance levels from weakest to strongest, so a route can say "at least this level".

    ``levels`` are distinct acr values, the weakest first.
    """

    levels: tuple[str, ...]

    def __init__(self, levels: Sequence[str]) -> None:
        checked = tuple(_words("levels", levels, _ACR_VALUE))
        if not checked or len(set(checked)) != len(checked):
            raise ConfigurationError("an acr ladder needs distinct levels, weakest first")
        object.__setattr__(self, "levels", checked)

    def at_least(self, level: str) -> tuple[str, ...]:
        """The acceptable acr values for "``level`` or stronger", the cheapest first."""
        try:
            return self.levels[self.levels.index(level) :]
        except ValueError:
            raise ConfigurationError(f"{level!r} is not on the acr ladder") from None


def _boolean(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False")
    return value


def _words(name: str, value: Iterable[str] | str, pattern: re.Pattern[str]) -> list[str]:
    if isinstance(value, str):
        items = value.split(" ")
    else:
        try:
            items = list(value)
        except TypeError:
            raise ConfigurationError(f"{name} must be a string or a list of strings") from None
    if isinstance(value, str) and not value:
        items = []
    for item in items:
        if not isinstance(item, str) or pattern.fullmatch(item) is None:
            raise ConfigurationError(
                f"{name}: {item!r} contains characters that cannot appear in a challenge"
            )
    return items


def _seconds(name: str, value: object) -> int | None:
    """A non-negative whole number of seconds (R9470-4): not -1, not 1.5, not "60s", not True."""
    if value is None:
        return None
    seconds_option(name, value, whole=True)
    assert type(value) is int
    return value


def _essential_groups(groups: Iterable[frozenset[str]]) -> tuple[frozenset[str], ...]:
    """Drop groups another group implies (meeting ``{otp}`` meets ``{otp, hwk}``); sort for a
    stable hash."""
    unique = set(groups)
    kept = [g for g in unique if not any(other < g for other in unique)]
    return tuple(sorted(kept, key=sorted))


def _smaller(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _both(name: str, a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    """Values acceptable to both policies, in the first one's order of preference."""
    if not a or not b:
        return a or b
    common = tuple(v for v in a if v in b)
    if not common:
        raise ConfigurationError(f"the two policies accept no {name} in common")
    return common


#: A route anyone may call, with or without a token.
ANONYMOUS = Policy(authenticated=False, name="anonymous")
#: A route that needs any valid token.
AUTHENTICATED = Policy(name="authenticated")
