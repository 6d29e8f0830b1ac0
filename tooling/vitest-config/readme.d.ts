/** A ```js block of a README and the heading above it. */
export interface ReadmeExample {
  title: string;
  line: number;
  code: string;
}
/** The ```js blocks of a README. */
export function readmeExamples(readmePath: string): ReadmeExample[];
/** Runs one example in a fresh Node process (imports resolve from `packageDir`); returns stdout, throws on failure. */
export function runExample(example: ReadmeExample, packageDir: string, options?: { timeoutMs?: number }): string;
