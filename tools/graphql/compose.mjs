// Compose subgraphs into a federation supergraph with The Guild's composition library.
//
//   node compose.mjs [subgraphs.json | -] [--out supergraph.graphql]
//
// The input (a file, or standard input when none or "-" is given) is JSON: either a list of
// subgraphs or {"subgraphs": [...]}, each {"name": ..., "url": ..., "sdl": ...}. On success the
// supergraph SDL goes to --out (or standard output); on failure every composition error goes to
// standard error, one a line with its code, and the exit status is 1 (2 for unusable input).
import { readFileSync, writeFileSync } from "node:fs";
import { composeServices } from "@theguild/federation-composition";
import { parse } from "graphql";

function usage(message) {
  process.stderr.write(`compose: ${message}\n`);
  process.stderr.write("usage: node compose.mjs [subgraphs.json | -] [--out supergraph.graphql]\n");
  process.exit(2);
}

function parseArguments(argv) {
  const options = { input: "-", out: null };
  let positional = 0;
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index];
    if (argument === "--out") {
      options.out = argv[index + 1];
      if (!options.out) usage("--out needs a file name");
      index += 1;
    } else if (argument === "-h" || argument === "--help") {
      usage("compose subgraphs into a supergraph");
    } else if (positional === 0) {
      options.input = argument;
      positional += 1;
    } else {
      usage(`unexpected argument ${argument}`);
    }
  }
  return options;
}

function readSubgraphs(input) {
  let text;
  try {
    text = readFileSync(input === "-" ? 0 : input, "utf8");
  } catch (error) {
    usage(`cannot read ${input === "-" ? "standard input" : input}: ${error.message}`);
  }
  let document;
  try {
    document = JSON.parse(text);
  } catch (error) {
    usage(`the input is not JSON: ${error.message}`);
  }
  const subgraphs = Array.isArray(document) ? document : document?.subgraphs;
  if (!Array.isArray(subgraphs) || subgraphs.length === 0) {
    usage('the input names no subgraphs (expected [...] or {"subgraphs": [...]})');
  }
  return subgraphs.map((subgraph, index) => {
    const { name, url, sdl } = subgraph ?? {};
    if (typeof name !== "string" || !name) usage(`subgraph ${index} has no name`);
    if (typeof sdl !== "string" || !sdl) usage(`subgraph ${name} has no sdl`);
    if (url !== undefined && typeof url !== "string") usage(`subgraph ${name}: url must be text`);
    let typeDefs;
    try {
      typeDefs = parse(sdl);
    } catch (error) {
      process.stderr.write(`[${name}] SDL_SYNTAX_ERROR: ${error.message}\n`);
      process.exit(1);
    }
    return { name, url, typeDefs };
  });
}

function describe(error) {
  const code = error.extensions?.code ?? "COMPOSITION_ERROR";
  return `${code}: ${error.message}`;
}

const options = parseArguments(process.argv.slice(2));
const result = composeServices(readSubgraphs(options.input));
if (result.errors && result.errors.length > 0) {
  for (const error of result.errors) process.stderr.write(`${describe(error)}\n`);
  process.stderr.write(`compose: ${result.errors.length} composition error(s)\n`);
  process.exit(1);
}
const supergraph = result.supergraphSdl.endsWith("\n") ? result.supergraphSdl : `${result.supergraphSdl}\n`;
if (options.out) {
  writeFileSync(options.out, supergraph);
} else {
  process.stdout.write(supergraph);
}
