#!/usr/bin/env bash
# Refresh the web client's vendored libraries (README, "Web client").
#
#   packaging/vendor-web.sh
#
# Fetches each pinned npm package with `npm pack` into a scratch directory, checks its integrity
# against the registry's sha512, and copies its published ES module build and its licence into
# pufferd/web/static/vendor/ (shipped) or tests/browser/vendor/ (axe-core: tests only). The
# output is committed: installing or running pufferd needs no Node.js, only this script does.
# Bump a version here, run the script, review the diff, run tests/browser, commit.
set -euo pipefail
cd "$(dirname "$0")/.."

PREACT=11.2.0        # views (MIT)
HTM=3.1.1            # tagged-template JSX without a build step (Apache-2.0)
UQR=0.1.3            # QR encoder for the 2FA setup screen (MIT)
UPLOT=1.6.32         # charts of the admin console (MIT)
AXE=4.14.1           # accessibility checks, tests only (MPL-2.0)

out=pufferd/web/static/vendor
tests_out=tests/browser/vendor
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

fetch() {  # fetch NAME VERSION -> unpacks to $scratch/NAME/package
    local name=$1 version=$2 file
    file=$(cd "$scratch" && npm pack --silent "$name@$version")
    local want got
    want=$(npm view "$name@$version" dist.integrity)
    got="sha512-$(openssl dgst -sha512 -binary "$scratch/$file" | base64 -w0)"
    [ "$want" = "$got" ] || { echo "vendor-web: $name@$version integrity mismatch" >&2; exit 1; }
    mkdir -p "$scratch/$name"
    tar xzf "$scratch/$file" -C "$scratch/$name"
}

for spec in preact:$PREACT htm:$HTM uqr:$UQR uplot:$UPLOT axe-core:$AXE; do
    fetch "${spec%%:*}" "${spec#*:}"
done

rm -rf "$out" && mkdir -p "$out/licenses"
p="$scratch/preact/package"
cp "$p/dist/preact.mjs" "$out/preact.mjs"
# the hooks build imports the bare specifier "preact"; browsers need a path (no import map: CSP)
sed 's#from"preact"#from"./preact.mjs"#g; s#from "preact"#from "./preact.mjs"#g' \
    "$p/hooks/dist/hooks.mjs" > "$out/preact-hooks.mjs"
grep -q '"./preact.mjs"' "$out/preact-hooks.mjs" || { echo "vendor-web: hooks import not rewritten" >&2; exit 1; }
cp "$p/LICENSE" "$out/licenses/preact.txt"
cp "$scratch/htm/package/dist/htm.module.js" "$out/htm.mjs"
cp "$scratch/htm/package/LICENSE" "$out/licenses/htm.txt"
cp "$scratch/uqr/package/dist/index.mjs" "$out/uqr.mjs"
cp "$scratch/uqr/package/LICENSE" "$out/licenses/uqr.txt"
cp "$scratch/uplot/package/dist/uPlot.esm.js" "$out/uplot.mjs"
cp "$scratch/uplot/package/dist/uPlot.min.css" "$out/uplot.css"
cp "$scratch/uplot/package/LICENSE" "$out/licenses/uplot.txt"

cat > "$out/VERSIONS" <<VERSIONS
# written by packaging/vendor-web.sh; npm package, version, licence, files
preact $PREACT MIT preact.mjs preact-hooks.mjs
htm $HTM Apache-2.0 htm.mjs
uqr $UQR MIT uqr.mjs
uplot $UPLOT MIT uplot.mjs uplot.css
VERSIONS

mkdir -p "$tests_out"
cp "$scratch/axe-core/package/axe.min.js" "$tests_out/axe.min.js"
cp "$scratch/axe-core/package/LICENSE" "$tests_out/axe-core-LICENSE.txt"
echo "axe-core $AXE MPL-2.0 axe.min.js (tests only, never shipped)" > "$tests_out/VERSIONS"
echo "vendor-web: wrote $out and $tests_out" >&2
