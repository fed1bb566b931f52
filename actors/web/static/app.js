// The dashboard: plain JavaScript over the app's REST API and its one SSE stream.
// Output is rendered in batches per animation frame and the page holds at most
// MAX_LINES lines, so a child printing 100,000 lines cannot freeze the tab.
"use strict";

const MAX_LINES = 5000;
const LINES_PER_FRAME = 1000;
const TERMINAL = new Set(["completed", "failed", "timed_out", "cancelled", "interrupted"]);
const LIFECYCLE = "started,progress,completed,failed,cancelled";

const $ = (id) => document.getElementById(id);
const rows = new Map(); // execution id -> {tr, status}
const out = { id: null, source: null, queue: [], dropped: 0, follow: true, frame: 0 };

async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    ...options,
  });
  const body = response.headers.get("content-type")?.includes("json")
    ? await response.json()
    : await response.text();
  if (!response.ok && response.status !== 202) {
    const detail = Array.isArray(body?.detail)
      ? body.detail.map((e) => `${e.loc.join(".")}: ${e.msg}`).join("; ")
      : body?.detail || response.statusText;
    throw new Error(`${response.status}: ${detail}`);
  }
  return body;
}

// --- metrics -----------------------------------------------------------------
let metricsTimer = 0;
async function refreshMetrics() {
  metricsTimer = 0;
  try {
    const m = await api("api/metrics");
    $("m-running").textContent = m.currently_running;
    $("m-pending").textContent = m.currently_pending;
    $("m-slots").textContent = m.available_slots;
    $("m-submitted").textContent = m.total_submitted;
    $("m-finished").textContent = m.total_finished;
  } catch (error) {
    $("conn").textContent = String(error.message);
  }
}
function metricsSoon() {
  if (!metricsTimer) metricsTimer = setTimeout(refreshMetrics, 250);
}

// --- the executions table ----------------------------------------------------
function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function upsert(summary) {
  let row = rows.get(summary.execution_id);
  if (!row) {
    const tr = document.createElement("tr");
    tr.dataset.id = summary.execution_id;
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "cancel";
    cancel.textContent = "cancel";
    cancel.addEventListener("click", (event) => {
      event.stopPropagation();
      cancel.disabled = true;
      api(`api/executions/${summary.execution_id}/cancel`, { method: "POST" }).catch(showError);
    });
    const actions = cell("");
    actions.append(cancel);
    tr.append(cell(summary.command, "cmd"), cell("", "status"), cell(""), cell(""), actions);
    tr.cells[0].title = summary.command;
    tr.addEventListener("click", () => openOutput(summary.execution_id));
    $("executions").tBodies[0].prepend(tr);
    row = { tr, status: null };
    rows.set(summary.execution_id, row);
  }
  setStatus(summary.execution_id, summary.status, summary.exit_code, durationOf(summary));
  return row;
}

function durationOf(summary) {
  if (!summary.started_at) return null;
  const end = summary.completed_at ? Date.parse(summary.completed_at) : Date.now();
  return end - Date.parse(summary.started_at);
}

function rank(status) {
  if (!status) return -1;
  return TERMINAL.has(status) ? 2 : status === "running" ? 1 : 0;
}

function setStatus(id, status, exitCode, durationMs) {
  const row = rows.get(id);
  if (!row) return;
  if (rank(status) < rank(row.status)) return; // a late fetch: never go back
  row.status = status;
  const [, statusCell, exitCell, durationCell, actions] = row.tr.cells;
  statusCell.textContent = status;
  statusCell.className = `status ${status}`;
  if (exitCode !== undefined && exitCode !== null) exitCell.textContent = exitCode;
  if (durationMs !== undefined && durationMs !== null) {
    durationCell.textContent = `${(durationMs / 1000).toFixed(1)} s`;
  }
  actions.hidden = TERMINAL.has(status);
  if (id === out.id) $("output-status").textContent = status;
}

async function loadTable() {
  const list = await api("api/executions");
  for (const summary of list.reverse()) upsert(summary);
}

const fetching = new Set();
function ensureRow(id) {
  if (rows.has(id) || fetching.has(id)) return;
  fetching.add(id);
  api(`api/executions/${id}`).then(upsert).catch(() => {}).finally(() => fetching.delete(id));
}

function onLifecycle(event) {
  const e = JSON.parse(event.data);
  const id = e.execution_id;
  if (!rows.has(id)) ensureRow(id);
  switch (e.type) {
    case "started": setStatus(id, "running"); break;
    case "progress": setStatus(id, "running", null, e.elapsed_ms); break;
    case "completed": setStatus(id, "completed", e.exit_code, e.duration_ms); break;
    case "failed":
      setStatus(id, e.reason === "timeout" ? "timed_out" : "failed", e.exit_code, e.duration_ms);
      break;
    case "cancelled": setStatus(id, "cancelled", null, e.duration_ms); break;
  }
  if (e.type !== "progress") metricsSoon();
}

function connect() {
  const source = new EventSource(`api/events?types=${LIFECYCLE}`);
  for (const type of LIFECYCLE.split(",")) source.addEventListener(type, onLifecycle);
  source.addEventListener("reset", () => loadTable().catch(showError));
  source.onopen = () => { $("conn").textContent = "live"; $("conn").className = "conn live"; };
  source.onerror = () => { $("conn").textContent = "reconnecting…"; $("conn").className = "conn"; };
}

// --- one execution's output -------------------------------------------------------
function openOutput(id) {
  if (out.source) out.source.close();
  for (const tr of rows.values()) tr.tr.classList.toggle("selected", tr.tr.dataset.id === id);
  Object.assign(out, { id, source: null, queue: [], dropped: 0, follow: true });
  $("lines").replaceChildren();
  $("output").hidden = false;
  $("follow").hidden = true;
  $("output-note").textContent = "";
  const row = rows.get(id);
  $("output-title").textContent = row ? row.tr.cells[0].textContent : id;
  $("output-status").textContent = row ? row.status : "";
  if (row && TERMINAL.has(row.status)) {
    showResult(id);
    return;
  }
  // A stream of one execution starts with what the server still buffers of it.
  const source = new EventSource(`api/events?execution_id=${id}`);
  let firstSeq = 0;
  const take = (isErr) => (event) => {
    const e = JSON.parse(event.data);
    if (!firstSeq) {
      firstSeq = e.seq;
      if (e.seq > 1) note("earlier output is no longer buffered");
    }
    enqueue(e.lines, isErr);
  };
  source.addEventListener("stdout", take(false));
  source.addEventListener("stderr", take(true));
  source.addEventListener("started", (event) => { firstSeq ||= JSON.parse(event.data).seq; });
  for (const type of ["completed", "failed", "cancelled"]) {
    source.addEventListener(type, (event) => {
      const e = JSON.parse(event.data);
      source.close();
      const code = e.exit_code === undefined || e.exit_code === null ? "" : ` (exit code ${e.exit_code})`;
      enqueueEnd(`— ${e.type === "failed" && e.reason === "timeout" ? "timed out" : e.type}${code}`);
    });
  }
  source.addEventListener("reset", () => note("some output was skipped (the client fell behind)"));
  out.source = source;
}

async function showResult(id) {
  try {
    const result = await api(`api/executions/${id}/result`);
    if (id !== out.id) return;
    if (result.stdout) enqueue(result.stdout.split("\n"), false);
    if (result.stderr) enqueue(result.stderr.split("\n"), true);
    note("finished: stdout, then stderr");
    enqueueEnd(`— ${result.status}${result.exit_code === null ? "" : ` (exit code ${result.exit_code})`}`);
  } catch (error) {
    note(String(error.message));
  }
}

function note(text) { $("output-note").textContent = text; }

function enqueue(lines, isErr) {
  for (const line of lines) out.queue.push([line, isErr ? "err" : ""]);
  if (out.queue.length > MAX_LINES) {
    out.dropped += out.queue.length - MAX_LINES;
    out.queue.splice(0, out.queue.length - MAX_LINES);
  }
  if (!out.frame) out.frame = requestAnimationFrame(render);
}

function enqueueEnd(text) {
  out.queue.push([text, "end"]);
  if (!out.frame) out.frame = requestAnimationFrame(render);
}

function render() {
  out.frame = 0;
  const box = $("lines");
  const batch = out.queue.splice(0, LINES_PER_FRAME);
  const fragment = document.createDocumentFragment();
  for (const [text, className] of batch) {
    const div = document.createElement("div");
    div.textContent = text;
    if (className) div.className = className;
    fragment.append(div);
  }
  box.append(fragment);
  const extra = box.childElementCount - MAX_LINES;
  if (extra > 0) {
    for (let i = 0; i < extra; i++) box.firstElementChild.remove();
    out.dropped += extra;
  }
  if (out.dropped) {
    note(`showing the last ${MAX_LINES.toLocaleString()} lines; ${out.dropped.toLocaleString()} earlier ones are not kept on this page`);
  }
  if (out.follow) box.scrollTop = box.scrollHeight;
  if (out.queue.length) out.frame = requestAnimationFrame(render);
}

function onScroll() {
  const box = $("lines");
  out.follow = box.scrollHeight - box.scrollTop - box.clientHeight < 8;
  $("follow").hidden = out.follow;
}

// --- the form -----------------------------------------------------------------
async function submit(event) {
  event.preventDefault();
  $("form-error").textContent = "";
  const command = $("command").value;
  try {
    const { execution_id: id } = await api("api/executions", {
      method: "POST",
      body: JSON.stringify({ command: { kind: "shell", command } }),
    });
    upsert({ execution_id: id, command, status: "pending", exit_code: null });
    ensureRow(id);
    openOutput(id);
    metricsSoon();
  } catch (error) {
    showError(error);
  }
}

function showError(error) { $("form-error").textContent = String(error.message); }

document.addEventListener("DOMContentLoaded", () => {
  $("run").addEventListener("submit", submit);
  $("lines").addEventListener("scroll", onScroll);
  $("follow").addEventListener("click", () => {
    out.follow = true;
    $("follow").hidden = true;
    $("lines").scrollTop = $("lines").scrollHeight;
  });
  connect();
  loadTable().catch(showError);
  refreshMetrics();
  setInterval(refreshMetrics, 2000);
});
