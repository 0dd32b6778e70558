// The product page: builds a scenario from the form, asks /api/plan, draws the answer. No cost logic here.
"use strict";

const IDS = ["requests_per_day", "monthly_growth", "horizon_months", "spike_month", "spike_multiplier",
  "spike_days", "input_tokens", "output_tokens", "api_models", "sh_model", "sh_gpu", "one_time_usd", "mc_samples"];

function value(id) {
  return document.getElementById(id).value.trim();
}

function asNumber(text) {
  return /^[-+]?[0-9]*\.?[0-9]+(e[-+]?[0-9]+)?$/i.test(text) ? Number(text) : text;
}

function scenario() {
  const apis = value("api_models").split(",").map((s) => s.trim()).filter((s) => s);
  const options = apis.map((m) => ({ name: m, kind: "api", model: m }));
  options.push({ name: "self-hosted", kind: "self_hosted", model: value("sh_model"), gpu: value("sh_gpu"),
    fleet: "autoscale", min_replicas: 1 });
  const traffic = { requests_per_day: value("requests_per_day"), monthly_growth: value("monthly_growth") };
  if (value("spike_month") !== "0") {
    traffic.spikes = [{ name: "spike", month: asNumber(value("spike_month")),
      multiplier: value("spike_multiplier"), duration_days: asNumber(value("spike_days")) }];
  }
  const s = { name: "dashboard", horizon_months: asNumber(value("horizon_months")), traffic,
    request: { input_tokens: value("input_tokens"), output_tokens: value("output_tokens") }, options };
  if (value("one_time_usd") !== "0" && value("one_time_usd") !== "") {
    s.one_time = [{ name: "self-hosting set-up", cost_usd: value("one_time_usd"), options: ["self-hosted"] }];
  }
  return { scenario: s, apiCount: apis.length };
}

// Which input a field path of the scenario came from (the API names YAML paths, the page names labels).
function inputFor(field, apiCount) {
  if (!field) return null;
  const direct = {
    "traffic.requests_per_day": "requests_per_day", "traffic.monthly_growth": "monthly_growth",
    "horizon_months": "horizon_months", "request.input_tokens": "input_tokens",
    "request.output_tokens": "output_tokens", "traffic.spikes[0].month": "spike_month",
    "traffic.spikes[0].multiplier": "spike_multiplier", "traffic.spikes[0].duration_days": "spike_days",
    "one_time[0].cost_usd": "one_time_usd", "samples": "mc_samples",
  };
  for (const [path, id] of Object.entries(direct)) if (field === path || field.startsWith(path + ".")) return id;
  const m = /^options\[(\d+)\]\.?(\w*)/.exec(field);
  if (m) {
    const i = Number(m[1]);
    if (i < apiCount) return "api_models";
    return m[2] === "gpu" ? "sh_gpu" : "sh_model";
  }
  return null;
}

function lines(result, key) {
  return result.options.map((o) => ({ x: result.traffic.months, y: o[key], name: o.label, type: "scatter", mode: "lines" }));
}

function layoutFor(x, y) {
  return { margin: { t: 10, r: 10 }, xaxis: { title: { text: x } }, yaxis: { title: { text: y } },
    legend: { orientation: "h" } };
}

function drawBreakEven(result) {
  const traces = result.cost_curves.map((c) => ({ x: c.requests_per_day, y: c.monthly_cost_usd, name: c.option,
    type: "scatter", mode: "lines" }));
  const today = result.break_evens.length ? result.break_evens[0].current_requests_per_day : null;
  const layout = layoutFor("requests per day", "USD per month");
  layout.xaxis.type = "log";
  if (today) layout.shapes = [{ type: "line", x0: today, x1: today, yref: "paper", y0: 0, y1: 1, line: { dash: "dot" } }];
  Plotly.react("chart-breakeven", traces, layout, { responsive: true });
}

function drawTornado(result) {
  const t = result.tornado.find((x) => x.option === result.cheapest_option);
  const rows = t ? t.rows.slice(0, 8).reverse() : [];
  const base = t ? t.expected_output : 0;
  document.getElementById("tornado-note").textContent = rows.length ? ""
    : "No input is a range: write one as low..expected..high (e.g. 10%..15%..30%) to see what moves the answer.";
  Plotly.react("chart-tornado", [
    { y: rows.map((r) => r.input_name), x: rows.map((r) => r.output_low - base), base, name: "input at low", type: "bar", orientation: "h" },
    { y: rows.map((r) => r.input_name), x: rows.map((r) => r.output_high - base), base, name: "input at high", type: "bar", orientation: "h" },
  ], { ...layoutFor(`${result.cheapest_option}: total USD`, ""), barmode: "overlay", margin: { l: 260, t: 10 } }, { responsive: true });
}

function drawMonteCarlo(result) {
  const section = document.getElementById("mc-section");
  section.hidden = !result.monte_carlo;
  if (!result.monte_carlo) return;
  const months = result.traffic.months;
  const traces = [];
  for (const u of result.monte_carlo.options) {
    traces.push({ x: months, y: u.cumulative_cost_p10_usd, name: u.option + " P10", type: "scatter", mode: "lines", line: { width: 0 }, showlegend: false });
    traces.push({ x: months, y: u.cumulative_cost_p90_usd, name: u.option + " P10–P90", type: "scatter", mode: "lines", fill: "tonexty", line: { width: 0 } });
    traces.push({ x: months, y: u.cumulative_cost_p50_usd, name: u.option + " P50", type: "scatter", mode: "lines" });
  }
  Plotly.react("chart-mc", traces, layoutFor("month", "cumulative USD"), { responsive: true });
  FB.table("mc", ["option", "P10", "P50", "P90", "P(cheapest)"], result.monte_carlo.options.map((u) => [
    FB.textCell(u.option), FB.cell(u.total_cost_usd.p10, FB.usd(u.total_cost_usd.p10)),
    FB.cell(u.total_cost_usd.p50, FB.usd(u.total_cost_usd.p50)), FB.cell(u.total_cost_usd.p90, FB.usd(u.total_cost_usd.p90)),
    FB.cell(u.probability_cheapest, Math.round(u.probability_cheapest * 100) + "%")]));
}

function draw(result) {
  drawBreakEven(result);
  drawTornado(result);
  drawMonteCarlo(result);
  const layout = (y) => ({ margin: { t: 10, r: 10 }, xaxis: { title: { text: "month" } },
    yaxis: { title: { text: y } }, legend: { orientation: "h" } });
  Plotly.react("chart-monthly", lines(result, "monthly_cost_usd"), layout("USD per month"), { responsive: true });
  Plotly.react("chart-cumulative", lines(result, "cumulative_cost_usd"), layout("cumulative USD"), { responsive: true });
  FB.table("totals", ["option", "kind", "total", "month 1", "per request (lifetime)"], result.options.map((o) => [
    FB.textCell(o.label), FB.textCell(o.kind), FB.cell(o.total_cost_usd, FB.usd(o.total_cost_usd)),
    FB.cell(o.monthly_cost_usd[0], FB.usd(o.monthly_cost_usd[0])),
    FB.cell(o.lifetime_cost_per_request_usd, FB.usd(o.lifetime_cost_per_request_usd)),
  ]));
  document.getElementById("totals").querySelectorAll("tr").forEach((tr, i) => {
    if (i > 0) tr.dataset.option = result.options[i - 1].name;
  });
  document.getElementById("cheapest").textContent = `Cheapest over ${result.horizon_months} months: ${result.cheapest_option}.`;
  FB.table("paybacks", ["option", "one-time cost", "pays back in"], result.crossovers.map((c) => [
    FB.textCell(c.option), FB.cell(c.one_time_usd, FB.usd(c.one_time_usd)),
    FB.cell(c.month, c.month ? `month ${c.month}` : "not within horizon"),
  ]));
  FB.table("breakevens", ["API option", "self-hosted option", "break-even requests/day", "today", "note"],
    result.break_evens.map((b) => [FB.textCell(b.api_option), FB.textCell(b.gpu_option),
      FB.cell(b.requests_per_day, b.requests_per_day === null ? "never" : Math.round(b.requests_per_day).toLocaleString("en")),
      FB.cell(b.current_requests_per_day, Math.round(b.current_requests_per_day).toLocaleString("en")), FB.textCell(b.note)]));
  FB.table("assumptions", ["assumption", "value", "source (with date)", "note"], result.assumptions.map((a) => [
    FB.textCell(a.name), FB.textCell(a.value), FB.textCell(a.source), FB.textCell(a.note)]));
}

function planPath(path) {
  return `${path}?samples=${encodeURIComponent(value("mc_samples") || "0")}`;
}

function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

document.getElementById("download-scenario").addEventListener("click", () => {
  const text = JSON.stringify(scenario().scenario, null, 2);
  download("scenario.json", new Blob([text], { type: "application/json" }));
});

document.getElementById("download-report").addEventListener("click", async () => {
  const headers = { "content-type": "application/json" };
  if (FB.token) headers.authorization = "Bearer " + FB.token;
  const r = await fetch(planPath("/api/plan/report"), { method: "POST", headers, body: JSON.stringify(scenario().scenario) });
  if (r.ok) download("report.html", await r.blob());
});

let latest = 0;

async function update() {
  const mine = ++latest;
  FB.writeState(IDS);
  const { scenario: s, apiCount } = scenario();
  document.getElementById("scenario").textContent = JSON.stringify(s, null, 2);
  document.body.dataset.state = "loading";
  const answer = await FB.post(planPath("/api/plan"), s);
  if (mine !== latest) return; // a newer input is on its way
  FB.clearErrors();
  if (answer.ok) draw(answer.data);
  else FB.showError(answer.data, inputFor(answer.data.field, apiCount));
  document.body.dataset.state = answer.ok ? "ready" : "error";
}

FB.readState(IDS);
const later = FB.debounce(update, 300);
IDS.forEach((id) => document.getElementById(id).addEventListener("input", later));
update();
