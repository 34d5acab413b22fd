"""Packaging (issue 12): one version everywhere, and the licence ships with the code."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

import stepup_mfa
from stepup_mfa.cli import main

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: MD5 of https://www.apache.org/licenses/LICENSE-2.0.txt, byte for byte.
APACHE_2_0_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"


def test_version_is_the_installed_distributions() -> None:
    assert stepup_mfa.__version__ == version("stepup-mfa") == PYPROJECT["project"]["version"]


def test_version_option_prints_the_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stepup_mfa", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"stepup-mfa {stepup_mfa.__version__}\n"


def test_version_option_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"stepup-mfa {stepup_mfa.__version__}\n"


def test_license_is_the_complete_apache_2_0_text() -> None:
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.md5(text, usedforsecurity=False).hexdigest() == APACHE_2_0_MD5
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    # SPDX license expressions and license-files (PEP 639) need setuptools 77.
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]


def _setuptools_version() -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version("setuptools").split(".")[:1])
    except Exception:
        return (0,)


@pytest.mark.skipif(_setuptools_version() < (77,), reason="building needs setuptools>=77")
def test_wheel_and_sdist_carry_the_license(tmp_path: Path) -> None:
    """Build both from a copy of the project with the PEP 517 backend (no network)."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "src" / "stepup_mfa",
        project / "src" / "stepup_mfa",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    out = tmp_path / "dist"
    out.mkdir()
    names = []
    for hook in ("build_wheel", "build_sdist"):  # one process each, as a PEP 517 frontend does
        build = (
            "import sys; from setuptools import build_meta as b; "
            f"print('BUILT', b.{hook}(sys.argv[1]))"
        )
        result = subprocess.run(
            [sys.executable, "-c", build, str(out)],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        built = [line for line in result.stdout.splitlines() if line.startswith("BUILT ")]
        names.append(built[-1].split()[1])
    wheel_name, sdist_name = names
    license_text = (ROOT / "LICENSE").read_bytes()
    with zipfile.ZipFile(out / wheel_name) as wheel:
        dist_info = next(n.split("/")[0] for n in wheel.namelist() if ".dist-info/" in n)
        assert wheel.read(f"{dist_info}/licenses/LICENSE") == license_text
        metadata = wheel.read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    with tarfile.open(out / sdist_name) as sdist:
        top = sdist_name.removesuffix(".tar.gz")
        member = sdist.extractfile(f"{top}/LICENSE")
        assert member is not None
        assert member.read() == license_text
