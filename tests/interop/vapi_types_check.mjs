// Type-checks server events against the official Vapi TypeScript SDK (@vapi-ai/server-sdk).
//
// Usage: node vapi_types_check.mjs MODULES_DIR EVENTS_FILE
//   MODULES_DIR  a directory whose node_modules holds @vapi-ai/server-sdk and typescript
//                (`npm install --prefix MODULES_DIR @vapi-ai/server-sdk typescript`)
//   EVENTS_FILE  one envelope {"message": {...}} per line (`webhookctl events --profile vapi`)
//
// Every line becomes a fresh object literal typed `Vapi.ServerMessage` in one generated file,
// compiled with the TypeScript compiler API in strict mode: missing required fields, wrong
// enum values, wrong primitive types and unknown properties are all errors. Prints one line
// per error (event number, type, message) and exits 1 on any error, 0 when every event passes,
// 2 on a usage error.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const [modulesDir, eventsFile] = process.argv.slice(2);
if (!modulesDir || !eventsFile) {
  console.error("usage: node vapi_types_check.mjs MODULES_DIR EVENTS_FILE");
  process.exit(2);
}
const dir = resolve(modulesDir);
const require = createRequire(join(dir, "package.json"));
const ts = require("typescript");

const lines = readFileSync(eventsFile, "utf8").split("\n").filter((l) => l.trim() !== "");
if (lines.length === 0) {
  console.error(`${eventsFile}: no events`);
  process.exit(2);
}
const types = [];
let source = 'import type { Vapi } from "@vapi-ai/server-sdk";\n';
const firstLine = [];
lines.forEach((line, i) => {
  const value = JSON.parse(line);
  types.push(value?.message?.type ?? "(no type)");
  const text = `export const event${i}: Vapi.ServerMessage = ${JSON.stringify(value, null, 1)};\n`;
  firstLine.push(source.split("\n").length);
  source += text;
});
const file = join(dir, "vapi_events_check.ts");
writeFileSync(file, source);

const program = ts.createProgram([file], {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
});
const diagnostics = ts.getPreEmitDiagnostics(program);
let errors = 0;
for (const d of diagnostics) {
  errors += 1;
  const message = ts.flattenDiagnosticMessageText(d.messageText, "\n  ");
  if (!d.file) {
    console.log(`error: ${message}`);
    continue;
  }
  const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
  let index = firstLine.findLastIndex((first) => first <= line + 1);
  const where = index >= 0 ? `event ${index + 1} (${types[index]})` : `line ${line + 1}`;
  console.log(`${where}: ${message}`);
}
if (errors > 0) {
  console.log(`${errors} error(s) in ${lines.length} events`);
  process.exit(1);
}
console.log(`${lines.length} events pass @vapi-ai/server-sdk types`);
