"""The status page's HTML: one document, inline style and script, no external asset.

Placeholders ``{{NAME}}`` are filled by ``status.page``: TITLE and PRETTY are HTML-escaped
text, REFRESH and NOSCRIPT_REFRESH numbers, DATA the snapshot as JSON with every ``<``
escaped, so it cannot end the script element it sits in.
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}}</title>
<noscript><meta http-equiv="refresh" content="{{NOSCRIPT_REFRESH}}"></noscript>
<style>
 body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2330; background: #fafbfc; }
 h1 { font-size: 1.3em; margin: 0 0 .4em; }
 .summary { display: flex; flex-wrap: wrap; gap: .4em 1.6em; margin: 0 0 1em; }
 .summary span b { font-variant-numeric: tabular-nums; }
 .badge { padding: .1em .6em; border-radius: 1em; font-weight: 600; }
 .ok { background: #d8f3dc; color: #1b5e20; } .bad { background: #ffd9d9; color: #8a1010; }
 table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0002; }
 th, td { padding: .35em .8em; text-align: right; border-bottom: 1px solid #e4e7ec; white-space: nowrap;
          font-variant-numeric: tabular-nums; }
 th { background: #eef1f5; font-weight: 600; } thead th:nth-child(4), tbody td:nth-child(4) { text-align: left; }
 tfoot td { font-weight: 600; border-top: 2px solid #c9ced6; }
 tr.draining td { color: #7a6200; } tr.booting td { color: #345; font-style: italic; }
 td.stale { background: #ffd9d9; color: #8a1010; font-weight: 600; }
 footer { margin-top: .8em; color: #667; font-size: .9em; } #error { color: #8a1010; }
</style>
</head>
<body>
<h1 id="title">{{TITLE}}</h1>
<div class="summary">
 <span>master pid <b id="pid"></b></span><span>uptime <b id="uptime"></b></span>
 <span>generation <b id="generation"></b></span><span>reloads <b id="reloads"></b></span>
 <span>restarts <b id="restarts"></b></span>
 <span id="ready" class="badge"></span><span id="live" class="badge"></span>
</div>
<table id="workers">
 <thead><tr><th>slot</th><th>pid</th><th>gen</th><th>state</th><th>age</th><th>requests</th>
  <th>active conns</th><th>RSS</th><th>CPU</th><th>heartbeat</th></tr></thead>
 <tbody></tbody>
 <tfoot><tr><td colspan="4" id="total-workers"></td><td></td><td id="total-requests"></td>
  <td id="total-connections"></td><td id="total-rss"></td><td id="total-cpu"></td><td></td></tr></tfoot>
</table>
<footer><span id="updated"></span> <span id="error"></span></footer>
<noscript><pre>{{PRETTY}}</pre></noscript>
<script id="initial" type="application/json">{{DATA}}</script>
<script>
(function () {
  "use strict";
  var refresh = {{REFRESH}}, renders = 0;
  function $(id) { return document.getElementById(id); }
  function age(s) {
    if (s === null || s === undefined) return "-";
    if (s < 60) return s.toFixed(1) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor(s % 86400 / 3600) + " h";
  }
  function bytes(n) {
    if (n === null || n === undefined) return "-";
    var units = ["B", "KiB", "MiB", "GiB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return n.toFixed(i ? 1 : 0) + " " + units[i];
  }
  function cpu(s) { return s === null || s === undefined ? "-" : s.toFixed(2) + " s"; }
  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
  }
  function badge(el, good, text) { el.textContent = text; el.className = "badge " + (good ? "ok" : "bad"); }
  function render(data) {
    var m = data.master, t = data.totals, rows = [];
    $("pid").textContent = m.pid;
    $("uptime").textContent = age(m.uptime);
    $("generation").textContent = m.generation;
    $("reloads").textContent = m.reloads;
    $("restarts").textContent = t.restarts;
    badge($("ready"), m.ready, m.ready ? "ready" : "not ready: " + m.readiness);
    badge($("live"), m.live, m.live ? "live" : "not live: " + m.liveness);
    data.workers.forEach(function (w) {
      var tr = document.createElement("tr");
      tr.className = w.state;
      tr.dataset.pid = w.pid;
      tr.dataset.slot = w.slot;
      cell(tr, w.slot); cell(tr, w.pid); cell(tr, w.generation); cell(tr, w.state); cell(tr, age(w.age));
      cell(tr, w.requests); cell(tr, w.connections); cell(tr, bytes(w.rss)); cell(tr, cpu(w.cpu));
      cell(tr, age(w.heartbeat_age), w.stale ? "stale" : "");
      rows.push(tr);
    });
    $("workers").tBodies[0].replaceChildren.apply($("workers").tBodies[0], rows);
    $("total-workers").textContent = t.workers + " workers (" + m.target_workers + " wanted)";
    $("total-requests").textContent = t.requests;
    $("total-connections").textContent = t.connections;
    $("total-rss").textContent = bytes(t.rss);
    $("total-cpu").textContent = cpu(t.cpu);
    renders += 1;
    document.body.dataset.renders = renders;
    $("updated").textContent = "updated " + new Date().toLocaleTimeString() + ", every " + refresh +
      " s from status.json";
  }
  function tick() {
    fetch("status.json", {cache: "no-store"}).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(function (data) {
      render(data);
      $("error").textContent = "";
    }).catch(function (err) {
      $("error").textContent = "cannot reach the master: " + err.message;
    }).then(function () { setTimeout(tick, refresh * 1000); });
  }
  render(JSON.parse($("initial").textContent));
  setTimeout(tick, refresh * 1000);
})();
</script>
</body>
</html>
"""
