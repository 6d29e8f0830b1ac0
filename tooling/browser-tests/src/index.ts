export { CHROMIUM, MISSING_CHROMIUM, launchChromium, openPage, serve, type PageLog } from './chromium';
export { bundleForBrowser, PACKAGE_ENTRIES, type BundleResult } from './bundle';
