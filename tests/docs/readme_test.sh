#!/usr/bin/env bash
# readme_test: a document (README.md, docs/api.md) works when followed literally.
#
#   tests/docs/readme_test.sh README.md PAYMENTCTL       (ctest: readme_blocks)
#   tests/docs/readme_test.sh docs/api.md PAYMENTCTL     (ctest: api_doc_blocks)
#
# Which blocks run: every fenced block opened with exactly ```sh, unless the line right before
# its fence is `<!-- readme-test: skip -->` (the set-up block: `make demo`, `make test`).
# Blocks fenced otherwise (```console for examples on a fixed port, ```cpp, ...) never run;
# ```bash and ```shell fences are refused so that a shell block cannot slip out of the test.
#
# How: the blocks are concatenated in README order into one script whose line N is README.md's
# line N (every other line left empty), which runs with `bash -Eeuo pipefail` (and xtrace, each
# command printed with its README line) in a fresh empty directory, with PAYMENTCTL first on
# PATH, TMPDIR inside the test's own temporary directory (so `mktemp -d` and `paymentctl demo`
# stay in it) and the PAYMENTCTL_* variables and proxies of the caller's environment unset
# (no network use beyond 127.0.0.1). PAYMENTCTL_NOW stays unset on purpose: a reader runs the
# README on the real clock, and nothing it shows depends on the time within one run.
# On failure the test names the block (its number, its lines, the paragraph before it) and the
# README line and command that failed. Background processes the README starts (`... &`) are
# stopped by PID (the script's own jobs) when it ends, whether it succeeded or not; the temporary
# directory is removed (keep it with README_TEST_KEEP=1).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 DOCUMENT.md PAYMENTCTL" >&2
  exit 2
fi
readme=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
paymentctl=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
[ -f "$readme" ] || { echo "readme_test: no such file: $readme" >&2; exit 2; }
[ -x "$paymentctl" ] || { echo "readme_test: not an executable: $paymentctl" >&2; exit 2; }
doc=$(basename "$readme")  # how messages name it

work=$(mktemp -d "${TMPDIR:-/tmp}/readme_test.XXXXXX")
cleanup() {
  if [ "${README_TEST_KEEP:-0}" = 1 ]; then
    echo "readme_test: kept $work" >&2
  else
    rm -rf -- "$work"
  fi
}
trap cleanup EXIT
mkdir "$work/run" "$work/tmp"

# blocks.tsv: number, first line (the fence), last line (the closing fence), runs (1/0), and the
# first line of the paragraph before the block (its name in messages).
awk -v script="$work/$doc" -v blocks="$work/blocks.tsv" -v doc="$doc" '
  function fail(msg) { print "readme_test: " doc ":" NR ": " msg > "/dev/stderr"; bad = 1; exit 2 }
  # A block is named by the first line of the paragraph before it.
  !in_block && $0 !~ /^[ \t]*$/ && prev ~ /^[ \t]*$/ && $0 !~ /^(```|<!--)/ {
    intro = substr($0, 1, 60)
    gsub(/["`$\\]/, "", intro)
  }
  {
    if (!in_block && $0 ~ /^```/) {
      lang = substr($0, 4)
      sub(/[ \t].*/, "", lang)
      if (lang == "bash" || lang == "shell") fail("fence ```" lang ": use ```sh (run by tests/docs) or ```console (not run)")
      in_block = 1; n++; first = NR
      runs = (lang == "sh" && prev != "<!-- readme-test: skip -->")
      # The fence line announces the block in the log (it is not code, so the numbering holds).
      if (runs) {
        printf "{ set +x; } 2>/dev/null; echo \"== %s block %d (line %d, after: %s)\" >&2; set -x\n", doc, n, NR, intro > script
        ran++
      }
      else print "" > script
    } else if (in_block && $0 ~ /^```[ \t]*$/) {
      in_block = 0
      printf "%d\t%d\t%d\t%d\t%s\n", n, first, NR, runs, intro > blocks
      print "" > script
    } else {
      print (in_block && runs ? $0 : "") > script
    }
    prev = $0
  }
  END {
    if (bad) exit 2
    if (in_block) { print "readme_test: " doc ": the block opened on line " first " is never closed" > "/dev/stderr"; exit 2 }
    if (ran == 0) { print "readme_test: " doc ": no ```sh block to run" > "/dev/stderr"; exit 2 }
  }
' "$readme"

run_blocks=$(awk -F'\t' '$4 == 1' "$work/blocks.tsv" | wc -l)
echo "readme_test: running $run_blocks blocks of $readme in $work/run with $paymentctl" >&2

status=0
(
  cd "$work/run"
  unset PAYMENTCTL_DB PAYMENTCTL_CONFIG PAYMENTCTL_NOW PAYMENTCTL_CARD_KEY_FILE
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
  export PATH="$(dirname "$paymentctl"):$PATH" TMPDIR="$work/tmp"
  exec bash -Eeuo pipefail -c '
    trap '\''s=$?; echo "$LINENO $s" >> "$2"'\'' ERR
    # Stop what the README left running: this shell'\''s own background jobs, by PID.
    trap '\''pids=$(jobs -p); if [ -n "$pids" ]; then kill $pids 2>/dev/null || true; wait $pids 2>/dev/null || true; fi'\'' EXIT
    PS4="+ $3:\${LINENO}: "  # bash takes no PS4 from the environment as root
    set -x
    source "$1"
  ' readme_test "$work/$doc" "$work/failed" "$doc"
) || status=$?

if [ "$status" -eq 0 ]; then
  echo "readme_test: ok: $run_blocks blocks ran" >&2
  exit 0
fi

# Name the block and the command that failed. Bash reports a line of the command (its first or
# its last); a command spans the lines joined by trailing backslashes.
if [ -s "$work/failed" ]; then
  read -r line code < "$work/failed"
  first=$line
  while [ "$first" -gt 1 ] && sed -n "$((first - 1))p" "$readme" | grep -q '\\$'; do first=$((first - 1)); done
  last=$line
  while sed -n "${last}p" "$readme" | grep -q '\\$'; do last=$((last + 1)); done
  block=$(awk -F'\t' -v l="$line" '$2 < l && l < $3 { printf "block %d (lines %d-%d, after: %s)", $1, $2, $3, $5 }' "$work/blocks.tsv")
  echo "readme_test: FAILED: $doc:$first: $block: exit status $code:" >&2
  sed -n "${first},${last}p" "$readme" | sed 's/^/    /' >&2
else
  echo "readme_test: FAILED: the blocks exited with status $status (bash's message above names $doc's line)" >&2
fi
exit 1
