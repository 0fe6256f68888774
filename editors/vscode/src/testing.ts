// The Testing view: a TestController whose items are the topology files of the workspace and
// the tests each declares (asked of the server), and whose run profiles ("Run", "Run with
// trace") run them through the server. The logic lives in tests.ts (tested without VS Code).

import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";

import { byFile, listTests, runTests, Sink, testId } from "./tests";

/** Creates the controller; `client()` is the running language client (or none). */
export function createTestController(client: () => LanguageClient | undefined): vscode.Disposable[] {
  const controller = vscode.tests.createTestController("ospecc", "OSpec topology tests");
  const execute = async (command: string, args: unknown[]): Promise<unknown> => {
    const running = client();
    if (running === undefined) {
      throw new Error("the OSpec language server is not running");
    }
    return running.sendRequest("workspace/executeCommand", { command, arguments: args });
  };

  const fileItem = (uri: vscode.Uri): vscode.TestItem => {
    const existing = controller.items.get(uri.toString());
    if (existing !== undefined) {
      return existing;
    }
    const item = controller.createTestItem(uri.toString(), vscode.workspace.asRelativePath(uri), uri);
    item.canResolveChildren = true;
    controller.items.add(item);
    return item;
  };

  const refreshFile = async (item: vscode.TestItem): Promise<void> => {
    if (item.uri === undefined) {
      return;
    }
    const uri = item.uri;
    const tests = await listTests(execute, uri.toString());
    item.children.replace(
      tests.map((test) => {
        const child = controller.createTestItem(testId(uri.toString(), test.name), test.label, uri);
        child.range = new vscode.Range(test.line - 1, 0, test.line - 1, 0);
        return child;
      }),
    );
  };

  controller.resolveHandler = async (item) => {
    if (item === undefined) {
      for (const uri of await vscode.workspace.findFiles("**/*.star", "**/node_modules/**")) {
        fileItem(uri);
      }
      return;
    }
    await refreshFile(item);
  };

  const run = async (request: vscode.TestRunRequest, token: vscode.CancellationToken, trace: boolean): Promise<void> => {
    const testRun = controller.createTestRun(request);
    const byName = new Map<string, vscode.TestItem>();
    const selected: { uri: string; name: string }[] = [];
    const roots = request.include ?? [...iterate(controller.items)];
    for (const root of roots) {
      if (root.parent === undefined && root.children.size === 0) {
        await refreshFile(root);
      }
      const leaves = root.children.size === 0 ? [root] : [...iterate(root.children)];
      for (const leaf of leaves) {
        if (request.exclude?.includes(leaf) || leaf.uri === undefined) {
          continue;
        }
        const name = leaf.id.slice(leaf.id.lastIndexOf("#") + 1);
        byName.set(testId(leaf.uri.toString(), name), leaf);
        selected.push({ uri: leaf.uri.toString(), name });
      }
    }
    const sink: Sink = {
      started: (uri, name) => {
        const item = byName.get(testId(uri, name));
        if (item) testRun.started(item);
      },
      finished: (uri, name, state, durationMs, message, line) => {
        const item = byName.get(testId(uri, name));
        if (item === undefined) return;
        if (state === "passed") {
          testRun.passed(item, durationMs);
        } else if (state === "skipped") {
          testRun.skipped(item);
        } else {
          const text = new vscode.TestMessage(message ?? state);
          if (line !== undefined && item.uri !== undefined) {
            text.location = new vscode.Location(item.uri, new vscode.Position(line - 1, 0));
          }
          (state === "failed" ? testRun.failed : testRun.errored).call(testRun, item, text, durationMs);
        }
      },
      failedToRun: (uri, names, why) => {
        for (const name of names) {
          const item = byName.get(testId(uri, name));
          if (item) testRun.errored(item, new vscode.TestMessage(why));
        }
      },
    };
    for (const [uri, names] of byFile(selected)) {
      if (token.isCancellationRequested) break;
      const outcome = await runTests(execute, uri, names, sink, trace);
      if (outcome?.trace_dir) {
        testRun.appendOutput(`traces: ${outcome.trace_dir}\r\n`);
      }
    }
    testRun.end();
  };

  controller.createRunProfile("Run", vscode.TestRunProfileKind.Run, (request, token) => run(request, token, false), true);
  controller.createRunProfile("Run with trace", vscode.TestRunProfileKind.Run, (request, token) => run(request, token, true));

  const watcher = vscode.workspace.createFileSystemWatcher("**/*.star");
  return [
    controller,
    watcher,
    watcher.onDidCreate((uri) => fileItem(uri)),
    watcher.onDidDelete((uri) => controller.items.delete(uri.toString())),
    watcher.onDidChange(async (uri) => {
      const item = controller.items.get(uri.toString());
      if (item) await refreshFile(item);
    }),
  ];
}

function* iterate(collection: vscode.TestItemCollection): Generator<vscode.TestItem> {
  const items: vscode.TestItem[] = [];
  collection.forEach((item) => items.push(item));
  yield* items;
}
