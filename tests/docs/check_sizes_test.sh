#!/usr/bin/env bash
# check_sizes_test: scripts/check-sizes reports exactly the functions over 120 lines and the files
# over 700 lines of code shaped like ours (clang-format, Google style), and nothing else.
#
#   tests/docs/check_sizes_test.sh scripts/check-sizes      (ctest: check_sizes_detects)
#
# The fixtures hide braces where a brace counter goes wrong: raw strings, string and character
# literals, comments, digit separators, default arguments, constructor init lists with braced
# members, braced initializers at namespace scope, lambdas and nested blocks.
set -euo pipefail
checker=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/check_sizes_test.XXXXXX")
trap '[ "${KEEP:-0}" = 1 ] || rm -rf -- "$work"' EXIT

# body N: N lines of statements.
body() { for ((i = 0; i < $1; i++)); do echo "  total += $i;"; done; }

{
  echo '#include <map>'
  echo 'namespace fixture {'
  echo 'namespace {'
  echo ''
  echo '// A 121-line function full of braces that do not count: { { {'
  echo 'int LongOne(int total,'            # line 6: the signature starts here
  echo '            int unused = 0) {'
  echo '  const char* raw = R"json({"a": {"b": [)json";  // { in a raw string'
  echo '  const char* text = "}}} \" }";'
  echo '  const char* tricky = R"(x"{"y)";  // a quote inside a raw string'
  echo '  const char* footer = R"(Example:'
  echo "  echo '{\"ref\":\"split-1\"}' | paymentctl entry create -)\";"
  echo "  char open = '{';"
  echo "  total += 10'000 + open + (raw != nullptr) + (text != nullptr);"
  echo '  auto lambda = [&](int x) { return x + total; };'
  echo '  if (total > 0) {'
  echo '    total = lambda(total);'
  echo '  }'
  echo '  /* } a block comment'
  echo '     } over lines */'
  body 104
  echo '  return total;'
  echo '}'                                 # line 126
  echo ''
  echo '// Exactly 120 lines: not reported.'
  echo 'int JustFits(int total) {'           # line 129
  body 117
  echo '  return total;'
  echo '}'                                 # line 248
  echo ''
  echo 'const std::map<int, int> kTable = {'  # a 130-line initializer is no function
  for ((i = 0; i < 128; i++)); do echo "    {$i, $i},"; done
  echo '};'
  echo ''
  echo '}  // namespace'
  echo ''
  echo 'class Widget {'
  echo ' public:'
  echo '  Widget(int n);'
  echo '  int Grow(int total) {'             # line 386
  body 118
  echo '    return total;'
  echo '  }'                               # line 506
  echo ''
  echo ' private:'
  echo '  int n_;'
  echo '  int m_;'
  echo '};'
  echo ''
  echo 'Widget::Widget(int n)'             # line 513
  echo '    : n_{n}, m_(n) {'
  echo '  int total = 0;'
  body 116
  echo '  m_ = total;'
  echo '}'                                 # line 633
  echo ''
  echo '}  // namespace fixture'
} > "$work/shapes.cc"

{ for ((i = 0; i < 701; i++)); do echo "// line $((i + 1))"; done; } > "$work/too_long.h"
{ for ((i = 0; i < 700; i++)); do echo "// line $((i + 1))"; done; } > "$work/fits.h"

expected="$work/shapes.cc:6: function LongOne: 121 lines (limit 120)
$work/shapes.cc:386: function Grow: 121 lines (limit 120)
$work/shapes.cc:513: function Widget::Widget: 121 lines (limit 120)
$work/too_long.h: 701 lines (limit 700)
check-sizes: 4 over the limits (functions 120 lines, files 700 lines)"

status=0
actual=$("$checker" "$work") || status=$?
if [ "$actual" != "$expected" ] || [ "$status" -ne 1 ]; then
  echo "check_sizes_test: FAILED (exit status $status, want 1)" >&2
  diff <(echo "$expected") <(echo "$actual") >&2 || true
  exit 1
fi
# --list: the same report, exit 0. Within the limits: exit 0.
"$checker" --list "$work" > /dev/null
"$checker" "$work/fits.h" > /dev/null
# Every function is found, with its length (--all), the 120-line one included.
all=$("$checker" --all "$work")
grep -qx "$work/shapes.cc:129: function JustFits: 120 lines" <<< "$all"
echo "check_sizes_test: ok"
