/**
 * The zero-shot tasks and their prompt formats, as lm-evaluation-harness v0.4 defines them (its task
 * YAMLs: doc_to_text / doc_to_target / doc_to_choice, target_delimiter, process_docs), so the numbers
 * compare with published ones. Every dataset row is validated here: a missing or mistyped column is
 * one error naming the file, the row and the column.
 */
import { TASK_NAMES, type TaskName } from '../../protocol/config.js';
import { InherituneError } from '../errors.js';

// The names are the run config's (evaluation.tasks), defined once in the protocol.
export { TASK_NAMES, type TaskName };

export function isTaskName(s: string): s is TaskName {
  return (TASK_NAMES as readonly string[]).includes(s);
}

/** Where the harness reads a task's data on the Hub: repo, config (a folder of the repo), split. */
export interface TaskSource {
  repo: string;
  config?: string;
  split: string;
}

export const TASK_SOURCES: Record<TaskName, TaskSource> = {
  // wikitext.yaml: the document-level wikitext-2 (raw), test split.
  wikitext: { repo: 'EleutherAI/wikitext_document_level', config: 'wikitext-2-raw-v1', split: 'test' },
  // lambada_openai.yaml: OpenAI's LAMBADA test set.
  lambada: { repo: 'EleutherAI/lambada_openai', config: 'default', split: 'test' },
  arc_easy: { repo: 'allenai/ai2_arc', config: 'ARC-Easy', split: 'test' },
  // piqa.yaml: validation (the test split has no labels); baber/piqa is the parquet copy the harness reads.
  piqa: { repo: 'baber/piqa', split: 'validation' },
  sciq: { repo: 'allenai/sciq', split: 'test' },
  // hellaswag.yaml: validation (the test split has no labels).
  hellaswag: { repo: 'Rowan/hellaswag', split: 'validation' },
};

/**
 * One item's requests. `choice`: one log-likelihood request per choice, context + " " + choice
 * (target_delimiter " "). `target`: one request, context + target (LAMBADA's delimiter is "", the
 * target carries its space). `rolling`: the whole text's log-likelihood in windows (wikitext), with
 * the word and byte counts of the ORIGINAL page that its perplexities divide by.
 */
export type TaskDoc =
  | { kind: 'choice'; context: string; choices: string[]; gold: number }
  | { kind: 'target'; context: string; target: string }
  | { kind: 'rolling'; text: string; words: number; bytes: number };

/** A dataset row, as read from JSONL or parquet. */
export type Row = Record<string, unknown>;

class RowReader {
  constructor(
    private readonly row: Row,
    private readonly where: string,
  ) {}

  private fail(column: string, expected: string): never {
    throw new InherituneError(this.where, `column "${column}" must be ${expected}, got ${JSON.stringify(this.row[column]) ?? 'nothing'}`);
  }

  string(column: string): string {
    const v = this.row[column];
    return typeof v === 'string' ? v : this.fail(column, 'a string');
  }

  strings(column: string, from: unknown = this.row[column]): string[] {
    return Array.isArray(from) && from.length > 0 && from.every((s) => typeof s === 'string') ? (from as string[]) : this.fail(column, 'a non-empty list of strings');
  }

  /** An integer in [0, n): a number, a bigint (parquet int64) or a digit string (HellaSwag's label). */
  index(column: string, n: number): number {
    const v = this.row[column];
    const i = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
    return Number.isInteger(i) && i >= 0 && i < n ? i : this.fail(column, `an index in [0, ${n})`);
  }

  object(column: string): Row {
    const v = this.row[column];
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Row) : this.fail(column, 'an object');
  }
}

/** Python's str.capitalize(): the first character upper case, the rest lower case. */
function capitalize(s: string): string {
  const [first = '', ...rest] = [...s];
  return first.toUpperCase() + rest.join('').toLowerCase();
}

/** hellaswag/utils.py preprocess: WikiHow's bracketed markup out, " [title]" to ". ", double spaces single. */
export function hellaswagPreprocess(text: string): string {
  return text.trim().replaceAll(' [title]', '. ').replace(/\[.*?\]/g, '').replaceAll('  ', ' ');
}

/** wikitext/preprocess_wikitext.py wikitext_detokenizer, rule for rule (the no-op "/' [0-9]/" rule included). */
export function wikitextDetokenize(page: string): string {
  let s = page.replaceAll("s '", "s'");
  s = s.replace(/\/' [0-9]\//g, "/'[0-9]/");
  s = s.replaceAll(' @-@ ', '-').replaceAll(' @,@ ', ',').replaceAll(' @.@ ', '.');
  for (const p of [':', ';', '.', '!', '?', ',']) s = s.replaceAll(` ${p} `, `${p} `);
  s = s.replace(/\(\s*([^)]*?)\s*\)/g, '($1)');
  s = s.replace(/\[\s*([^\]]*?)\s*\]/g, '[$1]');
  s = s.replace(/\{\s*([^}]*?)\s*\}/g, '{$1}');
  s = s.replace(/"\s*([^"]*?)\s*"/g, '"$1"');
  s = s.replace(/'\s*([^']*?)\s*'/g, "'$1'");
  s = s.replaceAll('= = = =', '====').replaceAll('= = =', '===').replaceAll('= =', '==');
  s = s.replaceAll(' \u00b0 ', '\u00b0');
  s = s.replaceAll(' \n', '\n').replaceAll('\n ', '\n');
  s = s.replaceAll(' N ', ' 1 ').replaceAll(" 's", "'s");
  return s;
}

const utf8 = new TextEncoder();

/** The requests of one dataset row of `task`; `where` names the row in errors ("file: row 3"). */
export function taskDoc(task: TaskName, row: Row, where: string): TaskDoc {
  const r = new RowReader(row, where);
  switch (task) {
    case 'wikitext': {
      // doc_to_target: the detokenized page; process_results counts words and bytes of the page as stored.
      const page = r.string('page');
      return { kind: 'rolling', text: wikitextDetokenize(page), words: page.split(/\s+/).length, bytes: utf8.encode(page).length };
    }
    case 'lambada': {
      // doc_to_text "{{text.split(' ')[:-1]|join(' ')}}", doc_to_target "{{' '+text.split(' ')[-1]}}", target_delimiter "".
      const words = r.string('text').split(' ');
      return { kind: 'target', context: words.slice(0, -1).join(' '), target: ` ${words[words.length - 1]}` };
    }
    case 'arc_easy': {
      // "Question: {{question}}\nAnswer:"; choices.text; gold = choices.label.index(answerKey).
      const choices = r.object('choices');
      const texts = r.strings('choices.text', choices.text);
      const labels = r.strings('choices.label', choices.label);
      if (labels.length !== texts.length) throw new InherituneError(where, `column "choices" has ${texts.length} texts and ${labels.length} labels`);
      const gold = labels.indexOf(r.string('answerKey'));
      if (gold < 0) throw new InherituneError(where, `column "answerKey" (${JSON.stringify(row.answerKey)}) is none of choices.label ${JSON.stringify(labels)}`);
      return { kind: 'choice', context: `Question: ${r.string('question')}\nAnswer:`, choices: texts, gold };
    }
    case 'piqa':
      // "Question: {{goal}}\nAnswer:"; [sol1, sol2]; gold = label.
      return { kind: 'choice', context: `Question: ${r.string('goal')}\nAnswer:`, choices: [r.string('sol1'), r.string('sol2')], gold: r.index('label', 2) };
    case 'sciq':
      // "{{support.lstrip()}}\nQuestion: {{question}}\nAnswer:"; [distractor1, distractor2, distractor3, correct_answer]; gold 3.
      return {
        kind: 'choice',
        context: `${r.string('support').trimStart()}\nQuestion: ${r.string('question')}\nAnswer:`,
        choices: [r.string('distractor1'), r.string('distractor2'), r.string('distractor3'), r.string('correct_answer')],
        gold: 3,
      };
    case 'hellaswag': {
      // utils.process_docs: query = preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize()),
      // choices = preprocess(each ending), gold = int(label).
      const endings = r.strings('endings');
      const ctx = `${r.string('ctx_a')} ${capitalize(r.string('ctx_b'))}`;
      return { kind: 'choice', context: hellaswagPreprocess(`${r.string('activity_label')}: ${ctx}`), choices: endings.map(hellaswagPreprocess), gold: r.index('label', endings.length) };
    }
  }
}
