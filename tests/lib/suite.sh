# shellcheck shell=bash
# suite.sh — the common part of the suites that build and run one program per
# case, in parallel: tests/reference/run.sh, tests/reference/train_run.sh and
# tests/gradcheck/run.sh. Sourced from the repository root by a script whose
# first argument is the build directory:
#
#   . "$(dirname "$0")/../lib/suite.sh"    # sets build, cc, work, SANFLAGS
#   suite_body() {                         # one case: $1 the case, $2 its work dir;
#     "$build/netc" emit "$1" -o "$2" ...  #   output goes to the case's log,
#   }                                      #   status 0 means it passed
#   ls tests/x/*.net | suite_run           # every case named on stdin
#   grep -l dense tests/x/*.net | suite_run_gemm   # again, on the packed GEMM
#   grep -l conv2d tests/x/*.net | suite_run_direct  # again, convolutions direct
#   ls tests/x/conv*.net | suite_run_gemm_dx  # again, filter-vector dX on the GEMM
#   grep -l conv2d tests/x/*.net | suite_run_generic # again, emitted --target generic
#   ls tests/x/act_*.net | suite_run_libm          # again, with VMATH=libm set
#   ls tests/x/*.net | suite_run_shards     # again, train_step and forward in suite_shards parts
#   suite_report "x"                       # results, tally, exit status
#
# A case prints `ok   NAME: <last line of its log>`, or `FAIL NAME` and the
# last suite_tail lines of its log indented. NAME is the case's file name
# without suite_ext (and without a trailing slash for directories).
set -u
build=${1:-build}                      # where netc, libnnrt.a and tests/npycmp are
cc=${CC:-cc}                           # compiler for the generated C
work=$(mktemp -d)                      # per-case work directories and logs
trap 'rm -rf "$work"' EXIT
suite_ext=                             # suffix stripped from a case's name (".net")
suite_tail=12                          # log lines shown for a failed case
suite_shards=3                         # train_step parts in suite_case_shards
export build cc work SANFLAGS=${SANFLAGS:-}

# Runs suite_body on one case in $work/NAME, logging to $work/NAME.log, and
# prints its result line; its status is the body's.
suite_case() {
  local arg=${1%/} name out rc
  name=$(basename "$arg" "$suite_ext")
  out=$work/$name
  mkdir -p "$out"
  suite_body "$arg" "$out" > "$out.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then echo "ok   $name: $(tail -1 "$out.log")"; else echo "FAIL $name"; tail -"$suite_tail" "$out.log" | sed 's/^/     /'; fi
  return $rc
}

# The same with every dense and conv2d layer on the packed GEMM; the result
# line names the case gemm:NAME.
suite_case_gemm() {
  NETC_FORCE_GEMM=1 suite_case "$1" | sed "s/^\(ok  \|FAIL\) /\1 gemm:/"
}

# The same with every conv2d the direct kernels can compute on them
# (NETC_FORCE_DIRECT=1, compiler/schedule.c), however many taps it has; the
# result line names the case direct:NAME.
suite_case_direct() {
  NETC_FORCE_DIRECT=1 suite_case "$1" | sed "s/^\(ok  \|FAIL\) /\1 direct:/"
}

# The same with the input gradients of filter-vector convolutions on the GEMM
# (NETC_GEMM_DX=1) instead of over pixels; the result line names the case
# gemm_dx:NAME.
suite_case_gemm_dx() {
  NETC_GEMM_DX=1 suite_case "$1" | sed "s/^\(ok  \|FAIL\) /\1 gemm_dx:/"
}

# The same with the training step and the forward pass cut into
# suite_shards parts (NETC_TRAIN_SHARDS, NETC_INFER_SHARDS;
# compiler/emit_shard.c) in every net that can be sharded, however its
# activations weigh against its parameters; the result line names the case
# shards:NAME.
suite_case_shards() {
  NETC_TRAIN_SHARDS=$suite_shards NETC_INFER_SHARDS=$suite_shards suite_case "$1" | sed "s/^\(ok  \|FAIL\) /\1 shards:/"
}

# The same emitted with --target generic (NETC_EMIT_TARGET, which the body
# passes on): 8-float vectors in the direct and filter-vector kernels
# whatever the machine; the result line names the case generic:NAME.
suite_case_generic() {
  NETC_EMIT_TARGET=generic suite_case "$1" | sed "s/^\(ok  \|FAIL\) /\1 generic:/"
}

# The same with VMATH=libm in the environment: the body should then build
# with libm's transcendentals (-DNNRT_LIBM); the result line names the case
# libm:NAME.
suite_case_libm() {
  VMATH=libm suite_case "$1" | sed "s/^\(ok  \|FAIL\) /\1 libm:/"
}

# Runs a case function on each case named on stdin, nproc at a time, and adds
# the result lines to $work/results.txt.
suite_xargs() {
  export -f suite_body suite_case suite_case_gemm suite_case_gemm_dx suite_case_direct suite_case_generic \
    suite_case_libm suite_case_shards
  export suite_ext suite_tail suite_shards
  xargs -P "$(nproc)" -I{} bash -c "$1"' "$1"' _ {} >> "$work/results.txt"
}

suite_run() { suite_xargs suite_case; }
suite_run_gemm() { suite_xargs suite_case_gemm; }
suite_run_gemm_dx() { suite_xargs suite_case_gemm_dx; }
suite_run_shards() { suite_xargs suite_case_shards; }
suite_run_direct() { suite_xargs suite_case_direct; }
suite_run_generic() { suite_xargs suite_case_generic; }
suite_run_libm() { suite_xargs suite_case_libm; }

# Prints the sorted results and `LABEL: N passed, M failed`; fails if any did.
suite_report() {
  sort "$work/results.txt"
  local pass fail
  pass=$(grep -c '^ok' "$work/results.txt")
  fail=$(grep -c '^FAIL' "$work/results.txt")
  echo "$1: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
