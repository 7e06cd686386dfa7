/// <reference types="vitest/config" />
import { defineConfig } from "vite";

// The API (`conveyor up`) listens here during development; `npm run dev` proxies to it so the
// page and the API share an origin, exactly as when the API serves the built files itself.
const api = process.env.CONVEYOR_API ?? "http://127.0.0.1:8000";
const apiPaths = [
  "/jobs",
  "/dlq",
  "/metrics",
  "/health",
  "/ready",
  "/stats",
  "/workers",
  "/queues",
  "/schedules",
  "/retention",
  "/whoami",
  "/openapi.json",
  "/docs",
];

export default defineConfig({
  // React's automatic JSX runtime straight from esbuild: no Babel, no plugin.
  esbuild: { jsx: "automatic" },
  server: {
    host: "127.0.0.1",
    proxy: {
      ...Object.fromEntries(apiPaths.map((path) => [path, { target: api, changeOrigin: true }])),
      "/ws": { target: api.replace(/^http/, "ws"), ws: true, changeOrigin: true },
    },
  },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: true,
    target: "es2022",
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
