#!/usr/bin/env bash
# The test command: set up (install + build), then run the whole suite. Ends with vitest's
# "Tests  N passed" summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
pnpm run -s test "$@"
