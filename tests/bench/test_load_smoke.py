"""CI smoke of ``bench/load.py --smoke`` (LOAD-1): 4 uvicorn and 2 gunicorn workers sharing one
real redis-server, through a key rotation and an introspection outage. Correctness only: every
counter of a wrong answer is zero and memory stays bounded; never a time or a rate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRONG = (
    "wrongful_200",
    "unexpected_5xx",
    "503_with_cached_answer",
    "503_other",
    "rotation_refusals",
    "wrongful_refusals",
    "other_mismatches",
    "transport_errors",
)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (CI installs it in .ci/run)")
        pytest.skip("needs redis-server")
    out = tmp_path_factory.mktemp("load") / "load.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), "--smoke", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert out.exists(), result.stdout + result.stderr
    raw: dict[str, Any] = json.loads(out.read_text())
    raw["returncode"], raw["stdout"] = result.returncode, result.stdout
    return raw


def test_LOAD_1_no_request_gets_a_wrong_answer(smoke: dict[str, Any]) -> None:
    """No wrongful 200, no 5xx but 503, no 503 where a cached answer existed, no valid token
    refused (after the key rotation or otherwise), every refusal the one its token calls for."""
    counts = smoke["counts"]
    assert {name: counts[name] for name in WRONG} == dict.fromkeys(WRONG, 0), smoke["examples"]
    assert smoke["worker_log_tracebacks"] == 0


def test_LOAD_1_the_faults_happened_and_were_survived(smoke: dict[str, Any]) -> None:
    """The rotation sent tokens with the new key, and the outage was served from caches."""
    assert smoke["workers"] == {"uvicorn": 4, "gunicorn": 2}
    assert smoke["kinds"]["valid-after-rotation"] > 0
    assert smoke["counts"]["opaque_answered_in_outage"] > 0
    assert smoke["events"]["outage_from_s"] < smoke["events"]["outage_to_s"]


def test_LOAD_1_memory_is_bounded_past_the_caches_size(smoke: dict[str, Any]) -> None:
    memory = smoke["memory"]
    assert memory["refused"] == 0
    assert memory["tokens"] >= 2 * memory["local_maxsize"]  # well past what the caches hold
    assert memory["growth_after_warm_kib"] <= 16 * 1024
    assert smoke["bounded_memory"]


def test_LOAD_1_the_table_prints_and_the_run_says_correct(smoke: dict[str, Any]) -> None:
    assert smoke["returncode"] == 0, smoke["stdout"]
    assert "| wrongful 200 | 0 |" in smoke["stdout"]
    assert "| verdict | correct |" in smoke["stdout"]
