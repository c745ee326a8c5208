// Lint rules: typescript-eslint's strict, type-aware set over the TypeScript (the project's
// tsconfig.test.json covers src, test, bench and scripts), with the few choices below.
// Formatting is Prettier's job (.prettierrc.json); `npm run lint` runs both.

import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'data/', 'node_modules/', 'test-results/', 'public/vendor/', 'views/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { '@stylistic': stylistic },
    rules: {
      // No line longer than Prettier's printWidth. Prettier never splits a literal, and a log
      // line, error message or test title is easiest to find when it is one literal: those may
      // run longer; code and comments may not.
      '@stylistic/max-len': [
        'error',
        {
          code: 100,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
          ignoreUrls: true,
          ignorePattern: String.raw`^\s*(it|test|describe)(\.\w+)?\(`,
        },
      ],
      // Numbers read the same in every template; booleans, objects and nullish values do not.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `(x) => this.handle(x)` as a callback, and `return this.refuse(…)` as an early exit from a
      // function that returns nothing, read as what they are.
      '@typescript-eslint/no-confusing-void-expression': [
        'error',
        { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true },
      ],
      // Unused arguments named _like_this are placeholders in a signature the caller fixes.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // A wrong `!` in a test, benchmark or tool throws and fails the run, as it should; spelling
    // out every lookup of a fixture the run itself just made would hide what it checks.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read data whose type is what they check (old-schema fixtures, an old release's
      // modules, raw frames from the wire): its shape is asserted, not declared.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // A test double's async method stands in for one that awaits, and keeps its signature.
      '@typescript-eslint/require-await': 'off',
      // A promisified callback rejects with whatever error the callback was given.
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The page's own scripts: classic scripts run by the browser as they are, without a build.
    files: ['public/js/**/*.js'],
    languageOptions: { sourceType: 'script', globals: globals.browser },
    // They keep to ES5 syntax throughout, which has no `catch` without a binding.
    rules: { '@typescript-eslint/no-unused-vars': ['error', { caughtErrors: 'none' }] },
  },
);
