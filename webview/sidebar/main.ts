/**
 * The sidebar view: bound to the active run config. Shows the reference model, a layer-count slider
 * drawn over the reference's per-layer MaxRank strip (lazy layers in red), the data files, the step
 * count and Start/Stop. Every edit is posted to the host, which writes it into the YAML (keeping the
 * user's comments); the host then sends the new state back.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-divider/index.js';
import { describeModelShape } from '../../server/protocol/format.js';
import type { HostToSidebar, SidebarState, SidebarToHost } from '../protocol.js';
import { stripBars, stripPlaceholder } from './strip.js';

interface VsCodeApi {
  postMessage(msg: SidebarToHost): void;
  getState(): SidebarState | undefined;
  setState(s: SidebarState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let state: SidebarState | null = vscode.getState() ?? null;
let dragging = false;
/** Option values of the torch engine in the backend choice: `torch:` and the device. */
const TORCH_PREFIX = 'torch:';

function render(): void {
  const s = state;
  $('empty').hidden = !!s?.configFile;
  $('form').hidden = !s?.configFile;
  if (!s || !s.configFile) return;
  $('config-file').textContent = s.configFile;
  // As VS Code's Problems view lists them; a click goes to the value at fault.
  $('problems').replaceChildren(
    ...s.problems.map((p) => {
      const li = document.createElement('li');
      li.className = p.severity;
      li.textContent = `${p.message} [Ln ${p.line}, Col ${p.col}]`;
      li.title = `${p.severity}: go to line ${p.line}`;
      li.addEventListener('click', () => vscode.postMessage({ type: 'openConfig', at: { line: p.line, col: p.col } }));
      return li;
    }),
  );
  $('problems').dataset.errors = String(s.problems.filter((p) => p.severity === 'error').length);
  const c = s.config;
  $('ref-path').textContent = c?.referenceHub ? `${c.referenceHub}${s.hub?.commit ? ` (${s.hub.commit.slice(0, 12)})` : ''}` : (c?.referencePath ?? '-');
  const ref = s.reference;
  const details = $('ref-details');
  details.textContent = ref
    ? describeModelShape(ref)
    : (s.referenceError ?? 'no reference model');
  details.dataset.layers = String(ref?.layers ?? 0);
  details.classList.toggle('error', !ref);

  // Slider over the strip.
  const k = ref?.layers ?? 0;
  const slider = $<HTMLInputElement>('layers');
  slider.disabled = !ref || !c;
  slider.min = '1';
  slider.max = String(Math.max(1, k));
  // The host fills target.layers' default whenever the reference is known; without one the slider is disabled.
  const n = c?.layers ?? 1;
  if (!dragging) slider.value = String(n);
  updateLayersLabel();

  const strip = $('strip');
  const bars = s.strip ? stripBars(s.strip, k) : [];
  strip.classList.toggle('empty', !s.strip);
  strip.replaceChildren(
    ...bars.map((b) => {
      const d = document.createElement('div');
      d.className = `bar${b.lazy ? ' lazy' : ''}${b.layer < Number(slider.value) ? ' kept' : ''}`;
      d.style.height = `${Math.round(b.height * 100)}%`;
      d.title = b.title;
      d.dataset.layer = String(b.layer);
      d.dataset.maxRank = b.maxRank === null ? '' : String(b.maxRank);
      return d;
    }),
  );
  strip.dataset.layers = String(s.strip?.layers.length ?? 0);
  strip.dataset.lazy = String(bars.filter((b) => b.lazy).length);
  // Before any analysis the strip says what it will show, and Analyze is the main action.
  if (!s.strip && ref) strip.textContent = stripPlaceholder(k, c?.analysisWindows ?? null, c?.val ?? '');
  $('strip-note').textContent = s.strip ? `MaxRank per layer (${s.strip.source}); red: lazy (rank 1)` : '';
  const analyze = $<HTMLElement & { secondary: boolean }>('analyze');
  analyze.hidden = !ref;
  analyze.secondary = !!s.strip;

  $('train').textContent = c?.train ?? '-';
  $('val').textContent = c?.val ?? '-';
  const steps = $<HTMLInputElement>('steps');
  if (document.activeElement !== steps) steps.value = String(c?.steps ?? '');
  renderEngine(s);

  const start = $<HTMLElement & { disabled: boolean }>('start');
  const blocked = startBlockedBy(s);
  start.disabled = !s.trusted || !c || !!s.running || blocked !== '';
  start.title = blocked || 'Inheritune: Start Run on this config';
  $('start-blocked').textContent = blocked;
  $('untrusted').hidden = s.trusted;
  $<HTMLElement>('stop').hidden = !s.running;
  $('running').textContent = s.running ? `${s.running.name}: ${s.running.progress}` : '';
  document.body.dataset.ready = '1';
}

/** Why Start Run is disabled by the config itself ('' when it is not): its errors, counted as listed above. */
function startBlockedBy(s: SidebarState): string {
  const errors = s.problems.filter((p) => p.severity === 'error').length;
  return errors === 0 ? '' : `Start Run is disabled: the config has ${errors} error${errors === 1 ? '' : 's'} (listed above).`;
}

/** The backend choice: the tfjs backends, then the torch engine on each device its probe found; the engine line below it. */
function renderEngine(s: SidebarState): void {
  const c = s.config;
  const backend = $<HTMLSelectElement>('backend');
  const torch = s.engine?.torchDevices ?? [];
  const values = [...(c?.backends ?? []), ...torch.map((d) => `${TORCH_PREFIX}${d}`)];
  if (backend.options.length !== values.length || values.some((v, i) => backend.options[i].value !== v)) {
    backend.replaceChildren(...values.map((v) => new Option(v.startsWith(TORCH_PREFIX) ? `torch · ${v.slice(TORCH_PREFIX.length)}` : v, v)));
  }
  const current = s.engine?.name === 'torch' ? `${TORCH_PREFIX}${s.engine.devices}` : (c?.backend ?? 'auto');
  if (document.activeElement !== backend) {
    if (![...backend.options].some((o) => o.value === current)) backend.add(new Option(current.startsWith(TORCH_PREFIX) ? `torch · ${current.slice(TORCH_PREFIX.length)}` : current, current));
    backend.value = current;
  }
  backend.disabled = !c;
  const e = s.engine;
  $('engine').textContent = e ? `${e.name} · ${e.devices}: ${e.detail}` : '';
}

function updateLayersLabel(): void {
  const slider = $<HTMLInputElement>('layers');
  const k = state?.reference?.layers ?? 0;
  // The value written, even one the slider cannot show (more than the reference's layers).
  const n = dragging ? Number(slider.value) : (state?.config?.layers ?? Number(slider.value));
  const label = $('layers-label');
  label.textContent = k > 0 ? `target.layers n = ${n} of ${k}${n > k ? ' (more than the reference has)' : ''}` : 'target.layers';
  label.classList.toggle('error', n > k && k > 0);
  for (const bar of $('strip').children) (bar as HTMLElement).classList.toggle('kept', Number((bar as HTMLElement).dataset.layer) < Number(slider.value));
}

window.addEventListener('message', (ev: MessageEvent<HostToSidebar>) => {
  if (ev.data.type === 'state') {
    state = ev.data.state;
    vscode.setState(state);
    render();
  }
});

const slider = $<HTMLInputElement>('layers');
slider.addEventListener('input', () => {
  dragging = true;
  updateLayersLabel();
});
slider.addEventListener('change', () => {
  dragging = false;
  vscode.postMessage({ type: 'setLayers', layers: Number(slider.value) });
});
const steps = $<HTMLInputElement>('steps');
steps.addEventListener('change', () => {
  const v = Number(steps.value);
  if (Number.isInteger(v) && v >= 1) vscode.postMessage({ type: 'setSteps', steps: v });
});
const backendSelect = $<HTMLSelectElement>('backend');
backendSelect.addEventListener('change', () => {
  const v = backendSelect.value;
  vscode.postMessage(v.startsWith(TORCH_PREFIX) ? { type: 'setTorchDevices', devices: v.slice(TORCH_PREFIX.length) } : { type: 'setBackend', backend: v });
});
$('pick-ref').addEventListener('click', () => vscode.postMessage({ type: 'pickReference' }));
$('pick-train').addEventListener('click', () => vscode.postMessage({ type: 'pickData', which: 'train' }));
$('pick-val').addEventListener('click', () => vscode.postMessage({ type: 'pickData', which: 'val' }));
$('analyze').addEventListener('click', () => vscode.postMessage({ type: 'analyze' }));
$('start').addEventListener('click', () => vscode.postMessage({ type: 'start' }));
$('stop').addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
$('open-config').addEventListener('click', () => vscode.postMessage({ type: 'openConfig' }));
$('new-config').addEventListener('click', () => vscode.postMessage({ type: 'newConfig' }));

render();
vscode.postMessage({ type: 'ready' });
