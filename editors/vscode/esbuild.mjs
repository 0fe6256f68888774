// Bundles the extension (and the settings and tests modules the Node tests load) into dist/ with esbuild.
// `--production` minifies without source maps (what `vsce package` ships); `--watch` rebuilds.
import * as esbuild from "esbuild";

const production = process.argv.includes("--production");
const watch = process.argv.includes("--watch");

const options = {
  entryPoints: { extension: "src/extension.ts", settings: "src/settings.ts", tests: "src/tests.ts" },
  bundle: true,
  outdir: "dist",
  format: "cjs",
  platform: "node",
  target: "node18",
  external: ["vscode"],
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: "info",
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
