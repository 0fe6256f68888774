// The Testing view's controller logic (dist/tests.js, what src/testing.ts binds to VS Code's
// TestController) against the real `ospecc lsp`: it lists a mock-only spec's tests through
// `ospecc.listTests` and runs them through `ospecc.runTest` (a real `ospecc run --test`),
// reporting passed and failed tests with the failing assertion's line. A real VS Code does
// not run here; the controller's calls are recorded instead.
//
// The binary is $OSPECC_BIN, else ../../target/debug/ospecc. Every wait is bounded.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath, pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const protocol = require("vscode-languageserver-protocol/node");
const settings = require("../dist/settings.js");
const tests = require("../dist/tests.js");

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
const binary = process.env.OSPECC_BIN ?? path.join(repoRoot, "target", "debug", "ospecc");

function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A port of the suite's range (45200-45299) free right now. */
async function freePort() {
  for (let port = 45200; port < 45300; port++) {
    const free = await new Promise((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port in 45200-45299");
}

test("the controller lists a spec's tests and runs them through the server", { timeout: 240_000 }, async () => {
  const port = await freePort();
  const spec = fs.readFileSync(path.join(repoRoot, "tests", "lsp", "run", "mock.star"), "utf8").replaceAll("45110", String(port));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ospecc-vscode-testing-"));
  fs.writeFileSync(path.join(dir, "mock.star"), spec);
  const uri = pathToFileURL(path.join(dir, "mock.star")).href;
  const child = spawn(binary, [...settings.SERVER_ARGS, "--stdio"], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  const connection = protocol.createProtocolConnection(
    new protocol.StreamMessageReader(child.stdout),
    new protocol.StreamMessageWriter(child.stdin),
  );
  connection.onRequest(() => null);
  const messages = [];
  connection.onNotification(protocol.ShowMessageNotification.type, (p) => messages.push(p));
  connection.listen();
  // What vscode-languageclient's sendRequest("workspace/executeCommand", ...) does.
  const execute = (command, args) =>
    within(120_000, command, connection.sendRequest(protocol.ExecuteCommandRequest.type, { command, arguments: args }));
  try {
    const init = await within(30_000, "initialize", connection.sendRequest(protocol.InitializeRequest.type, {
      processId: process.pid,
      rootUri: pathToFileURL(dir).href,
      workspaceFolders: [{ uri: pathToFileURL(dir).href, name: "w" }],
      initializationOptions: settings.initializationOptions({ debounceMs: 0 }),
      capabilities: {},
    }));
    assert.deepEqual(init.capabilities.executeCommandProvider.commands.sort(), [tests.LIST_TESTS, tests.RUN_TEST].sort());
    await connection.sendNotification(protocol.InitializedNotification.type, {});

    const listed = await tests.listTests(execute, uri);
    assert.deepEqual(
      listed.map((t) => [t.name, t.kind, t.label]),
      [
        ["test_health", "def", "test_health"],
        ["test_slow_is_up", "def", "test_slow_is_up"],
        ["test_fetch", "scenario", "test_fetch"],
        ["test_health_under_fault", "fault_scenario", "test_health_under_fault"],
        ["test_matrix_fetch_api_down", "matrix_cell", "fetch × api_down"],
      ],
    );
    const slowLine = spec.split("\n").findIndex((l) => l.includes("def test_slow_is_up")) + 1;
    assert.equal(listed[1].line, slowLine);

    const calls = [];
    const sink = {
      started: (u, name) => calls.push(["started", name]),
      finished: (u, name, state, ms, message, line) => calls.push(["finished", name, state, message ?? null, line ?? null]),
      failedToRun: (u, names, why) => calls.push(["failedToRun", names, why]),
    };
    const selected = tests.byFile([
      { uri, name: "test_health" },
      { uri, name: "test_slow_is_up" },
      { uri, name: "test_health" },
    ]);
    assert.deepEqual([...selected.entries()], [[uri, ["test_health", "test_slow_is_up"]]]);
    const outcome = await tests.runTests(execute, uri, selected.get(uri), sink);
    const assertionLine = spec.split("\n").findIndex((l) => l.includes('"slow answers 200"')) + 1;
    assert.deepEqual(calls, [
      ["started", "test_health"],
      ["started", "test_slow_is_up"],
      ["finished", "test_health", "passed", null, listed[0].line],
      ["finished", "test_slow_is_up", "failed", "assert_eq failed: 503 != 200 (slow answers 200)", assertionLine],
    ]);
    assert.equal(outcome.passed, false);
    // The summary notification (window/showMessage) may arrive after the command's answer.
    for (let waited = 0; messages.length === 0 && waited < 10_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.match(messages.at(-1)?.message ?? "", /1 passed, 1 failed/);

    // A name the spec does not have: the run reports it as not run, never as passed.
    calls.length = 0;
    await tests.runTests(execute, uri, ["test_nope"], sink);
    assert.equal(calls[0][0], "started");
    assert.equal(calls.at(-1)[0], "failedToRun", JSON.stringify(calls));

    assert.equal(tests.stateOf("not_run"), "skipped");
    assert.equal(tests.stateOf("errored"), "errored");

    await within(15_000, "shutdown", connection.sendRequest(protocol.ShutdownRequest.type));
    await connection.sendNotification(protocol.ExitNotification.type);
    assert.equal(await within(15_000, "exit", exited), 0);
  } finally {
    connection.dispose();
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
