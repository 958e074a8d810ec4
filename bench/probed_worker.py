"""``python -m bench.probed_worker``: the real worker (``agents.run``) with the bench's probe.

The environment must name the broker (``KAFKA_BROKER``): the app reads it at import, which here
happens before ``agents.run`` would start an embedded broker.
"""

from __future__ import annotations

from agents import run
from agents.app import app
from bench import probe

if __name__ == "__main__":
    probe.install(app)
    run.main()
