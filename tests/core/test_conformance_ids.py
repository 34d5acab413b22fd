"""Every id the code and tests use resolves in docs/conformance.md (issue 11).

``scripts/conformance.py`` renders the meanings from ``docs/library-ids.toml``; these tests pin the
id grammar (requirement, attack-catalog and library ids, ``BIND-n`` included) and that no library
id is used without a meaning.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def conformance() -> ModuleType:
    spec = importlib.util.spec_from_file_location("conformance", ROOT / "scripts/conformance.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["conformance"] = module
    spec.loader.exec_module(module)
    return module


def test_ids_have_one_line_meanings_in_one_data_file(conformance: ModuleType) -> None:
    catalog, library = conformance.load_ids()
    assert {"A1", "K3", "T9", "P14", "S12", "X2"} <= set(catalog)
    assert len(catalog) == 92  # checklist section 15
    for meaning in [*catalog.values(), *library.values()]:
        assert meaning and "\n" not in meaning


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("def test_T9_K3_x(): ...", {"T9", "K3"}, id="catalog-in-a-test-name"),
        pytest.param("def test_FLIGHT_1_x(): ...", {"FLIGHT-1"}, id="library-underscore"),
        # Spelt in two parts, so that this example is not itself an id "used" by the tests.
        pytest.param("# BIND" + "-12: route binding", {"BIND" + "-12"}, id="BIND-any-number"),
        pytest.param("P-256 SHA-256 UTF-8 ES256 T12 0xA1", set(), id="no-look-alikes"),
    ],
)
def test_the_id_grammar(conformance: ModuleType, text: str, expected: set[str]) -> None:
    catalog, library = conformance.load_ids()
    assert conformance.ids_in(text, catalog, conformance.library_families(library)) == expected


def test_every_library_id_used_in_src_and_tests_is_defined(conformance: ModuleType) -> None:
    """BIND-n are defined by the adapters work (issue 10); everything else must resolve now."""
    catalog, library = conformance.load_ids()
    undefined = conformance.undefined_ids(catalog, library)
    assert {key for key in undefined if not key.startswith("BIND-")} == set()
