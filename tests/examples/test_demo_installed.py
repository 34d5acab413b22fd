"""DEMO-1 (issue 12): ``stepup-mfa demo`` from an installed package, not only from a checkout.

The wheel is built offline from a copy of the project (the PEP 517 backend, as
tests/api/test_packaging.py does), installed with ``pip install --no-index --no-deps`` into a
fresh virtual environment whose only other entry is this environment's site-packages (for the
dependencies, added by a ``.pth`` line, so the checkout's editable ``.pth`` is not processed),
and run from an empty folder: no checkout on ``sys.path``, no ``examples/`` in sight.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _setuptools_major() -> int:
    try:
        return int(version("setuptools").split(".")[0])
    except Exception:
        return 0


pytestmark = pytest.mark.skipif(_setuptools_major() < 77, reason="building needs setuptools>=77")


def _run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env = {k: v for k, v in env.items() if not k.startswith("STEPUP_")}
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh venv with the wheel installed."""
    base = tmp_path_factory.mktemp("installed")
    project = base / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "src" / "stepup_mfa",
        project / "src" / "stepup_mfa",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    dist = base / "dist"
    dist.mkdir()
    build = (
        "import sys; from setuptools import build_meta as b; "
        "print('BUILT', b.build_wheel(sys.argv[1]))"
    )
    built = _run([sys.executable, "-c", build, str(dist)], project)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = dist / next(
        line.split()[1] for line in built.stdout.splitlines() if line.startswith("BUILT ")
    )

    venv = base / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], base)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base
    )
    site = Path(purelib.stdout.strip())
    # The dependencies (Flask, Starlette, uvicorn, authlib...) from this environment, read as a
    # plain directory: its .pth files (the checkout's editable install) are not processed.
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install"]
    done = _run([*pip, "--no-index", "--no-deps", "--no-compile", str(wheel)], base)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin"


def test_DEMO_1_the_installed_package_is_the_one_imported(installed: Path, tmp_path: Path) -> None:
    """DEMO-1: in the fresh venv ``stepup_mfa`` comes from the wheel, and neither the checkout
    nor its ``src`` is on ``sys.path``."""
    probe = "import sys, stepup_mfa; print(stepup_mfa.__file__); print('\\n'.join(sys.path))"
    result = _run([str(installed / "python"), "-c", probe], tmp_path)
    assert result.returncode == 0, result.stderr
    module, *path = result.stdout.splitlines()
    assert Path(module).is_relative_to(installed.parent), module
    assert str(ROOT / "src") not in path and str(ROOT) not in path


def test_DEMO_1_demo_runs_from_an_installed_package_in_an_empty_folder(
    installed: Path, tmp_path: Path
) -> None:
    """DEMO-1: ``stepup-mfa demo`` in an empty folder: the seed scenario and the DPoP step."""
    result = _run([str(installed / "stepup-mfa"), "demo", "--max-age", "2"], tmp_path, 180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All 11 steps answered as the seed scenario requires." in result.stdout
    assert str(ROOT) not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []  # the demo leaves the folder as it found it


def test_DEMO_1_flask_introspection_demo_runs_installed(installed: Path, tmp_path: Path) -> None:
    """DEMO-1: the other example and token mode, from the installed package too."""
    argv = [str(installed / "stepup-mfa"), "demo", "--app", "flask", "--max-age", "2"]
    result = _run([*argv, "--token-mode", "introspection"], tmp_path, 180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All 11 steps answered" in result.stdout


def test_DEMO_1_mcp_demo_runs_installed(installed: Path, tmp_path: Path) -> None:
    """DEMO-1, MCP-7: ``--app mcp`` from the installed package (the mcp extra is present)."""
    result = _run(
        [str(installed / "stepup-mfa"), "demo", "--app", "mcp", "--max-age", "3"], tmp_path, 180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All 6 steps answered" in result.stdout


def test_DEMO_1_gateway_demo_runs_installed(installed: Path, tmp_path: Path) -> None:
    """DEMO-1, GW-2: ``--gateway nginx`` from the installed package (its configuration ships
    too); the DPoP step is left out, the proxies' configurations forward no DPoP header."""
    if shutil.which("nginx", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", "")) is None:
        pytest.skip("nginx is not installed (.ci/run installs it)")
    argv = [str(installed / "stepup-mfa"), "demo", "--gateway", "nginx", "--max-age", "2"]
    result = _run(argv, tmp_path, 180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All 10 steps answered as the seed scenario requires." in result.stdout
