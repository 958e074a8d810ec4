"""Run a snippet in a fresh interpreter: the app reads its settings once, when it is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def stdout_of(code: str, drop: Callable[[str], bool], **env: str) -> str:
    """What ``code`` prints, run with this environment less the names ``drop`` picks, plus
    ``env``."""
    clean = {name: value for name, value in os.environ.items() if not drop(name)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def start_refusal(**env: str) -> str:
    """The last line the worker prints when it refuses to start with ``env`` alone (no
    broker configured), after checking that it did exit with code 1."""
    completed = subprocess.run(
        [sys.executable, "-m", "agents.run"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1, completed.stderr[-2000:]
    return completed.stderr.strip().splitlines()[-1]
