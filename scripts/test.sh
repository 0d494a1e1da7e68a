#!/usr/bin/env bash
# Sets up the test environment on a fresh machine and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
python -m ruff check src tests bench
python -m mypy
python -m pytest -q "$@"
