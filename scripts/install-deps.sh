#!/usr/bin/env bash
# install-deps.sh: install the Debian packages llmbench needs, if missing.
#   build:  cmake, gcc, make, pkg-config, libhwloc-dev, libcjson-dev
#   counters (optional at build time, installed here): libpapi-dev
#   run time (optional): gnuplot-nox for charts
#   tests: python3-jsonschema (report schema validation)
#   with --test (scripts/test.sh): chromium, the headless browser that
#     tests/test-report-browser.sh renders the HTML report in
# Uses apt-get as root, or through sudo when that works without a prompt;
# otherwise says what to install and exits 1.
set -euo pipefail

pkgs=(cmake gcc make pkg-config libhwloc-dev libcjson-dev libpapi-dev gnuplot-nox python3 python3-jsonschema)
if [ "${1:-}" = "--test" ]; then pkgs+=(chromium); fi
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  run=(sudo -n)
else
  echo "install-deps: need root to install: ${missing[*]}" >&2
  echo "install-deps: run 'sudo apt-get install ${missing[*]}' and try again" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
