"""Every Python block of README.md and docs/ runs as written (issue 12, DOC-3).

A page is read top to bottom, so a block runs after the page's earlier blocks, in one namespace,
in a fresh interpreter (a subprocess with a timeout) whose working directory is a new temporary
folder. The HTML comment on the line right before a fence (invisible on the rendered page) says
what else to do with the block:

- ``<!-- fragment: why -->``: not run (an excerpt, or code that needs a real external server);
  the reason is required.
- ``<!-- pytest -->``: the block is a test module: it is run by pytest, alone, and must pass.
- ``<!-- file: NAME -->`` (any language): the block is written to ``NAME`` in the working folder
  before the page's Python blocks run, so a page can show a file and the code that reads it.

Tests are named by the block's ``file:line``, and tracebacks point at the Markdown lines.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
TIMEOUT = 120.0
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>fragment|pytest|file)\b\s*:?\s*(?P<arg>.*?)\s*-->\s*$")
FILE_NAME = re.compile(r"[A-Za-z0-9_.-]+")

#: Runs a page's blocks in one namespace; each is compiled under its Markdown file name and padded
#: so that a traceback's line numbers are the page's own.
DRIVER = """
import json, sys
namespace = {"__name__": "__main__"}
for filename, line, code in json.load(sys.stdin):
    exec(compile("\\n" * line + code, filename, "exec"), namespace)
"""


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line number of the opening fence
    lang: str
    code: str
    kind: str  # "run", "fragment", "pytest" or "file"
    arg: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        start = index
        indent = opening["indent"]
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index])
            index += 1
        index += 1  # the closing fence
        marker = MARKER.match(lines[start - 1]) if start > 0 else None
        kind, arg = (marker["kind"], marker["arg"]) if marker else ("run", "")
        code = textwrap.dedent("\n".join(body)) if indent else "\n".join(body)
        found.append(Block(page, start + 1, opening["lang"], code + "\n", kind, arg))
    return found


def lines_and_next(page: Path) -> list[tuple[int, str, str]]:
    lines = page.read_text(encoding="utf-8").splitlines()
    return [(number, line, ([*lines, ""])[number]) for number, line in enumerate(lines, start=1)]


ALL = [block for page in PAGES for block in blocks(page)]
PYTHON = [block for block in ALL if block.lang == "python"]
RUN = [block for block in PYTHON if block.kind in {"run", "pytest"}]


def prepare(folder: Path, block: Block) -> None:
    for other in blocks(block.page):
        if other.kind == "file":
            (folder / other.arg).write_text(other.code, encoding="utf-8")


def run(command: list[str], folder: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    return subprocess.run(
        command,
        input=stdin,
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize("block", RUN, ids=[block.where for block in RUN])
def test_DOC_3_python_block_runs_as_written(block: Block, tmp_path: Path) -> None:
    prepare(tmp_path, block)
    if block.kind == "pytest":
        (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (tmp_path / "test_snippet.py").write_text("\n" * (block.line) + block.code)
        result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path)
        if result.returncode != 0 or " passed" not in result.stdout:
            pytest.fail(f"{block.where}: {result.stdout[-3000:]}{result.stderr[-2000:]}", False)
        return
    page = [b for b in blocks(block.page) if b.lang == "python" and b.kind == "run"]
    upto = page[: page.index(block) + 1]
    script = json.dumps([[str(b.page.relative_to(ROOT)), b.line, b.code] for b in upto])
    result = run([sys.executable, "-c", DRIVER], tmp_path, stdin=script)
    if result.returncode != 0:
        pytest.fail(f"{block.where} does not run:\n{result.stderr[-4000:]}", pytrace=False)


def test_DOC_3_every_marker_is_well_formed() -> None:
    """A marker stands right above a fence; a fragment says why; a file block names a plain
    file; a pytest block is Python."""
    problems = [
        f"{page.relative_to(ROOT)}:{number}: a marker not followed by a fence"
        for page in PAGES
        for number, line, after in lines_and_next(page)
        if MARKER.match(line) and not FENCE.match(after)
    ]
    problems += [
        f"{block.where}: {block.kind} {block.arg!r}"
        for block in ALL
        if (block.kind == "fragment" and not block.arg)
        or (block.kind == "file" and not FILE_NAME.fullmatch(block.arg))
        or (block.kind == "pytest" and (block.lang != "python" or block.arg))
    ]
    assert problems == []


def test_DOC_3_the_pages_have_python_blocks_to_run() -> None:
    """The collection itself works: README.md and docs/ do have runnable blocks."""
    assert len(RUN) >= 20
    assert {block.page.name for block in RUN} >= {"README.md", "adapters.md", "testing.md"}
