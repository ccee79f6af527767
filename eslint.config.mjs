import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node's modules, by both of their names: workflow code runs in a sandbox that has none of them. */
const nodeBuiltins = builtinModules.flatMap((name) => [name, `node:${name}`]);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', 'bench/cache/', 'test/.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A promise nobody awaits loses its error: an upload that fails silently. node:test's
      // test() and describe() return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Workflow code is replayed: it must be deterministic, so it does no I/O. What it imports is
    // bundled into the workflow sandbox, and the pure decisions in src/stream are imported by it.
    files: ['src/workflows/**/*.ts', 'src/stream/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflow code and the decisions it imports do no I/O: no Node built-ins.',
          })),
          patterns: [
            {
              group: [
                '**/activities',
                '**/activities/**',
                '**/watcher',
                '**/watcher/**',
                '@aws-sdk/*',
                'chokidar',
                'pino',
                'prom-client',
                '**/config',
                '**/s3',
                '**/logger',
                '**/metrics',
              ],
              allowTypeImports: true,
              message: 'Workflow code imports only types and pure helpers: I/O belongs in src/activities.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
