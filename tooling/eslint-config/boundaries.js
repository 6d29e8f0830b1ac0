// The arrows of gm's house: which workspace package's source may import which gm package. This table is the one
// place they are written; eslint.config.js turns it into `no-restricted-imports` rules, and test/ proves that a
// forbidden import fails the lint.
//
//   core            imports no gm package
//   data, metrics,  import only core
//   backend, layers,
//   bitsback
//   models          imports core, data, layers, metrics (never backend or bitsback: it hands the coder plain data)
//   apps            import everything
//
// Tests and scripts may import any package (they are not shipped), but nothing may reach into another package's
// files by a relative path or import a build output (`dist`).

/** Library package folder → the gm packages its source may import. */
export const ARROWS = {
  core: [],
  data: ['core'],
  metrics: ['core'],
  backend: ['core'],
  layers: ['core'],
  bitsback: ['core'],
  models: ['core', 'data', 'layers', 'metrics'],
};

const ALL = Object.keys(ARROWS);
const APPS = ['cli', 'web', 'bench'];

/** Relative paths into another package (its folder name after climbing out of this one) or into build output. */
const CROSSING = {
  regex: `^(\\.\\./){2,}(${[...ALL, ...APPS].join('|')})(/|$)|(^|/)(packages|apps|tooling)/|(^|/)dist(/|$)`,
  message: 'import another gm package by its name (@gm/…), never by a relative path into it or its dist/',
};

/** ESLint flat-config entries enforcing the arrows. */
export function boundaryConfigs() {
  const shipped = (pkg) => [`packages/${pkg}/src/**/*.ts`];
  const notShipped = ['**/*.test.ts', '**/*.test-helper.ts', '**/test-helpers.ts', '**/*.testutil.ts', '**/testing/**'];
  const configs = [
    {
      files: ['packages/**/*.ts', 'apps/**/*.ts', 'packages/**/*.mjs', 'apps/**/*.mjs'],
      rules: { 'no-restricted-imports': ['error', { patterns: [CROSSING] }] },
    },
  ];
  for (const [pkg, allowed] of Object.entries(ARROWS)) {
    const forbidden = ALL.filter((p) => p !== pkg && !allowed.includes(p));
    configs.push({
      files: shipped(pkg),
      ignores: notShipped,
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              CROSSING,
              {
                group: forbidden.flatMap((p) => [`@gm/${p}`, `@gm/${p}/*`]).concat(APPS.map((a) => `@gm/${a}`)),
                message: `@gm/${pkg} may import ${allowed.length === 0 ? 'no other gm package' : allowed.map((p) => `@gm/${p}`).join(', ')} (the arrows in tooling/eslint-config/boundaries.js)`,
              },
            ],
          },
        ],
      },
    });
  }
  return configs;
}
