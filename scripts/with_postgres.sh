#!/usr/bin/env bash
# Run a command (the test suite) with the throwaway PostgreSQL of scripts/postgres.sh:
#   scripts/with_postgres.sh .venv/bin/python -m pytest -q
# starts the server, exports EDGEOPT_TEST_POSTGRES_URL, runs the command, stops the server (even when
# the command fails or is interrupted) and exits with the command's status. When the server cannot
# start (no PostgreSQL binaries: exit 3), the command runs without the variable and the PostgreSQL
# tests skip (or fail when CI=true: tests/conftest.py).
set -euo pipefail
here=$(dirname "$0")

if url=$(bash "$here/postgres.sh" start); then
    export EDGEOPT_TEST_POSTGRES_URL=$url
    trap 'bash "$here/postgres.sh" stop' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
else
    echo "with_postgres.sh: no PostgreSQL (scripts/postgres.sh start: exit $?); its tests will skip" >&2
fi

"$@"
