/** Finding run configs, and writing a new commented one (Inheritune: New Run Config). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ReferenceInfoResult } from '../server/language/protocol.js';
import { COMMANDS } from '../server/protocol/commands.js';
import { CONFIG_FILE_SUFFIXES, defaultTargetLayers, parseRunConfig } from '../server/protocol/config.js';
import { TOKEN_FILE_EXTENSIONS } from '../server/protocol/dataFiles.js';
import { describeModelShape, formatBytes } from '../server/protocol/format.js';
import { commentedConfig } from './configTemplate.js';
import { rankDataFiles, type DataFile, type DataRole } from './dataChoice.js';

export const CONFIG_GLOB = '**/*.inheritune.{yaml,yml}';
const EXCLUDE = '**/{node_modules,.inheritune,.git}/**';

export function isConfigUri(uri: vscode.Uri): boolean {
  return CONFIG_FILE_SUFFIXES.some((s) => uri.path.toLowerCase().endsWith(s));
}

/** The run store a config names (runtime.out_dir, or its default), absolute; undefined when what is written is invalid. */
export function runStoreOf(uri: vscode.Uri, text: string): string | undefined {
  const out = parseRunConfig(text, uri.fsPath).value(['runtime', 'out_dir']);
  return typeof out === 'string' ? path.resolve(path.dirname(uri.fsPath), out) : undefined;
}

/** The config to act on: `uri` when given, the active config editor, or one picked from the workspace. */
export async function pickConfig(uri?: vscode.Uri, title = 'Which run config?'): Promise<vscode.Uri | undefined> {
  if (uri) return uri;
  const ed = vscode.window.activeTextEditor;
  if (ed && isConfigUri(ed.document.uri)) return ed.document.uri;
  const found = await vscode.workspace.findFiles(CONFIG_GLOB, EXCLUDE, 200);
  if (found.length === 0) {
    const create = 'New Run Config';
    const choice = await vscode.window.showWarningMessage('Inheritune: no *.inheritune.yaml run config in this workspace.', create);
    if (choice === create) await vscode.commands.executeCommand(COMMANDS.newConfig);
    return undefined;
  }
  if (found.length === 1) return found[0];
  const items = found.map((u) => ({ label: path.basename(u.fsPath), description: vscode.workspace.asRelativePath(path.dirname(u.fsPath)), uri: u }));
  return (await vscode.window.showQuickPick(items, { title, placeHolder: 'a *.inheritune.yaml run config' }))?.uri;
}

interface Pick<T> extends vscode.QuickPickItem {
  value: T;
}

/** Model folders (config.json beside model.safetensors or an index) in the workspace. */
async function modelFolders(): Promise<vscode.Uri[]> {
  const found = await vscode.workspace.findFiles('**/config.json', EXCLUDE, 500);
  return found
    .map((u) => vscode.Uri.file(path.dirname(u.fsPath)))
    .filter((u) => fs.existsSync(path.join(u.fsPath, 'model.safetensors')) || fs.existsSync(path.join(u.fsPath, 'model.safetensors.index.json')));
}

/**
 * A quick pick whose highlighted item is `active` (showQuickPick always highlights the first), so
 * Enter takes the default it shows; undefined when dismissed.
 */
function pickOne<T extends vscode.QuickPickItem>(items: T[], active: T | undefined, options: { title: string; placeholder?: string }): Promise<T | undefined> {
  const qp = vscode.window.createQuickPick<T>();
  Object.assign(qp, { title: options.title, placeholder: options.placeholder ?? '', ignoreFocusOut: true, items });
  if (active) qp.activeItems = [active];
  return new Promise<T | undefined>((resolve) => {
    let picked: T | undefined;
    qp.onDidAccept(() => {
      picked = qp.selectedItems[0] ?? qp.activeItems[0];
      qp.hide();
    });
    qp.onDidHide(() => {
      qp.dispose();
      resolve(picked);
    });
    qp.show();
  });
}

/** The workspace's data files with their sizes (unreadable ones left out). */
async function workspaceDataFiles(): Promise<DataFile[]> {
  const found = await vscode.workspace.findFiles(`**/*.{${TOKEN_FILE_EXTENSIONS.map((e) => e.slice(1)).join(',')}}`, '**/{node_modules,.inheritune,.git,models}/**', 500);
  const out: DataFile[] = [];
  for (const u of found) {
    try {
      out.push({ path: u.fsPath, bytes: (await vscode.workspace.fs.stat(u)).size });
    } catch {
      // Gone since the search.
    }
  }
  return out;
}

/** Picks the `role` data among `files` (best first: the highlighted default), or one browsed for. */
async function pickData(title: string, files: readonly DataFile[], role: DataRole, near: vscode.Uri, exclude?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const ranked = rankDataFiles(files, role, exclude?.fsPath);
  const items: Pick<vscode.Uri | undefined>[] = ranked.map((f, i) => ({
    label: vscode.workspace.asRelativePath(f.path),
    description: `${formatBytes(f.bytes)}${i === 0 ? ' · suggested' : ''}`,
    value: vscode.Uri.file(f.path),
  }));
  items.push({ label: '$(folder-opened) Browse...', description: `a ${TOKEN_FILE_EXTENSIONS.join(', ')} file`, value: undefined });
  const choice = await pickOne(items, items[0], { title, placeholder: ranked.length > 0 ? `Enter: ${items[0].label}` : 'no data files in the workspace: browse for one' });
  if (!choice) return undefined;
  if (choice.value) return choice.value;
  const picked = await vscode.window.showOpenDialog({ canSelectFiles: true, defaultUri: near, filters: { 'Token or text data': TOKEN_FILE_EXTENSIONS.map((e) => e.slice(1)) } });
  return picked?.[0];
}

/**
 * Asks for reference, layers and data, then writes and opens a commented config. `describe` asks the
 * language server about a model folder: its shape and its newest stored analysis.
 */
export async function newRunConfig(describe: (refDir: string) => Promise<ReferenceInfoResult | undefined>): Promise<vscode.Uri | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  if (!folder) {
    void vscode.window.showErrorMessage('Inheritune: open a folder first; the config is written into it.');
    return undefined;
  }
  const unknown = 'the config language server is not running';
  // 1. Reference model folder.
  const models = await modelFolders();
  const browse: Pick<vscode.Uri | undefined> = { label: '$(folder-opened) Browse...', description: 'an HF-style GPT-2, LLaMA or Qwen2 folder', value: undefined };
  const refItems: Pick<vscode.Uri | undefined>[] = await Promise.all(
    models.map(async (u) => {
      const r = await describe(u.fsPath);
      const detail = r?.reference ? describeModelShape(r.reference) : (r?.referenceError ?? unknown);
      return { label: vscode.workspace.asRelativePath(u), detail, value: u as vscode.Uri | undefined };
    }),
  );
  const refChoice = await vscode.window.showQuickPick([...refItems, browse], { title: 'New Run Config (1/4): reference model', ignoreFocusOut: true });
  if (!refChoice) return undefined;
  let refUri = refChoice.value;
  if (!refUri) refUri = (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, defaultUri: folder, openLabel: 'Use as reference' }))?.[0];
  if (!refUri) return undefined;
  const described = await describe(refUri.fsPath);
  const details = described?.reference;
  if (!details) {
    void vscode.window.showErrorMessage(`Inheritune: ${described?.referenceError ?? unknown}`);
    return undefined;
  }
  // 2. Layers, with the lazy layers marked when the reference was analysed.
  const stats = described.referenceAnalysis?.layers;
  const half = defaultTargetLayers(details.layers);
  const layerItems: Pick<number>[] = [];
  for (let n = 1; n <= details.layers; n++) {
    const s = stats?.find((l) => l.layer === n - 1);
    layerItems.push({
      label: `${n}`,
      description: `${n === half ? 'half (the paper) ' : ''}${s ? `layer ${n}: MaxRank ${s.maxRank.toFixed(2)}${s.lazy ? ' (lazy)' : ''}` : ''}`,
      value: n,
    });
  }
  const layersChoice = await pickOne(layerItems, layerItems[half - 1], { title: `New Run Config (2/4): layers n of ${details.layers} to inherit`, placeholder: `Enter: ${half}, half the reference's layers (the paper)` });
  if (!layersChoice) return undefined;
  // 3. Data: training, then different validation data.
  const dataFiles = await workspaceDataFiles();
  const train = await pickData('New Run Config (3/4): training data', dataFiles, 'train', folder);
  if (!train) return undefined;
  const val = await pickData('New Run Config (4/4): validation data (another file than the training data)', dataFiles, 'val', folder, train);
  if (!val) return undefined;
  // 4. Where.
  const name = await vscode.window.showInputBox({
    title: 'Run name (the file is <name>.inheritune.yaml)',
    value: 'my-run',
    validateInput: (v) => (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v) ? undefined : 'letters, digits, ".", "_" and "-", starting with a letter or digit'),
  });
  if (!name) return undefined;
  const target = vscode.Uri.joinPath(folder, `${name}.inheritune.yaml`);
  if (fs.existsSync(target.fsPath)) {
    const ok = await vscode.window.showWarningMessage(`${vscode.workspace.asRelativePath(target)} exists. Replace it?`, { modal: true }, 'Replace');
    if (ok !== 'Replace') return undefined;
  }
  const rel = (u: vscode.Uri) => path.relative(folder.fsPath, u.fsPath).split(path.sep).join('/') || '.';
  const lazy = described.referenceAnalysis?.lazyLayers;
  const text = commentedConfig({
    name,
    reference: rel(refUri),
    referenceLayers: details.layers,
    layers: layersChoice.value,
    train: rel(train),
    val: rel(val),
    // The model's own tokenizer.json where it has one (LLaMA's SentencePiece), else by vocabulary size.
    tokenizer: details.hasTokenizer ? 'model' : details.vocabSize <= 257 ? 'bytes' : 'gpt2',
    blockSize: Math.min(64, details.nPositions),
    ...(lazy && lazy.length > 0 ? { lazy: `lazy layers of the reference (rank-1 attention): ${lazy.join(', ')}` } : {}),
  });
  await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
  await vscode.window.showTextDocument(target);
  return target;
}
