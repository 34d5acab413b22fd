"""Write docs/conformance.md: each id the code and tests use, its meaning, and the tests naming it.

Tests name the requirement they cover (``test_R9470_10_...``, a docstring, or a parametrize id).
This script reads the test sources and maps ids to tests, so the page cannot drift from the suite.
Three kinds of ids:

- checklist requirement ids (``R7519-5``, ``OIDC-4``);
- attack-catalog ids of the checklist's section 15 (``T9``, ``K3``, ``P11``);
- library-defined ids (``FLIGHT-1``, ``STORE-1``, ``BIND-3``).

The meanings of the last two kinds live in one data file, ``docs/library-ids.toml``; an id used in
``src`` or ``tests`` with a library prefix but no entry there is listed as not yet defined.

    python scripts/conformance.py [--checklist RESOURCE_SERVER_CHECKLIST.md]

With ``--checklist`` the page also lists the requirement ids that no test names yet.
"""

from __future__ import annotations

import argparse
import ast
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ID = re.compile(r"(?<![A-Za-z0-9])(R\d{4}|OIDC)[-_](\d{1,2})(?![0-9])", re.IGNORECASE)
#: Attack-catalog ids: one family letter and a number (``T9``, ``K12``); only defined ones count.
CATALOG_ID = re.compile(r"(?<![A-Za-z0-9])([AKHCTPIDMSX]\d{1,2})(?![0-9])")
#: Library ids: an upper-case family and a number, ``-`` or ``_`` between (``FLIGHT-1``,
#: ``STORE_1`` in a test name, ``BIND-12``); only families named in the data file, and ``BIND``.
LIBRARY_ID = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2,12})[-_](\d{1,3})(?![0-9])")
#: Families that are always library ids, even before the data file defines any of them.
RESERVED_FAMILIES = frozenset({"BIND"})
IDS_FILE = ROOT / "docs" / "library-ids.toml"


def load_ids(path: Path = IDS_FILE) -> tuple[dict[str, str], dict[str, str]]:
    """``(catalog, library)``: id -> one-line meaning, from the one data file."""
    with path.open("rb") as file:
        data = tomllib.load(file)
    return dict(data.get("catalog", {})), dict(data.get("library", {}))


def library_families(library: Mapping[str, str]) -> frozenset[str]:
    return frozenset(key.rpartition("-")[0] for key in library) | RESERVED_FAMILIES


def ids_in(text: str, catalog: Mapping[str, str], families: frozenset[str]) -> set[str]:
    """The catalog and library ids ``text`` names (normalised to ``FAMILY-n``)."""
    found = {match for match in CATALOG_ID.findall(text) if match in catalog}
    found |= {f"{family}-{number}" for family, number in LIBRARY_ID.findall(text)
              if family in families}  # fmt: skip
    return found


def used_ids(
    roots: Iterable[Path], catalog: Mapping[str, str], families: frozenset[str]
) -> set[str]:
    """Every catalog or library id named anywhere in the Python sources under ``roots``."""
    found: set[str] = set()
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            found |= ids_in(path.read_text(encoding="utf-8"), catalog, families)
    return found


def covered_ids(
    tests: Path,
    catalog: Mapping[str, str] | None = None,
    families: frozenset[str] = RESERVED_FAMILIES,
) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(tests.rglob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test"
            ):
                segment = "\n".join(
                    ast.get_source_segment(source, part) or ""
                    for part in [*node.decorator_list, node]
                )
                where = f"{path.relative_to(ROOT).as_posix()}::{node.name}"
                for prefix, number in ID.findall(segment):
                    found[f"{prefix.upper()}-{number}"].add(where)
                for key in ids_in(segment, catalog or {}, families):
                    found[key].add(where)
    return found


def checklist_ids(checklist: Path) -> list[str]:
    text = checklist.read_text(encoding="utf-8")
    ids = re.findall(r"\*\*((?:R\d{4}|OIDC)-\d{1,2})\*\*", text)
    return list(dict.fromkeys(ids))


def _order(key: str) -> tuple[str, int]:
    """``R9470-5`` -> ("R9470", 5), ``T9`` -> ("T", 9), ``FLIGHT-1`` -> ("FLIGHT", 1)."""
    match = re.fullmatch(r"(.*?)-?(\d+)", key)
    return (match.group(1), int(match.group(2))) if match else (key, 0)


def _tests_cell(tests: set[str]) -> str:
    ordered = sorted(tests)
    shown = "<br>".join(f"`{t}`" for t in ordered[:4])
    more = f" (+{len(ordered) - 4} more)" if len(ordered) > 4 else ""
    return (shown + more) or "-"


def _meaning_table(
    title: str, intro: str, meanings: Mapping[str, str], found: Mapping[str, set[str]]
) -> list[str]:
    lines = ["", f"## {title}", "", intro, "", "| Id | Meaning | Tests |", "|---|---|---|"]
    for key in sorted(meanings, key=_order):
        lines.append(f"| {key} | {meanings[key]} | {_tests_cell(found.get(key, set()))} |")
    return lines


def render(
    found: dict[str, set[str]],
    required: list[str],
    catalog: Mapping[str, str] | None = None,
    library: Mapping[str, str] | None = None,
    undefined: Iterable[str] = (),
) -> str:
    catalog = catalog or {}
    library = library or {}
    lines = [
        "# Conformance",
        "",
        "Each requirement id of the resource-server checklist and the tests that name it; then the",
        "attack-catalog ids and the library's own ids, each with its meaning.",
        "Generated by `python scripts/conformance.py` from the tests and `docs/library-ids.toml`;",
        "do not edit by hand.",
        "",
        "## Checklist requirements",
        "",
        "| Requirement | Tests |",
        "|---|---|",
    ]
    requirement_ids = [key for key in found if ID.fullmatch(key)]
    for key in sorted(requirement_ids, key=_order):
        lines.append(f"| {key} | {_tests_cell(found[key])} |")
    if required:
        missing = [key for key in required if key not in found]
        lines += [
            "",
            f"{len(required) - len(missing)} of {len(required)} checklist requirements are named "
            "by at least one test.",
        ]
        if missing:
            lines += ["", "Not yet named by any test: " + ", ".join(missing) + "."]
    lines += _meaning_table(
        "Attack catalog",
        "Inputs a verifier must refuse (checklist section 15), in our words.",
        catalog,
        found,
    )
    lines += _meaning_table(
        "Library ids",
        "Rules this library defines for itself.",
        library,
        found,
    )
    pending = sorted(set(undefined), key=_order)
    if pending:
        lines += ["", "Used in the code or tests but not yet defined: " + ", ".join(pending) + "."]
    return "\n".join(lines) + "\n"


def undefined_ids(catalog: Mapping[str, str], library: Mapping[str, str]) -> set[str]:
    """Library-family ids used in ``src`` or ``tests`` that the data file does not define."""
    used = used_ids((ROOT / "src", ROOT / "tests"), catalog, library_families(library))
    return {key for key in used if key not in catalog and key not in library}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checklist", type=Path)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "conformance.md")
    args = parser.parse_args()
    catalog, library = load_ids()
    families = library_families(library)
    found = covered_ids(ROOT / "tests", catalog, families)
    required = checklist_ids(args.checklist) if args.checklist else []
    undefined = undefined_ids(catalog, library)
    page = render(found, required, catalog, library, undefined)
    args.output.write_text(page, encoding="utf-8")
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"{len(found)} ids named by tests -> {shown}")


if __name__ == "__main__":
    main()
