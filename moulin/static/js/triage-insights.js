// The insights page's chart: items per week for the biggest themes (line, or stacked bars).
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("theme-volume-data");
    var canvas = document.getElementById("theme-volume-chart");
    if (!source || !canvas || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var palette = ["#1f5f8b", "#d98e04", "#1d7a46", "#b42318", "#6941c6", "#0e9384", "#c11574", "#5b6675"];
    var toggle = document.getElementById("theme-volume-stacked");
    var chart = null;
    function render() {
      var stacked = toggle && toggle.checked;
      if (chart) chart.destroy();
      chart = new Chart(canvas, {
        type: stacked ? "bar" : "line",
        data: {
          labels: data.weeks,
          datasets: data.series.map(function (s, i) {
            return { label: s.label, data: s.data, borderColor: palette[i % palette.length],
                     backgroundColor: palette[i % palette.length], cubicInterpolationMode: "monotone", fill: false };
          })
        },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          interaction: { mode: "index", intersect: false },
          scales: { x: { stacked: stacked }, y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } } }
        }
      });
    }
    if (toggle) toggle.addEventListener("change", render);
    render();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
