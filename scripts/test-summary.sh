#!/usr/bin/env bash
# Prints "N passed, N failed, N skipped" summed over the TRX result files in the given directory,
# so a run that executed nothing shows as "0 passed". Exit 1 if anything failed or nothing ran.
set -euo pipefail
dir=$1
passed=0 failed=0 skipped=0 files=0
for f in "$dir"/*.trx; do
  [ -e "$f" ] || continue
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n1)
  get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$files" -gt 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
