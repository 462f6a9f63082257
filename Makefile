# The two commands of the README. Each sets up .venv itself on first use.
VENV ?= .venv
PEERS ?= 4

.PHONY: devnet test setup
setup:
	@bash scripts/setup.sh

devnet: setup
	$(VENV)/bin/swarm devnet --peers $(PEERS)

test: setup
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)
