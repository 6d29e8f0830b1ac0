/** A fenced code block of a README and the heading above it. */
export interface ReadmeBlock {
  /** First word of the info string: 'js', 'ts', 'sh', 'text', … ('' for a bare fence). */
  lang: string;
  /** The whole info string. */
  info: string;
  /** The heading the block sits under (the file name above the first heading). */
  heading: string;
  /** `<heading> (line <line>)`. */
  title: string;
  /** 1-based line of the opening fence: code line k (1-based) is README line `line + k`. */
  line: number;
  /** The code, without the fence's indentation. */
  code: string;
  /** False when the README ends before the closing fence. */
  closed: boolean;
}
/** Every fenced code block of a README. */
export function readmeBlocks(readmePath: string): ReadmeBlock[];
/** The ```js blocks of a README. */
export function readmeExamples(readmePath: string): ReadmeBlock[];
/** Runs one example in a fresh Node process (imports resolve from `packageDir`); resolves to stdout, rejects on failure. */
export function runExample(example: { title: string; code: string }, packageDir: string, options?: { timeoutMs?: number; where?: string }): Promise<string>;
