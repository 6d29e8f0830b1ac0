#!/usr/bin/env bash
# Builds the "both cores" prototypes into apps/bench/dist/parallel/ (separately from the bench's own tsup config).
set -euo pipefail
cd "$(dirname "$0")/../.."
npx tsup src/parallel/bench.ts src/parallel/bench-cli.ts src/parallel/threads-step.ts src/parallel/vae-replica.ts src/parallel/profile-batch.ts \
  --format esm --target es2022 --sourcemap --out-dir dist/parallel --silent
