// Drives `ospecc lsp` from Node through vscode-languageserver-protocol / vscode-jsonrpc, the
// protocol layer vscode-languageclient is built on, with the extension's own settings module
// (dist/settings.js: the initializationOptions and document patterns the extension sends).
//
// The binary is $OSPECC_BIN, else ../../target/debug/ospecc. Every wait is bounded.

import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath, pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const protocol = require("vscode-languageserver-protocol/node");
const settings = require("../dist/settings.js");

const here = path.dirname(fileURLToPath(import.meta.url));
const extensionDir = path.resolve(here, "..");
const repoRoot = path.resolve(extensionDir, "../..");
const binary = process.env.OSPECC_BIN ?? path.join(repoRoot, "target", "debug", "ospecc");
const fixtures = path.join(repoRoot, "tests", "editors");

/** Resolves with `promise`, or rejects after `ms` naming `what`. */
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function tempProject(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ospecc-vscode-"));
  for (const [name, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

test("the binary exists", () => {
  assert.ok(fs.existsSync(binary), `ospecc binary not found at ${binary} (build it or set OSPECC_BIN)`);
});

test("initialize, didOpen a bad spec, publishDiagnostics with OSP101, completion/hover, shutdown/exit", { timeout: 180_000 }, async () => {
  const badText = fs.readFileSync(path.join(fixtures, "bad.ospec.yml"), "utf8");
  const dir = tempProject({ "bad.ospec.yml": badText });
  const child = spawn(binary, [...settings.SERVER_ARGS, "--stdio"], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const spawnError = new Promise((_, reject) => child.on("error", reject));

  const connection = protocol.createProtocolConnection(
    new protocol.StreamMessageReader(child.stdout),
    new protocol.StreamMessageWriter(child.stdin),
  );
  // Server-to-client requests (watcher registration, progress tokens): acknowledge them as
  // vscode-languageclient does.
  connection.onRequest((method) => {
    return null;
  });
  const logs = [];
  connection.onNotification(protocol.LogMessageNotification.type, (p) => logs.push(p.message));
  connection.onNotification(protocol.ShowMessageNotification.type, (p) => logs.push(p.message));
  const uri = pathToFileURL(path.join(dir, "bad.ospec.yml")).href;
  const diagnostics = new Promise((resolve) => {
    connection.onNotification(protocol.PublishDiagnosticsNotification.type, (p) => {
      if (p.uri === uri && p.diagnostics.length > 0) {
        resolve(p.diagnostics);
      }
    });
  });
  connection.listen();

  try {
    const init = await within(
      30_000,
      "initialize",
      Promise.race([
        spawnError,
        connection.sendRequest(protocol.InitializeRequest.type, {
          processId: process.pid,
          rootUri: pathToFileURL(dir).href,
          workspaceFolders: [{ uri: pathToFileURL(dir).href, name: "fixture" }],
          initializationOptions: settings.initializationOptions({ debounceMs: 0, maxFileBytes: 1_000_000 }),
          capabilities: {
            general: { positionEncodings: ["utf-16"] },
            textDocument: {
              synchronization: { didSave: true, dynamicRegistration: false },
              publishDiagnostics: { relatedInformation: true, codeDescriptionSupport: true },
              completion: { completionItem: { snippetSupport: true, documentationFormat: ["markdown", "plaintext"] } },
              hover: { contentFormat: ["markdown", "plaintext"] },
            },
            workspace: { workspaceFolders: true, didChangeWatchedFiles: { dynamicRegistration: true } },
            window: { workDoneProgress: true },
          },
        }),
      ]),
    );
    assert.equal(init.serverInfo?.name, "ospecc");
    assert.ok(init.capabilities.textDocumentSync, "the server announces text document sync");
    await connection.sendNotification(protocol.InitializedNotification.type, {});
    // The extension would send this document: its name matches the extension's patterns.
    assert.ok(
      settings.OSPEC_PATTERNS.some((p) => p.endsWith("*.ospec.yml")),
      "bad.ospec.yml is one of the extension's OSpec patterns",
    );
    await connection.sendNotification(protocol.DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId: "ospec", version: 1, text: badText },
    });
    const published = await within(60_000, "publishDiagnostics for bad.ospec.yml", diagnostics);
    const codes = published.map((d) => d.code);
    console.log(`diagnostics: ${JSON.stringify(published.map((d) => [d.code, d.severity, d.message]))}`);
    assert.ok(codes.includes("OSP101"), `expected OSP101 among ${JSON.stringify(codes)}`);
    const osp101 = published.find((d) => d.code === "OSP101");
    assert.equal(osp101.severity, protocol.DiagnosticSeverity.Error);
    assert.equal(osp101.source, "ospecc");

    // Completion and hover may or may not be offered by this build of the server: the request
    // must come back without a protocol error (or as "method not found" when not offered),
    // and a result is a list, a CompletionList, a Hover, or null.
    const position = { line: 5, character: 0 };
    for (const [name, type, check] of [
      ["completion", protocol.CompletionRequest.type, (r) => r === null || Array.isArray(r) || Array.isArray(r?.items)],
      ["hover", protocol.HoverRequest.type, (r) => r === null || r?.contents !== undefined],
    ]) {
      try {
        const result = await within(30_000, name, connection.sendRequest(type, { textDocument: { uri }, position }));
        assert.ok(check(result), `unexpected ${name} result ${JSON.stringify(result)}`);
        const items = Array.isArray(result) ? result : result?.items;
        console.log(`${name}: ${items ? `${items.length} items: ${items.map((i) => i.label).slice(0, 20).join(", ")}` : JSON.stringify(result)}`);
      } catch (error) {
        if (error?.code === protocol.ErrorCodes.MethodNotFound) {
          console.log(`${name}: not offered by this server (method not found)`);
        } else {
          throw error;
        }
      }
    }

    await within(15_000, "shutdown", connection.sendRequest(protocol.ShutdownRequest.type));
    await connection.sendNotification(protocol.ExitNotification.type);
    const { code } = await within(15_000, "the server to exit", exited);
    assert.equal(code, 0, `exit code after shutdown/exit (stderr: ${stderr})`);
  } finally {
    connection.dispose();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the settings module: server command, initializationOptions, ospecc.toml accepted by ospecc", () => {
  assert.equal(settings.serverCommand({}), "ospecc");
  assert.equal(settings.serverCommand({ path: "  " }), "ospecc");
  assert.equal(settings.serverCommand({ path: "${workspaceFolder}/target/debug/ospecc" }, "/w"), "/w/target/debug/ospecc");
  assert.equal(settings.serverCommand({ path: "~/bin/ospecc" }), path.join(os.homedir(), "bin/ospecc"));
  assert.deepEqual(settings.initializationOptions({ debounceMs: 250, maxFileBytes: 10 }), { debounceMs: 250, maxFileBytes: 10 });
  assert.deepEqual(settings.initializationOptions({ debounceMs: -1, maxFileBytes: 0 }), {});

  const toml = settings.configToml({ profile: "core", strict: true, deny: ["OSP103"], allow: ["osp208"], exclude: ["vendor/**"] });
  assert.match(toml, /^\[check\]$/m);
  assert.match(toml, /^profile = "core"$/m);
  assert.match(toml, /^strict = true$/m);
  assert.match(toml, /^deny = \["OSP103"\]$/m);
  // The real binary accepts the written file and applies it: the good fixture uses an ext
  // extension (`service_health`), clean under `ext` and an error under `core`.
  const good = fs.readFileSync(path.join(fixtures, "good.ospec.yml"), "utf8");
  const dir = tempProject({ "ospecc.toml": settings.configToml({ profile: "ext", strict: true, deny: ["OSP103"] }), "good.ospec.yml": good });
  const check = () => spawnSync(binary, ["check", "--color", "never", "good.ospec.yml"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
  try {
    let run = check();
    assert.equal(run.status, 0, `ospecc check with profile ext: ${run.stdout}${run.stderr}`);
    fs.writeFileSync(path.join(dir, "ospecc.toml"), toml);
    run = check();
    assert.equal(run.status, 1, `ospecc check with profile core: ${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /service_health/);
    fs.writeFileSync(path.join(dir, "ospecc.toml"), settings.configToml({ deny: ["NOPE1"] }));
    run = check();
    assert.equal(run.status, 2, `an unknown code in ospecc.toml is a usage error: ${run.stdout}${run.stderr}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("package.json registers the same file patterns as the settings module", () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(extensionDir, "package.json"), "utf8"));
  const [ospec, topology] = manifest.contributes.languages;
  assert.equal(ospec.id, "ospec");
  assert.deepEqual(ospec.filenames, ["outcome.yml", "outcome.yaml"]);
  for (const p of ["*.ospec.yml", "*.ospec.yaml", "*.ospec"]) {
    assert.ok(ospec.filenamePatterns.includes(p), p);
    assert.ok(settings.OSPEC_PATTERNS.includes(`**/${p}`), p);
  }
  assert.equal(topology.id, "ospec-topology");
  assert.deepEqual(topology.extensions, [".star"]);
  for (const grammar of manifest.contributes.grammars) {
    const file = JSON.parse(fs.readFileSync(path.join(extensionDir, grammar.path), "utf8"));
    assert.equal(file.scopeName, grammar.scopeName);
  }
  for (const snippet of manifest.contributes.snippets) {
    const file = JSON.parse(fs.readFileSync(path.join(extensionDir, snippet.path), "utf8"));
    assert.ok(Object.keys(file).length >= 5, `${snippet.path} has its snippets`);
  }
  const commands = manifest.contributes.commands.map((c) => c.command);
  assert.deepEqual(commands.sort(), ["ospecc.restartServer", "ospecc.showOutput", "ospecc.writeConfig"]);
});
