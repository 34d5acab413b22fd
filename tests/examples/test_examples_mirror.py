"""DEMO-1: the example apps exist once. ``stepup_mfa/_demo_apps`` is what ``stepup-mfa demo``
runs (also from an installed package); ``examples/`` holds byte-identical copies to read."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepup_mfa._demo import DEMO_APPS

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("starlette_app", "flask_app", "mcp_server", "gateway")


def _files(folder: Path, skip: str) -> set[str]:
    return {
        path.name
        for path in folder.iterdir()
        if path.is_file() and path.name != skip and path.suffix != ".pyc"
    }


@pytest.mark.parametrize("folder", FOLDERS)
def test_DEMO_1_examples_are_the_packaged_demo_apps(folder: str) -> None:
    """DEMO-1: the same files, the same bytes (edit ``src/stepup_mfa/_demo_apps/<folder>`` and
    copy the file to ``examples/<folder>``)."""
    packaged, example = DEMO_APPS / folder, ROOT / "examples" / folder
    assert _files(packaged, "__init__.py") == _files(example, "README.md")
    for name in _files(packaged, "__init__.py"):
        assert (packaged / name).read_bytes() == (example / name).read_bytes(), (
            f"examples/{folder}/{name} differs from src/stepup_mfa/_demo_apps/{folder}/{name}"
        )


def test_DEMO_1_every_example_folder_is_packaged() -> None:
    """DEMO-1: a new example folder is shipped too (or the demo could not run it installed)."""
    folders = {path.name for path in (ROOT / "examples").iterdir() if path.is_dir()}
    assert folders == set(FOLDERS)
