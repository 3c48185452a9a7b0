/** A problem found in a run config: where it is, what is wrong, and an optional quick fix. */

export interface ConfigIssue {
  /** Key path, e.g. ['train', 'steps'] or ['train', 'betas', '1']; [] for the whole file. */
  path: string[];
  message: string;
  severity: 'error' | 'warning';
  /** Source range (UTF-16 offsets into the text, end exclusive) of the offending key or value. */
  range: { start: number; end: number };
  /** 1-based line and column of range.start. */
  line: number;
  col: number;
  /** A quick fix: replace the text at `range` with `text`. */
  fix?: { kind: 'replace'; text: string; title: string };
}

/** An issue as a list of them shows it (the sidebar's, from the language server): where and what, in words. */
export type ListedIssue = Pick<ConfigIssue, 'line' | 'col' | 'severity' | 'message'>;

/** File order of issues (their ranges), as every list of them is shown. */
export function byPosition(a: ConfigIssue, b: ConfigIssue): number {
  return a.range.start - b.range.start || a.range.end - b.range.end;
}

/** `file:line:col: message` (warnings: `file:line:col: warning: message`). */
export function formatIssue(file: string, issue: ConfigIssue): string {
  return `${file}:${issue.line}:${issue.col}: ${issue.severity === 'warning' ? 'warning: ' : ''}${issue.message}`;
}

export interface IssueOptions {
  severity?: 'error' | 'warning';
  /** Point at the key rather than the value. */
  at?: 'key' | 'value';
  fix?: { text: string; title: string };
}
