// The analytics charts: each element with data-chart names a <script type="application/json">
// holding its data (console/charts.py); this file turns it into an ECharts option. No inline
// script is needed, so the console's Content-Security-Policy stays strict. Runs on page load
// and after every HTMX swap (a new range or filter).
(function () {
  "use strict";
  const PALETTE = ["#2f4bbf", "#d9622b", "#1f8a70", "#b5446e", "#6b7280", "#8a6d1d"];
  const charts = new Set();

  function percent(value) {
    return Math.round(value * 100) + "%";
  }

  function option(spec) {
    const ratios = spec.series.some((s) => s.ratio);
    const yAxis = [{ type: "value", minInterval: spec.series.every((s) => s.ratio) ? 0 : 1 }];
    if (ratios) {
      yAxis.push({ type: "value", min: 0, max: 1, axisLabel: { formatter: percent }, splitLine: { show: false } });
    }
    const dense = spec.categories.length > 40;
    return {
      color: PALETTE,
      animation: false,
      aria: { enabled: true },
      // Rich-text tooltips are drawn on the canvas: HTML ones carry inline styles the CSP refuses.
      tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v) => (v === null || v === undefined ? "–" : v.toLocaleString()) },
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 16, top: 44, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: spec.categories, axisLabel: { hideOverlap: true } },
      yAxis: yAxis,
      series: spec.series.map((s) => {
        // Beside a ratio (stickiness, retention), the counts are bars and the ratios lines.
        const type = spec.kind === "bar" || (ratios && !s.ratio) ? "bar" : "line";
        return {
          name: s.name,
          type: type,
          data: s.data,
          yAxisIndex: s.ratio ? 1 : 0,
          showSymbol: !dense,
          symbolSize: 6,
          barMaxWidth: 36,
          lineStyle: s.ratio ? { width: 2, type: "dashed" } : { width: 2 },
          tooltip: s.ratio ? { valueFormatter: (v) => (v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%") } : undefined,
        };
      }),
    };
  }

  function draw(root) {
    if (typeof echarts === "undefined") return;
    for (const chart of Array.from(charts)) {
      if (!document.body.contains(chart.getDom())) {
        chart.dispose();
        charts.delete(chart);
      }
    }
    root.querySelectorAll("[data-chart]").forEach((el) => {
      if (echarts.getInstanceByDom(el)) return;
      const data = document.getElementById(el.dataset.chart);
      if (!data) return;
      const chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(option(JSON.parse(data.textContent)));
      charts.add(chart);
    });
  }

  document.addEventListener("DOMContentLoaded", () => draw(document));
  document.addEventListener("htmx:afterSettle", () => draw(document));
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  // The URL of a view (pushed to the address bar) keeps only what was set: no empty filters,
  // and the dates only for a custom range.
  document.addEventListener("htmx:configRequest", (event) => {
    const data = event.detail.formData;
    if (!event.detail.elt || event.detail.elt.id !== "analytics-form" || !data) return;
    const custom = data.get("range") === "custom";
    for (const key of Array.from(new Set(data.keys()))) {
      if (data.get(key) === "" || (!custom && (key === "start" || key === "end"))) data.delete(key);
    }
  });
  // A failed answer (503 while PostgreSQL is down) is not swapped in: say so by the form.
  document.addEventListener("htmx:responseError", (event) => {
    const failed = document.getElementById("analytics-failed");
    if (failed && event.detail.elt && event.detail.elt.id === "analytics-form") failed.hidden = false;
  });
  document.addEventListener("htmx:sendError", (event) => {
    const failed = document.getElementById("analytics-failed");
    if (failed && event.detail.elt && event.detail.elt.id === "analytics-form") failed.hidden = false;
  });
  // Picking a date means a custom range.
  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches("#f-start, #f-end")) {
      const range = document.getElementById("f-range");
      if (range) range.value = "custom";
    }
  });
})();
