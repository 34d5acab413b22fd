"""GW-3: the route-binding spelling table through each real proxy.

Each spelling of ``/catsdogs/cats/`` (absolute-form targets included, and a few that climb out
of another page into it) is sent through nginx and Caddy with no token, a password token and a
fresh MFA token. The invariant: if
an upstream handler answered, the credential sent satisfies *that handler's* policy; a handler
never answers under a weaker policy than its own, however the proxy and the upstream read the
path. On top of it, the canonical spellings must reach the cats page with MFA, and the spellings
that a proxy or a router could read differently must be refused with 400 (by the proxy itself or
by the gateway) for every credential.
"""

from __future__ import annotations

import pytest
from gateway_stack import HANDLER_ACCEPTS, PROXIES, World, bearer

#: Spellings that mean /catsdogs/cats/ to every reader: judged as that path, answered by cats
CANONICAL = {
    "canonical": "/catsdogs/cats/",
    "query": "/catsdogs/cats/?x=1",
    "pct_letter": "/catsdogs/c%61ts/",
    "absolute_form": "http://{origin}/catsdogs/cats/",
}
#: Spellings some reader could take for another path: refused, 400, whoever sends it
REFUSED = {
    "pct0A_end": "/catsdogs/cats/%0A",
    "pct0D0A_end": "/catsdogs/cats/%0D%0A",
    "pct00_end": "/catsdogs/cats/%00",
    "pct09_before_slash": "/catsdogs/cats%09/",
    "slash2_start": "//catsdogs/cats/",
    "absolute_form_slash2": "http://{origin}//catsdogs/cats/",
    "slash2_inner": "/catsdogs//cats/",
    "dot_inner": "/catsdogs/./cats/",
    "dotdot_inner": "/catsdogs/x/../cats/",
    "dotdot_from_dogs": "/catsdogs/dogs/../cats/",
    "pct2e2e_climb": "/catsdogs/%2e%2e/catsdogs/cats/",
    "pct2E_dot": "/catsdogs/%2E/cats/",
    "dot_end": "/catsdogs/cats/.",
    "pct2F_end": "/catsdogs/cats%2F",
    "pct2F_inner": "/catsdogs%2Fcats/",
    "pct2f_start": "/%2fcatsdogs/cats/",
    "pct252F_double": "/catsdogs%252Fcats/",
    "pct5C_backslash": "/catsdogs%5Ccats/",
}
#: Spellings that name no route of the upstream: judged by the table's default (authenticated)
OTHER = {
    "upper": "/CATSDOGS/cats/",
    "upper_leaf": "/catsdogs/CATS/",
    "semicolon_leaf": "/catsdogs/cats;x=1/",
    "semicolon_end": "/catsdogs/cats/;x=1",
    "semicolon_root": "/catsdogs;x/cats/",
    "no_trailing_slash": "/catsdogs/cats",
    "pct20_end": "/catsdogs/cats/%20",
}
SPELLINGS = {**CANONICAL, **REFUSED, **OTHER}
CREDENTIALS = ("none", "password", "mfa")


@pytest.mark.parametrize("spelling", list(SPELLINGS))
@pytest.mark.parametrize("proxy", PROXIES)
def test_GW_3_no_handler_answers_under_a_weaker_policy(
    proxy: str, spelling: str, world: World
) -> None:
    """GW-3, BIND-3: the policy applied is the policy of the handler that answers."""
    stack = world.stacks[proxy]
    tokens = world.issuer.tokens
    minted = {"none": None, "password": tokens.password_token(), "mfa": tokens.mfa_token()}
    target = SPELLINGS[spelling].replace("{origin}", f"127.0.0.1:{stack.port}")
    answers = {}
    for credential in CREDENTIALS:
        got = stack.get(target, bearer(minted[credential]))
        answers[credential] = got
        handler = got.handler
        if handler is not None:
            assert credential in HANDLER_ACCEPTS[handler], (
                f"{target!r} through {proxy} reached {handler} with {credential}: {got}"
            )
    if spelling in CANONICAL:
        assert answers["mfa"].handler == "cats"
        assert answers["password"].status == 401
    elif spelling in REFUSED:
        assert {answer.status for answer in answers.values()} == {400}, answers
    else:
        assert answers["none"].status == 401  # the default policy: a valid token is needed
        assert answers["mfa"].handler is None
