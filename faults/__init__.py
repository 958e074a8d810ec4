"""The fault harness: kill workers and brokers under load, and count what was lost."""
