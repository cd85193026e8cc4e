/* What every broadcast overlay page shares: its options from the URL (theme, transparent, lang,
   stale_after, transport), its labels, and the live document it shows: SSE first, ETag polling
   every 500 ms as the fallback (or with transport=poll), the freshness from the stream's pings,
   the STALE badge. A page calls OverlayFeed.page(labels) for its options, then
   OverlayFeed.follow(page, resource, render) with resource "standings" or "bracket".
   No build step, no dependencies. */
(function () {
  "use strict";

  const POLL_MS = 500;

  function page(labels, keepText) {
    const cfg = JSON.parse(document.getElementById("overlay-config").textContent || "{}");
    const params = new URLSearchParams(location.search);
    const parts = location.pathname.split("/").filter(Boolean); // ["overlay", t, d, ...]
    const tournament = cfg.tournament_id || decodeURIComponent(parts[1] || "");
    const division = cfg.division_id || decodeURIComponent(parts[2] || "");
    const lang = (params.get("lang") || "en").toLowerCase();
    const L = Object.assign({}, labels.en, labels[lang] || labels[lang.split("-")[0]] || {});
    const body = document.body;
    body.dataset.theme = params.get("theme") === "light" ? "light" : "dark";
    if (params.get("transparent") === "1" || params.get("transparent") === "true") body.classList.add("transparent");
    document.documentElement.lang = lang;
    if (lang === "ar" || lang === "he" || lang === "fa") document.documentElement.dir = "rtl";
    document.querySelectorAll("[data-label]").forEach(function (el) {
      const key = el.getAttribute("data-label");
      if (L[key] && !(keepText && keepText(el))) el.textContent = L[key];
    });
    return {
      params: params,
      L: L,
      base: "/v1/tournaments/" + encodeURIComponent(tournament) + "/divisions/" + encodeURIComponent(division),
      staleAfter: Math.max(1, parseFloat(params.get("stale_after") || "") || cfg.stale_after_s || 10),
      heartbeat: cfg.heartbeat_s || 15,
    };
  }

  function follow(p, resource, render) {
    const body = document.body;
    const staleBadge = document.getElementById("stale-badge");
    const freshnessEl = document.getElementById("freshness");
    let version = -1;
    let freshness = 0;
    let lastHeard = Date.now();
    let lastUpdate = null;
    let transport = "";

    function heard() { lastHeard = Date.now(); }

    function apply(doc) {
      heard();
      freshness = doc.freshness_s || 0;
      if (doc.version !== null && doc.version < version) return; // an older document arriving late
      version = doc.version === null ? version : doc.version;
      lastUpdate = new Date();
      render(doc);
      checkStale();
    }

    function checkStale() {
      const silentFor = (Date.now() - lastHeard) / 1000;
      const silenceLimit = transport === "sse" ? Math.max(p.staleAfter, p.heartbeat * 2 + 1) : p.staleAfter;
      const stale = freshness > p.staleAfter || silentFor > silenceLimit;
      staleBadge.hidden = !stale;
      body.dataset.stale = stale ? "1" : "0";
      const lag = freshness > 0 ? " · " + freshness + " s" : "";
      freshnessEl.textContent = lastUpdate ? p.L.updated + " " + lastUpdate.toLocaleTimeString() + lag : "";
    }

    function setTransport(name) { transport = name; body.dataset.transport = name; }

    let etag = null;
    let polling = false;
    function startPolling() {
      if (polling) return;
      polling = true;
      setTransport("poll");
      const tick = function () {
        fetch(p.base + "/" + resource, { headers: etag ? { "If-None-Match": etag } : {}, cache: "no-store" })
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

    function startSSE() {
      if (!("EventSource" in window)) { startPolling(); return; }
      setTransport("sse");
      const es = new EventSource(p.base + "/" + resource + "/stream");
      let gotData = false;
      const giveUp = setTimeout(function () { if (!gotData) { es.close(); startPolling(); } }, 5000);
      es.addEventListener(resource, function (ev) { gotData = true; apply(JSON.parse(ev.data)); });
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
    if (p.params.get("transport") === "poll") startPolling(); else startSSE();
  }

  window.OverlayFeed = { page: page, follow: follow };
})();
