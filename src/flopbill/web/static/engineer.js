// The engineer's page: one serving configuration and a batch sweep, every number from /api/serve.
"use strict";

const IDS = ["model", "gpu", "weights", "tp", "batch", "input_tokens", "output_tokens"];
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
    FB.showError(answer.data, IDS.includes(answer.data.field) ? answer.data.field : null);
    document.body.dataset.state = "error";
    return;
  }
  showEstimate(answer.data);
  await sweep(answer.data.max_batch);
  if (mine === latest) document.body.dataset.state = "ready";
}

FB.readState(IDS);
const later = FB.debounce(update, 300);
IDS.forEach((id) => document.getElementById(id).addEventListener("input", later));
update();
