// Shared by the dashboard pages: calls /api (all cost logic is on the server), URL state, inline errors.
"use strict";

const FB = {};

FB.token = new URLSearchParams(location.hash.slice(1)).get("token");

FB.post = async function (path, body) {
  const headers = { "content-type": "application/json" };
  if (FB.token) headers.authorization = "Bearer " + FB.token;
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  const data = await response.json();
  return { ok: response.ok, status: response.status, data };
};

// Inputs whose id is in `ids` are read from / written to the page's query string.
FB.readState = function (ids) {
  const params = new URLSearchParams(location.search);
  for (const id of ids) {
    if (params.has(id)) document.getElementById(id).value = params.get(id);
  }
};

FB.writeState = function (ids) {
  const params = new URLSearchParams();
  for (const id of ids) params.set(id, document.getElementById(id).value);
  history.replaceState(null, "", location.pathname + "?" + params.toString() + location.hash);
};

FB.clearErrors = function () {
  document.querySelectorAll(".field-error").forEach((e) => e.remove());
  document.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  document.getElementById("banner").textContent = "";
};

// Show an API error next to the input it names (`inputId`), in the words of that input's label.
FB.showError = function (err, inputId) {
  const input = inputId && document.getElementById(inputId);
  if (!input) {
    document.getElementById("banner").textContent = err.message || "error";
    return;
  }
  const label = document.querySelector(`label[for="${inputId}"]`);
  const name = label ? label.textContent.trim() : inputId;
  const div = document.createElement("div");
  div.className = "field-error";
  div.id = inputId + "-error";
  div.setAttribute("role", "alert");
  let detail = err.message;
  if (err.allowed) {
    const given = JSON.stringify(err.value);
    detail = String(err.allowed).includes(String(err.value)) ? err.allowed : `${given} is not allowed; expected ${err.allowed}`;
  }
  if (err.close_matches && err.close_matches.length && !detail.includes("did you mean")) {
    detail += `; did you mean ${err.close_matches.join(", ")}?`;
  }
  div.textContent = `${name}: ${detail}`;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", div.id);
  input.insertAdjacentElement("afterend", div);
};

FB.usd = function (x) {
  if (x === null || x === undefined) return "—";
  const a = Math.abs(x);
  if (a >= 1e6) return "$" + (x / 1e6).toFixed(2) + "M";
  if (a >= 1e3) return "$" + (x / 1e3).toFixed(1) + "k";
  if (a >= 1) return "$" + x.toFixed(2);
  return "$" + x.toPrecision(3);
};

// A table cell with the exact number in data-value (what tests compare) and a readable text.
FB.cell = function (value, text) {
  const td = document.createElement("td");
  td.className = "num";
  if (value !== null && value !== undefined) td.dataset.value = String(value);
  td.textContent = text;
  return td;
};

FB.textCell = function (text) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  return td;
};

FB.table = function (id, head, rows) {
  const table = document.getElementById(id);
  table.innerHTML = "";
  const tr = document.createElement("tr");
  for (const h of head) {
    const th = document.createElement("th");
    th.textContent = h;
    tr.appendChild(th);
  }
  table.appendChild(tr);
  for (const cells of rows) {
    const row = document.createElement("tr");
    cells.forEach((c) => row.appendChild(c));
    table.appendChild(row);
  }
};

FB.debounce = function (fn, ms) {
  let t = null;
  return () => {
    clearTimeout(t);
    t = setTimeout(fn, ms);
  };
};
