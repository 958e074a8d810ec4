"""The HTTP side of the worker: the Events API, the Console and metric reads, the status page."""
