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
  # vstest counts a skipped test in total but not in executed, and leaves notExecuted at 0.
  ne=$(get notExecuted); gap=$(( $(get total) - $(get executed) ))
  skipped=$((skipped + (gap > ne ? gap : ne)))
done
# The failures again, briefly, right above the summary: CI keeps only the tail of the output.
if [ "$failed" -gt 0 ] && command -v xmllint >/dev/null; then
  for f in "$dir"/*.trx; do
    [ -e "$f" ] || continue
    sel='//*[local-name()="UnitTestResult"][@outcome="Failed"]'
    n=$(xmllint --xpath "count($sel)" "$f" 2>/dev/null || echo 0)
    for ((i = 1; i <= n; i++)); do
      echo "FAILED $(xmllint --xpath "string(($sel)[$i]/@testName)" "$f")"
      xmllint --xpath "string(($sel)[$i]//*[local-name()=\"Message\"])" "$f" | head -n 12 | cut -c1-240 | sed 's/^/  | /'
    done
  done
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$files" -gt 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
