/** Debian's Chromium; GM_CHROMIUM points elsewhere. */
export declare const CHROMIUM: string;
/** Debian's package that provides {@link CHROMIUM}. */
export declare const CHROMIUM_APT_PACKAGE: string;
export declare const MISSING_CHROMIUM: string;
