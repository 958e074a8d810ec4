"""The README's configuration reference names every environment variable the worker reads."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_READS = re.compile(
    r"""(?:_int|_float|_str|_bool|_choice|os\.environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def test_every_environment_variable_the_worker_reads_is_documented() -> None:
    read = {
        name
        for path in (REPO / "agents").rglob("*.py")
        for name in _READS.findall(path.read_text())
    }
    readme = (REPO / "README.md").read_text()
    assert read, "the pattern finds the settings"
    assert sorted(name for name in read if f"`{name}`" not in readme) == []
