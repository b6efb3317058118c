#!/usr/bin/env bash
# The main job, offline: generate a signing key, re-sign and index real melange-built packages from
# test-fixtures, verify them as apk-tools would, and show one. (The hello image example replaces this
# once `tk apko build` lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
out=${OUT:-out/demo}
rm -rf "$out" && mkdir -p "$out/x86_64"
cp test-fixtures/real/apko-testrepo/x86_64/*.apk "$out/x86_64/"
tk() { node apps/tk/dist/main.js "$@"; }
set -x
tk melange keygen "$out/demo.rsa" --key-size 2048
tk melange sign --signing-key "$out/demo.rsa" "$out"/x86_64/*.apk
tk melange index -o "$out/x86_64/APKINDEX.tar.gz" --signing-key "$out/demo.rsa" "$out"/x86_64/*.apk
tk apk verify --keyring "$out/demo.rsa.pub" "$out/x86_64/APKINDEX.tar.gz" "$out"/x86_64/*.apk
tk apk info "$out/x86_64/replayout-1.0.0-r0.apk"
