/**
 * How "Open Model Folder" shows a folder: in the Explorer when it lies inside an opened workspace
 * folder, in the OS file manager when VS Code runs on the machine that holds it (desktop, not
 * remote), otherwise (VS Code in a browser, a remote window) it says it cannot and offers to open
 * the folder in VS Code. Pure (no `vscode`), so unit tests run it.
 */
import * as path from 'node:path';

export type FolderView = 'explorer' | 'os' | 'ask';

/** Whether `dir` is `folder` or inside it. */
export function isInside(dir: string, folder: string): boolean {
  const rel = path.relative(path.resolve(folder), path.resolve(dir));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** `local`: this VS Code's file manager sees the extension host's files (a desktop window, not remote). */
export function folderView(dir: string, workspaceFolders: readonly string[], local: boolean): FolderView {
  if (workspaceFolders.some((f) => isInside(dir, f))) return 'explorer';
  return local ? 'os' : 'ask';
}
