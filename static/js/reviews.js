/* The quarterly review page: its charts, and the button that fills the proposed-targets
 * grid with the recommendations.
 *
 * The figures come from the <script type="application/json" id="review-charts"> element
 * the page writes with Django's json_script; every chart has a table beside it with the
 * same figures, so nothing here is the only way to read them. No inline script: the page
 * runs under a Content-Security-Policy of script-src 'self'.
 */
(function () {
  "use strict";

  /* "Fill in the recommendations": type each recommended target into its cell, then let
   * the form's htmx what-if (hx-trigger "input") replay them. */
  document.querySelectorAll("[data-fill-recommended]").forEach(function (button) {
    button.addEventListener("click", function () {
      var form = button.closest("form");
      form.querySelectorAll("input[data-recommended]").forEach(function (input) {
        input.value = input.getAttribute("data-recommended");
      });
      form.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });

  var source = document.getElementById("review-charts");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);

  var colours = {
    now: "rgba(13, 110, 253, 0.75)",
    before: "rgba(108, 117, 125, 0.45)",
    p50: "rgba(25, 135, 84, 0.7)",
    p80: "rgba(13, 110, 253, 0.7)",
    p95: "rgba(220, 53, 69, 0.7)",
    target: "rgba(33, 37, 41, 0.9)",
  };
  var causeColours = [
    "rgba(13, 110, 253, 0.75)",
    "rgba(111, 66, 193, 0.75)",
    "rgba(253, 126, 20, 0.75)",
    "rgba(32, 201, 151, 0.75)",
    "rgba(214, 51, 132, 0.75)",
    "rgba(108, 117, 125, 0.75)",
    "rgba(220, 53, 69, 0.75)",
  ];

  function hoursLabel(value) {
    if (value === null || value === undefined) {
      return "—";
    }
    var minutes = Math.round(value * 60);
    var h = Math.floor(minutes / 60);
    var m = minutes % 60;
    if (h && m) {
      return h + " h " + m + " min";
    }
    return h ? h + " h" : m + " min";
  }

  function metChart(canvas, metric) {
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: metric.priorities,
        datasets: [
          { label: "This period", data: metric.met_pct, backgroundColor: colours.now },
          { label: "Previous period", data: metric.met_pct_previous, backgroundColor: colours.before },
        ],
      },
      options: {
        responsive: true,
        plugins: {
          title: { display: true, text: metric.label + ": met %" },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                return ctx.dataset.label + ": " + (ctx.raw === null ? "—" : ctx.raw + " %");
              },
            },
          },
        },
        scales: { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + " %"; } } } },
      },
    });
  }

  function percentileChart(canvas, metric) {
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: metric.priorities,
        datasets: [
          { label: "p50", data: metric.p50, backgroundColor: colours.p50 },
          { label: "p80", data: metric.p80, backgroundColor: colours.p80 },
          { label: "p95", data: metric.p95, backgroundColor: colours.p95 },
          {
            type: "line",
            label: "Target",
            data: metric.target,
            borderColor: colours.target,
            backgroundColor: colours.target,
            showLine: false,
            pointStyle: "line",
            pointRadius: 14,
            pointBorderWidth: 3,
          },
        ],
      },
      options: {
        responsive: true,
        plugins: {
          title: { display: true, text: metric.label + ": time taken vs target (hours)" },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                return ctx.dataset.label + ": " + hoursLabel(ctx.raw);
              },
            },
          },
        },
        scales: { y: { beginAtZero: true, title: { display: true, text: "hours" } } },
      },
    });
  }

  function causesChart(canvas, causes) {
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: causes.labels,
        datasets: [
          { label: "This period", data: causes.now, backgroundColor: causeColours },
          { label: "Previous period", data: causes.previous, backgroundColor: colours.before },
        ],
      },
      options: {
        indexAxis: "y",
        responsive: true,
        plugins: { title: { display: true, text: "Breaches by root cause" } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }

  var byKey = {};
  (data.metrics || []).forEach(function (metric) {
    byKey[metric.key] = metric;
  });

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var kind = canvas.getAttribute("data-chart");
    if (kind === "causes") {
      if (data.causes && data.causes.labels.length) {
        causesChart(canvas, data.causes);
      }
      return;
    }
    var metric = byKey[canvas.getAttribute("data-metric")];
    if (!metric) {
      return;
    }
    if (kind === "met") {
      metChart(canvas, metric);
    } else if (kind === "percentiles") {
      percentileChart(canvas, metric);
    }
  });
})();
