#!/usr/bin/env bash
# Scaffold a workspace package: scripts/new-package.sh packages/NAME "description" [dep ...]
set -euo pipefail
dir=$1; desc=$2; shift 2
name="@tk/$(basename "$dir")"
mkdir -p "$dir/src"
deps=""; refs=""
for d in "$@"; do
  deps="$deps    \"@tk/$d\": \"workspace:*\",\n"
  if [ -d "packages/$d" ]; then refs="$refs{ \"path\": \"../../packages/$d\" }, "; else refs="$refs{ \"path\": \"../$d\" }, "; fi
done
deps=$(printf "$deps" | sed '$ s/,$//')
cat > "$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "0.1.0",
  "private": true,
  "description": "$desc",
  "type": "module",
  "engines": { "node": ">=20.15" },
  "exports": {
    ".": { "types": "./dist/index.d.ts", "default": "./dist/index.js" },
    "./package.json": "./package.json"
  },
  "files": ["dist"],
  "dependencies": {
$deps
  }
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist" },
  "include": ["src"],
  "exclude": ["src/**/*.test.ts"],
  "references": [${refs%, }]
}
JSON
[ -f "$dir/src/index.ts" ] || echo "export {};" > "$dir/src/index.ts"
echo "created $name in $dir"
