/**
 * The layout of the production code: which part (folder) may import which, and which packages only
 * some parts may use. `npm test` enforces it (test/unit/layout.test.ts); README's Layout section says
 * the same in words. Imports are read with the TypeScript parser (static, dynamic, require, import
 * types and re-exports), so a type-only import counts: it couples the parts all the same.
 */
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import ts from 'typescript';

export const PARTS = ['server/protocol', 'server/engine', 'server/training', 'server/language', 'server/cli', 'extension', 'webview'] as const;
export type Part = (typeof PARTS)[number];

/** The parts each part may import, besides its own files. */
export const MAY_IMPORT: Readonly<Record<Part, readonly Part[]>> = {
  // Types and schemas shared across processes: imports nothing of ours.
  'server/protocol': [],
  'server/engine': ['server/protocol'],
  'server/training': ['server/engine', 'server/protocol'],
  'server/language': ['server/engine', 'server/protocol'],
  'server/cli': ['server/engine', 'server/training', 'server/protocol'],
  // The webviews run in a browser: the shared types only.
  webview: ['server/protocol'],
  // The extension host talks to the server and the language server over their protocols.
  extension: ['server/protocol'],
};

/**
 * Single files a part may import from a part it may not import as a whole: the contracts between
 * processes, and the readers of a run folder (the extension shows past runs without a server, with
 * the same readers the server uses; none of them loads tfjs, which extension-bundle.test.ts checks).
 */
export const SEAM_FILES: Readonly<Partial<Record<Part, readonly string[]>>> = {
  extension: [
    'server/language/protocol.ts',
    'webview/protocol.ts',
    'server/engine/run/eventLog.ts',
    'server/engine/run/plan.ts',
    'server/engine/run/heatmaps.ts',
    'server/engine/run/runLock.ts',
  ],
};

const ALL_BUT = (...parts: Part[]): Part[] => PARTS.filter((p) => !parts.includes(p));
const isNodeBuiltin = (spec: string) => spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]);

/** Packages only some parts may import (packages not listed here are free to all). */
export const PACKAGE_RULES: readonly { name: string; matches: (spec: string) => boolean; parts: readonly Part[] }[] = [
  { name: 'vscode', matches: (s) => s === 'vscode', parts: ['extension'] },
  { name: 'vscode-languageclient', matches: (s) => s.startsWith('vscode-languageclient'), parts: ['extension'] },
  { name: 'vscode-languageserver', matches: (s) => s.startsWith('vscode-languageserver'), parts: ['server/language'] },
  { name: 'tfjs (@tensorflow/*)', matches: (s) => s.startsWith('@tensorflow/'), parts: ['server/engine'] },
  { name: 'webgpu', matches: (s) => s === 'webgpu', parts: ['server/engine'] },
  // The protocol and the webviews run in a browser too.
  { name: 'node built-ins', matches: isNodeBuiltin, parts: ALL_BUT('server/protocol', 'webview') },
];

export interface SourceText {
  /** Repository-relative, with forward slashes. */
  path: string;
  text: string;
}

export interface ImportSite {
  specifier: string;
  line: number;
}

export interface LayoutViolation {
  file: string;
  line: number;
  specifier: string;
  message: string;
}

/** Every module specifier `text` names: import/export ... from, import(), require(), import('...') types. */
export function importsOf(file: string, text: string): ImportSite[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: ImportSite[] = [];
  const add = (lit: ts.StringLiteralLike) => out.push({ specifier: lit.text, line: sf.getLineAndCharacterOfPosition(lit.getStart(sf)).line + 1 });
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteralLike(n.moduleSpecifier)) add(n.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference) && ts.isStringLiteralLike(n.moduleReference.expression)) add(n.moduleReference.expression);
    else if (ts.isCallExpression(n) && (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === 'require'))) {
      const [arg] = n.arguments;
      if (arg && ts.isStringLiteralLike(arg)) add(arg);
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteralLike(n.argument.literal)) add(n.argument.literal);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The part a repository-relative path lies in, if any. */
export function partOf(file: string): Part | undefined {
  return PARTS.find((p) => file === p || file.startsWith(`${p}/`));
}

/** `../engine/tf.js` from `server/cli/x.ts` -> `server/engine/tf.ts` (the .ts source an ESM specifier names). */
function resolveRelative(from: string, specifier: string): string {
  return path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier)).replace(/\.js$/, '.ts');
}

/** Where `files` break the layout: each import a part may not make, each file outside every part. */
export function layoutViolations(files: readonly SourceText[]): LayoutViolation[] {
  const out: LayoutViolation[] = [];
  for (const f of files) {
    const from = partOf(f.path);
    if (!from) {
      out.push({ file: f.path, line: 1, specifier: '', message: `${f.path} lies in no part of the layout (${PARTS.join(', ')}): give its folder a row in scripts/layout.ts` });
      continue;
    }
    for (const site of importsOf(f.path, f.text)) {
      const message = site.specifier.startsWith('.') ? checkLocal(from, f.path, site.specifier) : checkPackage(from, site.specifier);
      if (message) out.push({ file: f.path, line: site.line, specifier: site.specifier, message: `${f.path}:${site.line}: ${message}` });
    }
  }
  return out;
}

function checkLocal(from: Part, file: string, specifier: string): string | undefined {
  const target = resolveRelative(file, specifier);
  const to = partOf(target);
  if (to === from) return undefined;
  if (!to) return `imports ${specifier} (${target}), outside the production parts`;
  if (MAY_IMPORT[from].includes(to)) return undefined;
  if (SEAM_FILES[from]?.includes(target)) return undefined;
  const seams = SEAM_FILES[from] ?? [];
  const allowed = [...MAY_IMPORT[from], ...seams].join(', ') || 'nothing of ours';
  return `${from} may not import ${to} (${target}); it may import ${allowed}`;
}

function checkPackage(from: Part, specifier: string): string | undefined {
  const rule = PACKAGE_RULES.find((r) => r.matches(specifier));
  if (!rule || rule.parts.includes(from)) return undefined;
  return `${from} may not import ${specifier}: ${rule.name} belongs to ${rule.parts.join(', ')}`;
}

/** The production sources under `root` (TypeScript in every part; tests and scripts are not production code). */
export function productionSources(root: string): SourceText[] {
  const out: SourceText[] = [];
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (/\.(ts|tsx|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push({ path: child, text: fs.readFileSync(path.join(root, child), 'utf8') });
    }
  };
  for (const top of ['server', 'extension', 'webview']) walk(top);
  return out;
}
