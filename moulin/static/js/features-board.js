/* Features and prioritisation pages: plain JavaScript over htmx, no build step.
 *
 * - The board: rows are dragged by their handle (SortableJS); dropping one opens the "why"
 *   dialog, which posts the move with its reason through htmx. Cancel puts the row back.
 *   Each row's "Move…" button opens the same dialog for keyboard users.
 * - Charts (Chart.js), drawn from data the server put in <script type="application/json">:
 *   the value-versus-effort matrix, a feature's demand trend and the squad comparison.
 * - The board's extra driver columns fold away; a toggle shows them (remembered per browser).
 * Everything is (re)initialised on htmx:load, so swapped fragments work the same.
 */
(function () {
  "use strict";

  // --- Board drag and drop -------------------------------------------------------------------

  let pending = null; // {row, from, ranks, order} of the row waiting for its reason

  function rowsOf(body) {
    return Array.from(body.querySelectorAll("tr[data-id]"));
  }

  function openMoveDialog(row, position, dragged) {
    const dialog = document.getElementById("move-dialog");
    if (!dialog) return;
    const form = dialog.querySelector("form");
    form.querySelector("[name=feature]").value = row.dataset.id;
    form.querySelector("[name=position]").value = position;
    form.querySelector("[name=reason]").value = "";
    const title = dialog.querySelector("[data-feature-title]");
    if (title) title.textContent = row.dataset.title || "";
    const errors = dialog.querySelector("#move-errors");
    if (errors) errors.innerHTML = "";
    dialog.dataset.dragged = dragged ? "true" : "false";
    dialog.showModal();
    form.querySelector("[name=reason]").focus();
  }

  function restoreOrder() {
    if (!pending) return;
    const body = pending.body;
    pending.order.forEach(function (row) { body.appendChild(row); });
    pending = null;
  }

  function initBoard(root) {
    const body = root.querySelector ? root.querySelector("#board-rows") : null;
    const target = body || (root.id === "board-rows" ? root : null);
    if (!target || target.sortableReady || typeof Sortable === "undefined") return;
    if (target.dataset.canMove !== "true") return;
    target.sortableReady = true;
    let before = null;
    Sortable.create(target, {
      handle: ".drag-handle",
      forceFallback: true, // mouse events, not native drag: the same everywhere
      animation: 150,
      ghostClass: "sortable-ghost",
      chosenClass: "sortable-chosen",
      onStart: function () {
        before = rowsOf(target);
      },
      onEnd: function (event) {
        if (event.oldIndex === event.newIndex || !before) return;
        // The board may be filtered: the new place is the rank of the row that sat there.
        const ranks = before.map(function (row) { return parseInt(row.dataset.rank, 10); });
        pending = { body: target, order: before };
        event.item.classList.add("moved");
        openMoveDialog(event.item, ranks[event.newIndex], true);
      },
    });
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-move]");
    if (button) {
      const row = button.closest("tr[data-id]");
      pending = null;
      openMoveDialog(row, row.dataset.rank, false);
      return;
    }
    if (event.target.closest && event.target.closest("[data-move-cancel]")) {
      const dialog = document.getElementById("move-dialog");
      if (dialog) dialog.close();
    }
  });

  document.addEventListener("close", function (event) {
    if (event.target.id !== "move-dialog") return;
    if (event.target.dataset.done !== "true") restoreOrder();
    event.target.dataset.done = "";
    pending = null;
  }, true);

  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    if (!form || form.id !== "move-form") return;
    const dialog = document.getElementById("move-dialog");
    // A 422 (no reason given) is swapped into the dialog, which stays open.
    if (event.detail.successful && event.detail.xhr.status === 200 && dialog) {
      dialog.dataset.done = "true";
      pending = null;
      dialog.close();
    }
  });

  // --- Board: fold or show the drivers beyond the first ones (remembered per browser) ------

  const DRIVERS_KEY = "moulin.board.allDrivers";

  function applyDrivers(root) {
    const table = (root.querySelector && root.querySelector("#board-table")) ||
      document.getElementById("board-table");
    const toggle = document.querySelector("[data-drivers-toggle]");
    if (!table || !toggle) return;
    let open = false;
    try { open = window.localStorage.getItem(DRIVERS_KEY) === "1"; } catch (error) { open = false; }
    table.classList.toggle("drivers-folded", !open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.textContent = open ? toggle.dataset.hide : toggle.dataset.show;
  }

  document.addEventListener("click", function (event) {
    const toggle = event.target.closest && event.target.closest("[data-drivers-toggle]");
    if (!toggle) return;
    const open = toggle.getAttribute("aria-expanded") !== "true";
    try { window.localStorage.setItem(DRIVERS_KEY, open ? "1" : "0"); } catch (error) { /* private mode */ }
    applyDrivers(document);
  });

  // --- Charts --------------------------------------------------------------------------------

  function readJson(id) {
    const node = document.getElementById(id);
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (error) { return null; }
  }

  const PALETTE = ["#1f5f8b", "#d98e04", "#1d7a46", "#b42318", "#6941c6", "#0e9384",
                   "#c11574", "#475467"];

  // Quadrant lines and labels behind the matrix's points.
  const quadrants = {
    id: "quadrants",
    beforeDatasetsDraw: function (chart, args, options) {
      if (!options || options.x === undefined) return;
      const ctx = chart.ctx;
      const area = chart.chartArea;
      const x = chart.scales.x.getPixelForValue(options.x);
      const y = chart.scales.y.getPixelForValue(options.y);
      ctx.save();
      ctx.strokeStyle = "#cfd6df";
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(x, area.top); ctx.lineTo(x, area.bottom);
      ctx.moveTo(area.left, y); ctx.lineTo(area.right, y);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#8a94a3";
      ctx.font = "600 13px system-ui, sans-serif";
      const labels = options.labels || {};
      ctx.textAlign = "left";
      ctx.fillText(labels.quick_wins || "", area.left + 8, area.top + 18);
      ctx.fillText(labels.fill_ins || "", area.left + 8, area.bottom - 8);
      ctx.textAlign = "right";
      ctx.fillText(labels.big_bets || "", area.right - 8, area.top + 18);
      ctx.fillText(labels.time_sinks || "", area.right - 8, area.bottom - 8);
      ctx.restore();
    },
  };

  function drawMatrix(canvas) {
    const data = readJson(canvas.dataset.source);
    if (!data) return;
    const squads = {};
    data.points.forEach(function (point) {
      (squads[point.squad] = squads[point.squad] || []).push(point);
    });
    const datasets = Object.keys(squads).map(function (squad, index) {
      return {
        label: squad,
        data: squads[squad],
        backgroundColor: PALETTE[index % PALETTE.length] + "cc",
        borderColor: PALETTE[index % PALETTE.length],
        pointRadius: squads[squad].map(function (p) { return p.r; }),
        pointHoverRadius: squads[squad].map(function (p) { return p.r + 2; }),
      };
    });
    return new Chart(canvas, {
      type: "scatter",
      data: { datasets: datasets },
      options: {
        maintainAspectRatio: false,
        parsing: { xAxisKey: "x", yAxisKey: "y" },
        scales: {
          x: { title: { display: true, text: data.x_label }, beginAtZero: true },
          y: { title: { display: true, text: data.y_label }, beginAtZero: true },
        },
        plugins: {
          quadrants: { x: data.x_split, y: data.y_split, labels: data.labels },
          tooltip: { callbacks: { label: function (item) {
            const p = item.raw;
            return p.title + " — " + data.y_label + " " + p.y + ", " + data.x_label + " " + p.x;
          } } },
        },
        onClick: function (event, elements) {
          if (!elements.length) return;
          const point = datasets[elements[0].datasetIndex].data[elements[0].index];
          if (point.url) window.location.href = point.url;
        },
      },
      plugins: [quadrants],
    });
  }

  function drawTrend(canvas) {
    const data = readJson(canvas.dataset.source);
    if (!data) return;
    return new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: [{ label: data.label, data: data.values,
                                                backgroundColor: "#1f5f8b" }] },
      options: { maintainAspectRatio: false, plugins: { legend: { display: false } },
                 scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }

  function drawBars(canvas) {
    const data = readJson(canvas.dataset.source);
    if (!data) return;
    return new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: data.datasets.map(function (set, index) {
        return { label: set.label, data: set.values,
                 backgroundColor: PALETTE[index % PALETTE.length] };
      }) },
      options: { maintainAspectRatio: false, indexAxis: data.horizontal ? "y" : "x",
                 scales: { x: { beginAtZero: true }, y: { beginAtZero: true } } },
    });
  }

  const DRAW = { matrix: drawMatrix, trend: drawTrend, bars: drawBars };

  function initCharts(root) {
    if (typeof Chart === "undefined" || !root.querySelectorAll) return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.chartReady) return;
      const draw = DRAW[canvas.dataset.chart];
      if (!draw) return;
      canvas.chartReady = true;
      draw(canvas);
    });
  }

  document.addEventListener("htmx:load", function (event) {
    initBoard(event.detail.elt);
    initCharts(event.detail.elt);
    applyDrivers(event.detail.elt);
  });
  document.addEventListener("DOMContentLoaded", function () {
    initBoard(document);
    initCharts(document);
    applyDrivers(document);
  });
})();
