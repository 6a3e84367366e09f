#!/usr/bin/env bash
# Smoke test of a built bundle: packaging/smoke.sh dist/unetgui
# The self-test (open the sample, predict, fine-tune 5 steps, export, read back), then a
# command-line prediction of the sample.
set -euo pipefail
bundle="${1:?usage: packaging/smoke.sh BUNDLE_DIR}"
exe="$bundle/unetgui"
"$exe" --version
"$exe" --self-test
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$bundle/_internal/resources/sample_nuclei.tif" "$tmp/sample.tif"
"$exe" predict starter "$tmp/sample.tif" -o "$tmp/labels.tif"
test -s "$tmp/labels.tif"
echo "smoke test passed"
