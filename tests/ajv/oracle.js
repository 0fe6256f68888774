// The reference validator for the OSpec differential test (compiler/tests/ospec_differential.rs).
//
// Reads [{path, text}] as JSON on stdin, parses each text with the npm `yaml` package (v2,
// YAML 1.2 core schema, as the official OSpec validator does), validates every document with
// ajv 8 + ajv-formats against the schema named by argv[2] (allErrors, strict off), and writes
// [{path, parse_error, documents: [{valid, locations}]}] to stdout.
//
// Locations are normalised the way ospecc reports them: an unknown key is `parent/key`, a
// missing required key is the parent, and errors inside a oneOf/anyOf branch are reported at
// the value the (innermost) alternatives were about.
//
// The packages come from NODE_PATH (the test installs them into target/ajv-oracle).
"use strict";

const fs = require("fs");
const Ajv = require("ajv");
const addFormats = require("ajv-formats");
const YAML = require("yaml");

const schema = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(schema);

function escapeToken(key) {
  return String(key).replace(/~/g, "~0").replace(/\//g, "~1");
}

function locations(errors) {
  const combinators = errors.filter((e) => e.keyword === "oneOf" || e.keyword === "anyOf");
  const out = new Set();
  for (const e of errors) {
    let loc = e.instancePath;
    if (e.keyword === "additionalProperties") {
      loc = `${e.instancePath}/${escapeToken(e.params.additionalProperty)}`;
    }
    let owner = null;
    for (const c of combinators) {
      const inside = c !== e && e.schemaPath.startsWith(`${c.schemaPath}/`) && e.instancePath.startsWith(c.instancePath);
      if (inside && (owner === null || c.schemaPath.length > owner.schemaPath.length)) owner = c;
    }
    if (owner !== null) loc = owner.instancePath;
    out.add(loc);
  }
  return [...out].sort();
}

function check(text) {
  const docs = YAML.parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  if (list.some((d) => d.errors && d.errors.length > 0)) return { parse_error: true, documents: [] };
  const documents = [];
  for (const doc of list) {
    let value;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      return { parse_error: true, documents: [] };
    }
    if (value === undefined) value = null;
    const valid = validate(value);
    documents.push({ valid, locations: valid ? [] : locations(validate.errors || []) });
  }
  return { parse_error: false, documents };
}

const input = JSON.parse(fs.readFileSync(0, "utf8"));
const results = input.map(({ path, text }) => {
  try {
    return { path, ...check(text) };
  } catch (err) {
    return { path, parse_error: true, documents: [], error: String(err) };
  }
});
process.stdout.write(JSON.stringify(results));
