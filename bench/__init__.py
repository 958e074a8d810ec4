"""Benchmarks of the stream processor, run as ``python -m bench`` (see ``bench.__main__``)."""
