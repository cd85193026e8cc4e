/* The public tournament page, kept live. Progressive enhancement: the server rendered every
   division; this script subscribes to each division's SSE stream (the first MAX_STREAMS; browsers
   allow about six connections per host) or polls its JSON with If-None-Match, and when a newer
   version is announced swaps in the division's fresh server-rendered copy. No build step. */
import { fetchFragment } from "./fragment.js";

(function () {
  "use strict";

  var MAX_STREAMS = 4;
  var SSE_ERRORS_BEFORE_POLL = 3;
  var SSE_RETRY_AFTER_MS = 30000; // after falling back to polling, try the stream again this often
  var body = document.body;
  var POLL_MS = Number(body.dataset.pollMs) || 2000;
  var STALE_AFTER_S = Number(body.dataset.staleAfterS) || 10;
  var HEARTBEAT_S = Number(body.dataset.heartbeatS) || 15;
  // Nothing (data or ping) for this long: the connection is stalled, whatever the socket says.
  var SILENT_MS = Math.max(STALE_AFTER_S, 2 * HEARTBEAT_S + 1) * 1000;
  var forcePoll = new URLSearchParams(location.search).get("transport") === "poll";
  var canStream = !forcePoll && typeof window.EventSource === "function";
  var live = document.getElementById("live");
  var liveText = live && live.querySelector(".live-text");
  var divisions = [];

  function clock(date) {
    return date.toISOString().slice(11, 19) + " UTC";
  }

  function Division(section) {
    this.section = section;
    this.id = section.dataset.divisionId;
    this.kind = section.dataset.kind;
    this.version = Number(section.dataset.version) || 0;
    this.freshness = Number(section.dataset.freshnessS) || 0;
    this.state = "static"; // sse | poll | reconnecting | stalled | offline
    this.lastSeen = Date.now();
    this.etag = null;
    this.errors = 0;
    this.loading = false;
    this.again = false;
    this.fresh = section.querySelector('[data-role="fresh"]');
    this.bodyEl = section.querySelector('[data-role="body"]');
  }

  Division.prototype.stream = function () {
    var self = this;
    var es = new EventSource(this.section.dataset.streamUrl);
    this.es = es;
    function onData(e) {
      self.errors = 0;
      self.lastSeen = Date.now();
      self.setState("sse");
      var doc = JSON.parse(e.data);
      self.seen(doc.version, doc.freshness_s);
    }
    es.addEventListener(this.kind, onData);
    es.addEventListener("ping", onData);
    es.onopen = function () { self.errors = 0; self.lastSeen = Date.now(); self.setState("sse"); };
    es.onerror = function () {
      self.errors += 1;
      if (es.readyState === EventSource.CLOSED || self.errors >= SSE_ERRORS_BEFORE_POLL) {
        es.close();
        self.es = null;
        self.retryStreamAt = Date.now() + SSE_RETRY_AFTER_MS;
        self.poll();
      } else {
        self.setState("reconnecting");
      }
    };
  };

  Division.prototype.poll = function () {
    var self = this;
    var headers = this.etag ? { "If-None-Match": this.etag } : {};
    fetch(this.section.dataset.jsonUrl, { headers: headers, cache: "no-store" })
      .then(function (r) {
        if (r.status === 304) return null;
        if (!r.ok) throw new Error("HTTP " + r.status);
        self.etag = r.headers.get("ETag");
        return r.json();
      })
      .then(function (doc) {
        self.errors = 0;
        self.lastSeen = Date.now();
        if (doc) self.seen(doc.version, doc.freshness_s);
        if (self.retryStreamAt && Date.now() >= self.retryStreamAt) {
          self.retryStreamAt = 0;
          self.stream(); // the network is back: the stream again, not polling for good
          return "streaming";
        }
        self.setState("poll");
      })
      .catch(function () {
        self.errors += 1;
        self.setState("offline");
      })
      .then(function (outcome) {
        if (outcome === "streaming") return;
        var wait = self.errors ? Math.min(POLL_MS * Math.pow(2, self.errors), 10000) : POLL_MS;
        self.timer = setTimeout(function () { self.poll(); }, document.hidden ? Math.max(wait, 10000) : wait);
      });
  };

  Division.prototype.seen = function (version, freshness) {
    this.freshness = Number(freshness) || 0;
    this.fresh.textContent = this.freshness > 0 ? this.freshness + " s behind" : "";
    if (typeof version === "number" && version > this.version) this.refresh(version);
    render();
  };

  Division.prototype.refresh = function (version) {
    var self = this;
    if (this.loading) { this.again = true; return; }
    this.loading = true;
    fetchFragment(this.section.dataset.sectionUrl, { cache: "no-store" })
      .then(function (fragment) {
        var content = fragment.querySelector(".division-content");
        var got = content ? Number(content.dataset.version) : NaN;
        if (content && got >= self.version) {
          self.bodyEl.replaceChildren(fragment);
          self.version = got;
          self.section.dataset.version = String(got);
          self.section.classList.remove("updated");
          void self.section.offsetWidth; // restart the highlight
          self.section.classList.add("updated");
          lastChange = new Date();
        }
        if (got < version) self.again = true; // the cache had not caught up yet: once more
      })
      .catch(function () { self.again = true; })
      .then(function () {
        self.loading = false;
        if (self.again) {
          self.again = false;
          setTimeout(function () { self.refresh(version); }, 300);
        }
        render();
      });
  };

  Division.prototype.watch = function (now) {
    if (now - this.lastSeen <= SILENT_MS || this.state === "stalled" || this.state === "offline") return;
    this.setState("stalled");
    if (this.es) { // reopen the stream: a connection a proxy or the network dropped without a word
      this.es.close();
      this.es = null;
      this.lastSeen = now;
      this.stream();
      this.state = "stalled";
    }
  };

  Division.prototype.setState = function (state) {
    if (this.state !== state) { this.state = state; render(); }
  };

  var lastChange = null;
  var shown = "";

  function pageState() {
    var states = divisions.map(function (d) { return d.state; });
    if (states.indexOf("offline") >= 0) return "offline";
    if (states.indexOf("reconnecting") >= 0 || states.indexOf("stalled") >= 0) return "reconnecting";
    if (states.indexOf("static") >= 0) return "connecting";
    var behind = divisions.reduce(function (m, d) { return Math.max(m, d.freshness); }, 0);
    if (behind > STALE_AFTER_S) return "delayed";
    return "live";
  }

  function transport() {
    var polling = divisions.some(function (d) { return !d.es; });
    var streaming = divisions.some(function (d) { return !!d.es; });
    return streaming && polling ? "mixed" : streaming ? "sse" : "poll";
  }

  function render() {
    if (!live) return;
    var state = pageState();
    var mode = transport();
    body.dataset.transport = mode;
    var text;
    if (state === "offline") text = "Connection lost · retrying";
    else if (state === "reconnecting") {
      var stalled = divisions.some(function (d) { return d.state === "stalled"; });
      text = stalled ? "No updates for a while · reconnecting…" : "Reconnecting…";
    }
    else if (state === "connecting") text = "Connecting…";
    else if (state === "delayed") {
      var behind = divisions.reduce(function (m, d) { return Math.max(m, d.freshness); }, 0);
      text = "Delayed · results up to " + behind + " s old";
    } else text = "Live" + (mode === "poll" ? " · checking every " + POLL_MS / 1000 + " s" : "");
    if (lastChange) text += " · last update " + clock(lastChange);
    var key = state + "|" + text;
    if (key === shown) return; // the status region is polite: speak on changes only
    shown = key;
    live.dataset.state = state;
    liveText.textContent = text;
  }

  document.querySelectorAll("section.division[data-stream-url]").forEach(function (section, i) {
    var d = new Division(section);
    divisions.push(d);
    if (canStream && i < MAX_STREAMS) d.stream();
    else d.poll();
  });
  setInterval(function () {
    var now = Date.now();
    divisions.forEach(function (d) { d.watch(now); });
  }, 1000);
  render();
})();
