/* The rankings page's search-as-you-type. Without this script the form is a plain GET the server
   answers; with it, typing or choosing a filter fetches the same results as an HTML fragment
   (/rankings/results) and keeps the address bar in step (shareable, back button works). */
import { fetchFragment } from "./fragment.js";

(function () {
  "use strict";

  var DEBOUNCE_MS = 200;
  var form = document.getElementById("search");
  if (!form || typeof fetch !== "function") return;
  var timer = null;
  var inflight = null;
  var lastQuery = null;

  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      var v = String(value).trim();
      if (v) params.set(key, v);
    });
    return params.toString();
  }

  function search(push) {
    var qs = query();
    if (qs === lastQuery) return;
    lastQuery = qs;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    var results = document.getElementById("results");
    if (results) results.setAttribute("aria-busy", "true");
    fetchFragment("/rankings/results" + (qs ? "?" + qs : ""), { signal: inflight.signal, cache: "no-store" })
      .then(function (fragment) {
        var fresh = fragment.getElementById("results");
        var current = document.getElementById("results");
        if (fresh && current) current.replaceWith(fresh);
        var url = "/rankings" + (qs ? "?" + qs : "");
        if (push) history.pushState(null, "", url);
        else history.replaceState(null, "", url);
      })
      .catch(function (err) {
        if (err && err.name === "AbortError") return;
        lastQuery = null; // let the next keystroke (or a submit) try again
        var current = document.getElementById("results");
        if (current) {
          current.removeAttribute("aria-busy");
          var count = current.querySelector(".count");
          if (count) count.textContent = "Search is unavailable right now; press Search to retry.";
        }
      });
  }

  form.addEventListener("input", function (e) {
    clearTimeout(timer);
    var wait = e.target && e.target.tagName === "SELECT" ? 0 : DEBOUNCE_MS;
    timer = setTimeout(function () { search(false); }, wait);
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    clearTimeout(timer);
    lastQuery = null;
    search(true);
  });
  window.addEventListener("popstate", function () { location.reload(); });
  lastQuery = query();
})();
