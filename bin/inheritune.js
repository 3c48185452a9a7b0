#!/usr/bin/env node
const path = require('node:path');
const fs = require('node:fs');

const bundle = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(bundle)) {
  process.stderr.write(`error: ${bundle} is missing: run \`npm install\` (or \`npm run build\`) in ${path.dirname(__dirname)}\n`);
  process.exit(1);
}
require(bundle);
