/* The class report's only script (shipped with the kit; no library, no network).
 *
 * Sorting: click a header of a table.sortable; numbers sort as numbers (a cell's data-sort
 *   wins over its text), "–" and empty cells last.
 * Filtering: controls with class "filter" and data-table="NAME" act on the table with
 *   data-name="NAME": a search box matches a row's data-text (else its text), a select or a
 *   checkbox with data-attr="A" matches the row's data-A.  [data-count-for=NAME] shows
 *   "k of n rows".  A link with data-set-filter="NAME" data-value="V" types V in NAME's box.
 */
(function () {
  "use strict";

  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) return "";
    var v = cell.getAttribute("data-sort");
    return v !== null ? v : cell.textContent.trim();
  }

  function asNumber(text) {
    if (text === "" || text === "–") return null;
    var n = parseFloat(String(text).replace(/[%\s]/g, ""));
    return isNaN(n) ? null : n;
  }

  function sortTable(table, index, th) {
    var body = table.tBodies[0];
    if (!body) return;
    var current = th.getAttribute("aria-sort");
    var dir = current === "descending" ? 1 : (current === "ascending" ? -1 : (th.getAttribute("data-type") === "num" ? -1 : 1));
    var rows = Array.prototype.slice.call(body.rows);
    var numeric = th.getAttribute("data-type") === "num";
    var keyed = rows.map(function (r, i) {
      var raw = cellValue(r, index);
      return { row: r, i: i, key: numeric ? asNumber(raw) : raw.toLowerCase() };
    });
    keyed.sort(function (a, b) {
      if (a.key === null && b.key === null) return a.i - b.i;
      if (a.key === null) return 1;
      if (b.key === null) return -1;
      if (a.key < b.key) return -dir;
      if (a.key > b.key) return dir;
      return a.i - b.i;
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (k) { frag.appendChild(k.row); });
    body.appendChild(frag);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }

  function applyFilters(name) {
    var table = document.querySelector('table[data-name="' + name + '"]');
    if (!table || !table.tBodies[0]) return;
    var controls = document.querySelectorAll('.filter[data-table="' + name + '"]');
    var text = "", attrs = [];
    Array.prototype.forEach.call(controls, function (c) {
      var attr = c.getAttribute("data-attr");
      if (c.type === "checkbox") { if (c.checked) attrs.push([attr, c.value]); }
      else if (attr) { if (c.value) attrs.push([attr, c.value]); }
      else text = c.value.trim().toLowerCase();
    });
    var rows = table.tBodies[0].rows, shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i], ok = true;
      for (var j = 0; j < attrs.length && ok; j++) ok = r.getAttribute("data-" + attrs[j][0]) === attrs[j][1];
      if (ok && text) {
        var hay = (r.getAttribute("data-text") || r.textContent).toLowerCase();
        ok = text.split(/\s+/).every(function (w) { return hay.indexOf(w) !== -1; });
      }
      r.hidden = !ok;
      if (ok) shown++;
    }
    var count = document.querySelector('[data-count-for="' + name + '"]');
    if (count) count.textContent = shown + " of " + rows.length + " rows";
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      if (!table.tHead) return;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
        th.addEventListener("click", function () { sortTable(table, index, th); });
      });
    });
    var names = {};
    Array.prototype.forEach.call(document.querySelectorAll(".filter[data-table]"), function (c) {
      var name = c.getAttribute("data-table");
      names[name] = true;
      c.addEventListener(c.type === "search" || c.type === "text" ? "input" : "change", function () { applyFilters(name); });
    });
    Object.keys(names).forEach(applyFilters);
    Array.prototype.forEach.call(document.querySelectorAll("[data-set-filter]"), function (a) {
      a.addEventListener("click", function () {
        var name = a.getAttribute("data-set-filter");
        var box = document.querySelector('input[type="search"].filter[data-table="' + name + '"]');
        if (box) { box.value = a.getAttribute("data-value"); applyFilters(name); }
      });
    });
  });

  window.dlkitReport = { sortTable: sortTable, applyFilters: applyFilters };
})();
