/**
 * The model card (README.md) pushed with a derived model: what it was derived from (the reference
 * and its commit), how (layers inherited, data, steps), how good it is (val loss against the
 * reference and the baselines) and its per-layer attention MaxRank beside the reference's. The
 * figures come from the run folder when the model is a run's model/ (summary.json, plan.json,
 * attention/); any other folder gets a card with its shape only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatCount } from '../../protocol/format.js';
import type { RunSummary } from '../../protocol/events.js';
import { readReferenceInfo } from '../referenceInfo.js';
import { readPlan } from '../run/plan.js';
import { readRunSummary } from '../run/runStore.js';

interface LayerRank {
  layer: number;
  maxRank: number;
  lazy: boolean;
}

/** The layers of the newest attention/<label>-step<k>.json; undefined when there is none or it is not one. */
function newestAnalysis(runDir: string, label: string): LayerRank[] | undefined {
  const dir = path.join(runDir, 'attention');
  let best: { step: number; file: string } | undefined;
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const m = new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-step(\\d+)\\.json$`).exec(f);
    if (m && (!best || Number(m[1]) > best.step)) best = { step: Number(m[1]), file: f };
  }
  if (!best) return undefined;
  try {
    const json = JSON.parse(fs.readFileSync(path.join(dir, best.file), 'utf8')) as { layers?: unknown };
    if (!Array.isArray(json.layers)) return undefined;
    const layers = json.layers.filter((l): l is LayerRank => typeof l === 'object' && l !== null && typeof l.layer === 'number' && typeof l.maxRank === 'number' && typeof l.lazy === 'boolean');
    return layers.length === json.layers.length ? layers : undefined;
  } catch {
    return undefined;
  }
}

function runFolderOf(modelDir: string): { runDir: string; summary: RunSummary } | undefined {
  const runDir = path.dirname(path.resolve(modelDir));
  if (path.basename(path.resolve(modelDir)) !== 'model') return undefined;
  const summary = readRunSummary(runDir);
  return summary ? { runDir, summary } : undefined;
}

const loss = (v: number) => v.toFixed(4);

/** README.md text for the model folder `modelDir`, to be published as `repo`. */
export function modelCard(modelDir: string, repo: string): string {
  const { info } = readReferenceInfo(modelDir);
  const run = runFolderOf(modelDir);
  const hub = run?.summary.reference.hub;
  const front = ['---', 'library_name: transformers', 'pipeline_tag: text-generation', 'tags:', '- inheritune', ...(hub ? [`base_model: ${hub.repo}`] : []), '---', ''];
  const shape = `${info.family === 'llama' ? 'LLaMA' : 'GPT-2'}-family, ${info.layers} layers, width ${info.nEmbd}, ${info.nHead} heads, vocabulary ${info.vocabSize}, context ${info.nPositions}, ${formatCount(info.params)} parameters`;
  const lines = [...front, `# ${repo.split('/').pop()}`, ''];
  if (!run) {
    lines.push(`A ${shape}, published with [Inheritune](https://arxiv.org/abs/2404.08634) tools.`, '');
    return lines.join('\n');
  }
  const { summary: s, runDir } = run;
  const plan = (() => {
    try {
      return readPlan(runDir);
    } catch {
      return undefined;
    }
  })();
  const refName = hub ? `[${hub.repo}](https://huggingface.co/${hub.repo}) at commit \`${hub.commit}\` (revision \`${hub.revision}\`)` : `a local model (\`${path.basename(s.reference.path)}\`)`;
  lines.push(
    `A ${shape}, derived with the Inheritune recipe (Sanyal et al., [arXiv 2404.08634](https://arxiv.org/abs/2404.08634)) from ${refName}:`,
    `its first ${s.rounds[0]?.layers ?? s.final.layers} of ${s.reference.layers} layers${plan ? ` (${plan.inherit.parts.join(', ')}${plan.inherit.embeddings ? ', embeddings' : ''})` : ''} were inherited and trained${s.rounds.length > 1 ? `, then grown to ${s.final.layers} layers` : ''}.`,
    '',
  );
  if (plan) {
    const t = plan.train;
    lines.push(
      '## Training',
      '',
      `- Data: \`${path.basename(plan.data.train)}\` (train${plan.data.subset < 1 ? `, ${plan.data.subset} of it` : ''}), \`${path.basename(plan.data.val)}\` (validation), tokenizer \`${plan.data.tokenizer}\``,
      `- ${t.steps} steps per round of ${t.batchTokens} tokens (windows of ${t.blockSize}), AdamW lr ${t.lr} to ${t.minLr}, warm-up ${t.warmup}, weight decay ${t.weightDecay}, seed ${t.seed}`,
      `- Growth: ${plan.grow.enabled ? `${plan.grow.step} layers a round, ${plan.grow.mode} mode, up to ${plan.grow.maxLayers}` : 'off'}`,
      '',
    );
  }
  lines.push('## Validation loss', '', '| model | layers | steps | val loss (nats) |', '|---|---:|---:|---:|');
  lines.push(`| reference | ${s.reference.layers} | - | ${loss(s.reference.valLoss)} |`);
  s.rounds.forEach((r, i) => lines.push(`| round ${i + 1}${i === s.rounds.length - 1 ? ' (this model)' : ''} | ${r.layers} | ${r.steps} | ${loss(r.valLoss)} |`));
  for (const b of s.baselines) lines.push(`| baseline ${b.name} | ${b.layers} | ${b.steps} | ${loss(b.valLoss)} |`);
  lines.push('', `The model ${s.final.matchedReference ? 'matches' : 'does not match'} the reference's validation loss${s.final.matchedReference ? '' : ' within the run\'s tolerance'}.`, '');
  const ref = newestAnalysis(runDir, 'reference');
  const fin = newestAnalysis(runDir, `round-${s.rounds.length}`);
  if (ref || fin) {
    lines.push('## Attention rank per layer', '', 'MaxRank: the largest approximate rank of any head\'s attention matrix in the layer; 1 marks a lazy layer (rank-1 attention).', '');
    lines.push('| layer | reference MaxRank | this model MaxRank |', '|---:|---:|---:|');
    const n = Math.max(ref?.length ?? 0, fin?.length ?? 0);
    const cell = (l?: LayerRank) => (l ? `${l.maxRank}${l.lazy ? ' (lazy)' : ''}` : '');
    for (let i = 0; i < n; i++) lines.push(`| ${i} | ${cell(ref?.[i])} | ${cell(fin?.[i])} |`);
    lines.push('');
  }
  return lines.join('\n');
}
