#!/usr/bin/env bash
# tests/errors/run.sh NETC — checks the diagnostics of every tests/errors/*.net.
#
# Each file states what netc must say about it, in comments:
#
#   # expect: 3:22: error: unknown op 'maxpool'; did you mean 'maxpool2d'?
#   # expect: 5:1: note: 'x' is declared here
#   # expect: holds 2 nets; choose one with --net NAME
#   # expect-exit: 2          exit status (default 1)
#   # args: --net foo         extra arguments after the file name
#   # command: dump-ir        the netc command (default check)
#
#   # expect: x.sched:2:8: error: ...   a diagnostic in another file (a schedule
#                                        file given with `# args: --schedule x.sched`)
#
# An expectation that starts with LINE:COL: must match the start of a line
# `FILE:LINE:COL: ...` of stderr (the message may be a prefix of the real one),
# one that starts with OTHER:LINE:COL: the start of a line `OTHER:LINE:COL: ...`;
# any other expectation must be a substring of some line of stderr.  The
# number of `ANYFILE:LINE:COL: error:` lines must equal the number of `error:`
# expectations, so a case fails on any extra error.  A crash (exit status
# other than 0, 1 or 2) always fails.
#
# Prints one line per failing case, then `N passed, M failed`; exits 1 if any
# case failed.
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 NETC" >&2
    exit 2
fi
netc=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
if [ ! -x "$netc" ]; then
    echo "$0: $1 is not an executable" >&2
    exit 2
fi
cd "$(dirname "$0")" || exit 2

pass=0
fail=0
err=$(mktemp)
trap 'rm -f "$err"' EXIT

# fail_case FILE WHY
fail_case() {
    echo "FAIL $1: $2"
    fail=$((fail + 1))
}

# has_line FILE EXPECT: true if stderr has the line EXPECT stands for.
has_line() {
    local l located=0
    [[ $2 =~ ^[0-9]+:[0-9]+: ]] && located=1
    [[ $2 =~ ^[^\ :]+:[0-9]+:[0-9]+: ]] && located=2
    while IFS= read -r l; do
        if [ $located = 1 ]; then
            [[ $l == "$1:$2"* ]] && return 0
        elif [ $located = 2 ]; then
            [[ $l == "$2"* ]] && return 0
        else
            [[ $l == *"$2"* ]] && return 0
        fi
    done <"$err"
    return 1
}

# check_case FILE: runs netc on FILE and compares with its expectations.
check_case() {
    local f=$1 cmd=check want_exit=1 args=() expects=() line
    while IFS= read -r line; do
        case $line in
            "# expect: "*) expects+=("${line#\# expect: }") ;;
            "# expect-exit: "*) want_exit=${line#\# expect-exit: } ;;
            "# args: "*) read -r -a args <<<"${line#\# args: }" ;;
            "# command: "*) cmd=${line#\# command: } ;;
        esac
    done <"$f"
    if [ ${#expects[@]} -eq 0 ] && [ "$want_exit" = 1 ]; then
        fail_case "$f" "states no '# expect:' line"
        return
    fi
    local status=0
    "$netc" "$cmd" "$f" "${args[@]+"${args[@]}"}" >/dev/null 2>"$err" || status=$?
    if [ "$status" -gt 2 ]; then
        fail_case "$f" "netc crashed (exit status $status)"
        return
    fi
    if [ "$status" != "$want_exit" ]; then
        fail_case "$f" "exit status $status, expected $want_exit"
        return
    fi
    local e want_errors=0 got_errors
    for e in "${expects[@]}"; do
        if [[ $e =~ ^([^\ :]+:)?[0-9]+:[0-9]+:\ error: ]]; then
            want_errors=$((want_errors + 1))
        fi
        if ! has_line "$f" "$e"; then
            fail_case "$f" "missing: $e"
            return
        fi
    done
    got_errors=$(grep -cE "^[^ :]+:[0-9]+:[0-9]+: error: " "$err")
    if [ "$got_errors" != "$want_errors" ]; then
        fail_case "$f" "$got_errors errors reported, $want_errors expected"
        grep -E "^[^ :]+:[0-9]+:[0-9]+: error: " "$err" | sed 's/^/    /'
        return
    fi
    pass=$((pass + 1))
}

shopt -s nullglob
cases=(*.net)
if [ ${#cases[@]} -eq 0 ]; then
    echo "$0: no test cases in $(pwd)" >&2
    exit 1
fi
for f in "${cases[@]}"; do
    check_case "$f"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
