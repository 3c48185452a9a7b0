/**
 * HTML of the webviews: a strict Content-Security-Policy (no inline scripts or styles; the bundle
 * runs by nonce), every asset through asWebviewUri.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

function nonce(): string {
  return randomBytes(18).toString('base64url');
}

function page(webview: vscode.Webview, extensionUri: vscode.Uri, script: string, css: string, title: string, body: string): string {
  const n = nonce();
  const asset = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...p)).toString();
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource} 'nonce-${n}'`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${n}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('media', css)}" nonce="${n}">
<title>${title}</title>
</head>
<body>
${body}
<script nonce="${n}" src="${asset('dist', 'webview', script)}"></script>
</body>
</html>`;
}

export function dashboardHtml(webview: vscode.Webview, extensionUri: vscode.Uri, title: string): string {
  const esc = title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return page(
    webview,
    extensionUri,
    'dashboard.js',
    'dashboard.css',
    esc,
    `<header>
  <div class="title"><h1 id="run-name">${esc}</h1><vscode-badge id="status" data-state="unknown">unknown</vscode-badge><span id="backend" class="muted"></span><span id="source" class="muted"></span></div>
  <div class="actions">
    <vscode-button id="stop" secondary hidden>Stop</vscode-button>
    <vscode-button id="resume" hidden title="Continue the run from its last checkpoint">Resume</vscode-button>
    <vscode-button id="export-csv" secondary title="Metrics of every model as CSV">Export CSV</vscode-button>
    <vscode-button id="export-json" secondary title="Every run event and the summary as JSON">Export JSON</vscode-button>
  </div>
</header>
<div id="progress-row"><vscode-progress-bar id="progress" indeterminate hidden aria-label="progress of the model being trained"></vscode-progress-bar><span id="progress-text" class="muted"></span></div>
<section class="card wide">
  <div class="card-head"><h2>Loss</h2><span class="muted">lines: train loss, dots: val loss; red: the reference's val loss; dashed verticals: growth</span>
    <span class="controls"><label title="Logarithmic loss axis"><input type="checkbox" id="loss-log"> log scale</label><label title="Fit the axis to the baselines too (else they are clipped to the derived models' range)"><input type="checkbox" id="loss-baselines"> fit baselines</label></span><a href="#" class="png" data-png="loss">PNG</a></div>
  <div class="chart tall"><canvas id="loss-chart" data-points="0"></canvas></div>
  <div class="card-head"><h3>Learning rate and throughput</h3><a href="#" class="png" data-png="speed">PNG</a></div>
  <div class="chart short"><canvas id="speed-chart"></canvas></div>
</section>
<section class="card wide">
  <div class="card-head"><h2>Lazy layers</h2><span class="muted">per layer MaxRank (bars; red: lazy, rank 1) and AvgMass (line)</span><a href="#" class="png" data-png="layers">PNG</a></div>
  <div class="side-by-side">
    <div><h3 id="ref-layer-title">reference</h3><div class="chart mid"><canvas id="ref-layer-chart" data-layers="0"></canvas></div></div>
    <div><h3 id="derived-layer-title">derived model</h3><div class="chart mid"><canvas id="derived-layer-chart" data-layers="0"></canvas></div></div>
  </div>
</section>
<section class="card wide">
  <div class="card-head"><h2>Rank(h, l)</h2><span class="muted">rows: heads, columns: layers; red: near rank 1. Click a cell for its attention heatmap.</span><a href="#" class="png" data-png="grid">PNG</a></div>
  <div class="side-by-side grids">
    <div><h3 id="ref-grid-title">reference</h3><canvas id="ref-grid" class="grid" data-cells="0"></canvas></div>
    <div><h3 id="derived-grid-title">derived model</h3><canvas id="derived-grid" class="grid" data-cells="0"></canvas></div>
  </div>
  <div id="grid-tip" class="muted tip"></div>
  <div class="card-head"><h3 id="heatmap-title">Attention heatmap</h3><span class="controls"><label for="heatmap-scale">colour scale</label><select id="heatmap-scale" title="log: every decade visible; linear: share of the largest cell; per row: each query row scaled to its own largest cell"></select></span><a href="#" class="png" data-png="heatmap">PNG</a></div>
  <div id="heatmap-status" class="muted">Click a cell of a grid above.</div>
  <canvas id="heatmap" width="468" height="374" data-drawn="0"></canvas>
  <div id="heatmap-tip" class="muted tip"></div>
</section>
<section class="card wide">
  <div class="card-head"><h2>Results</h2></div>
  <div id="results"></div>
</section>`,
  );
}

export function sidebarHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  return page(
    webview,
    extensionUri,
    'sidebar.js',
    'sidebar.css',
    'Inheritune',
    `<div id="empty" hidden>
  <p>Open a <code>*.inheritune.yaml</code> run config to set up a run here.</p>
  <vscode-button id="new-config">New Run Config</vscode-button>
</div>
<div id="form" hidden>
  <div class="row file"><span class="codicon">&#9776;</span><a href="#" id="open-config" title="Open the config file"><span id="config-file"></span></a></div>
  <ul id="problems"></ul>
  <div class="row buttons"><vscode-button id="start">Start Run</vscode-button><vscode-button id="stop" secondary hidden>Stop</vscode-button></div>
  <p id="start-blocked" class="muted"></p>
  <p id="untrusted" class="warning" hidden>Training is disabled in an untrusted workspace: trust this folder to start runs.</p>
  <div id="running" class="muted"></div>
  <vscode-divider></vscode-divider>
  <vscode-label>Reference model</vscode-label>
  <div class="row"><span id="ref-path" class="path"></span><vscode-button id="pick-ref" secondary>Choose...</vscode-button></div>
  <div id="ref-details" class="muted" data-layers="0"></div>
  <vscode-divider></vscode-divider>
  <vscode-label for="layers" id="layers-label">target.layers</vscode-label>
  <div class="slider-box">
    <div id="strip" data-layers="0" data-lazy="0"></div>
    <input type="range" id="layers" min="1" max="1" step="1" value="1" aria-label="layers of the derived model">
  </div>
  <div class="row"><span id="strip-note" class="muted"></span><vscode-button id="analyze" secondary title="Analyze the reference's attention (Inheritune: Analyze Reference Attention)">Analyze</vscode-button></div>
  <vscode-divider></vscode-divider>
  <vscode-label>Data</vscode-label>
  <div class="row"><span class="key">train</span><span id="train" class="path"></span><vscode-button id="pick-train" secondary>...</vscode-button></div>
  <div class="row"><span class="key">val</span><span id="val" class="path"></span><vscode-button id="pick-val" secondary>...</vscode-button></div>
  <vscode-label for="steps">Steps per round (train.steps)</vscode-label>
  <input id="steps" type="number" min="1" step="1" class="number">
  <vscode-label for="backend">Engine and backend (runtime.engine, runtime.backend / devices)</vscode-label>
  <select id="backend" title="auto: tensorflow when installed, else a hardware GPU (webgpu) when a probe finds it faster, else wasm; torch: the PyTorch worker on the devices its interpreter found"></select>
  <div id="engine" class="muted"></div>
</div>`,
  );
}
