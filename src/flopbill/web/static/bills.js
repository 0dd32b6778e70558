// The bills page: spend by phase and month and the unclassified spend, every number from /api/bills/report.
"use strict";

const IDS = ["amortize_months"];

function money(text) {
  return Number(text).toLocaleString("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function show(r) {
  document.getElementById("currency").textContent = r.currency || "currency unknown";
  const phases = [...new Set(r.by_month.map((m) => m.phase))];
  const cost = (month, phase) => {
    const hit = r.by_month.find((m) => m.month === month && m.phase === phase);
    return hit ? hit.billed_cost : null;
  };
  Plotly.react("chart-phase-month", phases.map((phase) => ({
    x: r.months, y: r.months.map((m) => Number(cost(m, phase) || 0)), name: phase, type: "bar" })),
  { barmode: "stack", margin: { t: 10 }, xaxis: { type: "category" }, yaxis: { title: { text: "BilledCost" } }, legend: { orientation: "h" } },
  { responsive: true });
  FB.table("by-month", ["month", "phase", "BilledCost"], r.by_month.map((m) => [
    FB.textCell(m.month), FB.textCell(m.phase), FB.cell(m.billed_cost, money(m.billed_cost))]));
  document.getElementById("policy").textContent = r.policy;
  FB.table("unclassified", ["resource", "rule", "lines", "BilledCost"], r.unclassified.map((t) => [
    FB.textCell(t.key), FB.textCell(t.rule_id), FB.cell(t.lines, String(t.lines)),
    FB.cell(t.billed_cost, money(t.billed_cost))]));
}

let latest = 0;

async function update() {
  const mine = ++latest;
  FB.writeState(IDS);
  document.body.dataset.state = "loading";
  const answer = await FB.get("/api/bills/report", { amortize_months: document.getElementById("amortize_months").value.trim() });
  if (mine !== latest) return;
  FB.clearErrors();
  if (!answer.ok) {
    FB.showError(answer.data, IDS.includes(answer.data.field) ? answer.data.field : null);
    document.body.dataset.state = "error";
    return;
  }
  show(answer.data);
  document.body.dataset.state = "ready";
}

FB.readState(IDS);
document.getElementById("amortize_months").addEventListener("input", FB.debounce(update, 300));
update();
