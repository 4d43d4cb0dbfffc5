/* The compliance report's charts.
 *
 * The figures come from the <script type="application/json" id="report-charts"> element
 * the page writes with Django's json_script; every chart has a table with the same
 * figures below it, so nothing here is the only way to read them. No inline script: the
 * page runs under a Content-Security-Policy of script-src 'self'.
 */
(function () {
  "use strict";

  var source = document.getElementById("report-charts");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);

  var metricColours = {
    acknowledge: "rgba(13, 110, 253, 0.75)",
    action_plan: "rgba(111, 66, 193, 0.75)",
    resolve: "rgba(25, 135, 84, 0.75)",
  };
  var causeColours = {
    capacity: "rgba(13, 110, 253, 0.75)",
    skills: "rgba(111, 66, 193, 0.75)",
    process: "rgba(253, 126, 20, 0.75)",
    systems: "rgba(32, 201, 151, 0.75)",
    customer: "rgba(214, 51, 132, 0.75)",
    other: "rgba(108, 117, 125, 0.75)",
    unreviewed: "rgba(220, 53, 69, 0.45)",
  };

  function percentLabel(ctx) {
    return ctx.dataset.label + ": " + (ctx.raw === null ? "—" : ctx.raw + " %");
  }

  var percentAxis = {
    min: 0,
    max: 100,
    ticks: {
      callback: function (value) {
        return value + " %";
      },
    },
  };

  function complianceChart(canvas) {
    var chart = data.compliance;
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: chart.datasets.map(function (set) {
          return { label: set.label, data: set.met_pct, backgroundColor: metricColours[set.metric] };
        }),
      },
      options: {
        responsive: true,
        plugins: {
          title: { display: true, text: "Targets met (%)" },
          tooltip: { callbacks: { label: percentLabel } },
        },
        scales: { y: percentAxis },
      },
    });
  }

  function causesChart(canvas) {
    var chart = data.causes;
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: chart.datasets.map(function (set) {
          return { label: set.label, data: set.counts, backgroundColor: causeColours[set.cause] };
        }),
      },
      options: {
        indexAxis: "y",
        responsive: true,
        plugins: { title: { display: true, text: "Breaches by root cause" } },
        scales: {
          x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
          y: { stacked: true },
        },
      },
    });
  }

  function trendChart(canvas) {
    var chart = data.trend;
    return new window.Chart(canvas, {
      type: "line",
      data: {
        labels: chart.labels,
        datasets: chart.datasets.map(function (set) {
          var colour = metricColours[set.metric];
          return {
            label: set.label,
            data: set.met_pct,
            borderColor: colour,
            backgroundColor: colour,
            spanGaps: false,
            tension: 0.2,
          };
        }),
      },
      options: {
        responsive: true,
        plugins: {
          title: { display: true, text: "Targets met per month (%)" },
          tooltip: { callbacks: { label: percentLabel } },
        },
        scales: { y: percentAxis },
      },
    });
  }

  var draw = { compliance: complianceChart, causes: causesChart, trend: trendChart };
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var kind = canvas.getAttribute("data-chart");
    if (draw[kind] && data[kind] && data[kind].labels.length) {
      draw[kind](canvas);
    }
  });
})();
