/**
 * The sidebar's "Choose..." of a reference model: the models in the local Hugging Face cache (from
 * the language server: shape, size on disk, complete or not) beside a folder picker.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatBytes } from '../server/protocol/format.js';
import { hubModels } from './languageClient.js';

export type ReferenceChoice = { hub: string } | { folder: vscode.Uri };

/** Asks for a reference for the config at `config`: a cached Hub model or a model folder (holding config.json). */
export async function pickReference(config: vscode.Uri): Promise<ReferenceChoice | undefined> {
  const models = await hubModels();
  const seen = new Set<string>();
  type Item = vscode.QuickPickItem & { choice?: ReferenceChoice; browse?: true };
  const items: Item[] = [{ label: '$(folder-opened) Browse for a model folder...', browse: true }];
  if (models.length > 0) items.push({ label: 'Hugging Face cache', kind: vscode.QuickPickItemKind.Separator });
  for (const m of models) {
    if (seen.has(m.repo)) continue;
    seen.add(m.repo);
    items.push({
      label: `$(${m.missing.length === 0 ? 'package' : 'warning'}) ${m.repo}`,
      description: m.shape ?? 'config.json cannot be read',
      detail: `${formatBytes(m.bytes)} on disk · ${m.missing.length === 0 ? 'complete' : `incomplete (lacks ${m.missing.join(', ')})`} · commit ${m.commit.slice(0, 12)}${m.refs.length > 0 ? ` (${m.refs.join(', ')})` : ''}`,
      choice: { hub: m.repo },
    });
  }
  const picked = await vscode.window.showQuickPick(items, { title: 'Reference model', placeHolder: 'A model in the Hugging Face cache, or a folder', matchOnDescription: true });
  if (!picked) return undefined;
  if (picked.choice) return picked.choice;
  const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, defaultUri: vscode.Uri.file(path.dirname(config.fsPath)), openLabel: 'Use as reference model' });
  if (!folder?.[0]) return undefined;
  if (!fs.existsSync(path.join(folder[0].fsPath, 'config.json'))) {
    void vscode.window.showWarningMessage(`${folder[0].fsPath} has no config.json: not an HF-style model folder`);
    return undefined;
  }
  return { folder: folder[0] };
}
