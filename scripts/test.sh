#!/usr/bin/env bash
# test.sh: install what is missing, build, and run the whole test suite.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/install-deps.sh" --test
"$here/build.sh"
cd "$here/.."
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
