"""BIND-3: which request paths a raw middleware may judge (``_core.paths``)."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepup_mfa._core.paths import non_canonical_reason


@pytest.mark.parametrize(
    "path", ["/", "/cats/", "/cats", "/users/7/", "/a b/", "/caf\u00e9/", "/c\u0430ts/", "/a;b=1"]
)
def test_bind_3_canonical_paths_are_judged(path: str) -> None:
    assert non_canonical_reason(path) is None


@pytest.mark.parametrize(
    ("path", "raw_path", "reason"),
    [
        ("/cats/\n", None, "control"),
        ("/cats/\r", None, "control"),
        ("/cats\x00/", None, "control"),
        ("/cats\x7f/", None, "control"),
        ("/cats\x85/", None, "control"),
        ("/cats\u00a0/", None, "control"),
        ("/cats\u200b/", None, "control"),
        ("/cats\\", None, "backslash"),
        ("/cats/", "/%2Fcats/", "encoded slash"),
        ("/cats/", "/%2fcats/?q=1", "encoded slash"),
        ("/%2Fcats/", "/%252Fcats/", "double encoding"),
        ("//cats/", None, "empty segment"),
        ("/cats//", None, "empty segment"),
        ("/./cats/", None, "dot segment"),
        ("/x/../cats/", None, "dot segment"),
        ("/cats/.", None, "dot segment"),
        ("/cats/..", None, "dot segment"),
        ("cats/", None, "start"),
        ("http://host/cats/", None, "start"),
    ],
)
def test_bind_3_non_canonical_paths_are_refused(
    path: str, raw_path: str | None, reason: str
) -> None:
    found = non_canonical_reason(path, raw_path)
    assert found is not None and reason in found


def test_bind_3_an_encoded_slash_in_the_query_is_not_the_path() -> None:
    assert non_canonical_reason("/cats/", "/cats/?next=%2F") is None


ALPHABET = st.sampled_from(
    ["/", ".", "..", "%", "2F", "2E", "c", "a", "ts", "\\", "\n", "\x00", ";", " ", "\u0430"]
)


@given(st.lists(ALPHABET, max_size=12).map(lambda parts: "/" + "".join(parts)))
def test_bind_3_a_canonical_path_is_what_every_normalising_router_reads(path: str) -> None:
    """Property: whatever a router might do to a path (join slashes, resolve dot segments, drop
    a final newline, decode again, fold backslashes), an accepted path comes out unchanged."""
    if non_canonical_reason(path) is not None:
        return
    resolved = posixpath.normpath(path) + ("/" if path.endswith("/") and path != "/" else "")
    assert re.sub("/+", "/", path) == path
    assert resolved == path
    assert path.rstrip("\n") == path
    assert unquote(path) == path
    assert path.replace("\\", "/") == path
