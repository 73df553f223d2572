#!/usr/bin/env bash
# run.sh: install what is missing, build, and run `llmbench run` with any
# arguments given (default: the one-minute default suite).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/install-deps.sh"
"$here/build.sh"
exec "$here/../build/llmbench" run "$@"
