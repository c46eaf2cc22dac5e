// The architecture's boundaries, checked by `npm run lint` (dependency-cruiser reads type-only
// imports too, which ESLint's import cycle rule ignores). Data flows one way:
// main -> gateway -> {http, gst, observability} -> {ingest, auth, config} -> core.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'No import cycle, type-only imports included: move the shared declarations into a module both can import.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'node-gtk-only-in-gst',
      comment: 'GStreamer and node-gtk live behind one boundary, src/gst/ (and the tests of that folder).',
      severity: 'error',
      from: { pathNot: '^(src|test)/gst/' },
      to: { path: 'node_modules/node-gtk/|node-gtk\\.d\\.ts$' },
    },
    {
      name: 'core-imports-nothing-of-the-project',
      comment: 'src/core/ is the plain domain: it imports only itself (and Node built-ins).',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^(src|test|bench)/', pathNot: '^src/core/' },
    },
    {
      name: 'core-uses-no-packages',
      comment: 'src/core/ is plain TypeScript: no npm package.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'only-gst-and-the-root-import-gst',
      comment: 'Only the entry point (main.ts runs the GLib main loop), the composition root (gateway.ts) and src/gst/ itself know the GStreamer engine; the rest talks to core\'s interfaces.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(gst/|gateway\\.ts$|main\\.ts$)' },
      to: { path: '^src/gst/' },
    },
    {
      name: 'inner-layers-import-no-outer-ones',
      comment: 'ingest, auth and config never import http, the gateway or main.',
      severity: 'error',
      from: { path: '^src/(ingest|auth|config)/' },
      to: { path: '^src/(http/|gateway\\.ts$|main\\.ts$)' },
    },
    {
      name: 'no-imports-from-tests-or-bench',
      comment: 'The product never imports test or bench code.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
  },
};
