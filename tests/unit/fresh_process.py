"""Run a snippet in a fresh interpreter: the app reads its settings once, when it is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable


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
