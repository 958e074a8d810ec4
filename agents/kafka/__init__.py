"""Kafka-client code: delivery with acknowledgements, commits, reading, the brokers we start."""
