// Shuttle operator console: the Flows Manager, the IW Monitor, the audit trail and the status
// panel, on top of the JSON control API. Every value from the API is written with
// textContent (never as markup), so names, record ids and messages always render as text.
"use strict";

(function () {
  const API = location.pathname.replace(/\/console\/?$/, "");
  const KEY = new URLSearchParams(location.search).get("code");
  const REFRESH_MS = 5000;
  const STATES = ["RUNNING", "STARTED", "STOPPED", "COMPLETING"];
  const $ = (id) => document.getElementById(id);

  // ---- helpers ------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (KEY) headers["x-functions-key"] = KEY;
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(API + path, init);
    } catch (err) {
      return { ok: false, status: 0, data: { error: { message: "the app does not answer: " + err } } };
    }
    if (resp.status === 401) $("sign-in").hidden = false;
    let data = null;
    try { data = await resp.json(); } catch (err) { data = null; }
    return { ok: resp.ok, status: resp.status, data };
  }

  function errorText(r) {
    const e = r.data && r.data.error;
    if (r.status === 401) return "Not signed in, or the function key is missing (open the console as /api/console?code=KEY).";
    if (e && e.message) return e.message + (e.field ? " (field: " + e.field + ")" : "");
    return "HTTP " + r.status;
  }

  function when(value) {
    if (!value) return "";
    const d = new Date(value);
    return isNaN(d) ? String(value) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function duration(run) {
    if (!run.started_at) return "";
    const end = run.finished_at ? new Date(run.finished_at) : new Date();
    const s = Math.max(0, Math.round((end - new Date(run.started_at)) / 1000));
    const text = s < 60 ? s + " s" : Math.floor(s / 60) + " min " + (s % 60) + " s";
    return run.finished_at ? text : text + " so far";
  }

  function stateBadge(state) {
    const known = STATES.includes(state) ? state : "STOPPED";
    return el("span", { className: "state state-" + known, text: state });
  }

  function notice(text) { $("notice").textContent = text || ""; }

  function fill(tbody, rows) { tbody.replaceChildren(...rows); }

  function runLink(run, text) {
    return el("a", { href: "#run/" + encodeURIComponent(run.id), text: text });
  }

  // ---- Flows Manager --------------------------------------------------------------------
  const ticked = new Set();
  let flows = [];
  let editing = null;   // flow id whose property form is open
  let launching = null; // flow id whose launch form is open

  const COLUMNS = ["", "Flow", "Kind", "State", "Interval (ms)", "Shift (ms)", "Query starts",
    "Counter", "Last run", "Next run", "Error policy", "Volume limit", "Sleeping until", ""];

  function solutionTable(solution) {
    const id = "solution-" + solution;
    let table = document.getElementById(id);
    if (table) return table;
    table = el("table", { id, className: "grid solution" },
      el("caption", { text: "Solution " + solution }),
      el("thead", {}, el("tr", {}, ...COLUMNS.map((c) => el("th", { scope: "col", text: c })))),
      el("tbody"));
    $("solutions").append(table);
    return table;
  }

  function flowRow(flow) {
    const box = el("input", { type: "checkbox", name: "flow", value: flow.id,
      "aria-label": "tick " + flow.id });
    box.checked = ticked.has(flow.id);
    box.addEventListener("change", () => {
      if (box.checked) ticked.add(flow.id); else ticked.delete(flow.id);
    });
    const edit = el("button", { type: "button", text: "Properties", "aria-label": "properties of " + flow.id });
    edit.addEventListener("click", () => openProps(flow.id));
    const actions = el("td", {}, edit);
    if (flow.kind !== "scheduled") {
      const launch = el("button", { type: "button", text: "Launch…", "aria-label": "launch " + flow.id });
      launch.addEventListener("click", () => openLaunch(flow.id));
      actions.append(" ", launch);
    }
    const last = flow.last_run;
    return el("tr", { "data-flow": flow.id, "data-state": flow.state },
      el("td", {}, box),
      el("td", {}, el("span", { className: "flow-name", text: flow.name }), el("br"),
        el("span", { className: "muted", text: flow.id })),
      el("td", { text: flow.kind }),
      el("td", { className: "state-cell" }, stateBadge(flow.state)),
      el("td", { text: flow.interval_ms }),
      el("td", { text: flow.shift_ms }),
      el("td", { text: when(flow.query_starts) }),
      el("td", {}, el("a", { href: "#monitor?flow=" + encodeURIComponent(flow.id),
        text: flow.counter, "aria-label": flow.counter + " runs of " + flow.id })),
      el("td", {}, last ? runLink(last, last.status) : "—", last ? " " + when(last.started_at) : ""),
      el("td", { text: when(flow.next_run_at) }),
      el("td", { text: flow.error_policy }),
      el("td", { text: flow.volume_limit }),
      el("td", { text: when(flow.sleeping_until) }),
      actions);
  }

  function renderFlows() {
    const bySolution = new Map();
    for (const flow of flows) {
      if (!bySolution.has(flow.solution)) bySolution.set(flow.solution, []);
      bySolution.get(flow.solution).push(flow);
    }
    for (const [solution, list] of bySolution) {
      const tbody = solutionTable(solution).tBodies[0];
      // Replace row by row, keeping the focused row so keyboard users do not lose their place.
      const focused = document.activeElement && document.activeElement.closest("tr[data-flow]");
      const rows = list.map((flow) => {
        if (focused && focused.dataset.flow === flow.id) {
          const box = focused.querySelector("input[type=checkbox]");
          const fresh = flowRow(flow);
          if (box) fresh.cells[0].replaceChildren(box);
          focused.replaceChildren(...fresh.childNodes);
          focused.dataset.state = flow.state;
          return focused;
        }
        return flowRow(flow);
      });
      fill(tbody, rows);
    }
    updateProps();
  }

  async function loadFlows() {
    const r = await api("GET", "/flows");
    if (!r.ok) { notice(errorText(r)); return; }
    flows = r.data.flows;
    renderFlows();
    stamp();
  }

  async function submitFlows(event) {
    event.preventDefault();
    const chosen = flows.filter((f) => ticked.has(f.id));
    const lines = [];
    for (const flow of chosen) {
      const verb = flow.state === "STOPPED" ? "start" : (flow.state === "COMPLETING" ? null : "stop");
      if (!verb) { lines.push(flow.id + ": already stopping (COMPLETING)"); continue; }
      const r = await api("POST", "/flows/" + encodeURIComponent(flow.id) + "/" + verb);
      lines.push(flow.id + ": " + (r.ok ? verb + "ed, now " + r.data.state : errorText(r)));
      if (r.ok) ticked.delete(flow.id);
    }
    notice(lines.join("\n"));
    await loadFlows();
    for (const box of document.querySelectorAll("#solutions input[type=checkbox]")) {
      box.checked = ticked.has(box.value);
    }
  }

  const POLICIES = ["never_stop", "stop_on_connection_failure", "stop_on_error"];

  function openProps(flowId) {
    editing = flowId;
    const flow = flows.find((f) => f.id === flowId);
    const form = $("props-form");
    const select = form.elements.error_policy;
    if (!select.options.length) {
      for (const p of POLICIES) select.append(el("option", { value: p, text: p }));
    }
    for (const name of ["interval_ms", "shift_ms", "counter", "volume_limit", "query_starts", "error_policy"]) {
      form.elements[name].value = flow[name];
    }
    $("props-title").textContent = "Properties of " + flow.id;
    $("props-msg").textContent = "";
    $("props").hidden = false;
    updateProps();
    form.elements.interval_ms.focus();
  }

  function updateProps() {
    if (!editing) return;
    const flow = flows.find((f) => f.id === editing);
    if (!flow) return;
    $("props-note").textContent = flow.state === "STOPPED" ? "" :
      "This flow is " + flow.state + ": properties change only while it is STOPPED. Stop it first; the server refuses the change until then.";
  }

  async function saveProps(event) {
    event.preventDefault();
    const form = $("props-form");
    const flow = flows.find((f) => f.id === editing);
    const body = {};
    for (const name of ["interval_ms", "shift_ms", "counter", "volume_limit"]) {
      const value = Number(form.elements[name].value);
      if (value !== flow[name]) body[name] = value;
    }
    if (form.elements.error_policy.value !== flow.error_policy) body.error_policy = form.elements.error_policy.value;
    if (form.elements.query_starts.value !== flow.query_starts) body.query_starts = form.elements.query_starts.value;
    if (!Object.keys(body).length) { $("props-msg").textContent = "Nothing changed."; return; }
    const r = await api("PATCH", "/flows/" + encodeURIComponent(editing), body);
    $("props-msg").textContent = r.ok ? "Saved." : "Refused (" + r.status + "): " + errorText(r);
    if (r.ok) await loadFlows();
  }

  function openLaunch(flowId) {
    launching = flowId;
    const flow = flows.find((f) => f.id === flowId);
    const form = $("launch-form");
    form.reset();
    for (const node of form.querySelectorAll(".bulk")) node.hidden = flow.kind !== "bulk";
    for (const node of form.querySelectorAll(".single")) node.hidden = flow.kind !== "single";
    $("launch-title").textContent = "Launch " + flow.id + " (" + flow.kind + ")";
    $("launch-note").textContent = "Every scheduled flow of " + flow.solution +
      " must be stopped first, and only one bulk load runs at a time.";
    $("launch-msg").textContent = "";
    $("launch").hidden = false;
    form.querySelector("input:not([hidden]), textarea").focus();
  }

  async function launch(event) {
    event.preventDefault();
    const flow = flows.find((f) => f.id === launching);
    const form = $("launch-form");
    const body = { dry_run: form.elements.dry_run.checked };
    if (flow.kind === "bulk") {
      if (form.elements.from.value) body.from = form.elements.from.value + "T00:00:00Z";
      if (form.elements.to.value) body.to = form.elements.to.value + "T00:00:00Z";
      if (form.elements.batch_size.value) body.batch_size = Number(form.elements.batch_size.value);
    }
    if (flow.kind === "single") {
      const ids = form.elements.record_ids.value.split("\n").map((s) => s.trim()).filter(Boolean);
      if (ids.length) body.record_ids = ids;
    }
    const r = await api("POST", "/flows/" + encodeURIComponent(flow.id) + "/run", body);
    const msg = $("launch-msg");
    if (r.ok) {
      msg.replaceChildren("Queued: ", runLink({ id: r.data.run_id }, r.data.run_id));
      await loadFlows();
    } else {
      msg.textContent = "Refused (" + r.status + "): " + errorText(r);
    }
  }

  // ---- IW Monitor -----------------------------------------------------------------------
  function filterQuery() {
    const form = $("monitor-filters");
    const q = new URLSearchParams();
    for (const name of ["solution", "flow", "status"]) {
      if (form.elements[name].value) q.set(name, form.elements[name].value);
    }
    if (form.elements.since.value) q.set("since", form.elements.since.value + "T00:00:00Z");
    if (form.elements.until.value) q.set("until", form.elements.until.value + "T00:00:00Z");
    return q;
  }

  function fillFilterOptions() {
    const form = $("monitor-filters");
    const solutions = form.elements.solution;
    const flowSelect = form.elements.flow;
    if (flowSelect.options.length > 1 || !flows.length) return;
    for (const s of [...new Set(flows.map((f) => f.solution))]) solutions.append(el("option", { value: s, text: s }));
    for (const f of flows) flowSelect.append(el("option", { value: f.id, text: f.id }));
  }

  async function loadRuns() {
    if (!flows.length) await loadFlows();
    fillFilterOptions();
    const r = await api("GET", "/runs?" + filterQuery().toString());
    if (!r.ok) { notice(errorText(r)); return; }
    fill($("runs").tBodies[0], r.data.runs.map((run) => el("tr", { "data-run": run.id },
      el("td", {}, runLink(run, when(run.started_at))),
      el("td", { text: run.flow_id }),
      el("td", { text: run.kind + (run.params.dry_run ? " (dry run)" : "") }),
      el("td", { className: "status-" + run.status, text: run.status }),
      el("td", { text: run.counts.read }),
      el("td", { text: run.counts.created }),
      el("td", { text: run.counts.updated }),
      el("td", { text: run.counts.failed }),
      el("td", { text: duration(run) }),
      el("td", { text: run.message }))));
    stamp();
  }

  // ---- Run page -------------------------------------------------------------------------
  let currentRun = null;

  function facts(dl, pairs) {
    dl.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", { text: k }),
      el("dd", {}, v instanceof Node ? v : String(v === null || v === undefined ? "" : v))]));
  }

  async function loadRun(runId) {
    const r = await api("GET", "/runs/" + encodeURIComponent(runId));
    if (!r.ok) { notice(errorText(r)); return; }
    const run = r.data;
    currentRun = run;
    $("run-title").textContent = "Run #" + run.number + " of " + run.flow_id;
    const p = run.params;
    facts($("run-facts"), [
      ["Run id", run.id], ["Flow", run.flow_id], ["Kind", run.kind],
      ["Status", el("span", { className: "status-" + run.status, text: run.status })],
      ["Started", when(run.started_at)], ["Finished", when(run.finished_at)],
      ["Duration", duration(run)],
      ["Window", when(run.window.from) + " → " + when(run.window.to)],
      ["Batch size", p.batch_size === null ? "—" : p.batch_size],
      ["Record ids", p.record_ids ? p.record_ids.join(", ") : "—"],
      ["Dry run", p.dry_run ? "yes" : "no"],
      ["Retry of", p.retry_of ? runLink({ id: p.retry_of }, p.retry_of) : "—"],
      ["Message", run.message],
    ]);
    // A running run can be cancelled once; it stops at its next step (see the message).
    $("cancel").hidden = run.status !== "running";
    $("cancel").disabled = Boolean(run.cancel_requested_at);
    $("cancel").textContent = run.cancel_requested_at ? "Cancel asked at " +
      when(run.cancel_requested_at) : "Cancel this run";
    const names = Object.keys(run.counts);
    const counts = $("run-counts");
    counts.tHead.rows[0].replaceChildren(...names.map((n) => el("th", { scope: "col", text: n })));
    counts.tBodies[0].rows[0].replaceChildren(...names.map((n) => el("td", { "data-count": n, text: run.counts[n] })));
    fill($("run-errors").tBodies[0], run.errors.map((e) => el("tr", {},
      el("td", { className: "record", text: e.record || "—" }),
      el("td", { className: "category", text: e.category }),
      el("td", { className: "field", text: e.field || "—" }),
      el("td", { className: "message", text: e.message }),
      el("td", { text: when(e.at) }))));
    $("plan").hidden = !p.dry_run;
    if (p.dry_run) {
      const plan = await api("GET", "/runs/" + encodeURIComponent(run.id) + "/plan");
      if (plan.ok) {
        fill($("plan-items").tBodies[0], plan.data.items.map((i) => el("tr", {},
          el("td", { text: i.record }), el("td", { text: i.outcome }),
          el("td", { text: i.target_id || "—" }), el("td", { text: i.field || "—" }),
          el("td", { text: i.message || "" }))));
      }
    }
    stamp();
  }

  async function retry() {
    const r = await api("POST", "/runs/" + encodeURIComponent(currentRun.id) + "/retry");
    if (r.ok) {
      $("run-msg").textContent = "";
      location.hash = "#run/" + encodeURIComponent(r.data.run_id);
    } else {
      $("run-msg").textContent = "Refused (" + r.status + "): " + errorText(r);
    }
  }

  async function cancelRun() {
    const r = await api("POST", "/runs/" + encodeURIComponent(currentRun.id) + "/cancel");
    $("run-msg").textContent = r.ok ? "" : "Refused (" + r.status + "): " + errorText(r);
    await loadRun(currentRun.id);
  }

  // ---- Audit trail ----------------------------------------------------------------------
  let auditCursor = null;

  function valueCell(value) {
    if (value === null || value === undefined) return el("td", { text: "—" });
    return el("td", {}, el("pre", { className: "value", text: JSON.stringify(value, null, 1) }));
  }

  // Before and after as the fields that changed (all of them when one side is missing).
  function changed(before, after, request) {
    if (before && typeof before === "object" && !after) {
      // Refused: what the request wanted to change, and the state that stood in its way.
      const keys = ["state", ...Object.keys(request && typeof request === "object" ? request : {})];
      return [Object.fromEntries(keys.filter((k) => k in before).map((k) => [k, before[k]])), after];
    }
    if (!before || !after || typeof before !== "object" || typeof after !== "object") return [before, after];
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
      .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    const pick = (o) => Object.fromEntries(keys.map((k) => [k, o[k] === undefined ? null : o[k]]));
    return [pick(before), pick(after)];
  }

  function auditRow(e) {
    const [before, after] = changed(e.before, e.after, e.request);
    return el("tr", { "data-action": e.action, "data-outcome": e.outcome },
      el("td", { text: when(e.at) }),
      el("td", { text: e.actor.name + (e.actor.object_id ? " (" + e.actor.object_id + ")" : "") }),
      el("td", { text: e.actor.role.toLowerCase() }),
      el("td", { text: e.method + " " + e.action }),
      el("td", { text: e.target || "" }),
      el("td", { className: "outcome-" + e.outcome, text: e.outcome + " (" + e.status + ")" }),
      el("td", { text: e.message || "" }),
      valueCell(e.request), valueCell(before), valueCell(after));
  }

  async function loadAudit(older) {
    const q = new URLSearchParams({ limit: "50" });
    if (older && auditCursor) q.set("before", auditCursor);
    const r = await api("GET", "/audit?" + q.toString());
    if (!r.ok) { notice(errorText(r)); return; }
    const rows = r.data.entries.map(auditRow);
    const tbody = $("audit").tBodies[0];
    if (older) tbody.append(...rows); else fill(tbody, rows);
    auditCursor = r.data.next;
    $("audit-older").hidden = !auditCursor;
    stamp();
  }

  // ---- Status ---------------------------------------------------------------------------
  function latency(c) {
    const ms = c.latency_ms !== undefined ? c.latency_ms : c.latency;
    return ms === undefined || ms === null ? "" : Math.round(ms) + " ms";
  }

  async function loadStatus() {
    const r = await api("GET", "/status");
    if (!r.ok) { notice(errorText(r)); return; }
    const s = r.data;
    facts($("status-facts"), [
      ["Egress IP (allow-list it)", s.egress_ip || "not set (SHUTTLE_EGRESS_IP)"],
      ["Storage", s.storage], ["Solutions", s.solutions.join(", ")],
      ["Flows", STATES.map((st) => st + " " + (s.flows.by_state[st] || 0)).join(", ")],
      ["Checked at", when(s.time)],
    ]);
    fill($("connections").tBodies[0], s.connections.map((c) => el("tr", { "data-system": c.system },
      el("td", { text: c.system }), el("td", { text: c.configured ? "yes" : "no" }),
      el("td", { className: "health-" + c.status, text: c.status }),
      el("td", { text: when(c.checked_at) }),
      el("td", { text: latency(c) }),
      el("td", { text: c.message || "" }))));
    const sleep = await api("GET", "/settings/sleep-windows");
    const box = $("sleep-windows");
    if (sleep.ok && sleep.data && Array.isArray(sleep.data.windows)) {
      box.replaceChildren(sleep.data.windows.length ? el("ul", {}, ...sleep.data.windows.map((w) =>
        el("li", { text: w.start + " – " + w.end + " " + (w.time_zone || "") +
          (w.days && w.days.length ? " (" + w.days.join(", ") + ")" : "") }))) :
        el("p", { text: "No sleep windows: flows run around the clock." }));
    } else {
      box.replaceChildren(el("p", { className: "muted", text: "Not available from this deployment." }));
    }
    const notes = await api("GET", "/settings/notifications");
    const nbox = $("notifications");
    if (notes.ok && notes.data && notes.data.mode) {
      const n = notes.data;
      nbox.replaceChildren(el("p", { text: "Mode: " + n.mode +
        (n.admin_email ? "; admin " + n.admin_email : "") +
        (n.webhooks && n.webhooks.length ? "; " + n.webhooks.length + " webhook(s)" : "") }));
    } else {
      nbox.replaceChildren(el("p", { className: "muted", text: "Not available from this deployment." }));
    }
    stamp();
  }

  // ---- routing and refresh ----------------------------------------------------------------
  function stamp() { $("refreshed").textContent = "refreshed " + when(new Date().toISOString()); }

  function route() {
    const hash = location.hash.replace(/^#/, "") || "flows";
    const [name, rest] = hash.split(/[/?](.*)/s);
    const view = ["flows", "monitor", "run", "audit", "status"].includes(name) ? name : "flows";
    for (const v of ["flows", "monitor", "run", "audit", "status"]) $("view-" + v).hidden = v !== view;
    for (const a of document.querySelectorAll("header nav a")) {
      if (a.id === "nav-" + (view === "run" ? "monitor" : view)) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    return { view, rest: rest || "" };
  }

  async function refresh() {
    const { view, rest } = route();
    if (view === "flows") await loadFlows();
    else if (view === "monitor") {
      const flow = new URLSearchParams(rest).get("flow");
      if (flow !== null) {
        if (!flows.length) await loadFlows();
        fillFilterOptions();
        // A flow's counter link asks for that flow's runs: no other filter.
        $("monitor-filters").reset();
        $("monitor-filters").elements.flow.value = flow;
      }
      await loadRuns();
    } else if (view === "run") await loadRun(decodeURIComponent(rest));
    else if (view === "audit") await loadAudit(false);
    else if (view === "status") await loadStatus();
  }

  async function tick() {
    const { view } = route();
    // The audit view pages backwards: refreshing it would drop older pages being read.
    if (view !== "audit") await refresh();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("flows-form").addEventListener("submit", submitFlows);
    $("props-form").addEventListener("submit", saveProps);
    $("props-close").addEventListener("click", () => { editing = null; $("props").hidden = true; });
    $("launch-form").addEventListener("submit", launch);
    $("launch-close").addEventListener("click", () => { launching = null; $("launch").hidden = true; });
    $("monitor-filters").addEventListener("submit", (e) => { e.preventDefault(); loadRuns(); });
    $("retry").addEventListener("click", retry);
    $("cancel").addEventListener("click", cancelRun);
    $("audit-older").addEventListener("click", () => loadAudit(true));
    window.addEventListener("hashchange", () => { notice(""); refresh(); });
    refresh();
    setInterval(tick, REFRESH_MS);
  });
})();
