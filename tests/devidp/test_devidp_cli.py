"""``stepup-mfa dev-idp`` starts, says how to use it, serves, and stops cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

from stepup_mfa.cli import build_parser, main


def test_dev_idp_prints_issuer_users_and_how_to_get_a_token() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from stepup_mfa.cli import main; raise SystemExit(main())",
            "dev-idp",
            "--port",
            "0",
            "--audience",
            "https://cats.example",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        banner = "".join(lines)
        issuer = next(line.split()[1] for line in lines if line.strip().startswith("issuer"))
        metadata = httpx.get(issuer + "/.well-known/oauth-authorization-server").json()
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=10)
    assert metadata["issuer"] == issuer
    assert issuer.startswith("http://127.0.0.1:")
    for expected in (
        "alice",
        "alice-password",
        "TOTP secret",
        "otpauth://totp/",
        "login(",
        "https://cats.example",
    ):
        assert expected in banner
    assert process.returncode == 0, err


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10"])
def test_dev_idp_refuses_non_loopback_binds(host: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dev-idp", "--host", host, "--port", "0"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_the_cli_is_a_set_of_subcommands() -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([])
    assert exited.value.code == 2
