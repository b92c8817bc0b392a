# The two commands of the README: `make demo` (the main job) and `make test` (lint, types, the suite).
# Both set up .venv first (scripts/setup.sh; a no-op when nothing changed).
.PHONY: setup demo lint test test-fast

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/edgeopt demo

# ruff (style, bugs) on everything Python; strict mypy on src/ (configured in pyproject.toml).
lint: setup
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/mypy

# scripts/with_postgres.sh: a throwaway PostgreSQL for the Optuna storage tests around pytest
# (started before, EDGEOPT_TEST_POSTGRES_URL exported, stopped after; pytest's exit code is kept).
test: lint
	bash scripts/with_postgres.sh .venv/bin/python -m pytest -q

test-fast: lint
	bash scripts/with_postgres.sh .venv/bin/python -m pytest -q -m "not slow"
