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

# $(call debian_package,NAME,WHAT GOES WITHOUT IT): Debian's package NAME (its command has
# the same name), installed when root.
debian_package = @command -v $(1) >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); \
	  else \
	    echo "$(1) is missing and installing it needs root: $(2)" >&2; \
	  fi; }

# Headless Chromium for the status page test.
browser:
	$(call debian_package,chromium,the status page test will skip)

# wrk, the HTTP load of the bench's ingress section.
wrk:
	$(call debian_package,wrk,the bench's ingress section will fail)

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
