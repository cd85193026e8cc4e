// Mat-table results console: every result goes to an IndexedDB outbox first, then to the intake,
// oldest first, with the same (bout, revision) and the same bytes, so a resend counts once.
// The referee token lives in sessionStorage only (never in a URL, never in IndexedDB, never logged).
"use strict";
(() => {
  const CFG = window.MAT || {};
  const T = CFG.tournament_id, MAT = CFG.mat;
  const TOKEN_KEY = "mat-token";
  const RETRY_MIN_MS = 1000, RETRY_MAX_MS = 30000;
  const $ = (id) => document.getElementById(id);
  const LABEL = { red: "Red", blue: "Blue", draw: "Draw", none: "No contest" };
  const state = { bouts: [], rules: null, selected: null, winner: null, method: null, items: [], sending: false,
                  retryTimer: null, retryMs: RETRY_MIN_MS, again: false };

  // -- IndexedDB outbox -------------------------------------------------------------------
  let dbp = null;
  function db() {
    if (!dbp) dbp = new Promise((resolve, reject) => {
      const req = indexedDB.open("mat-console", 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore("outbox", { keyPath: "id", autoIncrement: true });
        req.result.createObjectStore("bouts", { keyPath: "key" });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    return dbp;
  }
  async function tx(store, mode, fn) {
    const d = await db();
    return new Promise((resolve, reject) => {
      const t = d.transaction(store, mode);
      const out = fn(t.objectStore(store));
      t.oncomplete = () => resolve(out && "result" in out ? out.result : undefined);
      t.onerror = () => reject(t.error);
    });
  }
  const allItems = async () => (await tx("outbox", "readonly", (s) => s.getAll()))
    .filter((i) => i.tournament_id === T && i.mat === MAT).sort((a, b) => a.id - b.id);
  const putItem = (item) => tx("outbox", "readwrite", (s) => s.put(item));

  // -- token --------------------------------------------------------------------------------
  const token = () => sessionStorage.getItem(TOKEN_KEY);
  function askToken(message) {
    $("console").hidden = true;
    $("token-form").hidden = false;
    $("token").value = "";
    if (message) $("bouts-msg").textContent = message;
    $("token").focus();
  }

  // -- bouts ----------------------------------------------------------------------------------
  async function loadBouts() {
    let body = null;
    try {
      const resp = await fetch(`/v1/tournaments/${encodeURIComponent(T)}/mats/${MAT}/bouts`,
        { headers: { Authorization: `Bearer ${token()}` }, cache: "no-store" });
      if (resp.status === 401 || resp.status === 403) { sessionStorage.removeItem(TOKEN_KEY); return askToken(); }
      if (!resp.ok) throw new Error(await problemText(resp));
      body = await resp.json();
      await tx("bouts", "readwrite", (s) => s.put({ key: `${T}/${MAT}`, body }));
      $("bouts-msg").textContent = "";
    } catch (err) {
      const cached = await tx("bouts", "readonly", (s) => s.get(`${T}/${MAT}`));
      body = cached ? cached.body : null;
      $("bouts-msg").textContent = body ? "Offline: showing the bouts as last loaded." : "Cannot load the bouts yet.";
    }
    if (body) { state.bouts = body.bouts; state.rules = body.rules; }
    render();
  }

  // The revision a new entry for the bout posts: one above everything stored or queued for it.
  function nextRevision(bout) {
    const queued = state.items.filter((i) => i.bout_id === bout.bout_id && i.state !== "failed").map((i) => i.revision);
    return Math.max(bout.next_revision - 1, ...queued, 0) + 1;
  }
  const entered = (bout) => state.items.some((i) => i.bout_id === bout.bout_id && i.state !== "failed");
  const toEnter = (bout) => ["open", "invalidated"].includes(bout.status) && !entered(bout);

  function corner(c, side, bout) {
    if (c) return `<span class="${side}-name">${esc(c.full_name)}</span> <span class="meta">${esc(c.country)}</span>`;
    return `<span class="${side}-name">open slot</span>`;
  }
  function roundText(b) { return b.phase ? `${b.phase} round ${b.round}` : "round robin"; }
  function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]); }

  function renderBouts() {
    const next = state.bouts.find(toEnter);
    const ordered = next ? [next, ...state.bouts.filter((b) => b !== next)] : state.bouts;
    $("bouts").innerHTML = ordered.map((b) => {
      const latest = b.latest ? `rev ${b.latest.revision} ${b.latest.kind === "void" ? "void" : `${b.latest.winner} ${b.latest.method}`}` : "";
      const status = entered(b) && b.status === "open" ? "entered" : b.status;
      return `<li data-bout-id="${esc(b.bout_id)}" data-status="${esc(status)}" class="${b === next ? "next" : ""}">
        <button type="button" aria-pressed="${state.selected === b.bout_id}">
        ${b === next ? '<span class="tag">NEXT</span>' : ""}<span class="tag">#${b.order}</span>
        ${corner(b.red, "red", b)} vs ${corner(b.blue, "blue", b)}<br>
        <span class="meta">${esc(b.division_name)} · ${esc(roundText(b))} · ${esc(status)} ${esc(latest)}
        ${b.waiting_for ? "· " + esc(b.waiting_for) : ""}</span></button></li>`;
    }).join("");
    $("bouts").querySelectorAll("li").forEach((li) => li.querySelector("button").addEventListener("click", () => select(li.dataset.boutId)));
    if (!state.selected && next) select(next.bout_id, false);
  }

  function select(boutId, focus = true) {
    state.selected = boutId; state.winner = null; state.method = null;
    $("score-red").value = "0"; $("score-blue").value = "0"; $("duration").value = ""; $("problem").textContent = "";
    render();
    if (focus) { const first = $("winners").querySelector("button"); if (first) first.focus(); }
  }

  function renderEntry() {
    const bout = state.bouts.find((b) => b.bout_id === state.selected);
    $("entry-section").hidden = !bout;
    if (!bout || !state.rules) return;
    const rev = nextRevision(bout);
    $("entry-bout").textContent = `${bout.bout_id} · revision ${rev}${rev > 1 ? " (correction)" : ""}`;
    $("entry-athletes").innerHTML = `${corner(bout.red, "red")} vs ${corner(bout.blue, "blue")} <span class="meta">${esc(bout.division_name)} · ${esc(roundText(bout))}</span>`;
    $("winners").innerHTML = Object.keys(state.rules.winner_methods).map((w) =>
      `<button type="button" data-winner="${w}" aria-pressed="${state.winner === w}">${LABEL[w] || w}</button>`).join("");
    const methods = state.winner ? state.rules.winner_methods[state.winner] : [];
    if (methods.length === 1) state.method = methods[0];
    $("methods").innerHTML = methods.map((m) =>
      `<button type="button" data-method="${m}" aria-pressed="${state.method === m}">${m.replace(/_/g, " ")}</button>`).join("")
      || '<span class="meta">Choose the winner first.</span>';
    $("winners").querySelectorAll("button").forEach((b) => b.addEventListener("click", () => {
      state.winner = b.dataset.winner; state.method = null; renderEntry(); $("winners").querySelector(`[data-winner="${state.winner}"]`).focus();
    }));
    $("methods").querySelectorAll("button").forEach((b) => b.addEventListener("click", () => {
      state.method = b.dataset.method; renderEntry(); $("methods").querySelector(`[data-method="${state.method}"]`).focus();
    }));
    $("void").hidden = !(bout.latest || entered(bout));
  }

  // -- the ruleset's rules, as the intake gave them ---------------------------------------------
  function check(entry) {
    const r = state.rules;
    if (!entry.winner) return "Choose the winner.";
    if (!entry.method) return "Choose the method.";
    if (!r.winner_methods[entry.winner].includes(entry.method)) return `Winner ${entry.winner} cannot go with method ${entry.method}.`;
    for (const side of ["red", "blue"]) {
      const v = entry.score[side];
      if (!Number.isInteger(v) || v < 0 || v > r.max_score) return `The ${side} score must be a whole number from 0 to ${r.max_score}.`;
    }
    if (entry.duration_s !== undefined && (!Number.isInteger(entry.duration_s) || entry.duration_s < 0 || entry.duration_s > r.max_duration_s))
      return `The duration must be a whole number of seconds from 0 to ${r.max_duration_s}.`;
    for (const rule of r.score_rules) {
      const byMethod = rule.methods.includes(entry.method);
      if (!byMethod && !rule.winners.includes(entry.winner)) continue;
      const { red, blue } = entry.score;
      const holds = rule.check === "level" ? red === blue
        : rule.check === "winner_leads" ? (entry.winner === "red" ? red > blue : entry.winner === "blue" ? blue > red : false)
        : true;
      if (!holds) {
        const words = byMethod ? rule.requires_by_method[entry.method] : rule.requires_by_winner[entry.winner];
        return `${words} (ruleset ${r.ruleset}, rule ${rule.rule}; score red ${red} : blue ${blue}).`;
      }
    }
    return null;
  }

  // -- entering --------------------------------------------------------------------------------
  async function enqueue(bout, kind, payload) {
    const item = { tournament_id: T, mat: MAT, bout_id: bout.bout_id, revision: payload.revision, kind,
                   body: JSON.stringify(payload), state: "waiting", reason: "", created: new Date().toISOString() };
    item.id = await putItem(item);
    state.items = await allItems();
    state.selected = null;
    render();
    pump();
  }

  function onSubmit(ev) {
    ev.preventDefault();
    const bout = state.bouts.find((b) => b.bout_id === state.selected);
    if (!bout) return;
    const entry = { winner: state.winner, method: state.method,
                    score: { red: Number($("score-red").value), blue: Number($("score-blue").value) } };
    if ($("duration").value !== "") entry.duration_s = Number($("duration").value);
    const problem = check(entry);
    $("problem").textContent = problem || "";
    if (problem) return;
    const payload = { revision: nextRevision(bout), winner: entry.winner, method: entry.method, score: entry.score };
    if (entry.duration_s !== undefined) payload.duration_s = entry.duration_s;
    enqueue(bout, "result", payload);
  }

  function onVoid() {
    const bout = state.bouts.find((b) => b.bout_id === state.selected);
    if (bout) enqueue(bout, "void", { revision: nextRevision(bout) });
  }

  // -- sending, oldest first ---------------------------------------------------------------------
  const REASONS = {
    conflicting_revision: (p) => `Conflict: another result was already sent for this bout at this revision (the bout is at revision ${p.applied_revision}). Check it and send a correction.`,
    stale_revision: (p) => `Stale revision: this bout is already at revision ${p.applied_revision} (changed on another device). Reload the bouts and correct from there.`,
    open_slot: (p) => `An athlete slot is still open: ${p.waiting_for || p.detail}.`,
    bye: () => "This bout is a bye: there is nothing to record.",
  };
  async function problemText(resp) {
    let p = {};
    try { p = await resp.json(); } catch (e) { /* not a problem body */ }
    if (resp.status === 409 && REASONS[p.reason]) return REASONS[p.reason](p);
    if (resp.status === 422) {
      const errors = (p.errors || []).map((e) => e.msg).join("; ");
      return `Rejected (422): ${p.detail || ""}${errors ? " — " + errors : ""}`;
    }
    return `${resp.status} ${p.title || resp.statusText}: ${p.detail || ""}`;
  }

  function retryLater(ms) {
    clearTimeout(state.retryTimer);
    const delay = ms || state.retryMs;
    state.retryMs = Math.min(state.retryMs * 2, RETRY_MAX_MS);
    state.retryTimer = setTimeout(pump, delay);
  }

  async function pump() {
    if (!token()) return;
    if (state.sending) { state.again = true; return; }  // entered while a send is in flight: one more pass
    state.sending = true;
    state.again = false;
    try {
      for (const item of (await allItems()).filter((i) => i.state === "waiting")) {
        if (!navigator.onLine) { setNet(false); retryLater(); return; }
        const url = `/v1/tournaments/${encodeURIComponent(T)}/bouts/${encodeURIComponent(item.bout_id)}/${item.kind === "void" ? "void" : "results"}`;
        let resp;
        try {
          resp = await fetch(url, { method: "POST", body: item.body, cache: "no-store",
                                    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token()}` } });
        } catch (err) { setNet(false); retryLater(); return; }  // offline: the item stays waiting
        setNet(true);
        if (resp.status === 202) {
          const ok = await resp.json();
          Object.assign(item, { state: "sent", partition: ok.partition, offset: ok.offset, reason: "" });
        } else if (resp.status === 503 || resp.status === 429) {
          item.reason = `${resp.status}: the pipeline asks to retry`; await putItem(item); await refreshItems();
          retryLater(1000 * Math.max(1, Number(resp.headers.get("Retry-After")) || 1)); return;
        } else if (resp.status === 401) {
          sessionStorage.removeItem(TOKEN_KEY); askToken("The token was refused: enter it again; waiting results stay queued."); return;
        } else {
          Object.assign(item, { state: "failed", reason: await problemText(resp) });
        }
        await putItem(item);
        await refreshItems();
      }
      state.retryMs = RETRY_MIN_MS;
    } finally {
      state.sending = false;
    }
    if (state.again) { pump(); return; }
    loadBouts();
  }

  async function refreshItems() { state.items = await allItems(); render(); }

  function renderQueue() {
    $("queue").innerHTML = state.items.slice().reverse().map((i) => {
      const body = JSON.parse(i.body);
      const what = i.kind === "void" ? "void" : `${body.winner} · ${body.method.replace(/_/g, " ")} · ${body.score.red}:${body.score.blue}`;
      const where = i.state === "sent" ? `partition ${i.partition} · offset ${i.offset}` : esc(i.reason || "");
      return `<li data-state="${i.state}" data-bout="${esc(i.bout_id)}" data-revision="${i.revision}">
        <span class="state">${i.state}</span> ${esc(i.bout_id)} rev ${i.revision} · ${esc(what)}<br><span class="meta">${where}</span></li>`;
    }).join("");
  }

  function setNet(online) {
    $("net").textContent = online ? "Online" : "Offline — results are kept and sent later";
    $("net").className = online ? "online" : "offline";
  }

  function render() { renderBouts(); renderEntry(); renderQueue(); }

  async function start() {
    $("console").hidden = false; $("token-form").hidden = true;
    state.items = await allItems();
    render();
    await loadBouts();
    pump();
  }

  // An offline reload needs the page's shell cached (service workers need a secure context:
  // localhost or HTTPS; elsewhere the console still works, a reload just needs the network).
  function cacheShell() {
    if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
    navigator.serviceWorker.register("/mat/sw.js").then(() => navigator.serviceWorker.ready)
      .then(() => caches.open("mat-console-v1")).then((c) => c.addAll([location.href, "/static/mat/mat.js", "/static/mat/mat.css"]))
      .then(() => { document.body.dataset.offlineReady = "true"; })
      .catch(() => { /* no offline reload on this device */ });
  }

  document.addEventListener("DOMContentLoaded", () => {
    cacheShell();
    $("mat-no").textContent = MAT; $("tournament").textContent = T;
    setNet(navigator.onLine);
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
      start();
    });
    $("entry").addEventListener("submit", onSubmit);
    $("void").addEventListener("click", onVoid);
    window.addEventListener("online", () => { setNet(true); state.retryMs = RETRY_MIN_MS; pump(); });
    window.addEventListener("offline", () => setNet(false));
    if (token()) start(); else askToken();
  });
})();
