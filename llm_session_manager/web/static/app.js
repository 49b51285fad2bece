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
  var sortKey = null;
  var sortDir = 1;

  function visible(tr) {
    var text = (filter.value || "").trim().toLowerCase();
    var haystack = (tr.getAttribute("data-id") + " " + tr.textContent).toLowerCase();
    if (text && haystack.indexOf(text) < 0) return false;
    return facets.every(function (sel) {
      return !sel.value || tr.getAttribute("data-" + sel.getAttribute("data-facet")) === sel.value;
    });
  }

  function applyFilter() {
    var shown = 0;
    Array.prototype.forEach.call(tbody.rows, function (tr) {
      var on = visible(tr);
      tr.hidden = !on;
      if (on) shown += 1;
    });
    document.getElementById("count").textContent = String(shown);
  }

  function sortValue(tr, key, type) {
    var td = tr.querySelector('td[data-key="' + key + '"]');
    var raw = td ? td.getAttribute("data-sort") : "";
    return type === "num" ? parseFloat(raw) || 0 : (raw || "").toLowerCase();
  }

  function sortRows() {
    if (!sortKey) return;
    var th = table.querySelector('th[data-key="' + sortKey + '"]');
    var type = th.getAttribute("data-type");
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = sortValue(a, sortKey, type);
      var y = sortValue(b, sortKey, type);
      return x < y ? -sortDir : x > y ? sortDir : 0;
    });
    rows.forEach(function (tr) { tbody.appendChild(tr); });
  }

  table.querySelectorAll("th[data-key]").forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      sortDir = sortKey === key ? -sortDir : (th.getAttribute("data-type") === "num" ? -1 : 1);
      sortKey = key;
      table.querySelectorAll("th[aria-sort]").forEach(function (o) { o.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
      sortRows();
    });
  });
  filter.addEventListener("input", applyFilter);
  facets.forEach(function (sel) { sel.addEventListener("change", applyFilter); });

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

  function fillRow(tr, row) {
    tr.setAttribute("data-id", row.id);
    Object.keys(row.facets).forEach(function (name) {
      tr.setAttribute("data-" + name, row.facets[name]);
      addFacetValue(name, row.facets[name]);
    });
    row.cells.forEach(function (cell) {
      var key = cell[0], text = cell[1], sort = cell[2], cls = cell[3];
      var td = tr.querySelector('td[data-key="' + key + '"]');
      if (!td) {
        td = document.createElement("td");
        td.setAttribute("data-key", key);
        tr.appendChild(td);
      }
      td.setAttribute("data-sort", String(sort));
      var num = ["context", "tokens", "cost", "health", "last"].indexOf(key) >= 0 ? " num" : "";
      td.className = (cls || "") + num;
      if (key === "id") {
        var a = td.querySelector("a") || td.appendChild(document.createElement("a"));
        a.href = row.href;
        a.textContent = text;
      } else if (key === "last") {
        td.setAttribute("data-ts", text);
        td.textContent = ago(text);
      } else {
        td.textContent = text;
      }
    });
  }

  function findRow(id) {
    return Array.prototype.find.call(tbody.rows, function (tr) { return tr.getAttribute("data-id") === id; });
  }

  function upsert(row) {
    var tr = findRow(row.id);
    if (!tr) {
      tr = document.createElement("tr");
      tbody.insertBefore(tr, tbody.firstChild);
    }
    fillRow(tr, row);
    tr.classList.remove("changed");
    void tr.offsetWidth; // restart the highlight
    tr.classList.add("changed");
  }

  var live = document.getElementById("live");
  if (window.EventSource) {
    var source = new EventSource("/events");
    source.addEventListener("open", function () { live.classList.add("on"); live.title = "live"; });
    source.addEventListener("error", function () { live.classList.remove("on"); live.title = "reconnecting"; });
    source.addEventListener("row", function (e) {
      upsert(JSON.parse(e.data));
      sortRows();
      applyFilter();
    });
    source.addEventListener("gone", function (e) {
      var tr = findRow(JSON.parse(e.data).id);
      if (tr) tr.remove();
      applyFilter();
    });
  }
  setInterval(function () { refreshAges(tbody); }, 5000);
})();
