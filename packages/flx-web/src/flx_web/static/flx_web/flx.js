/* FLX dashboard: the little the pages do in the browser.
 * - report the browser's time zone (cookie flx_tz) so that times render in it;
 * - [data-refresh]: reload a part of the page every data-every seconds, until the part
 *   says it is final (data-final);
 * - pre[data-stream]: follow a run's log over Server-Sent Events to its end. */
(function () {
  "use strict";

  function zone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { return "UTC"; }
  }
  var current = (document.cookie.match(/(?:^|; )flx_tz=([^;]*)/) || [])[1];
  var wanted = zone();
  if (current === undefined || decodeURIComponent(current) !== wanted) {
    document.cookie = "flx_tz=" + encodeURIComponent(wanted) + "; path=/; max-age=31536000; samesite=lax";
    if (current === undefined && !sessionStorage.getItem("flx_tz_reloaded")) {
      sessionStorage.setItem("flx_tz_reloaded", "1");
      location.reload();
    }
  }

  function refresh(box) {
    var url = box.getAttribute("data-refresh");
    var every = parseFloat(box.getAttribute("data-every") || "5") * 1000;
    var timer = null;
    function final() { return box.hasAttribute("data-stopped") || box.querySelector("[data-final]"); }
    function load() {
      timer = null;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) {
          if (r.redirected || r.status === 401) { location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html !== null && html !== undefined) { box.innerHTML = html; }
          if (!final()) { timer = setTimeout(load, every); }
        })
        .catch(function () { timer = setTimeout(load, every * 2); });
    }
    box.flxNow = function () { if (timer) { clearTimeout(timer); } box.removeAttribute("data-stopped"); load(); };
    if (!final()) { timer = setTimeout(load, every); }
  }

  function follow(pre) {
    if (pre.hasAttribute("data-complete") || !window.EventSource) { return; }
    var state = document.getElementById("log-state");
    var source = new EventSource(pre.getAttribute("data-stream"));
    function atBottom() { return pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40; }
    pre.scrollTop = pre.scrollHeight;
    source.addEventListener("log", function (ev) {
      var stick = atBottom();
      pre.appendChild(document.createTextNode(ev.data));
      if (stick) { pre.scrollTop = pre.scrollHeight; }
    });
    source.addEventListener("end", function () {
      source.close();
      pre.setAttribute("data-complete", "");
      if (state) { state.textContent = "complete"; }
      document.querySelectorAll("[data-refresh]").forEach(function (box) { if (box.flxNow) { box.flxNow(); } });
    });
    source.addEventListener("signed-out", function () { source.close(); location.reload(); });
    source.addEventListener("problem", function (ev) {
      source.close();
      if (state) { state.textContent = JSON.parse(ev.data).message; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(refresh);
    document.querySelectorAll("pre[data-stream]").forEach(follow);
  });
})();
