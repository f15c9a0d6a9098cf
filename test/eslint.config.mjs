// `npm run lint` = `eslint -c test/eslint.config.mjs .` from the repository root (patterns are relative to it), and
// `npm run format` applies the fixable part. Two layers:
// - correctness: ESLint's and typescript-eslint's recommended rules. no-control-regex is off (the config parsers
//   reject control characters on purpose); names starting with _ drop a field in a destructuring.
// - layout (@stylistic): indentation, quotes, semicolons, spacing, a 140-column limit. It fixes whitespace and
//   leaves line structure alone, so the dense one-line guards and methods of the house style stay as they are;
//   a reformatter that re-breaks every block would rewrite ~10,000 lines. Strings, templates and regexes may run long.
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'src/native/*/build/', 'test-artifacts/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        Buffer: 'readonly', process: 'readonly', console: 'readonly', URL: 'readonly', performance: 'readonly',
        setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly',
        setImmediate: 'readonly', queueMicrotask: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly',
        structuredClone: 'readonly', AbortController: 'readonly',
      },
    },
    rules: {
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // A standalone CommonJS program that runs alone in a guest image (image/NANOS-BUGS.md).
    files: ['image/repro/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests walk untyped JSON (ops configs, manifests) and poke at internals on purpose.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/indent': ['error', 2, {
        SwitchCase: 1, CallExpression: { arguments: 'off' }, flatTernaryExpressions: true,
        ignoredNodes: ['TemplateLiteral *', 'ConditionalExpression', 'TSUnionType', 'TSIntersectionType'],
      }],
      '@stylistic/max-len': ['error', {
        code: 140, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true,
      }],
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      '@stylistic/semi': ['error', 'always'],
      '@stylistic/semi-spacing': 'error',
      '@stylistic/no-extra-semi': 'error',
      '@stylistic/comma-dangle': ['error', 'always-multiline'],
      '@stylistic/comma-spacing': 'error',
      '@stylistic/no-trailing-spaces': 'error',
      '@stylistic/eol-last': 'error',
      '@stylistic/no-multiple-empty-lines': ['error', { max: 1, maxEOF: 0 }],
      '@stylistic/no-tabs': 'error',
      '@stylistic/keyword-spacing': 'error',
      '@stylistic/space-before-blocks': 'error',
      '@stylistic/space-infix-ops': 'error',
      '@stylistic/space-in-parens': 'error',
      '@stylistic/space-before-function-paren': ['error', { anonymous: 'always', named: 'never', asyncArrow: 'always' }],
      '@stylistic/key-spacing': ['error', { mode: 'minimum' }],
      '@stylistic/object-curly-spacing': ['error', 'always'],
      '@stylistic/array-bracket-spacing': ['error', 'never'],
      '@stylistic/block-spacing': 'error',
      '@stylistic/arrow-spacing': 'error',
      '@stylistic/new-parens': 'error',
      '@stylistic/spaced-comment': ['error', 'always', { markers: ['/'], exceptions: ['-', '='] }],
    },
  },
);
