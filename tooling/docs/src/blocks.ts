/**
 * What happens to each code block of a README, by the language of its fence. A block whose language is in no class
 * (or a bare fence) fails the checks, so no block escapes them silently.
 */
import { join } from 'node:path';
import { readmeBlocks, type ReadmeBlock } from '@gm/vitest-config/readme';
import { REPO } from './repo';

/**
 * - `run`: executed as an ES module in a fresh Node process (imports resolve from tooling/docs, which depends on every
 *   gm package and the TensorFlow.js peers), in an empty temporary folder; it must exit 0.
 * - `typecheck`: type-checked against the packages' built types, not run — code that needs the user's files, the
 *   network or a browser.
 * - `shell`: every command must exist — package scripts, script files and their options, `gm` commands, their flags
 *   and choices (from `gm <command> --help`, which is run), npm packages gm publishes or depends on.
 * - `output`: program output, file layouts and formats, shown as they are.
 * - `json`: must parse.
 */
export type BlockClass = 'run' | 'typecheck' | 'shell' | 'output' | 'json';

/** The classes of the fence languages READMEs may use. */
export const FENCE_CLASSES: Readonly<Record<string, BlockClass>> = {
  js: 'run',
  ts: 'typecheck',
  sh: 'shell',
  text: 'output',
  json: 'json',
};

/**
 * ```js blocks that need what only the reader has (their own data files, a download), so they are type-checked
 * rather than run. Keyed by README and the heading the block sits under; a key that matches no block fails the
 * checks. (Such blocks are better written as ```ts, which needs no entry here.)
 */
export const TYPECHECK_ONLY: readonly { readme: string; heading: string; why: string }[] = [];

/** A README's code block with where it is and what is done with it (undefined: in no class). */
export interface ClassifiedBlock extends ReadmeBlock {
  /** Repository-relative README path. */
  readme: string;
  /** `README path:line of the opening fence`, for messages. */
  where: string;
  blockClass: BlockClass | undefined;
}

/** Every code block of a README (repository-relative path; read from `file`, by default that README), classified. */
export function classifiedBlocks(readme: string, file = join(REPO, readme)): ClassifiedBlock[] {
  return readmeBlocks(file).map((b) => {
    const typecheckOnly = TYPECHECK_ONLY.some((t) => t.readme === readme && t.heading === b.heading);
    const blockClass = typecheckOnly && (b.lang === 'js' || b.lang === 'ts') ? 'typecheck' : FENCE_CLASSES[b.lang];
    return { ...b, readme, where: `${readme}:${b.line}`, blockClass };
  });
}

/** Why a block is in no class, or undefined when it is in one and its fence is closed. */
export function classProblem(block: ClassifiedBlock): string | undefined {
  if (!block.closed) return `${block.where}: the \`\`\`${block.lang} block is never closed`;
  if (block.blockClass !== undefined) return undefined;
  const fence = block.lang === '' ? 'a bare ``` block (no language)' : `a \`\`\`${block.lang} block`;
  const classes = Object.entries(FENCE_CLASSES)
    .map(([lang, c]) => `${lang} (${c})`)
    .join(', ');
  return `${block.where}: ${fence} is in no class — fence it as one of ${classes}`;
}

/** Stale {@link TYPECHECK_ONLY} entries: those that match no ```js or ```ts block. */
export function staleTypecheckOnly(): string[] {
  return TYPECHECK_ONLY.filter((t) => !classifiedBlocks(t.readme).some((b) => b.heading === t.heading && (b.lang === 'js' || b.lang === 'ts'))).map(
    (t) => `TYPECHECK_ONLY names "${t.heading}" in ${t.readme}, which has no js or ts block under that heading`,
  );
}

/** Problems of a ```json block: it must parse. */
export function checkJsonBlock(block: ClassifiedBlock): string[] {
  try {
    JSON.parse(block.code);
    return [];
  } catch (error) {
    return [`${block.where}: the json block does not parse: ${(error as Error).message}`];
  }
}
