#!/usr/bin/env bash
# Runs every test file (`npm test`), three at a time, the longest first: `node --test` starts
# files in the order given, and a long file started late would run on alone at the end. The files
# below took a minute or more each (the slowest first); the others follow in path order, and a
# new long file belongs in this list. Arguments go to `node --test` (for example
# `--test-name-pattern`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
longest=(
  test/deploy/compose-up.test.ts
  test/reliability/fast.test.ts
  test/e2e/upgrade.test.ts
  test/integration/operator-actions.test.ts
  test/integration/stream-control.test.ts
  test/workflow/stream-upload.test.ts
  test/bench/quick.test.ts
  test/integration/long-stream.test.ts
)
for file in "${longest[@]}"; do
  [[ -f $file ]] || { echo "scripts/run-tests.sh lists $file, which is gone" >&2; exit 1; }
done
mapfile -t others < <(find test -name '*.test.ts' | sort | grep -vxF -f <(printf '%s\n' "${longest[@]}"))
exec ./.tools/bin/node --import tsx --test --test-concurrency=3 --test-timeout=480000 "$@" "${longest[@]}" "${others[@]}"
