// A journey's canvas (console/journeys.py): the element with data-graph names a
// <script type="application/json"> holding the layout (console/journey_graph.py: positions come
// from the server) with each node's count and review findings; this file draws it with
// ECharts' graph series. No inline script (the console's CSP). The data island sits in the block
// HTMX re-fetches while the journey is ACTIVE; after each swap the same chart is given the new
// figures, so the canvas updates in place.
(function () {
  "use strict";
  const NODE_W = 172;
  const NODE_H = 62;
  const MARGIN = 24;
  const MESSAGE = { stroke: "#2f4bbf", fill: "#eef1fc" };
  const SPLIT = { stroke: "#6b3fa0", fill: "#f4eefb" };
  const STYLES = {
    Entry: { stroke: "#17603a", fill: "#e7f5ec" },
    EMAIL: MESSAGE,
    SMS: MESSAGE,
    PUSH: MESSAGE,
    CUSTOM: MESSAGE,
    Wait: { stroke: "#8a5a00", fill: "#fff6e3" },
    ConditionalSplit: SPLIT,
    MultiCondition: SPLIT,
    RandomSplit: SPLIT,
    Holdout: { stroke: "#4b5563", fill: "#f1f2f4" },
    ContactCenter: { stroke: "#0f6e74", fill: "#e6f4f5" },
    Unknown: { stroke: "#a11d1d", fill: "#ffffff" },
  };
  const charts = new Map(); // element -> chart

  function short(text, max) {
    return text.length > max ? text.slice(0, max - 1) + "…" : text;
  }

  function errorsOf(node) {
    return (node.findings || []).filter((f) => f.Level === "error").length;
  }

  function warningsOf(node) {
    return (node.findings || []).filter((f) => f.Level === "warning").length;
  }

  function nodeLabel(node) {
    const id = node.type === "Entry" ? "" : "{id|" + short(node.id, 14) + "}";
    const lines = ["{name|" + short(node.label, 24) + "}"];
    if (typeof node.count === "number") {
      // A journey's page: its count (the editor's preview draws the bare layout, without counts).
      const count = "{count|" + (node.type === "Entry" ? "Entered " : "") + node.count.toLocaleString() + "}";
      lines.push(id ? count + "{id|  " + short(node.id, 14) + "}" : count);
    } else if (id) {
      lines.push(id);
    }
    const errors = errorsOf(node);
    const warnings = warningsOf(node);
    if (errors) lines.push("{error|" + errors + (errors === 1 ? " error" : " errors") + "}");
    else if (warnings) lines.push("{warning|" + warnings + (warnings === 1 ? " warning" : " warnings") + "}");
    return lines.join("\n");
  }

  function tooltip(params) {
    if (params.dataType !== "node") return params.data.value || "";
    if (!params.data.node) return "";
    const node = params.data.node;
    const lines = [node.label].concat(node.detail || []);
    Object.keys(node.metrics || {}).forEach((k) => {
      if (node.type !== "Entry") lines.push(k + ": " + node.metrics[k]);
    });
    (node.findings || []).forEach((f) => lines.push((f.Level === "error" ? "Error: " : "Warning: ") + f.Message));
    return lines.join("\n");
  }

  // ECharts fits the nodes' bounding box into the element, stretching each axis on its own.
  // Two invisible anchors at the element's corners (in layout coordinates, the layout centred)
  // make that box the element's own size: positions are drawn as pixels, even for a journey
  // one activity wide, whose own box has no width.
  function anchors(el, data) {
    const width = el.clientWidth || data.width + NODE_W + 2 * MARGIN;
    const height = el.clientHeight || data.height + NODE_H + 2 * MARGIN;
    const left = (width - data.width) / 2;
    const top = NODE_H / 2 + MARGIN;
    const corner = { symbolSize: 0, label: { show: false }, tooltip: { show: false }, silent: true, anchor: true };
    return [
      Object.assign({ id: "__corner_tl", name: "", x: -left, y: -top }, corner),
      Object.assign({ id: "__corner_br", name: "", x: width - left, y: height - top }, corner),
    ];
  }

  function option(data, corners) {
    const nodes = data.nodes.map((node) => {
      const style = STYLES[node.type] || STYLES.Unknown;
      const errors = errorsOf(node);
      return {
        id: node.id,
        name: node.id,
        node: node,
        x: node.x,
        y: node.y,
        symbol: "roundRect",
        symbolSize: [NODE_W, NODE_H],
        itemStyle: {
          color: style.fill,
          borderColor: errors ? "#c81e1e" : style.stroke,
          borderWidth: errors ? 3 : 1.5,
          borderType: node.type === "Unknown" ? "dashed" : "solid",
        },
        label: { show: true, formatter: nodeLabel(node) },
      };
    });
    const edges = data.edges.map((edge) => ({
      source: edge.source,
      target: edge.target,
      value: edge.label || "",
      label: { show: Boolean(edge.label), formatter: edge.label || "" },
    }));
    return {
      animation: false,
      tooltip: { renderMode: "richText", formatter: tooltip, confine: true },
      series: [
        {
          type: "graph",
          layout: "none",
          roam: false,
          left: 0,
          top: 0,
          right: 0,
          bottom: 0,
          nodeScaleRatio: 0, // symbols keep their size whatever the view's scale
          data: nodes.concat(corners),
          links: edges,
          edgeSymbol: ["none", "arrow"],
          edgeSymbolSize: 9,
          lineStyle: { color: "#8a94a6", width: 1.5, opacity: 1 },
          emphasis: { disabled: true },
          label: {
            color: "#1c2330",
            align: "center",
            lineHeight: 17,
            rich: {
              name: { fontWeight: "bold", fontSize: 12, color: "#1c2330" },
              count: { fontSize: 14, fontWeight: "bold", color: "#1c2330" },
              id: { fontSize: 11, color: "#566072", fontFamily: "monospace" },
              error: { fontSize: 11, color: "#a11d1d", fontWeight: "bold" },
              warning: { fontSize: 11, color: "#7a4a00" },
            },
          },
          // At the arrow's end: level, just above the node it leads to (mid-line labels turn
          // with the line and are hard to read).
          edgeLabel: {
            show: false,
            position: "end",
            distance: 4,
            fontSize: 11,
            color: "#374151",
            backgroundColor: "#ffffff",
            padding: [1, 4],
            borderRadius: 3,
          },
        },
      ],
    };
  }

  function size(el, data) {
    const wrap = el.parentElement;
    const width = Math.max(wrap ? wrap.clientWidth - 2 : 0, data.width + NODE_W + 2 * MARGIN);
    el.style.width = width + "px";
    el.style.height = data.height + NODE_H + 2 * MARGIN + "px";
  }

  function draw() {
    if (typeof echarts === "undefined") return;
    charts.forEach((chart, el) => {
      // An element swapped out by HTMX (the editor's preview is redrawn on every change).
      if (!document.body.contains(el)) {
        chart.dispose();
        charts.delete(el);
      }
    });
    document.querySelectorAll("[data-graph]").forEach((el) => {
      const island = document.getElementById(el.dataset.graph);
      if (!island) return;
      const data = JSON.parse(island.textContent);
      let chart = charts.get(el);
      if (!chart) {
        size(el, data);
        chart = echarts.init(el, null, { renderer: "canvas" });
        charts.set(el, chart);
        el.dataset.drawn = "true";
        // A journey wider than the screen scrolls sideways: start with its entry in view.
        const wrap = el.parentElement;
        if (wrap && wrap.scrollWidth > wrap.clientWidth) wrap.scrollLeft = (wrap.scrollWidth - wrap.clientWidth) / 2;
      }
      chart.setOption(option(data, anchors(el, data)), { notMerge: false });
      el.dataset.nodes = String(data.nodes.length);
    });
  }

  // A failed refresh (503 while PostgreSQL is down, or no answer) is not swapped in: the page
  // says so until the next refresh succeeds.
  function failed(event) {
    const note = document.getElementById("live-failed");
    if (note && event.detail.elt && event.detail.elt.id === "journey-live") note.hidden = false;
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);
  document.addEventListener("htmx:afterSettle", () => {
    const note = document.getElementById("live-failed");
    if (note && document.getElementById("journey-live")) note.hidden = true;
  });
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
  window.addEventListener("resize", () => {
    charts.forEach((chart, el) => {
      const island = document.getElementById(el.dataset.graph);
      if (!island) return;
      const data = JSON.parse(island.textContent);
      size(el, data);
      chart.resize();
      chart.setOption(option(data, anchors(el, data)));
    });
  });
})();
