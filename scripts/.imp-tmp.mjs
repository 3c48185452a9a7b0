import ts from 'typescript';
import fs from 'node:fs';
import path from 'node:path';
const part = (f) => { const r = path.relative('.', f).split(path.sep); return r[0] === 'server' ? `server/${r[1]}` : r[0]; };
const edges = new Map();
function walk(d) { for (const n of fs.readdirSync(d)) { const p = path.join(d, n); if (fs.statSync(p).isDirectory()) walk(p); else if (/\.(ts|tsx|mts)$/.test(n)) scan(p); } }
function scan(file) {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const specs = [];
  const visit = (n) => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) specs.push([n.moduleSpecifier.text, n.importClause?.isTypeOnly || n.isTypeOnly]);
    else if (ts.isCallExpression(n) && (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === 'require')) && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) specs.push([n.arguments[0].text, false]);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) specs.push([n.argument.literal.text, true]);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  for (const [s, typeOnly] of specs) {
    const to = s.startsWith('.') ? part(path.resolve(path.dirname(file), s)) : 'pkg:' + (s.startsWith('@') ? s.split('/').slice(0,2).join('/') : s.split('/')[0]);
    const from = part(file);
    if (to === from) continue;
    const k = `${from} -> ${to}`;
    if (!edges.has(k)) edges.set(k, []);
    edges.get(k).push(path.relative('.', file) + (typeOnly ? ' (type)' : ''));
  }
}
['server', 'extension', 'webview'].forEach(walk);
for (const [k, v] of [...edges].sort()) console.log(k, v.length, process.argv[2] ? '' : [...new Set(v)].slice(0, 3).join(' '));
