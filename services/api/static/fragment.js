/* What the public pages' scripts share: fetching one of the server-rendered HTML fragments
   (a tournament page's division section, the rankings page's results). An ES module: the pages'
   scripts import it, so each page still loads a single script of its own. */

/* The fragment at `url` parsed into a DocumentFragment; rejects on a non-2xx answer ("HTTP <status>")
   and on whatever fetch rejects with (an AbortError when `options.signal` aborts). */
export function fetchFragment(url, options) {
  return fetch(url, options)
    .then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    })
    .then(function (html) {
      var tpl = document.createElement("template");
      tpl.innerHTML = html;
      return tpl.content;
    });
}
