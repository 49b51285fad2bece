// The dashboard's only script: sorting, filtering and live rows on the sessions page, and the
// "… ago" times. Text from the server is set with textContent, never parsed as HTML.
"use strict";

(function () {
  function ago(iso) {
    if (!iso) return "-";
    var secs = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    if (secs < 60) return secs + "s ago";
    if (secs < 3600) return Math.floor(secs / 60) + "m ago";
    if (secs < 86400) return Math.floor(secs / 3600) + "h ago";
    return Math.floor(secs / 86400) + "d ago";
  }

  function refreshAges(root) {
    root.querySelectorAll("td.ago").forEach(function (td) {
      td.textContent = ago(td.getAttribute("data-ts"));
    });
  }

  var table = document.getElementById("sessions");
  if (!table) return;
  var tbody = table.tBodies[0];
  var filter = document.getElementById("filter");
  var facets = Array.prototype.slice.call(document.querySelectorAll("select[data-facet]"));
  var more = document.getElementById("more");
  var page = parseInt(more.getAttribute("data-page"), 10) || 200;
  var limit = page;
  var sortKey = null;
  var sortDir = 1;
  var NUMERIC = ["context", "tokens", "cost", "health", "last"];
  // The table's data: every session's row as the server sends it, in the server's order. Only the
  // first `limit` rows that pass the filter are in the document.
  var order = [];
  var rows = {};
  var flashed = {};

  function keyed(row) {
    row.byKey = {};
    row.cells.forEach(function (cell) { row.byKey[cell[0]] = cell; });
    row.haystack = (row.id + " " + row.cells.map(function (c) {
      return c[0] === "last" ? "" : c[1];
    }).join(" ")).toLowerCase();
    return row;
  }

  // The rows the server drew, as data (the stream's first message replaces them).
  Array.prototype.forEach.call(tbody.rows, function (tr) {
    var cells = Array.prototype.map.call(tr.cells, function (td) {
      var key = td.getAttribute("data-key");
      var text = key === "last" ? td.getAttribute("data-ts") : td.textContent;
      var cls = td.className.replace(/\s*\bnum\b/, "");
      return [key, text, td.getAttribute("data-sort"), cls];
    });
    var link = tr.querySelector("a");
    var row = {
      id: tr.getAttribute("data-id"),
      href: link ? link.getAttribute("href") : "#",
      facets: {
        agent: tr.getAttribute("data-agent"),
        status: tr.getAttribute("data-status"),
        project: tr.getAttribute("data-project"),
      },
      cells: cells,
    };
    if (tr.hasAttribute("data-user")) { row.facets.user = tr.getAttribute("data-user"); }
    order.push(row.id);
    rows[row.id] = keyed(row);
  });

  function matches(row) {
    var text = (filter.value || "").trim().toLowerCase();
    if (text && row.haystack.indexOf(text) < 0) return false;
    return facets.every(function (sel) {
      return !sel.value || row.facets[sel.getAttribute("data-facet")] === sel.value;
    });
  }

  function sortValue(row) {
    var cell = row.byKey[sortKey];
    var raw = cell ? cell[2] : "";
    return NUMERIC.indexOf(sortKey) >= 0 ? parseFloat(raw) || 0 : String(raw || "").toLowerCase();
  }

  function ordered() {
    var ids = order.filter(function (id) { return matches(rows[id]); });
    if (sortKey) {
      ids.sort(function (a, b) {
        var x = sortValue(rows[a]);
        var y = sortValue(rows[b]);
        return x < y ? -sortDir : x > y ? sortDir : 0;
      });
    }
    return ids;
  }

  function drawRow(row) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-id", row.id);
    Object.keys(row.facets).forEach(function (name) { tr.setAttribute("data-" + name, row.facets[name]); });
    row.cells.forEach(function (cell) {
      var key = cell[0], text = cell[1], sort = cell[2], cls = cell[3];
      var td = document.createElement("td");
      td.setAttribute("data-key", key);
      td.setAttribute("data-sort", String(sort));
      td.className = (cls || "") + (NUMERIC.indexOf(key) >= 0 ? " num" : "");
      if (key === "id") {
        var a = document.createElement("a");
        a.href = row.href;
        a.textContent = text;
        td.appendChild(a);
      } else if (key === "last") {
        td.setAttribute("data-ts", text);
        td.textContent = ago(text);
      } else {
        td.textContent = text;
      }
      tr.appendChild(td);
    });
    if (flashed[row.id] && Date.now() - flashed[row.id] < 3000) tr.className = "changed";
    return tr;
  }

  function render() {
    var ids = ordered();
    var shown = Math.min(limit, ids.length);
    var fragment = document.createDocumentFragment();
    for (var i = 0; i < shown; i += 1) fragment.appendChild(drawRow(rows[ids[i]]));
    tbody.replaceChildren(fragment);
    var running = order.filter(function (id) { return rows[id].facets.status === "active"; }).length;
    document.getElementById("count").textContent = String(ids.length);
    document.getElementById("running").textContent = String(running);
    document.getElementById("shown").textContent = String(shown);
    document.getElementById("paged").hidden = shown >= ids.length;
    more.hidden = shown >= ids.length;
  }

  var pending = false;
  function renderSoon() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; render(); });
  }

  table.querySelectorAll("th[data-key]").forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      sortDir = sortKey === key ? -sortDir : (th.getAttribute("data-type") === "num" ? -1 : 1);
      sortKey = key;
      table.querySelectorAll("th[aria-sort]").forEach(function (o) { o.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
      render();
    });
  });
  filter.addEventListener("input", function () { limit = page; render(); });
  facets.forEach(function (sel) { sel.addEventListener("change", function () { limit = page; render(); }); });
  more.addEventListener("click", function () { limit += page; render(); });

  function addFacetValue(name, value) {
    var sel = document.querySelector('select[data-facet="' + name + '"]');
    if (!sel || !value) return;
    var exists = Array.prototype.some.call(sel.options, function (o) { return o.value === value; });
    if (exists) return;
    var opt = document.createElement("option");
    opt.value = value;
    opt.textContent = value;
    sel.appendChild(opt);
  }

  function take(row) {
    if (!rows[row.id]) order.unshift(row.id);
    rows[row.id] = keyed(row);
    Object.keys(row.facets).forEach(function (name) { addFacetValue(name, row.facets[name]); });
  }

  function showProgress(p) {
    var el = document.getElementById("scan-progress");
    var mb = function (n) { return (n / 1048576).toFixed(0); };
    el.hidden = false;
    el.textContent = p.files
      ? "Reading the agents' logs for the first time: " + p.files_done + " of " + p.files + " files (" +
        mb(p.bytes_done) + " of " + mb(p.bytes) + " MB)…"
      : "Reading the agents' logs for the first time…";
  }

  var live = document.getElementById("live");
  if (window.EventSource) {
    var source = new EventSource("/events");
    source.addEventListener("open", function () { live.classList.add("on"); live.title = "live"; });
    source.addEventListener("error", function () { live.classList.remove("on"); live.title = "reconnecting"; });
    source.addEventListener("progress", function (e) { showProgress(JSON.parse(e.data)); });
    source.addEventListener("rows", function (e) {
      order = [];
      rows = {};
      JSON.parse(e.data).forEach(function (row) {
        order.push(row.id);
        rows[row.id] = keyed(row);
        Object.keys(row.facets).forEach(function (name) { addFacetValue(name, row.facets[name]); });
      });
      document.getElementById("scan-progress").hidden = true;
      renderSoon();
    });
    source.addEventListener("row", function (e) {
      var row = JSON.parse(e.data);
      take(row);
      flashed[row.id] = Date.now();
      renderSoon();
    });
    source.addEventListener("gone", function (e) {
      var id = JSON.parse(e.data).id;
      delete rows[id];
      order = order.filter(function (other) { return other !== id; });
      renderSoon();
    });
  }
  setInterval(function () { refreshAges(tbody); }, 5000);
})();
