/**
 * Value lists named both in run configs (config.ts) and in run events (events.ts): a leaf module, so
 * that neither imports the other and the webviews, which read events, never load the YAML parser.
 */

/** The paper's comparison models (method.md section 6); what each is: server/engine/run/baselines.ts. */
export const BASELINES = ['scratch', 'scratch_2x', 'stacking', 'hybrid_stacking', 'half_width', 'kd', 'full_scratch'] as const;
export type Baseline = (typeof BASELINES)[number];

/** How Rank(h,l) is taken over windows: mean of per-window ranks (paper text) or rank of the mean matrix (authors' notebook). */
export const ANALYSIS_CONVENTIONS = ['mean-of-ranks', 'rank-of-mean'] as const;
export type AnalysisConvention = (typeof ANALYSIS_CONVENTIONS)[number];

/** Zero-shot tasks (engine: server/engine/tasks/formats.ts, lm-evaluation-harness's definitions). */
export const TASK_NAMES = ['wikitext', 'lambada', 'arc_easy', 'piqa', 'sciq', 'hellaswag'] as const;
export type TaskName = (typeof TASK_NAMES)[number];

/** What trains the models: the tfjs engine in-process or the PyTorch worker (server/torch/). */
export const ENGINES = ['tfjs', 'torch'] as const;
export type EngineName = (typeof ENGINES)[number];
