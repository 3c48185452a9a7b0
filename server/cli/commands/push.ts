/**
 * `inheritune push <modelDir> ORG/NAME`: publishes a derived model to the Hugging Face Hub with a
 * generated model card (from the run folder when modelDir is a run's model/). Ctrl-C cancels.
 */
import type { Command } from 'commander';
import { pushModel } from '../../engine/hub/push.js';

interface PushCliOptions {
  private?: boolean;
  revision?: string;
}

export function registerPush(program: Command): void {
  program
    .command('push')
    .description('upload a model folder to the Hugging Face Hub with a generated model card (HF_TOKEN: a token with write access)')
    .argument('<modelDir>', "HF-style model folder; a run's model/ gets its results in the card")
    .argument('<repo>', 'model repo ORG/NAME (created if it does not exist)')
    .option('--private', 'create the repo private')
    .option('--revision <branch>', 'existing branch to commit to', 'main')
    .action(async (modelDir: string, repo: string, o: PushCliOptions) => {
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const reported = new Set<string>();
      try {
        const r = await pushModel(modelDir, repo, {
          private: o.private === true,
          branch: o.revision,
          signal: abort.signal,
          onProgress: (file, fraction) => {
            if (fraction >= 1 && !reported.has(file)) {
              reported.add(file);
              process.stderr.write(`uploaded ${file}\n`);
            }
          },
        });
        process.stdout.write(`pushed ${r.files.length} files to ${r.url} (commit ${r.commit})\n`);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
