#!/usr/bin/env bash
# Sets up interspect on a fresh machine and explains the offline LLM's answer to the bundled question,
# writing out/report.html and out/explanation.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p out
interspect explain --model smollm2 --html out/report.html --json out/explanation.json --progress "$@"
echo "report: $(pwd)/out/report.html"
