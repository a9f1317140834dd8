# The same .net file gives byte-identical C, run after run.
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for f in examples/*.net; do
  "$build/netc" emit "$f" -o "$tmp/out" --main
  mv "$tmp/out" "$tmp/first"
  "$build/netc" emit "$f" -o "$tmp/out" --main
  diff -r "$tmp/first" "$tmp/out"
  rm -rf "$tmp/first" "$tmp/out"
done
