/**
 * The repository as the README checks see it: where it is, its READMEs, and its workspace packages (names, folders,
 * package.json) — what commands, links and imports in the READMEs are checked against.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** This package's folder: README examples resolve their imports from here (it depends on every gm package). */
export const DOCS_DIR = join(REPO, 'tooling', 'docs');

/** The repository's address: package READMEs link files the npm tarballs do not contain here. */
export const REPO_URL = 'https://github.com/gm-js/gm';

/** The built `gm` command. */
export const CLI_BIN = join(REPO, 'apps', 'cli', 'dist', 'gm.js');

/** READMEs that are not gm's documentation, and why. Every other README.md in the repository is checked. */
export const EXCLUDED_READMES: Readonly<Record<string, string>> = {
  '.changeset/README.md': "changesets' own README, written by `changeset init`",
};

/** Folders never searched for READMEs: dependencies, build output and generated files. */
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', '.turbo', 'artifacts', 'reports', 'coverage', 'out']);

/** Repository-relative path with forward slashes. */
export function repoPath(absolute: string): string {
  return relative(REPO, absolute).split(sep).join('/');
}

/** Every README.md of the repository (repository-relative, sorted), excluded ones included. */
export function allReadmes(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith('.readme-check') && repoPath(join(dir, entry.name)) !== 'docs/api') walk(join(dir, entry.name));
      } else if (entry.name === 'README.md') {
        found.push(repoPath(join(dir, entry.name)));
      }
    }
  };
  walk(REPO);
  return found.sort();
}

/** The READMEs whose code blocks and links are checked: all but {@link EXCLUDED_READMES}. */
export function checkedReadmes(): string[] {
  return allReadmes().filter((r) => !(r in EXCLUDED_READMES));
}

/** The fields of a package.json the checks read. */
export interface PackageJson {
  name: string;
  private?: boolean;
  files?: string[];
  packageManager?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** A workspace package: its name, folder (absolute) and package.json. */
export interface WorkspacePackage {
  name: string;
  dir: string;
  json: PackageJson;
}

export function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

let workspaceCache: WorkspacePackage[] | undefined;

/** The root package and every package of pnpm-workspace.yaml's folders (packages/*, apps/*, tooling/*). */
export function workspacePackages(): WorkspacePackage[] {
  if (workspaceCache) return workspaceCache;
  const out: WorkspacePackage[] = [{ name: readPackageJson(REPO).name, dir: REPO, json: readPackageJson(REPO) }];
  for (const group of ['packages', 'apps', 'tooling']) {
    for (const entry of readdirSync(join(REPO, group), { withFileTypes: true })) {
      const dir = join(REPO, group, entry.name);
      if (entry.isDirectory() && existsSync(join(dir, 'package.json'))) out.push({ name: readPackageJson(dir).name, dir, json: readPackageJson(dir) });
    }
  }
  return (workspaceCache = out);
}

/** The workspace package of a folder: the nearest package.json at or above it. */
export function packageOf(dir: string): WorkspacePackage {
  const byDir = new Map(workspacePackages().map((p) => [p.dir, p]));
  for (let d = dir; ; d = dirname(d)) {
    const p = byDir.get(d);
    if (p) return p;
    if (d === dirname(d)) throw new Error(`${dir} is in no workspace package`);
  }
}

/** A published package: not private, and its README goes into the tarball. */
export function isPublished(p: WorkspacePackage): boolean {
  return p.json.private !== true;
}
