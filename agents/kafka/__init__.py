"""Kafka-client code: delivery with acknowledgements, topic reading, the brokers the project starts."""
