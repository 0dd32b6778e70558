// The engineer's page: one serving configuration and a batch sweep, every number from /api/serve.
"use strict";

const IDS = ["model", "gpu", "weights", "tp", "batch", "input_tokens", "output_tokens", "rps", "slo_ttft", "slo_tpot"];
const SERVE_IDS = IDS.slice(0, 7);
const SWEEP = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

function body(batch) {
  const v = (id) => document.getElementById(id).value.trim();
  const tp = /^[0-9]+$/.test(v("tp")) ? Number(v("tp")) : v("tp");
  return { model: v("model"), gpu: v("gpu"), weights: v("weights"), tp, batch: String(batch),
    input_tokens: v("input_tokens"), output_tokens: v("output_tokens") };
}

function ms(s) {
  return s === null ? "—" : (s * 1e3).toFixed(1) + " ms";
}

function showEstimate(e) {
  const rows = [
    ["time to first token (TTFT)", e.ttft_s, ms(e.ttft_s)],
    ["time per output token (TPOT)", e.tpot_s, `${ms(e.tpot_s)} (${e.bound}-bound)`],
    ["output tokens/s per user", e.output_tokens_per_s_per_user, e.output_tokens_per_s_per_user.toFixed(1)],
    ["output tokens/s per GPU", e.output_tokens_per_s_per_gpu, Math.round(e.output_tokens_per_s_per_gpu).toLocaleString("en")],
    ["batch (max that fits)", e.batch, `${e.batch} (${e.max_batch})`],
    ["$ per 1M output tokens", e.cost_usd_per_mtok_output, e.cost_usd_per_mtok_output === null ? "unpriced" : "$" + e.cost_usd_per_mtok_output.toFixed(4)],
    ["$ per 1M input tokens", e.cost_usd_per_mtok_input, e.cost_usd_per_mtok_input === null ? "unpriced" : "$" + e.cost_usd_per_mtok_input.toFixed(4)],
  ];
  FB.table("estimate", ["quantity", "value"], rows.map(([name, value, text]) => [FB.textCell(name), FB.cell(value, text)]));
  document.getElementById("estimate").querySelectorAll("tr").forEach((tr, i) => {
    if (i > 0) tr.dataset.key = ["ttft_s", "tpot_s", "output_tokens_per_s_per_user", "output_tokens_per_s_per_gpu",
      "batch", "cost_usd_per_mtok_output", "cost_usd_per_mtok_input"][i - 1];
  });
  document.getElementById("estimate-note").textContent = `Range ±${Math.round(e.error_band * 100)}% (the serving model's accuracy band); ${e.details.engine}.`;
  FB.table("assumptions", ["assumption", "value", "source"], e.details.assumptions.map((a) => [
    FB.textCell(a.name), FB.textCell(a.value), FB.textCell(a.source + (a.note ? " — " + a.note : ""))]));
}

async function sweep(maxBatch) {
  const batches = SWEEP.filter((b) => b <= maxBatch);
  const answers = await Promise.all(batches.map((b) => FB.post("/api/serve", body(b))));
  const ok = answers.filter((a) => a.ok).map((a) => a.data);
  const x = ok.map((e) => e.batch);
  Plotly.react("chart-sweep", [
    { x, y: ok.map((e) => e.output_tokens_per_s_per_gpu), name: "output tokens/s per GPU", type: "scatter" },
    { x, y: ok.map((e) => e.cost_usd_per_mtok_output), name: "$ per 1M output tokens", yaxis: "y2", type: "scatter" },
  ], { margin: { t: 10 }, xaxis: { type: "log", title: { text: "batch" } }, yaxis: { title: { text: "tokens/s/GPU" } },
    yaxis2: { overlaying: "y", side: "right", title: { text: "$ / 1M output" } }, legend: { orientation: "h" } }, { responsive: true });
  Plotly.react("chart-step", ["step_compute_s", "step_memory_s", "step_comm_s", "step_overhead_s"].map((k) => ({
    x, y: ok.map((e) => e.details[k] * 1e3), name: k.replace("step_", "").replace("_s", ""), type: "scatter" })),
  { margin: { t: 10 }, xaxis: { type: "log", title: { text: "batch" } }, yaxis: { title: { text: "ms per decode step" } },
    legend: { orientation: "h" } }, { responsive: true });
  FB.table("sweep", ["batch", "TTFT", "TPOT", "tokens/s/GPU", "$ / 1M output"], ok.map((e) => [
    FB.cell(e.batch, String(e.batch)), FB.cell(e.ttft_s, ms(e.ttft_s)), FB.cell(e.tpot_s, ms(e.tpot_s)),
    FB.cell(e.output_tokens_per_s_per_gpu, Math.round(e.output_tokens_per_s_per_gpu).toLocaleString("en")),
    FB.cell(e.cost_usd_per_mtok_output, e.cost_usd_per_mtok_output === null ? "unpriced" : "$" + e.cost_usd_per_mtok_output.toFixed(4)),
  ]));
}

let latest = 0;

async function update() {
  const mine = ++latest;
  FB.writeState(IDS);
  document.body.dataset.state = "loading";
  const answer = await FB.post("/api/serve", body(document.getElementById("batch").value.trim()));
  if (mine !== latest) return;
  FB.clearErrors();
  if (!answer.ok) {
    FB.showError(answer.data, SERVE_IDS.includes(answer.data.field) ? answer.data.field : null);
    document.body.dataset.state = "error";
    return;
  }
  showEstimate(answer.data);
  await sweep(answer.data.max_batch);
  if (mine === latest) document.body.dataset.state = "ready";
}

async function search() {
  const v = (id) => document.getElementById(id).value.trim();
  const request = { model: v("model"), input_tokens: v("input_tokens"), output_tokens: v("output_tokens"),
    rps: v("rps"), slo_ttft: v("slo_ttft"), slo_tpot: v("slo_tpot"), top: 10 };
  FB.writeState(IDS);
  FB.clearErrors();
  document.body.dataset.state = "loading";
  const answer = await FB.post("/api/serve/search", request);
  if (!answer.ok) {
    const id = { rps: "rps", slo_ttft: "slo_ttft", slo_tpot: "slo_tpot" }[answer.data.field] ||
      (SERVE_IDS.includes(answer.data.field) ? answer.data.field : null);
    FB.showError(answer.data, id);
    document.body.dataset.state = "error";
    return;
  }
  const r = answer.data;
  document.getElementById("search-section").hidden = false;
  document.getElementById("search-note").textContent =
    `${r.n_evaluated.toLocaleString("en")} configurations evaluated; ${r.n_feasible.toLocaleString("en")} meet the objectives.`;
  const label = (c) => `${c.accelerator} ${c.weights} TP${c.tp} b${c.batch} ×${c.replicas}`;
  Plotly.react("chart-pareto", [{ x: r.pareto.map((c) => c.tpot_s * 1e3), y: r.pareto.map((c) => c.cost_usd_per_request),
    text: r.pareto.map(label), mode: "markers+lines", type: "scatter", name: "Pareto front" }],
  { margin: { t: 10 }, xaxis: { title: { text: "TPOT (ms)" } }, yaxis: { title: { text: "$ per request" } } }, { responsive: true });
  FB.table("pareto", ["configuration", "GPUs", "TTFT", "TPOT", "$ / request"], r.pareto.map((c) => [
    FB.textCell(label(c)), FB.cell(c.gpus, String(c.gpus)), FB.cell(c.ttft_s, ms(c.ttft_s)), FB.cell(c.tpot_s, ms(c.tpot_s)),
    FB.cell(c.cost_usd_per_request, "$" + c.cost_usd_per_request.toPrecision(3))]));
  document.body.dataset.state = "ready";
}

document.getElementById("search").addEventListener("click", search);
["rps", "slo_ttft", "slo_tpot"].forEach((id) => document.getElementById(id).addEventListener("input", () => FB.writeState(IDS)));
FB.readState(IDS);
const later = FB.debounce(update, 300);
SERVE_IDS.forEach((id) => document.getElementById(id).addEventListener("input", later));
update();
