"""Session-wide: the test log's header names the broker the integration tests will use."""

from __future__ import annotations

import pytest

from tests.integration.brokers import choose


def pytest_report_header(config: pytest.Config) -> str:
    return f"broker for the integration tests: {choose().describe()}"
