#!/usr/bin/env bash
# Refresh the lock files from the ranges in setup.cfg (README, "Dependencies and lock files").
#
#   requirements/lock.sh [--upgrade]
#
# server.txt  the server's runtime dependencies (README's install, the binary)
# build.txt   server.txt + PyInstaller (packaging/build.sh), the same runtime versions
# test.txt    build.txt + the test tools (README's test command, .ci/run), the same versions
# federation-peer.txt  federation-peer.in alone: the third-party ActivityPub server the federation
#             tests run in an environment of its own (tests/e2e/test_federation_third_party.py)
# Each is resolved for every platform (markers) with Python 3.11 as the floor, and carries the
# sha256 of every file PyPI publishes for each pin, so pip installs them with --require-hashes.
# Without --upgrade, versions already in the locks are kept where the ranges still allow them.
# Run .ci/newest first: it tests the newest allowed releases before they land in the locks.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
if command -v uv >/dev/null 2>&1; then
    UV=(uv)
else
    tool="$(mktemp -d)"
    trap 'rm -rf "$tool"' EXIT
    python3 -m venv "$tool/venv"
    "$tool/venv/bin/python" -m pip install -q "uv==$UV_VERSION"
    UV=("$tool/venv/bin/uv")
fi

compile() {
    "${UV[@]}" pip compile setup.cfg --universal --python-version 3.11 --generate-hashes \
        --no-header --annotation-style line --quiet "$@"
}

upgrade=()
[ "${1:-}" = "--upgrade" ] && upgrade=(--upgrade)

compile "${upgrade[@]}" -o requirements/server.txt
compile "${upgrade[@]}" --extra build -c requirements/server.txt -o requirements/build.txt
compile "${upgrade[@]}" --extra test -c requirements/build.txt -o requirements/test.txt
"${UV[@]}" pip compile requirements/federation-peer.in --universal --python-version 3.11 --generate-hashes \
    --no-header --annotation-style line --quiet "${upgrade[@]}" -o requirements/federation-peer.txt
echo "lock.sh: requirements/{server,build,test,federation-peer}.txt written; commit them with the change that needed them" >&2
