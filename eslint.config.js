// ESLint for every TypeScript file of the repository, with typescript-eslint's type-checked rules.
// Formatting is Prettier's (.prettierrc.json), not ESLint's: `npm run lint` runs both.
// A rule switched off or tuned here says why, next to it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', 'coverage/**', '.outflow/**', '.ci/**', '**/*.js', '**/*.mjs'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: {
      parserOptions: {
        // The typecheck's own configurations, so lint sees the types `npm run typecheck` sees. (The
        // project service would pick the nearest tsconfig.json: the build's, which leaves test/ and
        // the browser-side test files out.)
        project: ['./tsconfig.check.json', './tsconfig.check-browser.json', './console/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // ~490 findings; its autofix removes assertions some code still needs (an object literal's
      // methods typed through `this`, a predicate-less filter), so it waits for a pass by hand.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Handlers, adapters and fakes implement async interfaces; an async body without `await`
      // still turns a throw into a rejection, which is what their callers handle.
      '@typescript-eslint/require-await': 'off',
      // Names, table keys and file paths are checked for control characters on purpose.
      'no-control-regex': 'off',
      // Every `String(value)` here coerces a parsed setting, vendor field or JSON answer (unknown,
      // or `{}` once null is ruled out) on purpose; the rule cannot tell those from a mistake.
      '@typescript-eslint/no-base-to-string': 'off',
      // The value rejected or thrown is sometimes a caught reason passed on as it came (an
      // AbortSignal's reason, an upload's rejection): typed any or unknown, it is allowed.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // Releasing a large buffer before a function ends, and a default set before a `try` that may
      // replace it, are deliberate.
      'no-useless-assignment': 'off',
      // A `let` read by a shutdown handler registered before the value exists cannot be a const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Unused names are the compiler's job (noUnusedLocals); a leading underscore marks one left
      // out of a destructuring on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests, benchmarks and vendor simulators read HTTP answers and vendor request bodies as JSON
    // (`any`) and check their shape with expect() or a 400; typing each one would add casts that
    // check nothing.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'local/simulators/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests print report rows and failures whose fields are unknown.
      '@typescript-eslint/restrict-template-expressions': 'off',
      // `expect(adapter.removeBatch).toBeTypeOf('function')` reads a method without calling it.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
