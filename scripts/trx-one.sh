#!/usr/bin/env bash
# scripts/trx-one.sh FILE NAME PASSED|FAILED SECONDS [OUTPUT]: writes a TRX result file with one test,
# for a test that is a script (the image tests), so that scripts/test-summary.sh counts it with the
# .NET tests. OUTPUT (a file) gives the failure message: its last 40 lines.
set -euo pipefail
file=$1 name=$2 outcome=$3 secs=$4 output=${5:-}
case "$outcome" in PASSED) o=Passed p=1 f=0 ;; FAILED) o=Failed p=0 f=1 ;; *) echo "trx-one: PASSED|FAILED" >&2; exit 2 ;; esac
esc() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' | tr -d '\000-\010\013\014\016-\037'; }
duration=$(awk -v s="$secs" 'BEGIN{h=int(s/3600); m=int((s-h*3600)/60); printf "%02d:%02d:%010.7f", h, m, s-h*3600-m*60}')
id=$(cat /proc/sys/kernel/random/uuid)
{
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">'
    echo '  <Results>'
    printf '    <UnitTestResult testId="%s" testName="%s" outcome="%s" duration="%s">\n' "$id" "$(esc <<<"$name")" "$o" "$duration"
    if [ "$o" = Failed ] && [ -n "$output" ] && [ -r "$output" ]; then
        printf '      <Output><ErrorInfo><Message>%s</Message></ErrorInfo></Output>\n' "$(tail -n 40 "$output" | esc)"
    fi
    echo '    </UnitTestResult>'
    echo '  </Results>'
    echo "  <ResultSummary outcome=\"$o\">"
    echo "    <Counters total=\"1\" executed=\"1\" passed=\"$p\" failed=\"$f\" error=\"0\" timeout=\"0\" aborted=\"0\" notExecuted=\"0\" />"
    echo '  </ResultSummary>'
    echo '</TestRun>'
} > "$file"
