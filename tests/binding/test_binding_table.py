"""BIND-1, BIND-2, BIND-4: the policy applied is the policy of the handler that ran.

The table is server x app x route-table default x spelling x credential; every cell sends one
request over a raw socket to a real server and checks one thing (``spellings.assert_bound``).
"""

from __future__ import annotations

import pytest
from binding_servers import ASGI_APPS, ASGI_SERVERS, VARIANTS, WSGI_SERVERS, Credentials, Fleet
from binding_spellings import Spelling, assert_bound, http_spellings, send, websocket_spellings

CREDENTIALS = Credentials.NAMES


def _http_cells() -> list[object]:
    cells = []
    pairs = [(s, a) for s in ASGI_SERVERS for a in ASGI_APPS]
    pairs += [(s, "flask") for s in WSGI_SERVERS]
    for server, app in pairs:
        requirement = "BIND-2" if app == "flask" else "BIND-1"
        for variant in VARIANTS:
            for spelling in http_spellings(app):
                for credential in CREDENTIALS:
                    cell_id = f"{requirement}-{server}-{app}-{variant}-{spelling.id}-{credential}"
                    cells.append(
                        pytest.param((server, app, variant), spelling, credential, id=cell_id)
                    )
    return cells


def _websocket_cells() -> list[object]:
    cells = []
    for server in ASGI_SERVERS:
        for app in ASGI_APPS:
            for variant in VARIANTS:
                for spelling in websocket_spellings():
                    for credential in CREDENTIALS:
                        cell_id = f"BIND-4-{server}-{app}-{variant}-{spelling.id}-{credential}"
                        cells.append(
                            pytest.param((server, app, variant), spelling, credential, id=cell_id)
                        )
    return cells


@pytest.mark.parametrize(("key", "spelling", "credential"), _http_cells())
def test_handler_runs_only_under_its_own_policy(
    fleet: Fleet,
    credentials: Credentials,
    key: tuple[str, str, str],
    spelling: Spelling,
    credential: str,
) -> None:
    """A 2xx from handler H means the credential satisfies H's policy; never a 5xx, never a
    hang, however the request target is spelt."""
    server = fleet[key]
    response = send(server.port, spelling, credentials.headers(credential))
    assert_bound(response, credential, lambda: f"{server.name} {spelling!r}")


@pytest.mark.parametrize(("key", "spelling", "credential"), _websocket_cells())
def test_websocket_accepted_only_under_its_own_policy(
    fleet: Fleet,
    credentials: Credentials,
    key: tuple[str, str, str],
    spelling: Spelling,
    credential: str,
) -> None:
    """BIND-4: a ``101`` from the MFA websocket route means the credential carried fresh MFA."""
    server = fleet[key]
    response = send(server.port, spelling, credentials.headers(credential))
    assert_bound(response, credential, lambda: f"{server.name} {spelling!r}")
