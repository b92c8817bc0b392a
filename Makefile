# The two commands of the README: `make demo` (the main job) and `make test` (the suite).
# Both set up .venv first (scripts/setup.sh; a no-op when nothing changed).
.PHONY: setup demo test test-fast

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/edgeopt demo

test: setup
	.venv/bin/python -m pytest -q

test-fast: setup
	.venv/bin/python -m pytest -q -m "not slow"
