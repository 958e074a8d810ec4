# The verbs a newcomer needs. Every target bootstraps the virtual environment itself.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PEER   := $(VENV)/.peer-installed

.PHONY: setup browser wrk run-worker kafka test unit integration bench faults lint fmt clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev,bench]'
	touch $(STAMP)

# The bench's peer (Quix Streams), an extra of its own: it pins confluent-kafka.
$(PEER): $(STAMP)
	$(BIN)/pip install --quiet -e '.[peer]'
	touch $(PEER)

# Headless Chromium (Debian's package) for the status page test; installed when root.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "chromium is missing and installing it needs root: the status page test will skip" >&2; \
	  fi; }

# wrk (Debian's package), the HTTP load of the bench's ingress section; installed when root.
wrk:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else \
	    echo "wrk is missing and installing it needs root: the bench's ingress section will fail" >&2; \
	  fi; }

run-worker: $(STAMP)
	$(BIN)/python -m agents.run

# A local Apache Kafka (one KRaft node; jars fetched once with mvn) until Ctrl-C.
kafka: $(STAMP)
	$(BIN)/python -m agents.kafka.apache_kafka

# Everything on the broker tests/integration/brokers.py picks (Apache Kafka where java and mvn
# exist), then the smoke subset on the embedded broker, the default of `make run-worker`.
test: $(STAMP) $(PEER) browser wrk
	$(BIN)/pytest
	TEST_BROKER=embedded $(BIN)/pytest -m smoke tests/integration

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP) $(PEER) browser wrk
	$(BIN)/pytest tests/integration

bench: $(STAMP) $(PEER) wrk
	$(BIN)/python -m bench $(if $(QUICK),--quick,) $(if $(TINY),--tiny,) $(if $(SOAK),--soak $(SOAK),) $(if $(BROKER),--broker $(BROKER),)

# The fault harness (not part of `make test`): RUNS runs of each scenario, or of SCENARIO only.
faults: $(STAMP)
	$(BIN)/python -m faults --runs $(or $(RUNS),3) $(if $(QUICK),--quick,) $(if $(BROKER),--broker $(BROKER),) $(foreach s,$(SCENARIO),--scenario $(s))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
