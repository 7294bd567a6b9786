# Sourced by scripts/run and scripts/test: a virtualenv with the pinned packages, made once and
# reinstalled only when pyproject.toml or constraints.txt change (a hash stamp), so the second run is quick.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${P6_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3.11}"
command -v "$PYTHON_BIN" >/dev/null 2>&1 || PYTHON_BIN=python3
if [ ! -x "$VENV/bin/python" ]; then
    echo "p6: creating virtualenv $VENV" >&2
    "$PYTHON_BIN" -m venv "$VENV"
fi
STAMP="$VENV/.p6-installed"
WANT="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
    echo "p6: installing pinned dependencies (constraints.txt)" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24" 2>&1 | grep -v "is ignored" >&2 || true
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]" 2>&1 \
        | grep -v "is ignored" >&2 || true
    "$VENV/bin/python" -c "import django, oscar, stripe, localstripe, hypothesis, playwright" \
        || { echo "p6: dependency install failed" >&2; exit 1; }
    echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
mkdir -p "$ROOT/var"
