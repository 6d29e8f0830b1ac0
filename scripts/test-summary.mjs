#!/usr/bin/env node
// Prints the one plain line CI reads — "N passed, N failed, N skipped" — from vitest's JSON report.
// Usage: node scripts/test-summary.mjs [reports/vitest.json]
import { existsSync, readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'reports/vitest.json';
if (!existsSync(file)) {
  console.log('0 passed, 1 failed');
  console.error(`test-summary: ${file} was not written (vitest did not finish)`);
  process.exit(1);
}
const report = JSON.parse(readFileSync(file, 'utf8'));
const passed = report.numPassedTests ?? 0;
// Suites that failed to load (syntax errors, missing modules) count as failures even though no test ran.
const failedSuites = (report.testResults ?? []).filter((r) => r.status === 'failed' && (r.assertionResults ?? []).length === 0).length;
const failed = (report.numFailedTests ?? 0) + failedSuites;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
