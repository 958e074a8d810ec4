#!/bin/sh
# Runs the worker against the Kafka cluster named by KAFKA_BROKER. Never starts the embedded
# broker: without KAFKA_BROKER the container stops with an error.
# With arguments it runs that CLI command instead, e.g. `tail exposure --count 3` or
# `replay --dry-run`.
set -eu

: "${KAFKA_BROKER:?KAFKA_BROKER must name the Kafka bootstrap servers, e.g. kafka://kafka:9092}"
mkdir -p "${DATA_DIR:-/data}"

if [ "$#" -eq 0 ]; then
    set -- worker --loglevel "${LOG_LEVEL:-info}"
fi
exec python -m agents "$@"
