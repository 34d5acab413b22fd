"""A missing extra is one line naming it, never a framework's traceback (issue 12).

Each case runs a fresh interpreter with a ``sys.meta_path`` finder that makes the extra's modules
unimportable, as in an environment where the extra was never installed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

HIDE = """
import sys

HIDDEN = {hidden!r}


class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, Hide())
"""


def run(hidden: set[str], code: str) -> subprocess.CompletedProcess[str]:
    script = HIDE.format(hidden=sorted(hidden)) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("module", "hidden", "extra"),
    [
        ("stepup_mfa.integrations.flask", {"flask"}, "flask"),
        ("stepup_mfa.integrations.flask", {"werkzeug"}, "flask"),
        ("stepup_mfa.integrations.starlette", {"starlette"}, "starlette"),
        ("stepup_mfa.integrations.fastapi", {"fastapi"}, "fastapi"),
        ("stepup_mfa.integrations.fastapi", {"fastapi", "starlette"}, "fastapi"),
        ("stepup_mfa.wsgi", {"werkzeug", "flask"}, "flask"),
        ("stepup_mfa.integrations.redis", {"redis"}, "redis"),
        ("stepup_mfa.devidp", {"authlib"}, "devidp"),
        ("stepup_mfa.devidp", {"pyotp"}, "devidp"),
        ("stepup_mfa.devidp", {"segno"}, "devidp"),
    ],
)
def test_an_import_without_its_extra_names_the_extra_in_one_line(
    module: str, hidden: set[str], extra: str
) -> None:
    result = run(
        hidden,
        f"""
        try:
            import {module}
        except ImportError as error:
            chained = error.__cause__ is not None or (
                error.__context__ is not None and not error.__suppress_context__
            )
            print(type(error).__name__, "chained" if chained else "alone", error, sep="|")
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    kind, chained, message = lines[0].split("|")
    assert kind == "ModuleNotFoundError"  # an ImportError, as before: ``except`` clauses still work
    assert chained == "alone"
    assert message.startswith(f"{module} needs the {extra} extra (")
    assert message.endswith(f"pip install 'stepup-mfa[{extra}]'")


def test_an_uncaught_import_error_shows_no_framework_frames() -> None:
    """Uncaught, Python prints the importing line and the hint: nothing from inside Flask, no
    "During handling of the above exception"."""
    result = run({"flask"}, "import stepup_mfa.integrations.flask\n")
    assert result.returncode == 1
    assert "During handling" not in result.stderr
    assert "direct cause" not in result.stderr
    frames = [line for line in result.stderr.splitlines() if line.lstrip().startswith("File ")]
    assert len(frames) == 2, result.stderr  # the caller's line and the shim's ``raise``
    assert "adapters" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "ModuleNotFoundError: stepup_mfa.integrations.flask needs the flask extra "
        "(flask is not installed): pip install 'stepup-mfa[flask]'"
    )


def test_the_core_and_pure_asgi_need_no_extra() -> None:
    """``pip install stepup-mfa`` pulls no framework, authlib or pyotp, and needs none of them."""
    hidden = {
        "authlib",
        "pyotp",
        "segno",
        "flask",
        "werkzeug",
        "starlette",
        "fastapi",
        "redis",
        "uvicorn",
    }
    result = run(
        hidden,
        """
        import stepup_mfa, stepup_mfa.asgi, stepup_mfa.routes, stepup_mfa.cli, stepup_mfa.testing
        import stepup_mfa._settings, stepup_mfa._explain
        from stepup_mfa import StepUpSettings
        settings = StepUpSettings.from_env(
            {"STEPUP_ISSUER": "https://idp.example.com", "STEPUP_AUDIENCE": "https://api"}
        )
        settings.verifier()
        print("ok")
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


@pytest.mark.parametrize(
    ("command", "hidden", "extra"),
    [
        ("dev-idp", {"authlib"}, "devidp"),
        ("dev-idp", {"pyotp"}, "devidp"),
        ("dev-idp", {"flask"}, "devidp"),
        ("demo", {"uvicorn"}, "demo"),
        ("demo", {"pyotp"}, "demo"),
        ("demo", {"starlette"}, "demo"),
    ],
)
def test_a_command_without_its_extra_prints_one_line_and_exits_2(
    command: str, hidden: set[str], extra: str
) -> None:
    result = run(
        hidden,
        f"""
        from stepup_mfa.cli import main
        raise SystemExit(main([{command!r}]))
        """,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    (missing,) = hidden
    assert line == (
        f"stepup-mfa {command} needs the {extra} extra ({missing} is not installed): "
        f"pip install 'stepup-mfa[{extra}]'"
    )


def test_project_dependencies_leave_the_development_server_to_its_extra() -> None:
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads(
        (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    )
    project = pyproject["project"]
    names = {spec.split(">")[0].split("[")[0].lower() for spec in project["dependencies"]}
    assert names == {"joserfc", "cryptography", "cachetools", "httpx"}
    devidp = {spec.split(">")[0] for spec in project["optional-dependencies"]["devidp"]}
    assert {"authlib", "pyotp"} <= devidp
    assert any("devidp" in spec for spec in project["optional-dependencies"]["demo"])
