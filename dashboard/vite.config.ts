// Builds the dashboard into dist/dashboard/ (git-ignored), served by the gateway at /dashboard (gateway/dashboard.ts).
// `npm run build` runs codegen first: src/__generated__/ comes from operations/*.graphql (codegen.yml).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "/dashboard/",
  // JSX through Vite's own transform (Oxc): no React plugin needed for a production build (it only adds Fast Refresh
  // in development, and its current release asks for a Babel 8 peer that conflicts with jest's Babel 7).
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: fileURLToPath(new URL("../dist/dashboard", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    // One vendor chunk changes rarely (long-cached), the app chunk on every release.
    chunkSizeWarningLimit: 800,
    rolldownOptions: {
      // react-router marks its modules "use client" (for React Server Components); meaningless in a client bundle.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
      output: {
        codeSplitting: { groups: [{ name: "vendor", test: /node_modules/ }] },
      },
    },
  },
  server: {
    // `npx vite dashboard` during development: the API comes from a running `npm start`.
    proxy: { "/graphql": { target: "http://127.0.0.1:4000", ws: true } },
  },
});
