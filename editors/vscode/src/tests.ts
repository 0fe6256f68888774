// The Testing view's logic, kept free of the `vscode` module so the Node tests run it exactly
// as the extension does: the tests a topology file declares come from the server
// (`ospecc.listTests`), runs go through the server (`ospecc.runTest`, which runs
// `ospecc run --test`), and each result becomes a test state with its message and the line of
// the failing assertion. `testing.ts` binds this to VS Code's TestController.

/** Sends `workspace/executeCommand` to the language server and resolves with its result. */
export type Execute = (command: string, args: unknown[]) => Promise<unknown>;

/** One test as the server lists it (compiler/src/plan/runnable.rs). */
export interface ListedTest {
  name: string;
  kind: string;
  /** 1-based. */
  line: number;
  column: number;
  label: string;
}

/** One test's result as the server reports it (lsp/src/runs.rs). */
export interface TestResult {
  name: string;
  outcome: string;
  message?: string;
  duration_ms: number;
  /** 1-based: the failing assertion's line, else the declaration's. */
  line?: number;
  column?: number;
}

export interface RunOutcome {
  results: TestResult[];
  summary: string;
  passed: boolean;
  trace_dir?: string;
}

/** What a run reports a test as, in the Testing view's terms. */
export type State = "passed" | "failed" | "errored" | "skipped";

/** Where the run's states go (a `vscode.TestRun`, or the tests' recorder). */
export interface Sink {
  started(uri: string, name: string): void;
  finished(uri: string, name: string, state: State, durationMs: number, message?: string, line?: number): void;
  /** A run that could not happen at all (the binary is missing, the spec has errors). */
  failedToRun(uri: string, names: string[], why: string): void;
}

export const LIST_TESTS = "ospecc.listTests";
export const RUN_TEST = "ospecc.runTest";

/** The tests of the topology file `uri`, in source order (empty for a file with errors). */
export async function listTests(execute: Execute, uri: string): Promise<ListedTest[]> {
  const answer = (await execute(LIST_TESTS, [{ uri }])) as { tests?: ListedTest[] } | null;
  return Array.isArray(answer?.tests) ? answer!.tests : [];
}

/** A stable id for a test of a file. */
export function testId(uri: string, name: string): string {
  return `${uri}#${name}`;
}

/** The Testing view's state for a server outcome. */
export function stateOf(outcome: string): State {
  switch (outcome) {
    case "passed":
      return "passed";
    case "failed":
      return "failed";
    case "skipped":
    case "not_run":
    case "unverifiable":
      return "skipped";
    default:
      return "errored";
  }
}

/** Runs `names` of the file `uri` (one `ospecc run` for all of them) and reports each. */
export async function runTests(execute: Execute, uri: string, names: string[], sink: Sink, trace = false): Promise<RunOutcome | undefined> {
  for (const name of names) {
    sink.started(uri, name);
  }
  let outcome: RunOutcome;
  try {
    outcome = (await execute(RUN_TEST, [{ uri, tests: names, trace }])) as RunOutcome;
  } catch (error) {
    sink.failedToRun(uri, names, error instanceof Error ? error.message : String(error));
    return undefined;
  }
  const reported = new Set<string>();
  for (const result of outcome?.results ?? []) {
    reported.add(result.name);
    sink.finished(uri, result.name, stateOf(result.outcome), result.duration_ms, result.message, result.line);
  }
  const missing = names.filter((n) => !reported.has(n));
  if (missing.length > 0) {
    sink.failedToRun(uri, missing, "the run reported no result for these tests");
  }
  return outcome;
}

/** Groups selected tests by file, keeping the order they were selected in. */
export function byFile(selected: { uri: string; name: string }[]): Map<string, string[]> {
  const files = new Map<string, string[]>();
  for (const { uri, name } of selected) {
    const names = files.get(uri) ?? [];
    if (!names.includes(name)) {
      names.push(name);
    }
    files.set(uri, names);
  }
  return files;
}
