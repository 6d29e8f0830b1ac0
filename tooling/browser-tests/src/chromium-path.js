// Where gm's browser tests find Chromium: one place, read by the tests (chromium.ts) and by the pre-test step that
// installs it (scripts/ensure-chromium.mjs). Plain JavaScript so that step runs before anything is built.

/** Debian's Chromium; GM_CHROMIUM points elsewhere. */
export const CHROMIUM = process.env['GM_CHROMIUM'] || '/usr/bin/chromium';

/** Debian's package that provides {@link CHROMIUM}. */
export const CHROMIUM_APT_PACKAGE = 'chromium';

export const MISSING_CHROMIUM =
  `${CHROMIUM} is missing: the browser tests drive Debian's Chromium through playwright-core (Playwright cannot ` +
  `download browsers here). Install it with: sudo apt-get update && sudo apt-get install -y ${CHROMIUM_APT_PACKAGE} ` +
  `(or set GM_CHROMIUM to a Chromium binary)`;
