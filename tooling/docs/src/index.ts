/** @gm/docs — the checks that keep gm's READMEs true: see test/readmes.test.ts, test/readme-examples.test.ts and test/typedoc.test.ts. */
export { FENCE_CLASSES, TYPECHECK_ONLY, classifiedBlocks, classProblem, staleTypecheckOnly, checkJsonBlock, type BlockClass, type ClassifiedBlock } from './blocks';
export { checkLinks, checkPlaceholders, headingSlug, anchorsOf, linksOf } from './links';
export { checkShellBlock, shellCommands, gmHelp } from './shell';
export { typecheckBlocks } from './typecheck';
export { REPO, REPO_URL, DOCS_DIR, CLI_BIN, EXCLUDED_READMES, allReadmes, checkedReadmes, workspacePackages, packageOf, isPublished, repoPath } from './repo';
