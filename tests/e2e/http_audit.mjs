// The GraphQL-over-HTTP server audit of the graphql-http package against a running server.
//
//   node tests/e2e/http_audit.mjs <graphql url>
//
// graphql-http comes from tools/graphql/node_modules (make env installs it); GRAPHQL_TOOLS may
// name another directory holding its package.json. Prints one JSON document on stdout:
// {"url": ..., "results": [{"id", "name", "status", "reason"?, "response"?}, ...]}, in the
// order the package lists its audits; a failing result carries the response it judged.

import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tools = resolve(process.env.GRAPHQL_TOOLS ?? join(here, '..', '..', 'tools', 'graphql'));
const require = createRequire(join(tools, 'package.json'));
const { serverAudits } = require('graphql-http');

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: node http_audit.mjs <graphql url>\n');
  process.exit(2);
}

async function described(response) {
  if (!response) return undefined;
  let body;
  try {
    body = await response.clone().text();
  } catch {
    body = '<body already read by the audit>';
  }
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: body.length > 2000 ? `${body.slice(0, 2000)}…` : body,
  };
}

const results = [];
for (const audit of serverAudits({ url })) {
  let result;
  try {
    result = await audit.fn();
  } catch (error) {
    result = { id: audit.id, name: audit.name, status: 'error', reason: `the audit threw: ${error}` };
  }
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.response = await described(result.response);
  }
  results.push(entry);
}
process.stdout.write(`${JSON.stringify({ url, results })}\n`);
