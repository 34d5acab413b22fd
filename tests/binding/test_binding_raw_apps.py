"""BIND-3: a router-less ASGI or WSGI app behind the middleware refuses a non-canonical request
path with ``400 invalid_request`` before any route-table lookup.

The raw apps answer every path as handler ``raw`` (``/`` as ``index``); their route table lists
``GET /`` (anonymous) and ``GET /cats/`` (MFA), and its default is anonymous. A recorder around the
middleware reports the path the middleware was given (``X-Binding-Seen-Path``), so each cell
judges what actually reached it: a server that already normalised the path (waitress strips
leading slashes) or refused it (raw control characters) leaves nothing to refuse.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

import pytest
from binding_rawhttp import RawResponse
from binding_servers import Credentials, Fleet
from binding_spellings import STRENGTH, Spelling, path_variants, send

RAW_SERVERS = (
    ("uvicorn", "raw_asgi", "default_anonymous"),
    ("hypercorn", "raw_asgi", "default_anonymous"),
    ("gunicorn", "raw_wsgi", "default_anonymous"),
    ("waitress", "raw_wsgi", "default_anonymous"),
)
SPELLINGS = [Spelling(f"cats-{vid}", target) for vid, target in path_variants("/cats/")]


def non_canonical(path: bytes, raw_path: bytes | None) -> str | None:
    """Why the decoded ``path`` (and the ASGI ``raw_path``) is not canonical, or ``None``."""
    if not path.startswith(b"/"):
        return "no leading slash (an absolute-form target passed through as the path)"
    if any(byte < 0x20 or byte == 0x7F for byte in path):
        return "a control character"
    segments = path[1:].split(b"/")
    if any(segment == b"" for segment in segments[:-1]):
        return "an empty segment"
    if any(segment in (b".", b"..") for segment in segments):
        return "a dot segment"
    if raw_path is not None and b"%2f" in raw_path.lower():
        return "an encoded slash"
    return None


def _seen(response: RawResponse) -> tuple[bytes, bytes | None] | None:
    path = response.header("x-binding-seen-path")
    if path is None:
        return None
    raw = response.header("x-binding-seen-raw-path")
    # the raw path is reported as it came (percent-escapes kept), the decoded one re-encoded
    return unquote_to_bytes(path), (raw.encode("latin-1") if raw is not None else None)


def _needed(path: bytes) -> int:
    """What the raw app's table asks of a canonical path: MFA for /cats/, nothing otherwise."""
    return 2 if path == b"/cats/" else 0


@pytest.mark.parametrize("credential", Credentials.NAMES)
@pytest.mark.parametrize("spelling", SPELLINGS, ids=lambda s: s.id)
@pytest.mark.parametrize("key", RAW_SERVERS, ids=[f"BIND-3-{s}-{a}" for s, a, _ in RAW_SERVERS])
def test_raw_app_refuses_a_non_canonical_path(
    fleet: Fleet,
    credentials: Credentials,
    key: tuple[str, str, str],
    spelling: Spelling,
    credential: str,
) -> None:
    server = fleet[key]
    response = send(server.port, spelling, credentials.headers(credential))
    where = f"{server.name} {spelling!r}: {response.describe()}"
    assert response.status is None or response.status < 500, f"server error: {where}"
    seen = _seen(response)
    if seen is None:  # the server answered itself (a refusal of a malformed request)
        assert response.handler is None, where
        return
    path, raw_path = seen
    reason = non_canonical(path, raw_path)
    if reason is not None:
        assert response.status == 400, f"the middleware was given {path!r} ({reason}): {where}"
        assert "invalid_request" in (response.header("www-authenticate") or ""), where
        return
    if response.handler is not None:
        assert STRENGTH[credential] >= _needed(path), where
