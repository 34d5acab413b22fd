"""The API reference covers every public name, and every docstring names its parameters (issue 12).

The public surface is ``stepup_mfa.__all__`` and the ``__all__`` of the public modules (routes, the
testing kit, the old ``asgi``/``wsgi`` paths, every ``stepup_mfa.adapters.*`` and
``stepup_mfa.integrations.*`` module whose name has no leading underscore). A module without
``__all__`` exports the classes and functions it defines and its UPPER_CASE constants.

The rules, checked on the docstrings exactly as the site renders them (griffe with the site's own
extension, ``docs/reference/_docs_ext.py``):

- DOC-1: every public name is rendered by a ``::: path`` block of ``docs/reference/*.md`` (a path
  that resolves to the same object: a re-export is documented once, where it lives), and every
  rendered object, and every public method of a rendered class, has a non-empty docstring.
- DOC-2: every parameter of a rendered function, of a rendered class's constructor and of each
  public method the class defines (properties and overloads aside) is named in code markup
  (```name```, ```name=...```, ```*name```) in the callable's own docstring or in its class's
  docstring; a method may also rely on the docstring of the method it overrides in a base class
  of this package, and a constructor on the docstrings of the class's attributes (a dataclass
  field with a ``#:`` comment). ``self`` and ``cls`` are exempt, ``*args``/``**kwargs`` are not.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import griffe
import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
REFERENCE = ROOT / "docs" / "reference"
EXTENSION = REFERENCE / "_docs_ext.py"
DIRECTIVE = re.compile(r"^::: (?P<path>\S+)\s*$")
FIXED_MODULES = [
    "stepup_mfa",
    "stepup_mfa.routes",
    "stepup_mfa.testing",
    "stepup_mfa.asgi",
    "stepup_mfa.wsgi",
]


def public_modules() -> list[str]:
    found = list(FIXED_MODULES)
    for package in ("adapters", "integrations"):
        folder = SRC / "stepup_mfa" / package
        found += [
            f"stepup_mfa.{package}.{info.name}"
            for info in pkgutil.iter_modules([str(folder)])
            if not info.name.startswith("_")
        ]
    return found


def public_names(module: ModuleType) -> list[str]:
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return list(exported)
    names = []
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if inspect.isclass(value) or inspect.isfunction(value):
            if value.__module__ == module.__name__:
                names.append(name)
        elif name.isupper() and not inspect.ismodule(value) and not isinstance(value, TypeVar):
            names.append(name)
    return names


@dataclass(frozen=True)
class Directive:
    path: str
    where: str  # file:line, for the failure message


def directives() -> list[Directive]:
    found = []
    for page in sorted(REFERENCE.glob("**/*.md")):
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
            match = DIRECTIVE.match(line)
            if match:
                found.append(Directive(match["path"], f"{page.relative_to(ROOT)}:{number}"))
    return found


def resolve(path: str) -> Any:
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            value = getattr(value, attribute)
        return value
    raise LookupError(path)


def is_code(value: Any) -> bool:
    return inspect.isclass(value) or inspect.isroutine(value) or inspect.ismodule(value)


def documents(directive: Directive, module: str, name: str) -> bool:
    value = getattr(importlib.import_module(module), name)
    try:
        target = resolve(directive.path)
    except (LookupError, AttributeError):
        return False
    if target is not value:
        return False
    return is_code(value) or directive.path.rsplit(".", 1)[-1] == name


PUBLIC = [
    (module, name)
    for module in public_modules()
    for name in public_names(importlib.import_module(module))
]
DIRECTIVES = directives()


@cache
def package() -> griffe.Module:
    extensions = griffe.load_extensions(f"{EXTENSION}:RstDocstrings")
    loaded = griffe.load(
        "stepup_mfa", search_paths=[str(SRC)], extensions=extensions, resolve_aliases=True
    )
    assert isinstance(loaded, griffe.Module)
    return loaded


def rendered(path: str) -> griffe.Object:
    relative = path.removeprefix("stepup_mfa").lstrip(".")
    obj = package()[relative] if relative else package()
    return obj.final_target if obj.is_alias else obj  # type: ignore[no-any-return]


def docstring(obj: griffe.Object | None) -> str:
    return obj.docstring.value if obj is not None and obj.docstring is not None else ""


def mentions(text: str, name: str) -> bool:
    """``name`` in code markup: ``name``, `name`, ``name=...`` or ``*name``."""
    return re.search(rf"`[*]{{0,2}}{re.escape(name)}(?:[=`\[(.:]|\s|[-,]|$)", text) is not None


def documented_attributes(cls: griffe.Class) -> str:
    """Markup naming the class's attributes that have docstrings (a dataclass's fields)."""
    return " ".join(
        f"``{name}``"
        for name, member in cls.members.items()
        if not member.is_alias and member.is_attribute and docstring(member).strip()
    )


def inherited_docstrings(cls: griffe.Class, name: str) -> str:
    """The docstrings of method ``name`` in the class's bases of this package (a protocol's)."""
    texts = []
    for base in cls.mro():
        member = base.members.get(name)
        if member is not None and not member.is_alias:
            texts.append(docstring(member))
    return "\n".join(texts)


def callables(obj: griffe.Object) -> list[tuple[str, griffe.Function, str]]:
    """(label, function, the docstring text that may name its parameters) for one object."""
    if isinstance(obj, griffe.Function):
        return [(obj.path, obj, docstring(obj))]
    if not isinstance(obj, griffe.Class):
        return []
    found: list[tuple[str, griffe.Function, str]] = []
    init = obj.members.get("__init__")
    if isinstance(init, griffe.Function):
        text = "\n".join([docstring(obj), docstring(init), documented_attributes(obj)])
        found.append((f"{obj.path}()", init, text))
    for name, member in obj.members.items():
        if name.startswith("_") or member.is_alias or not isinstance(member, griffe.Function):
            continue
        if "property" in member.labels or member.overloads:
            continue
        text = "\n".join([docstring(member), inherited_docstrings(obj, name), docstring(obj)])
        found.append((member.path, member, text))
    return found


@pytest.mark.parametrize(("module", "name"), PUBLIC, ids=[f"{m}.{n}" for m, n in PUBLIC])
def test_DOC_1_every_public_name_is_in_the_reference(module: str, name: str) -> None:
    assert any(documents(directive, module, name) for directive in DIRECTIVES), (
        f"{module}.{name} is public but no '::: path' block of docs/reference renders it"
    )


@pytest.mark.parametrize("directive", DIRECTIVES, ids=[d.where for d in DIRECTIVES])
def test_DOC_1_every_rendered_object_has_a_docstring(directive: Directive) -> None:
    """The object, and each public method its class defines (the reference shows only those
    with a docstring)."""
    obj = rendered(directive.path)
    undocumented = [obj.path] if not docstring(obj).strip() else []
    if isinstance(obj, griffe.Class):
        undocumented += [
            member.path
            for name, member in obj.members.items()
            if not name.startswith("_")
            and not member.is_alias
            and isinstance(member, griffe.Function)
            and not docstring(member).strip()
        ]
    assert undocumented == [], "no docstring: " + ", ".join(undocumented)


@pytest.mark.parametrize("directive", DIRECTIVES, ids=[d.where for d in DIRECTIVES])
def test_DOC_2_every_parameter_is_named_in_its_docstring(directive: Directive) -> None:
    missing = [
        f"{label}: {parameter.name}"
        for label, function, text in callables(rendered(directive.path))
        for parameter in function.parameters
        if parameter.name not in {"self", "cls"} and not mentions(text, parameter.name)
    ]
    assert missing == [], "parameters no docstring names:\n" + "\n".join(missing)
