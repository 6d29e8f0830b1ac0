/**
 * Links of a README: relative links and `#anchors` must resolve; links into the repository by URL
 * (`https://github.com/gm-js/gm/blob/main/<path>`) must name a path that exists; and a published package's README,
 * which ships in its npm tarball without the rest of the repository, may link relatively only to files the tarball
 * contains (`files` of its package.json).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { isPublished, packageOf, REPO, REPO_URL, repoPath } from './repo';

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingSlug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The lines of a Markdown file with fenced code blocks blanked (line numbers kept). */
function proseLines(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const f = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence === undefined && f) {
      fence = f[1];
      return '';
    }
    if (fence !== undefined) {
      if (new RegExp(`^\\s*\\${fence[0]}{${fence.length},}\\s*$`).test(line)) fence = undefined;
      return '';
    }
    return line;
  });
}

/** The anchors of a Markdown text's headings (GitHub numbers repeated ones -1, -2, …). */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const slug = headingSlug(h[1] ?? '');
    const n = seen.get(slug) ?? 0;
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
    seen.set(slug, n + 1);
  }
  return anchors;
}

/** Every link target of a Markdown text outside code blocks and code spans, with its 1-based line. */
export function linksOf(markdown: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  proseLines(markdown).forEach((raw, i) => {
    const line = raw.replace(/`[^`]*`/g, '``');
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1] ?? '', line: i + 1 });
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
    if (def) out.push({ target: def[1] ?? '', line: i + 1 });
  });
  return out;
}

/** Whether a package-relative path is in the npm tarball: package.json, README, LICENSE and what `files` lists. */
function inTarball(rel: string, files: readonly string[]): boolean {
  const path = rel.split(sep).join('/');
  if (/^(package\.json|README(\.md)?|LICEN[CS]E(\.md)?)$/i.test(path)) return true;
  return files.some((f) => {
    const entry = f.replace(/^\.\//, '').replace(/\/$/, '');
    return path === entry || path.startsWith(`${entry}/`);
  });
}

/**
 * Problems with the links of a README (repository-relative path), each naming the README and line. `markdown` is
 * the README's text (default: the file's).
 */
export function checkLinks(readme: string, markdown = readFileSync(join(REPO, readme), 'utf8')): string[] {
  const file = join(REPO, readme);
  const pkg = packageOf(dirname(file));
  const published = isPublished(pkg) && (pkg.json.files === undefined || inTarball('README.md', pkg.json.files));
  const problems: string[] = [];
  const anchors = new Map<string, Set<string>>();
  anchors.set(file, anchorsOf(markdown));
  const anchorsIn = (path: string) => anchors.get(path) ?? anchors.set(path, anchorsOf(readFileSync(path, 'utf8'))).get(path)!;

  for (const { target, line } of linksOf(markdown)) {
    const where = `${readme}:${line}`;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      if (!/github\.com\/gm-js\//i.test(target)) continue; // other sites are not fetched
      const m = /^https:\/\/github\.com\/gm-js\/gm(?:\/(blob|tree)\/main\/([^#?]+))?\/?(?:[?#].*)?$/.exec(target);
      if (!m) {
        problems.push(`${where}: ${target} is not ${REPO_URL}, ${REPO_URL}/blob/main/<file> or ${REPO_URL}/tree/main/<folder>`);
        continue;
      }
      const [, kind, path] = m;
      if (path === undefined) continue;
      const abs = join(REPO, decodeURIComponent(path));
      if (!existsSync(abs)) problems.push(`${where}: ${target} names ${path}, which is not in the repository`);
      else if ((kind === 'blob') !== statSync(abs).isFile()) problems.push(`${where}: ${target}: ${path} is a ${kind === 'blob' ? 'folder (use /tree/main/)' : 'file (use /blob/main/)'}`);
      continue;
    }
    const [pathPart = '', anchor] = target.split('#', 2);
    const abs = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart));
    if (pathPart !== '' && !existsSync(abs)) {
      problems.push(`${where}: the link to ${target} points to nothing (${repoPath(abs)} does not exist)`);
      continue;
    }
    if (anchor !== undefined && abs.endsWith('.md') && !anchorsIn(abs).has(anchor)) {
      problems.push(`${where}: the link to ${target}: ${repoPath(abs)} has no heading with the anchor #${anchor}`);
    }
    if (published && pathPart !== '') {
      const rel = relative(pkg.dir, abs);
      if (rel.startsWith('..') || !inTarball(rel, pkg.json.files ?? [])) {
        problems.push(
          `${where}: the link to ${target} works in the repository but not in the npm tarball of ${pkg.name}, which does not contain ${repoPath(abs)}: ` +
            `link ${REPO_URL}/${statSync(abs).isFile() ? 'blob' : 'tree'}/main/${repoPath(abs)}${anchor === undefined ? '' : `#${anchor}`} instead`,
        );
      }
    }
  }
  return problems;
}

/** Placeholders left in a README (`TODO:`, `FIXME:`, `TBD`, `…PLACEHOLDER…`), code blocks included. */
export function checkPlaceholders(readme: string, markdown = readFileSync(join(REPO, readme), 'utf8')): string[] {
  return markdown
    .split('\n')
    .flatMap((line, i) => (/PLACEHOLDER|\b(?:TODO|FIXME|TBD)(?::|\s*$)/.test(line) ? [`${readme}:${i + 1}: a placeholder is left in: ${line.trim()}`] : []));
}
