"""CI smoke of ``bench/run.py --quick``: every row answers, the table prints. Never a time."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install -y wrk)")
def test_bench_run_quick_answers_every_row(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from _servers import ASGI_VARIANTS, WSGI_VARIANTS
    finally:
        sys.path.remove(str(ROOT / "bench"))
    raw = json.loads(out.read_text())
    # run.py exits non-zero unless every server row answered 200 to the token (and 401 without
    # one where protected) and wrk saw no non-2xx answer: here, only that every row is there.
    assert set(raw["requests_per_second"]) == {*ASGI_VARIANTS, *WSGI_VARIANTS}
    assert all(v and min(v) > 0 for v in raw["requests_per_second"].values())
    # uvloop and httptools are in the dev extra: the headline rows use them, and the same apps
    # run again under asyncio and h11.
    assert raw["uvicorn_stack"] == "uvloop + httptools"
    h11_rows = {"bare", "bare-control", "middleware", "decorator", "fastapi-bare", "fastapi"}
    assert set(raw["requests_per_second_h11"]) == h11_rows
    assert all(v and min(v) > 0 for v in raw["requests_per_second_h11"].values())
    assert set(raw["cold_verify_seconds"]) == {"RS256", "ES256", "PS256", "EdDSA"}
    assert raw["in_process_seconds"]["middleware"] and raw["in_process_seconds"]["fastapi"]
    table = result.stdout
    assert "| setup | row | absolute (median) | ratio |" in table
    for label in ("bare Starlette", "stepup-mfa ASGI middleware", "stepup-mfa Flask extension",
                  "peer: PyJWT + dict cache", "cold verify EdDSA", "bare FastAPI",
                  "(uvloop + httptools)", "(asyncio + h11)",
                  "control: bare Starlette again"):  # fmt: skip
        assert label in table
