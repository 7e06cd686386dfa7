// ESLint 9 flat config. `npm test` runs it with --max-warnings 0, so a warning fails the build
// like an error does: fix the code, or disable one rule on one line with the reason beside it.

import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig([
  globalIgnores(["dist/", "node_modules/"]),

  {
    files: ["**/*.{ts,tsx}"],
    extends: [
      js.configs.recommended,
      // Type-aware: the rules see what tsc sees (floating promises, unsafe `any`, …).
      tseslint.configs.recommendedTypeChecked,
      // The rules of hooks, exhaustive deps, and the React Compiler's rules of React.
      reactHooks.configs.flat.recommended,
    ],
    languageOptions: {
      // The project service reads the tsconfig.*.json that includes each file.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: globals.browser,
    },
  },

  {
    files: ["vite.config.ts"],
    languageOptions: { globals: globals.node },
  },

  {
    // This file itself: plain JavaScript, outside every tsconfig, so no type-aware rules.
    files: ["eslint.config.js"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
]);
