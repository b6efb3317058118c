import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const determinism = {
  'no-restricted-syntax': [
    'error',
    {
      selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
      message: 'No ambient time in packages/*: take sourceDateEpoch.',
    },
    {
      selector: "NewExpression[callee.name='Date'][arguments.length=0]",
      message: 'No ambient time in packages/*: take sourceDateEpoch.',
    },
    {
      selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
      message: 'No randomness in packages/*.',
    },
    {
      selector: "CallExpression[callee.property.name='randomUUID']",
      message: 'No random ids in packages/*: derive them from content.',
    },
  ],
  'no-restricted-properties': [
    'error',
    { object: 'process', property: 'argv', message: 'Library code takes options, not argv.' },
    { object: 'process', property: 'exit', message: 'Only apps/tk/src/main.ts exits.' },
    { object: 'process', property: 'cwd', message: 'Library code takes cwd in its options.' },
    { object: 'process', property: 'env', message: 'Library code takes env in its options.' },
    { object: 'console', property: 'log', message: 'Library code never prints: use the Logger.' },
    { object: 'console', property: 'error', message: 'Library code never prints: use the Logger.' },
  ],
};

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
      'test-fixtures/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/consistent-type-exports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    files: ['packages/*/src/**/*.ts', 'apps/melange/src/**/*.ts', 'apps/apko/src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/cli/**'],
    rules: { ...determinism, '@typescript-eslint/explicit-module-boundary-types': 'error' },
  },
  {
    files: ['**/*.test.ts', '**/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
);
