// What the extension derives from its settings, kept free of the `vscode` module so the
// Node tests (test/*.test.mjs) run it exactly as the extension does: the server command,
// the initializationOptions `ospecc lsp` accepts, the document selector, and the
// `ospecc.toml` text of the `ospecc.check.*` settings.

import * as os from "node:os";
import * as path from "node:path";

/** The settings of the `ospecc` section, as `WorkspaceConfiguration.get` returns them. */
export interface OspeccSettings {
  path?: string;
  debounceMs?: number;
  maxFileBytes?: number;
  check?: CheckSettings;
}

/** `[check]` of `ospecc.toml` (src/cli/config.rs). */
export interface CheckSettings {
  profile?: string;
  strict?: boolean;
  deny?: string[];
  allow?: string[];
  exclude?: string[];
}

/** The file patterns of OSpec documents (the same list as `ospecc check`'s discovery). */
export const OSPEC_PATTERNS = ["**/*.ospec.yml", "**/*.ospec.yaml", "**/*.ospec", "**/outcome.yml", "**/outcome.yaml"];
/** Topology files. */
export const TOPOLOGY_PATTERNS = ["**/*.star"];

/** Documents the client sends to the server: by language id, and by file pattern so a file
 *  another extension claimed (a `.star` file as Bazel's `starlark`) is still checked. */
export function documentSelector(): { scheme: string; language?: string; pattern?: string }[] {
  return [
    { scheme: "file", language: "ospec" },
    { scheme: "file", language: "ospec-topology" },
    { scheme: "untitled", language: "ospec" },
    { scheme: "untitled", language: "ospec-topology" },
    ...[...OSPEC_PATTERNS, ...TOPOLOGY_PATTERNS].map((pattern) => ({ scheme: "file", pattern })),
  ];
}

/** The program to run: `ospecc.path` with `~` and `${workspaceFolder}` expanded, else
 *  `ospecc` (found on PATH by the process spawn). */
export function serverCommand(settings: OspeccSettings, workspaceFolder?: string): string {
  const configured = (settings.path ?? "").trim();
  if (configured === "") {
    return "ospecc";
  }
  let expanded = configured;
  if (expanded === "~" || expanded.startsWith("~/")) {
    expanded = path.join(os.homedir(), expanded.slice(1));
  }
  if (workspaceFolder !== undefined) {
    expanded = expanded.split("${workspaceFolder}").join(workspaceFolder);
  }
  return expanded;
}

/** The arguments; vscode-languageclient's stdio transport appends `--stdio`, which the
 *  server accepts. */
export const SERVER_ARGS = ["lsp"];

/** `initializationOptions` of `ospecc lsp` (lsp/src/config.rs): `debounceMs` and
 *  `maxFileBytes`, only when they are valid numbers (the server would warn and ignore others). */
export function initializationOptions(settings: OspeccSettings): { debounceMs?: number; maxFileBytes?: number } {
  const options: { debounceMs?: number; maxFileBytes?: number } = {};
  const debounce = settings.debounceMs;
  if (typeof debounce === "number" && Number.isInteger(debounce) && debounce >= 0 && debounce <= 10000) {
    options.debounceMs = debounce;
  }
  const max = settings.maxFileBytes;
  if (typeof max === "number" && Number.isInteger(max) && max > 0) {
    options.maxFileBytes = max;
  }
  return options;
}

/** A TOML basic string. */
function tomlString(value: string): string {
  return JSON.stringify(value);
}

function tomlList(values: string[]): string {
  return `[${values.map(tomlString).join(", ")}]`;
}

/** The `ospecc.toml` text for the `ospecc.check.*` settings. */
export function configToml(check: CheckSettings): string {
  const lines = ["# Written by the OSpec VS Code extension (OSpec: Write ospecc.toml from Settings).", "[check]"];
  lines.push(`profile = ${tomlString(check.profile === "core" ? "core" : "ext")}`);
  lines.push(`strict = ${check.strict === true ? "true" : "false"}`);
  for (const key of ["deny", "allow", "exclude"] as const) {
    const values = (check[key] ?? []).filter((v) => typeof v === "string" && v.trim() !== "");
    if (values.length > 0) {
      lines.push(`${key} = ${tomlList(values.map((v) => v.trim()))}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** Settings whose change needs a new server process. */
export const RESTART_KEYS = ["ospecc.path", "ospecc.debounceMs", "ospecc.maxFileBytes"];
