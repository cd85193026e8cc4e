/* Broadcast overlay: SSE first, ETag polling (500 ms) as fallback; FLIP rank animations; STALE badge.
   No build step, no dependencies. Rows carry data-athlete-id / data-rank for browser tests. */
(function () {
  "use strict";

  const LABELS = {
    en: { rank: "#", athlete: "Athlete", country: "Nat.", bouts: "B", wins: "W", losses: "L", draws: "D", points: "Pts", finishes: "Fin", tp: "TP", live: "LIVE", stale: "STALE", updated: "updated" },
    fr: { rank: "#", athlete: "Athlète", country: "Nat.", bouts: "C", wins: "V", losses: "D", draws: "N", points: "Pts", finishes: "Av.", tp: "PT", live: "EN DIRECT", stale: "PÉRIMÉ", updated: "mis à jour" },
    es: { rank: "#", athlete: "Atleta", country: "País", bouts: "C", wins: "G", losses: "P", draws: "E", points: "Pts", finishes: "Fin", tp: "PT", live: "EN VIVO", stale: "DESACTUALIZADO", updated: "actualizado" },
    de: { rank: "#", athlete: "Athlet", country: "Nat.", bouts: "K", wins: "S", losses: "N", draws: "U", points: "Pkt", finishes: "Vorz.", tp: "TP", live: "LIVE", stale: "VERALTET", updated: "aktualisiert" },
    pt: { rank: "#", athlete: "Atleta", country: "País", bouts: "L", wins: "V", losses: "D", draws: "E", points: "Pts", finishes: "Fin", tp: "PT", live: "AO VIVO", stale: "DESATUALIZADO", updated: "atualizado" },
    it: { rank: "#", athlete: "Atleta", country: "Naz.", bouts: "I", wins: "V", losses: "S", draws: "P", points: "Pt", finishes: "Fin", tp: "PT", live: "LIVE", stale: "NON AGGIORNATO", updated: "aggiornato" },
    ja: { rank: "順位", athlete: "選手", country: "国", bouts: "試合", wins: "勝", losses: "敗", draws: "分", points: "点", finishes: "一本", tp: "技術点", live: "ライブ", stale: "更新停止", updated: "更新" },
    ko: { rank: "순위", athlete: "선수", country: "국가", bouts: "경기", wins: "승", losses: "패", draws: "무", points: "점수", finishes: "한판", tp: "기술점", live: "라이브", stale: "지연", updated: "업데이트" },
    zh: { rank: "名次", athlete: "运动员", country: "国家", bouts: "场", wins: "胜", losses: "负", draws: "平", points: "积分", finishes: "终结", tp: "技术分", live: "直播", stale: "数据过期", updated: "更新" },
    ru: { rank: "#", athlete: "Спортсмен", country: "Стр.", bouts: "Б", wins: "П", losses: "Пр", draws: "Н", points: "Очки", finishes: "Дос.", tp: "ТО", live: "ПРЯМОЙ ЭФИР", stale: "УСТАРЕЛО", updated: "обновлено" },
    ar: { rank: "#", athlete: "الرياضي", country: "الدولة", bouts: "ن", wins: "ف", losses: "خ", draws: "ت", points: "نقاط", finishes: "حسم", tp: "ن.ف", live: "مباشر", stale: "قديم", updated: "تحديث" },
  };

  const cfg = JSON.parse(document.getElementById("overlay-config").textContent || "{}");
  const params = new URLSearchParams(location.search);
  const parts = location.pathname.split("/").filter(Boolean); // ["overlay", t, d]
  const tournament = cfg.tournament_id || decodeURIComponent(parts[1] || "");
  const division = cfg.division_id || decodeURIComponent(parts[2] || "");
  const base = "/v1/tournaments/" + encodeURIComponent(tournament) + "/divisions/" + encodeURIComponent(division);
  const top = Math.max(1, parseInt(params.get("top") || "0", 10) || 1000);
  const staleAfter = Math.max(1, parseFloat(params.get("stale_after") || "") || cfg.stale_after_s || 10);
  const heartbeat = cfg.heartbeat_s || 15;
  const lang = (params.get("lang") || "en").toLowerCase();
  const L = Object.assign({}, LABELS.en, LABELS[lang] || LABELS[lang.split("-")[0]] || {});
  const POLL_MS = 500;

  const body = document.body;
  const board = document.getElementById("board");
  const list = document.getElementById("rows");
  const staleBadge = document.getElementById("stale-badge");
  const freshnessEl = document.getElementById("freshness");

  body.dataset.theme = params.get("theme") === "light" ? "light" : "dark";
  if (params.get("transparent") === "1" || params.get("transparent") === "true") body.classList.add("transparent");
  document.documentElement.lang = lang;
  if (lang === "ar" || lang === "he" || lang === "fa") document.documentElement.dir = "rtl";
  document.querySelectorAll("[data-label]").forEach(function (el) {
    const key = el.getAttribute("data-label");
    if (L[key]) el.textContent = L[key];
  });

  let version = -1;
  let freshness = 0;
  let lastHeard = Date.now();
  let lastUpdate = null;
  let transport = "";
  const nodes = new Map(); // athlete_id -> <li>

  function heard() { lastHeard = Date.now(); }

  function cell(cls, text) {
    const span = document.createElement("span");
    span.className = cls;
    if (text !== undefined) span.textContent = text;
    return span;
  }

  function createRow(r) {
    const li = document.createElement("li");
    li.className = "row";
    li.dataset.athleteId = r.athlete_id;
    const athlete = cell("c-athlete");
    const name = cell("name");
    name.dir = "auto";
    const club = cell("club");
    club.dir = "auto";
    athlete.append(name, club);
    li.append(cell("c-rank"), cell("c-move"), athlete, cell("c-country"),
      cell("c-num c-bouts"), cell("c-num c-wins"), cell("c-num c-losses"), cell("c-num c-draws"),
      cell("c-num c-points"), cell("c-num c-finishes"), cell("c-num c-tp"));
    li.classList.add("enter");
    li.addEventListener("animationend", function () { li.classList.remove("enter", "flash"); });
    return li;
  }

  function setText(el, text) { if (el.textContent !== text) el.textContent = text; }

  function updateRow(li, r) {
    const key = [r.rank, r.bouts, r.wins, r.losses, r.draws, r.points, r.finishes, r.tp_for, r.tp_against, r.tie_unresolved, r.name, r.club].join("|");
    const changed = li.dataset.key !== undefined && li.dataset.key !== key;
    li.dataset.key = key;
    li.dataset.rank = String(r.rank);
    const c = li.children;
    c[0].textContent = String(r.rank);
    if (r.tie_unresolved) { const tie = document.createElement("span"); tie.className = "tie"; tie.textContent = "="; c[0].appendChild(tie); }
    const move = c[1];
    move.className = "c-move" + (r.movement > 0 ? " up" : r.movement < 0 ? " down" : "");
    setText(move, r.movement > 0 ? "▲" + r.movement : r.movement < 0 ? "▼" + (-r.movement) : "");
    setText(c[2].children[0], r.name);
    setText(c[2].children[1], r.club || "");
    setText(c[3], r.country);
    setText(c[4], String(r.bouts));
    setText(c[5], String(r.wins));
    setText(c[6], String(r.losses));
    setText(c[7], String(r.draws));
    setText(c[8], String(r.points));
    setText(c[9], String(r.finishes));
    setText(c[10], r.tp_for + ":" + r.tp_against);
    if (changed) { li.classList.remove("flash"); void li.offsetWidth; li.classList.add("flash"); }
  }

  function render(doc) {
    const rows = doc.rows.slice(0, top);
    const visible = Math.max(rows.length, 1);
    const avail = list.getBoundingClientRect().height || 760;
    list.style.setProperty("--row-h", Math.max(28, Math.min(72, Math.floor(avail / visible) - 4)) + "px");
    board.style.setProperty("--row-h", list.style.getPropertyValue("--row-h"));

    // FLIP: First — where every row is now.
    const first = new Map();
    nodes.forEach(function (li, id) { first.set(id, li.getBoundingClientRect().top); });

    const keep = new Set();
    const frag = document.createDocumentFragment();
    rows.forEach(function (r) {
      let li = nodes.get(r.athlete_id);
      if (!li) { li = createRow(r); nodes.set(r.athlete_id, li); }
      updateRow(li, r);
      keep.add(r.athlete_id);
      frag.appendChild(li);
    });
    nodes.forEach(function (li, id) { if (!keep.has(id)) { li.remove(); nodes.delete(id); } });
    list.appendChild(frag); // Last — the new order.

    // Invert, then Play.
    const moved = [];
    nodes.forEach(function (li, id) {
      if (!first.has(id)) return;
      const dy = first.get(id) - li.getBoundingClientRect().top;
      if (Math.abs(dy) > 0.5) {
        li.style.transition = "none";
        li.style.transform = "translateY(" + dy + "px)";
        moved.push(li);
      }
    });
    if (moved.length) {
      void list.offsetHeight;
      requestAnimationFrame(function () {
        moved.forEach(function (li) {
          li.style.transition = "transform 0.7s cubic-bezier(0.2, 0.8, 0.2, 1)";
          li.style.transform = "";
        });
      });
    }

    document.getElementById("tournament-name").textContent = doc.tournament.name;
    document.getElementById("division-name").textContent = doc.division.name;
    board.dataset.version = doc.version === null ? "" : String(doc.version);
    document.title = doc.division.name + " · " + doc.tournament.name;
  }

  function apply(doc) {
    heard();
    freshness = doc.freshness_s || 0;
    if (doc.version !== null && doc.version < version) return; // an older table arriving late
    version = doc.version === null ? version : doc.version;
    lastUpdate = new Date();
    render(doc);
    checkStale();
  }

  function checkStale() {
    const silentFor = (Date.now() - lastHeard) / 1000;
    const silenceLimit = transport === "sse" ? Math.max(staleAfter, heartbeat * 2 + 1) : staleAfter;
    const stale = freshness > staleAfter || silentFor > silenceLimit;
    staleBadge.hidden = !stale;
    body.dataset.stale = stale ? "1" : "0";
    const lag = freshness > 0 ? " · " + freshness + " s" : "";
    freshnessEl.textContent = lastUpdate ? L.updated + " " + lastUpdate.toLocaleTimeString() + lag : "";
  }

  function setTransport(name) { transport = name; body.dataset.transport = name; }

  // --- polling fallback: ETag revalidation every 500 ms --------------------------------------
  let etag = null;
  let polling = false;
  function startPolling() {
    if (polling) return;
    polling = true;
    setTransport("poll");
    const tick = function () {
      const headers = etag ? { "If-None-Match": etag } : {};
      fetch(base + "/standings", { headers: headers, cache: "no-store" })
        .then(function (res) {
          if (res.status === 304) { heard(); return null; }
          if (!res.ok) return null;
          etag = res.headers.get("ETag");
          return res.json();
        })
        .then(function (doc) { if (doc) apply(doc); })
        .catch(function () { /* network error: the STALE badge tells the operator */ })
        .finally(function () { setTimeout(tick, POLL_MS); });
    };
    tick();
  }

  // --- live push: SSE ------------------------------------------------------------------------
  function startSSE() {
    if (!("EventSource" in window)) { startPolling(); return; }
    setTransport("sse");
    const es = new EventSource(base + "/standings/stream");
    let gotData = false;
    const giveUp = setTimeout(function () { if (!gotData) { es.close(); startPolling(); } }, 5000);
    es.addEventListener("standings", function (ev) {
      gotData = true;
      apply(JSON.parse(ev.data));
    });
    es.addEventListener("ping", function (ev) {
      heard();
      try { freshness = JSON.parse(ev.data).freshness_s || 0; } catch (e) { /* keep the last value */ }
      checkStale();
    });
    es.onerror = function () {
      // CLOSED: the server refused the stream (not a network blip, which EventSource retries itself).
      if (es.readyState === EventSource.CLOSED) { clearTimeout(giveUp); startPolling(); }
    };
  }

  setInterval(checkStale, 500);
  if (params.get("transport") === "poll") startPolling(); else startSSE();
})();
