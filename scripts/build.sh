#!/usr/bin/env bash
# build.sh: configure (Release unless BUILD_TYPE says otherwise) and build
# into ./build. Re-runs cmake each time so the report's git commit and
# dirty flag are current.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" >/dev/null
cmake --build build -j"$(nproc)"
