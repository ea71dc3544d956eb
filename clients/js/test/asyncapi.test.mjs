// docs/asyncapi.yaml must pass the official AsyncAPI parser: code generators reject a contract
// with any error-level diagnostic.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { Parser, fromFile } from "@asyncapi/parser";

import { repoRoot } from "./station.mjs";

test("docs/asyncapi.yaml parses with no error", async () => {
  const path = join(repoRoot, "docs", "asyncapi.yaml");
  const parser = new Parser();
  const { document, diagnostics } = await fromFile(parser, path).parse();
  const errors = diagnostics.filter((d) => d.severity === 0);
  assert.deepEqual(
    errors.map((d) => `${d.code} at ${d.path.join(".")}: ${d.message}`),
    [],
  );
  assert.ok(document, "the parser returned a document");
});
