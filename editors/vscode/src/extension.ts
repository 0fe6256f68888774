// The OSpec extension: starts `ospecc lsp` over stdio for OSpec specs and Starlark topology
// files, logs to the "OSpec" output channel, restarts the server on demand or when a setting
// that shapes the process changes, writes the `ospecc.check.*` settings to ospecc.toml, and
// lists the topology files' tests in the Testing view (run through the server).

import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from "vscode-languageclient/node";

import {
  CheckSettings,
  OspeccSettings,
  RESTART_KEYS,
  SERVER_ARGS,
  configToml,
  documentSelector,
  initializationOptions,
  serverCommand,
} from "./settings";
import { createTestController } from "./testing";

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;

function readSettings(): OspeccSettings {
  const config = vscode.workspace.getConfiguration("ospecc");
  return {
    path: config.get<string>("path"),
    debounceMs: config.get<number>("debounceMs"),
    maxFileBytes: config.get<number>("maxFileBytes"),
    check: {
      profile: config.get<string>("check.profile"),
      strict: config.get<boolean>("check.strict"),
      deny: config.get<string[]>("check.deny"),
      allow: config.get<string[]>("check.allow"),
      exclude: config.get<string[]>("check.exclude"),
    },
  };
}

function firstFolder(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

async function startClient(): Promise<void> {
  const settings = readSettings();
  const command = serverCommand(settings, firstFolder());
  output.appendLine(`starting: ${command} ${SERVER_ARGS.join(" ")} --stdio`);
  const serverOptions: ServerOptions = {
    command,
    args: SERVER_ARGS,
    transport: TransportKind.stdio,
    options: { cwd: firstFolder() },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: documentSelector(),
    initializationOptions: initializationOptions(settings),
    outputChannel: output,
    traceOutputChannel: output,
  };
  const next = new LanguageClient("ospecc", "OSpec", serverOptions, clientOptions);
  client = next;
  try {
    await next.start();
    const info = next.initializeResult?.serverInfo;
    output.appendLine(`started: ${info?.name ?? "ospecc"} ${info?.version ?? ""}`.trimEnd());
  } catch (error) {
    client = undefined;
    const message = error instanceof Error ? error.message : String(error);
    output.appendLine(`could not start \`${command}\`: ${message}`);
    const choice = await vscode.window.showErrorMessage(
      `OSpec: could not start the language server \`${command}\` (${message}). ` +
        "Install ospecc (`cargo install --path .` in its repository) or set `ospecc.path`.",
      "Open Settings",
      "Show Output",
    );
    if (choice === "Open Settings") {
      await vscode.commands.executeCommand("workbench.action.openSettings", "ospecc.path");
    } else if (choice === "Show Output") {
      output.show(true);
    }
  }
}

async function stopClient(): Promise<void> {
  const running = client;
  client = undefined;
  if (running !== undefined) {
    try {
      await running.stop(5000);
    } catch (error) {
      output.appendLine(`stopping the server: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

async function restartClient(): Promise<void> {
  output.appendLine("restarting the language server");
  await stopClient();
  await startClient();
}

async function writeConfig(): Promise<void> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 0) {
    await vscode.window.showErrorMessage("OSpec: open a folder first; ospecc.toml belongs in a workspace folder.");
    return;
  }
  const folder =
    folders.length === 1 ? folders[0] : await vscode.window.showWorkspaceFolderPick({ placeHolder: "Write ospecc.toml in" });
  if (folder === undefined) {
    return;
  }
  const target = path.join(folder.uri.fsPath, "ospecc.toml");
  if (fs.existsSync(target)) {
    const answer = await vscode.window.showWarningMessage(`${target} exists. Replace it?`, { modal: true }, "Replace");
    if (answer !== "Replace") {
      return;
    }
  }
  const check: CheckSettings = readSettings().check ?? {};
  try {
    await fs.promises.writeFile(target, configToml(check), "utf8");
    output.appendLine(`wrote ${target}`);
    const doc = await vscode.workspace.openTextDocument(target);
    await vscode.window.showTextDocument(doc);
  } catch (error) {
    await vscode.window.showErrorMessage(
      `OSpec: cannot write ${target}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("OSpec");
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand("ospecc.restartServer", restartClient),
    vscode.commands.registerCommand("ospecc.showOutput", () => output.show(true)),
    vscode.commands.registerCommand("ospecc.writeConfig", writeConfig),
    ...createTestController(() => client),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (RESTART_KEYS.some((key) => event.affectsConfiguration(key))) {
        await restartClient();
      }
    }),
  );
  await startClient();
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
