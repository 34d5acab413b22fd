"""Build helpers for the documentation site (mkdocs.yml loads this file twice).

- ``RstDocstrings``, a griffe extension for mkdocstrings: the code's docstrings are written in the
  reST dialect Sphinx reads (``:class:`~stepup_mfa.Policy```, ``#:`` comments above constants,
  ``::`` literal blocks). It turns them into the Markdown that mkdocstrings renders: roles become
  optional cross-references (a link when the target is in the reference, code otherwise, never
  a warning), ``#:`` comments become the constants' docstrings, literal blocks become fenced
  code, and a list that follows a paragraph line gets the blank line Markdown needs.
- ``on_page_markdown``, a mkdocs hook: a guide page's link to a file of the repository outside
  ``docs/`` (``../examples/gateway/nginx.conf``) points at that file in the repository, so the
  strict build has no broken link and the page's source needs no site-only spelling.

tests/docs/test_reference.py loads the package through the same extension, so it checks exactly
the docstrings the site shows.
"""

from __future__ import annotations

import html
import posixpath
import re
from typing import Any

import griffe

#: Where a guide page's ``../path`` links lead (the repository's default branch).
REPOSITORY_FILES = "https://github.com/stepup-mfa/stepup-mfa/tree/main/"

_ROLE = re.compile(
    r":(?:py:)?(?P<role>class|func|meth|mod|data|attr|exc|obj|const):`(?P<body>[^`]+)`"
)
_EXPLICIT_TITLE = re.compile(r"(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
_RELATIVE_LINK = re.compile(r"\]\((?P<path>\.\./[^)\s]*)\)")


def _find(obj: griffe.Object | griffe.Alias, target: str) -> str | None:
    """The full path of ``target`` as written in ``obj``'s docstring, if griffe knows it."""
    collection = obj.modules_collection
    candidates = [target]
    scope: griffe.Object | griffe.Alias | None = obj
    while scope is not None:
        candidates.append(f"{scope.path}.{target}")
        scope = scope.parent
    candidates.append(f"stepup_mfa.{target}")
    for candidate in candidates:
        try:
            found = collection[candidate]
        except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            continue
        return str(found.path)
    return None


def _role(obj: griffe.Object | griffe.Alias, match: re.Match[str]) -> str:
    body = match["body"].strip()
    explicit = _EXPLICIT_TITLE.match(body)
    if explicit:
        title, target = explicit["title"], explicit["target"]
    else:
        target = body.lstrip("~")
        title = target.rsplit(".", 1)[-1] if body.startswith("~") else target
    target = target.lstrip("~.")
    if match["role"] in {"func", "meth"} and not title.endswith(")"):
        title += "()"
    identifier = _find(obj, target) or target
    return (
        f'<autoref identifier="{html.escape(identifier)}" optional>'
        f"<code>{html.escape(title)}</code></autoref>"
    )


def _literal_blocks(lines: list[str]) -> list[str]:
    """reST ``text::`` + an indented block -> ``text:`` + a fenced block."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.rstrip().endswith("::"):
            out.append(line)
            index += 1
            continue
        indent = len(line) - len(line.lstrip())
        head = line.rstrip()[:-1].rstrip()
        if head.strip() and not head.endswith(":"):
            head += ":"
        if head.strip() == ":":
            head = ""
        if head.strip():
            out.append(head)
        index += 1
        block: list[str] = []
        while index < len(lines) and (
            not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > indent
        ):
            block.append(lines[index])
            index += 1
        while block and not block[-1].strip():
            block.pop()
        body = [text for text in block if text.strip()]
        if not body:
            continue
        margin = min(len(text) - len(text.lstrip()) for text in body)
        pad = " " * indent
        code = [pad + text[margin:] if text.strip() else "" for text in block]
        out += ["", pad + "```", *code, pad + "```", ""]
    return out


def _blank_before_lists(lines: list[str]) -> list[str]:
    out: list[str] = []
    fenced = False
    for line in lines:
        if line.strip().startswith("```"):
            fenced = not fenced
        previous = out[-1] if out else ""
        if (
            not fenced
            and _LIST_ITEM.match(line)
            and previous.strip()
            and not _LIST_ITEM.match(previous)
            and not previous.startswith(" ")
            and not previous.strip().startswith("```")
        ):
            out.append("")
        out.append(line)
    return out


def markdown_docstring(obj: griffe.Object | griffe.Alias, text: str) -> str:
    """The Markdown form of one docstring of ``obj``."""
    lines = _blank_before_lists(_literal_blocks(text.splitlines()))
    converted: list[str] = []
    fenced = False
    for line in lines:
        if line.strip().startswith("```"):
            fenced = not fenced
        converted.append(line if fenced else _ROLE.sub(lambda match: _role(obj, match), line))
    return "\n".join(converted)


def _comment_docstring(attr: griffe.Attribute) -> str | None:
    """The ``#:`` comment lines right above an assignment (Sphinx's attribute doc comments)."""
    if attr.lineno is None:
        return None
    try:
        source = attr.lines_collection[attr.filepath]  # type: ignore[index]
    except (KeyError, TypeError, griffe.BuiltinModuleError):
        return None
    found: list[str] = []
    number = attr.lineno - 2
    while number >= 0 and source[number].strip().startswith("#:"):
        found.insert(0, source[number].strip()[2:].strip())
        number -= 1
    return "\n".join(found) or None


def _objects(obj: griffe.Object) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)  # type: ignore[arg-type]


class RstDocstrings(griffe.Extension):
    """Griffe extension: Sphinx-flavoured docstrings as Markdown (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if obj.is_attribute and obj.docstring is None:
                comment = _comment_docstring(obj)
                if comment:
                    obj.docstring = griffe.Docstring(comment, parent=obj)
            if obj.docstring is not None:
                obj.docstring.value = markdown_docstring(obj, obj.docstring.value)


def on_page_markdown(markdown: str, *, page: Any, **kwargs: Any) -> str:
    """mkdocs hook: a ``](../path)`` that leaves ``docs/`` -> that file in the repository."""
    here = posixpath.join("docs", posixpath.dirname(page.file.src_uri))

    def outside(match: re.Match[str]) -> str:
        path = posixpath.normpath(posixpath.join(here, match["path"]))
        if path == "docs" or path.startswith("docs/"):
            return match[0]
        suffix = "/" if match["path"].endswith("/") else ""
        return f"]({REPOSITORY_FILES}{path}{suffix})"

    return _RELATIVE_LINK.sub(outside, markdown)
