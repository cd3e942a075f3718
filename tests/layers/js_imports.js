'use strict';
// Fails if the modules of the npm package require each other in a cycle.
//
//   node tests/layers/js_imports.js [NPM_DIR]      (default: npm/ of this checkout)
//
// Every npm/lib/*.js file and the package's entry (index.js) is a node; an
// edge A -> B is a `require('./b.js')` (or '../lib/b.js', './lib/b.js') in A
// that resolves to another node. Requires of Node built-ins and of the built
// wasm (../dist) are not edges. Comments are ignored. Prints the modules by
// layer (each requires only modules of lower layers) and exits 1 on a cycle.
//
// It also checks the browser bundle: npm/build_browser.js lists the lib files
// it wraps, and a file that a listed one requires but the list lacks would
// fail only in the browser, at load time.

const fs = require('node:fs');
const path = require('node:path');

const NPM = path.resolve(process.argv[2] || path.join(__dirname, '..', '..', 'npm'));
const LIB = path.join(NPM, 'lib');

function stripComments(src) {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** The package-local files `file` requires, as paths relative to npm/. */
function requiresOf(file) {
  const src = stripComments(fs.readFileSync(file, 'utf8'));
  const out = [];
  for (const m of src.matchAll(/\brequire\(\s*(['"])([^'"]+)\1\s*\)/g)) {
    const spec = m[2];
    if (!spec.startsWith('.')) continue;
    const target = path.relative(NPM, path.resolve(path.dirname(file), spec));
    if (target.startsWith('dist' + path.sep) || target.startsWith('..')) continue;
    out.push(target);
  }
  return out;
}

const nodes = ['index.js', ...fs.readdirSync(LIB).filter((f) => f.endsWith('.js')).sort().map((f) => path.join('lib', f))];
const graph = new Map();
let missing = 0;
for (const n of nodes) {
  const deps = requiresOf(path.join(NPM, n));
  for (const d of deps) {
    if (!nodes.includes(d)) {
      console.log(`${n} requires ${d}, which does not exist`);
      missing += 1;
    }
  }
  graph.set(n, [...new Set(deps.filter((d) => nodes.includes(d)))]);
}

// Depth-first search; a grey node met again closes a cycle.
const WHITE = 0;
const GREY = 1;
const BLACK = 2;
const colour = new Map(nodes.map((n) => [n, WHITE]));
const stack = [];
const cycles = [];
function visit(n) {
  colour.set(n, GREY);
  stack.push(n);
  for (const d of graph.get(n)) {
    if (colour.get(d) === GREY) cycles.push([...stack.slice(stack.indexOf(d)), d]);
    else if (colour.get(d) === WHITE) visit(d);
  }
  stack.pop();
  colour.set(n, BLACK);
}
for (const n of nodes) if (colour.get(n) === WHITE) visit(n);

for (const c of cycles) console.log(`cycle: ${c.join(' -> ')}`);
if (!cycles.length) {
  // Layer 0 requires nothing local; layer k requires modules of layers below k.
  const layer = new Map();
  const depth = (n) => {
    if (!layer.has(n)) layer.set(n, Math.max(-1, ...graph.get(n).map(depth)) + 1);
    return layer.get(n);
  };
  nodes.forEach(depth);
  const top = Math.max(...layer.values());
  for (let k = top; k >= 0; k--) {
    const here = nodes.filter((n) => layer.get(n) === k);
    console.log(`layer ${k}: ${here.map((n) => `${n}${graph.get(n).length ? ` -> ${graph.get(n).join(', ')}` : ''}`).join('; ')}`);
  }
}

let bundleGaps = 0;
const builder = path.join(NPM, 'build_browser.js');
if (fs.existsSync(builder)) {
  const m = /const FILES = \[([^\]]*)\]/.exec(fs.readFileSync(builder, 'utf8'));
  if (!m) {
    console.log('build_browser.js: no FILES list found');
    bundleGaps += 1;
  } else {
    const listed = [...m[1].matchAll(/'([^']+)'/g)].map((x) => path.join('lib', x[1]));
    for (const f of listed) {
      for (const d of graph.get(f) || []) {
        if (!listed.includes(d)) {
          console.log(`build_browser.js: ${f} requires ${d}, which its FILES list lacks`);
          bundleGaps += 1;
        }
      }
    }
  }
}

const edges = [...graph.values()].reduce((a, d) => a + d.length, 0);
console.log(`npm: ${nodes.length} modules, ${edges} requires between them, ${cycles.length} cycle(s)`
  + `${bundleGaps ? `, ${bundleGaps} missing from the browser bundle` : ''}`);
process.exit(cycles.length || missing || bundleGaps ? 1 : 0);
