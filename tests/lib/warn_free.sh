# shellcheck shell=bash
# warn_free.sh — sourced by the e2e tests that check C for warnings:
#
#   . tests/lib/warn_free.sh
#   warn_free "gcc clang" "-O2 -DX" file.c...   # each file, each compiler
#
# Compiles every file with every compiler named (none: nothing to do) as
# -std=c11 -Wall -Wextra -Werror FLAGS -Iruntime.  gcc compiles to an object
# (some of its warnings come from the optimizer); clang only checks the
# syntax, since its warnings are the front end's and that is much faster.
# Stops at the first file that does not compile clean (status 1).
warn_free() {
  local ccs=$1 flags=$2 cc c
  shift 2
  for cc in $ccs; do
    for c in "$@"; do
      if [ "$cc" = clang ]; then
        # shellcheck disable=SC2086  # flags are words
        clang -fsyntax-only -std=c11 -Wall -Wextra -Werror $flags -Iruntime "$c" || return 1
      else
        # shellcheck disable=SC2086
        "$cc" -std=c11 -Wall -Wextra -Werror $flags -Iruntime -c -o /dev/null "$c" || return 1
      fi
    done
  done
}
