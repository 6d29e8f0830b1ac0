/**
 * ```sh blocks: every command a README shows must exist as written. Each line is split into commands (`&&`, `||`,
 * `;`, pipes; comments, redirections and the `[ ]` of usage lines dropped) and each command is checked by what it
 * runs:
 *
 * - `gm …` (or `node apps/cli/dist/gm.js …`): the command exists, and each flag, its value among the flag's choices
 *   and each positional among the argument's choices, as `gm <command> --help` (run here) lists them;
 * - `node <script> --flag …`: the script exists and defines each flag (a `parseArgs` option or a `'--flag'` literal);
 * - `pnpm <script>` / `npx -y pnpm@<v> <script>` (with `--filter`): the package has the script (pnpm's own commands
 *   are fine), and `<v>` is the root's `packageManager` version;
 * - `npm install <packages>`: each is a published gm package or a dependency of one;
 * - `npx tsup` / `npx vitest run <paths>`: the folder builds with tsup / the paths exist;
 * - `cd <folder>`, `bash <file>`: it exists.
 *
 * A command no rule knows is a problem too. Commands run in the README's folder unless a `cd` moves them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { ClassifiedBlock } from './blocks';
import { CLI_BIN, isPublished, packageOf, readPackageJson, REPO, repoPath, workspacePackages, type WorkspacePackage } from './repo';

/** pnpm's own commands (anything else is a package script; `pnpm <one of these>` never runs a script of that name). */
const PNPM_COMMANDS = new Set([
  'install', 'i', 'add', 'remove', 'rm', 'update', 'up', 'dlx', 'why', 'list', 'ls', 'store', 'prune', 'rebuild', 'outdated',
  'audit', 'link', 'unlink', 'pack', 'publish', 'config', 'setup', 'env', 'fetch', 'import', 'init', 'root', 'bin', 'docs',
  'home', 'create', 'dedupe', 'deploy', 'licenses', 'patch', 'patch-commit', 'server',
]);

/** One command of a shell line: its words and the README line it is on. */
interface Command {
  words: string[];
  line: number;
}

/** Splits a word list at whitespace, keeping quoted strings whole (quotes removed). */
function words(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

/** The commands of a sh block: continuation lines joined, comments and redirections dropped, usage brackets removed. */
export function shellCommands(block: ClassifiedBlock): Command[] {
  const lines = block.code.split('\n');
  const out: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = block.line + i + 1;
    let text = lines[i] ?? '';
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i]}`;
    text = text.replace(/(^|\s)#.*$/, '').trim();
    if (text === '') continue;
    for (const part of text.split(/\s*(?:&&|\|\||;|\s\|\s)\s*/)) {
      const ws: string[] = [];
      const all = words(part);
      for (let k = 0; k < all.length; k++) {
        const w = all[k] ?? '';
        if (/^\d?>>?$|^<$/.test(w)) {
          k++; // a redirection and its file
          continue;
        }
        if (/^\d?>>?\S/.test(w)) continue;
        const bare = w.replace(/^\[+/, '').replace(/\]+$/, '');
        if (bare !== '' && bare !== '…' && bare !== '...') ws.push(bare);
      }
      if (ws.length > 0) out.push({ words: ws, line });
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ gm --help

/** What `gm <command> --help` says: its options (value placeholder, choices), its arguments' choices, the raw text. */
interface CommandHelp {
  text: string;
  options: Map<string, { takesValue: boolean; choices?: string[] }>;
  argumentChoices: (string[] | undefined)[];
}

const helpCache = new Map<string, string>();

/** The output of `gm [command] --help` (run once per command). */
export function gmHelp(command?: string): string {
  const key = command ?? '';
  const cached = helpCache.get(key);
  if (cached !== undefined) return cached;
  if (!existsSync(CLI_BIN)) throw new Error(`${repoPath(CLI_BIN)} is missing: build the CLI first (pnpm build)`);
  const text = execFileSync(process.execPath, [CLI_BIN, ...(command ? [command] : []), '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '400' } });
  helpCache.set(key, text);
  return text;
}

/** The entries of a help section ("Options:", "Arguments:", "Commands:"), wrapped lines joined. */
function sectionEntries(help: string, section: string): string[] {
  const lines = help.split('\n');
  const start = lines.findIndex((l) => l.trim() === `${section}:`);
  if (start < 0) return [];
  const entries: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.trim() === '' || /^\S/.test(l)) break;
    if (/^ {2}\S/.test(l)) entries.push(l.trim());
    else if (entries.length > 0) entries[entries.length - 1] += ` ${l.trim()}`;
  }
  return entries;
}

function choicesOf(entry: string): string[] | undefined {
  const m = /\(choices: ([^)]*)\)/.exec(entry);
  return m ? [...(m[1] ?? '').matchAll(/"([^"]*)"/g)].map((c) => c[1] ?? '') : undefined;
}

function commandHelp(command: string): CommandHelp {
  const text = gmHelp(command);
  const options = new Map<string, { takesValue: boolean; choices?: string[] }>();
  // Flags mentioned anywhere (e.g. the harness flags `gm bench` passes on), then the Options section's entries.
  for (const m of text.matchAll(/(?:^|[\s,(])(--?[A-Za-z][\w-]*)(?:[ =]([<[][^>\]]*[>\]]))?/g)) {
    if (!options.has(m[1] ?? '')) options.set(m[1] ?? '', { takesValue: m[2] !== undefined });
  }
  for (const entry of sectionEntries(text, 'Options')) {
    const flagsPart = entry.split(/\s{2,}/)[0] ?? '';
    const takesValue = /[<[]/.test(flagsPart);
    const choices = choicesOf(entry);
    for (const flag of flagsPart.matchAll(/--?[A-Za-z][\w-]*/g)) options.set(flag[0], choices ? { takesValue, choices } : { takesValue });
  }
  return { text, options, argumentChoices: sectionEntries(text, 'Arguments').map(choicesOf) };
}

function checkGm(args: string[], where: string): string[] {
  const shown = `gm ${args.join(' ')}`;
  if (args.length === 0) return [];
  const [command = '', ...rest] = args;
  if (command.startsWith('-')) return /^--(help|version)$|^-[hV]$/.test(command) ? [] : [`${where}: ${shown}: gm has no option ${command}`];
  const commands = sectionEntries(gmHelp(), 'Commands').map((e) => e.split(/\s/)[0] ?? '');
  if (!commands.includes(command)) return [`${where}: ${shown}: gm has no command "${command}" (gm --help lists ${commands.join(', ')})`];
  const help = commandHelp(command);
  const problems: string[] = [];
  let positional = 0;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i] ?? '';
    if (word === '--') continue;
    if (word.startsWith('-')) {
      const [flag = '', inline] = word.split('=', 2);
      const option = help.options.get(flag);
      if (!option) {
        problems.push(`${where}: ${shown}: \`gm ${command} --help\` lists no ${flag}`);
        continue;
      }
      if (!option.takesValue) continue;
      const value = inline ?? rest[++i];
      if (value === undefined) problems.push(`${where}: ${shown}: ${flag} needs a value`);
      else if (option.choices && !option.choices.includes(value)) problems.push(`${where}: ${shown}: ${flag} ${value} is not one of its choices (${option.choices.join(', ')})`);
      continue;
    }
    const choices = help.argumentChoices[positional++];
    if (choices && !choices.includes(word)) problems.push(`${where}: ${shown}: "${word}" is not one of gm ${command}'s choices (${choices.join(', ')})`);
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------ node scripts

/** Whether a script defines `--name`: a `parseArgs` option `name: {` / `'name': {`, or the literal `'--name'`. */
function scriptDefinesFlag(source: string, name: string): boolean {
  const n = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(['"\`])--${n}\\1|(^|[\\s{,])(['"]?)${n}\\3\\s*:\\s*\\{`, 'm').test(source);
}

function checkNode(args: string[], cwd: string, where: string): string[] {
  const [script, ...rest] = args;
  if (script === undefined || script.startsWith('-')) return [`${where}: node ${args.join(' ')}: no script to check`];
  const file = resolve(cwd, script);
  if (!existsSync(file)) return [`${where}: node ${script}: ${repoPath(file)} does not exist (commands run in ${repoPath(cwd) || '.'})`];
  if (realpathSync(file) === realpathSync(CLI_BIN)) return checkGm(rest, where);
  const source = readFileSync(file, 'utf8');
  return rest
    .filter((w) => w.startsWith('--'))
    .map((w) => w.slice(2).split('=')[0] ?? '')
    .filter((name) => !scriptDefinesFlag(source, name))
    .map((name) => `${where}: node ${script} --${name}: ${repoPath(file)} defines no --${name} option`);
}

// ------------------------------------------------------------------------------------------------ pnpm, npm, npx

function workspacePackage(selector: string): WorkspacePackage | undefined {
  const name = selector.replace(/^\.\.\.|\.\.\.$|^\^/g, '').replace(/\.\.\.$/, '');
  return workspacePackages().find((p) => p.name === name || repoPath(p.dir) === name.replace(/^\.\//, ''));
}

function checkPnpm(args: string[], cwd: string, where: string, version: string | undefined): string[] {
  const problems: string[] = [];
  const shown = `pnpm ${args.join(' ')}`;
  const pinned = readPackageJson(REPO).packageManager?.replace(/^pnpm@/, '');
  if (version !== undefined && version !== pinned) problems.push(`${where}: pnpm@${version}: the root package.json pins pnpm@${pinned}`);
  const filters: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--filter' || a === '-F') filters.push(args[++i] ?? '');
    else if (a.startsWith('--filter=')) filters.push(a.slice('--filter='.length));
    else rest.push(a);
  }
  const targets: WorkspacePackage[] = [];
  for (const f of filters) {
    const p = workspacePackage(f);
    if (p) targets.push(p);
    else problems.push(`${where}: ${shown}: no workspace package is called ${f}`);
  }
  if (filters.length === 0) targets.push(packageOf(cwd));
  const [command, next] = rest.filter((a) => !a.startsWith('-'));
  if (command !== undefined && PNPM_COMMANDS.has(command)) {
    for (const t of targets) {
      if (t.json.scripts?.[command] !== undefined) problems.push(`${where}: ${shown}: runs pnpm's own "${command}" command, not the script: write pnpm run ${command}`);
    }
  }
  if (command === undefined || PNPM_COMMANDS.has(command)) return problems;
  if (command === 'exec') {
    for (const t of targets) {
      if (next !== undefined && !existsSync(join(t.dir, 'node_modules', '.bin', next)) && !existsSync(join(REPO, 'node_modules', '.bin', next))) {
        problems.push(`${where}: ${shown}: ${next} is not installed in ${repoPath(t.dir) || 'the root'}`);
      }
    }
    return problems;
  }
  const script = command === 'run' ? next : command;
  for (const t of targets) {
    if (script !== undefined && t.json.scripts?.[script] === undefined) problems.push(`${where}: ${shown}: ${repoPath(join(t.dir, 'package.json'))} has no "${script}" script`);
  }
  return problems;
}

function checkNpm(args: string[], where: string): string[] {
  const [command, ...rest] = args;
  if (!['install', 'i', 'add'].includes(command ?? '')) return [`${where}: npm ${args.join(' ')}: only npm install is checked; show another command another way`];
  const published = workspacePackages().filter((p) => p.dir !== REPO && isPublished(p));
  const known = new Set(published.flatMap((p) => [p.name, ...Object.keys({ ...p.json.dependencies, ...p.json.peerDependencies, ...p.json.optionalDependencies })]));
  return rest
    .filter((w) => !w.startsWith('-'))
    .map((w) => w.replace(/(.)@[^/]*$/, '$1'))
    .filter((name) => !known.has(name))
    .map((name) => `${where}: npm ${command} ${name}: neither a published gm package nor a dependency of one`);
}

function checkNpx(args: string[], cwd: string, where: string): string[] {
  const rest = args.filter((a) => a !== '-y' && a !== '--yes');
  const [tool = '', ...toolArgs] = rest;
  const pnpm = /^pnpm(?:@(.+))?$/.exec(tool);
  if (pnpm) return checkPnpm(toolArgs, cwd, where, pnpm[1]);
  if (tool === 'tsup') {
    return existsSync(join(cwd, 'tsup.config.ts')) ? [] : [`${where}: npx tsup: ${repoPath(cwd) || 'the root'} has no tsup.config.ts`];
  }
  if (tool === 'vitest') {
    return toolArgs
      .filter((a) => a !== 'run' && !a.startsWith('-'))
      .filter((p) => {
        const abs = resolve(cwd, p);
        return !existsSync(abs) && !(existsSync(dirname(abs)) && readdirSync(dirname(abs)).some((e) => e.startsWith(basename(abs))));
      })
      .map((p) => `${where}: npx vitest run ${p}: no test file or folder matches ${p} in ${repoPath(cwd) || 'the root'}`);
  }
  return [`${where}: npx ${tool}: no check knows this tool (tooling/docs/src/shell.ts)`];
}

/** Problems of one ```sh block, each naming the README and line. */
export function checkShellBlock(block: ClassifiedBlock): string[] {
  let cwd = dirname(join(REPO, block.readme));
  const problems: string[] = [];
  for (const { words: [head = '', ...args], line } of shellCommands(block)) {
    const where = `${block.readme}:${line}`;
    switch (head) {
      case 'gm':
        problems.push(...checkGm(args, where));
        break;
      case 'node':
        problems.push(...checkNode(args, cwd, where));
        break;
      case 'pnpm':
        problems.push(...checkPnpm(args, cwd, where, undefined));
        break;
      case 'corepack':
        problems.push(...(args[0] === 'pnpm' ? checkPnpm(args.slice(1), cwd, where, undefined) : [`${where}: corepack ${args[0]}: not checked`]));
        break;
      case 'npx':
        problems.push(...checkNpx(args, cwd, where));
        break;
      case 'npm':
        problems.push(...checkNpm(args, where));
        break;
      case 'cd': {
        const to = resolve(cwd, args[0] ?? '');
        if (existsSync(to) && statSync(to).isDirectory()) cwd = to;
        else problems.push(`${where}: cd ${args[0]}: ${repoPath(to)} is not a folder`);
        break;
      }
      case 'bash':
        if (!existsSync(resolve(cwd, args[0] ?? ''))) problems.push(`${where}: bash ${args[0]}: ${repoPath(resolve(cwd, args[0] ?? ''))} does not exist`);
        break;
      default:
        problems.push(`${where}: ${head}: no check knows this command (add one to tooling/docs/src/shell.ts, or show it as text)`);
    }
  }
  return problems;
}
