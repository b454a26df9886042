// Lint: typed rules that catch the bugs a broker cannot afford (floating promises,
// misused async callbacks) and bans on ambient time and randomness in the pure cores.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const pureCoreBans = {
  'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'process'],
  'no-restricted-properties': [
    'error',
    { object: 'Date', property: 'now', message: 'Pure cores take time as input.' },
    { object: 'Math', property: 'random', message: 'Pure cores take a Random port.' },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'coverage/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  { files: ['src/raft/core/**/*.ts', 'src/broker/replication/**/*.ts'], rules: pureCoreBans },
  {
    // The web console's browser modules (served as they are, no build step).
    files: ['src/api/console/assets/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'fetch', 'EventSource', 'atob', 'TextDecoder',
          'addEventListener', 'removeEventListener', 'console'].map((name) => [name, 'readonly']),
      ),
    },
  },
  { files: ['bin/**/*.js', 'eslint.config.js'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
);
