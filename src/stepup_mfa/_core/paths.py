"""Canonical request paths, for apps whose router the library cannot ask (BIND-3).

A raw ASGI or WSGI middleware matches its route table against the path string, while the app
behind it routes with rules of its own: Starlette's ``$`` also matches before a trailing newline,
werkzeug joins ``//cats/`` into ``/cats/``, some routers resolve dot segments or decode ``%2F``.
Each such normalisation is a way to reach a handler through a path the table does not list, and
so under the table's default policy. A path that any of them could change is therefore refused
before it is looked up: only a path that every router reads the same way is judged.

Refused (``400 invalid_request``), with the reason kept for the log:

- control characters (C0, DEL, C1) and other non-printable characters, NUL and a trailing ``\\n``
  included, decoded or not;
- a backslash (Windows-style separators; some servers and routers fold it into ``/``);
- an encoded slash ``%2F`` in the raw path (the decoded path cannot show it);
- an empty segment (``//``) other than the final one a trailing slash makes;
- dot segments (``.``, ``..``), however they were encoded (the decoded path shows them);
- a ``%`` escape left in the decoded path (double encoding: ``%252F`` decodes to ``%2F``).

Not refused: case differences and ``;`` parameters. Routers that fold case or strip matrix
parameters exist, but those spellings reach either the same handler or no route at all in
Starlette and werkzeug; for other routers, prefer a route-aware adapter or a non-anonymous default.
"""

from __future__ import annotations

import re

__all__ = ["NON_CANONICAL_PATH", "non_canonical_reason"]

#: The fixed ``error_description`` of the refusal (never text from the request).
NON_CANONICAL_PATH = "The request path is not in canonical form"

_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_ENCODED_SLASH = re.compile(r"%2[Ff]")


def non_canonical_reason(path: str, raw_path: str | None = None) -> str | None:
    """Why ``path`` (decoded, as routers see it) is not canonical, or ``None`` when it is.

    ``raw_path`` is the request target's path as it arrived (percent-encoded, no query), when the
    server reports it (ASGI ``raw_path``, WSGI ``REQUEST_URI``/``RAW_URI``).
    """
    if not path.startswith("/"):
        return "the path does not start with '/'"
    if not path.isprintable():
        return "control or non-printable character"
    if "\\" in path:
        return "backslash"
    if raw_path is not None and _ENCODED_SLASH.search(raw_path.partition("?")[0]):
        return "encoded slash"
    if _ESCAPE.search(path):
        return "percent escape in the decoded path (double encoding)"
    segments = path[1:].split("/")
    for index, segment in enumerate(segments):
        if segment in (".", ".."):
            return "dot segment"
        if not segment and index != len(segments) - 1:
            return "empty segment"
    return None
