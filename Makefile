# The two commands of the README. Each sets up .venv itself on first use.
VENV ?= .venv
PEERS ?= 4
CHEATERS ?= 1

.PHONY: devnet test setup
setup:
	@bash scripts/setup.sh

devnet: setup
	$(VENV)/bin/swarm devnet --peers $(PEERS) --cheaters $(CHEATERS)

test: setup
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)
