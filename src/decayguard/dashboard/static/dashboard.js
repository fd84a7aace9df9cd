/* The dashboard page: asks the API for the charts of a model and range, draws them with
   render.js, lists the latest decisions. The API token (when reads are protected) stays in
   the browser's session storage, shared with the review page. */
(function () {
  "use strict";
  var TOKEN_KEY = "decayguard.token";
  function el(id) { return document.getElementById(id); }
  function say(text, isError) {
    var s = el("status");
    s.textContent = text;
    s.className = isError ? "error" : "";
  }
  function headers() {
    var token = sessionStorage.getItem(TOKEN_KEY) || "";
    return token ? { Authorization: "Bearer " + token } : {};
  }
  function getJSON(url) {
    return fetch(url, { headers: headers() }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) {
          var why = body.error || r.statusText;
          if (r.status === 401 || r.status === 403) { why += " (enter the API token above)"; }
          throw new Error(why);
        }
        return body;
      });
    });
  }
  function localInput(iso) { return iso ? iso.slice(0, 16) : ""; }
  function query() {
    var q = new URLSearchParams();
    var model = el("model").value;
    if (model) { q.set("model", model); }
    if (el("since").value) { q.set("since", el("since").value + ":00Z"); }
    if (el("until").value) { q.set("until", el("until").value + ":00Z"); }
    return q;
  }
  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    tr.appendChild(td);
  }
  function table(title, headersRow, rows) {
    var wrap = document.createElement("div");
    var h = document.createElement("h3");
    h.textContent = title + " (" + rows.length + ")";
    wrap.appendChild(h);
    if (!rows.length) {
      var p = document.createElement("p");
      p.className = "empty";
      p.textContent = "none in this range";
      wrap.appendChild(p);
      return wrap;
    }
    var t = document.createElement("table");
    var head = document.createElement("tr");
    headersRow.forEach(function (name) {
      var th = document.createElement("th");
      th.textContent = name;
      head.appendChild(th);
    });
    t.appendChild(head);
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      row.forEach(function (v) { cell(tr, v); });
      t.appendChild(tr);
    });
    wrap.appendChild(t);
    return wrap;
  }
  function short(iso) { return iso ? String(iso).replace("T", " ").slice(0, 16) : ""; }
  function showDecisions(d) {
    var box = el("decisions");
    box.textContent = "";
    box.appendChild(table("Release transitions", ["time", "version", "from", "to", "action", "actor", "reason"],
      d.transitions.map(function (t) { return [short(t.created_at), t.version, t.from_stage, t.to_stage, t.action, t.actor, t.reason]; })));
    box.appendChild(table("Gate reports", ["time", "version", "passed", "reason"],
      d.gate_reports.map(function (g) { return [short(g.created_at), g.version, g.passed ? "yes" : "no", g.reason]; })));
    box.appendChild(table("Incidents", ["opened", "resolved", "rule", "severity", "status", "message"],
      d.incidents.map(function (i) { return [short(i.opened_at), short(i.resolved_at), i.rule, i.severity, i.status, i.message]; })));
    box.appendChild(table("Raised decisions (decays, drift flags)", ["window end", "strategy", "metric", "feature", "value", "reason"],
      d.flagged.map(function (p) { return [short(p.window_end), p.strategy, p.metric, p.feature, p.value === null ? "" : Number(p.value).toPrecision(4), p.reason]; })));
  }
  function draw(body) {
    var box = el("charts");
    box.textContent = "";
    body.charts.forEach(function (c) {
      var s = document.createElement("section");
      s.className = "chart";
      var h = document.createElement("h2");
      h.textContent = c.title;
      var p = document.createElement("p");
      p.className = "caption";
      p.textContent = c.caption;
      var div = document.createElement("div");
      div.className = "plot";
      div.id = "chart-" + c.id;
      s.appendChild(h); s.appendChild(p); s.appendChild(div);
      box.appendChild(s);
    });
    el("since").value = localInput(body.since);
    el("until").value = localInput(body.until);
    showDecisions(body.decisions);
    return decayguardRender(body.charts).then(function () {
      focusFromLink();
      say(body.model + ": " + body.charts.length + " charts, " + body.points + " points in " +
        body.bin_label + " bins, drawn " + Math.round(window.decayguardRenderedAt) + " ms after navigation");
    });
  }
  // An alert's link names what it is about (alerts/links.py): ?metric=drift.ks&feature=income
  function chartFor(metric) {
    if (/^(prediction_)?drift\./.test(metric) || /^quality\./.test(metric)) { return "drift"; }
    var m = /^(estimated|reviewed|realized|decay)\.(.+)$/.exec(metric);
    if (m) { return "performance-" + m[2]; }
    return "proxy";
  }
  function focusFromLink() {
    var params = new URLSearchParams(location.search);
    var metric = params.get("metric");
    if (!metric) { return; }
    var plot = el("chart-" + chartFor(metric));
    if (!plot) { return; }
    var section = plot.parentNode;
    section.classList.add("focused");
    var note = document.createElement("p");
    note.className = "focus-note";
    var feature = params.get("feature");
    note.textContent = "From the alert: " + metric + (feature ? " of " + feature : "");
    section.insertBefore(note, plot);
    section.scrollIntoView({ block: "start" });
  }
  function fail(e) { say("Could not load the dashboard: " + e.message, true); }
  function load() {
    say("Loading…");
    var q = query();
    history.replaceState(null, "", "/dashboard?" + q.toString());
    return getJSON("/api/v1/dashboard/data?" + q.toString()).then(draw).catch(fail);
  }
  // The first request leaves at once, while the browser is still parsing plotly.js.
  var first = getJSON("/api/v1/dashboard/data" + location.search);
  var models = getJSON("/api/v1/dashboard/models");
  first.catch(function () { /* said once the page is ready */ });
  models.catch(function () { /* the data request says why */ });
  function start() {
    var params = new URLSearchParams(location.search);
    el("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
    if (params.get("since")) { el("since").value = localInput(params.get("since")); }
    if (params.get("until")) { el("until").value = localInput(params.get("until")); }
    var wanted = params.get("model") || document.body.getAttribute("data-model");
    el("controls").addEventListener("submit", function (ev) {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, el("token").value.trim());
      load();
    });
    models.then(function (names) {
      var select = el("model");
      select.textContent = "";
      if (names.indexOf(wanted) < 0) { names.unshift(wanted); }
      names.forEach(function (n) {
        var o = document.createElement("option");
        o.textContent = n;
        o.value = n;
        if (n === wanted) { o.selected = true; }
        select.appendChild(o);
      });
    }).catch(function () { /* the data request says why */ });
    first.then(draw).catch(fail);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
