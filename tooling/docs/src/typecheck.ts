/**
 * Type-checks README code blocks against the packages' built types: each block becomes a module of its own in
 * a fresh tooling/docs/.readme-check-* folder (so `@gm/*` and the TensorFlow.js peers resolve as in a project that installed them),
 * one TypeScript program checks them all (syntax and types of every block, so one block's syntax error hides no
 * other block's type errors), and each error is mapped back to its README line.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import type { ClassifiedBlock } from './blocks';
import { DOCS_DIR } from './repo';


/**
 * A user's strict TypeScript project: ES2022 modules resolved as a bundler does (the packages' `exports`), Node and
 * DOM types, top-level await.
 */
const COMPILER_OPTIONS = {
  target: 'ES2022',
  lib: ['ES2022', 'DOM'],
  module: 'ESNext',
  moduleResolution: 'Bundler',
  moduleDetection: 'force',
  strict: true,
  esModuleInterop: true,
  skipLibCheck: true,
  noEmit: true,
  types: ['node'],
};

function fileName(block: ClassifiedBlock): string {
  return `${block.readme.replace(/[^A-Za-z0-9]+/g, '-')}-${block.line}.ts`;
}

/**
 * Type-checks `blocks` as one program; returns each block's errors (`README:line: TSxxxx message`), keyed by
 * {@link ClassifiedBlock.where} (blocks without errors have no entry; errors outside the blocks are under 'tsc').
 */
export function typecheckBlocks(blocks: readonly ClassifiedBlock[]): Map<string, string[]> {
  const checkDir = join(DOCS_DIR, `.readme-check-${process.pid}-${Date.now()}`);
  mkdirSync(checkDir, { recursive: true });
  const byFile = new Map<string, ClassifiedBlock>();
  try {
    for (const block of blocks) {
      const file = join(checkDir, fileName(block));
      byFile.set(file, block);
      writeFileSync(file, block.code);
    }
    const { options, errors } = ts.convertCompilerOptionsFromJson(COMPILER_OPTIONS, checkDir);
    if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, ts.createCompilerHost({})));
    const program = ts.createProgram({ rootNames: [...byFile.keys()], options: { ...options, configFilePath: join(checkDir, 'tsconfig.json') } });
    const diagnostics = [
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...[...byFile.keys()].flatMap((name) => {
        const f = program.getSourceFile(name);
        return f ? [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)] : [];
      }),
    ];
    const problems = new Map<string, string[]>();
    for (const d of diagnostics) {
      const block = d.file ? byFile.get(d.file.fileName) : undefined;
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
      const key = block?.where ?? 'tsc';
      const text = block ? `${block.readme}:${block.line + line}: TS${d.code} ${message}` : `${d.file?.fileName ?? ''}:${line}: TS${d.code} ${message}`;
      problems.set(key, [...(problems.get(key) ?? []), text]);
    }
    return problems;
  } finally {
    rmSync(checkDir, { recursive: true, force: true });
  }
}
