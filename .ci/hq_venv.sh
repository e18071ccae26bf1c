#!/usr/bin/env bash
# A Python venv with HyperQueue's PyPI wheel (server, worker and client in one; no `hq` CLI) for
# tests/engine_hyperqueue.rs. Usage: .ci/hq_venv.sh [VENV_DIR]  (default target/ci-hqenv);
# prints nothing but timing; the python is VENV_DIR/bin/python (CHUNKWISE_HQ_PYTHON).
set -euo pipefail
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
T=$(date +%s%N)
VENV="${1:-target/ci-hqenv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "hyperqueue==0.27.0"
"$VENV/bin/python" -c 'import hyperqueue' 
echo "   hyperqueue venv ($VENV): $(ms "$T") ms"
