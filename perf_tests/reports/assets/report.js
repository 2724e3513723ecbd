/* perf-tests report charts: a small SVG renderer, no dependencies, no network.
 *
 * Chart specs come from the JSON in <script id="perf-data">; every element with a data-chart
 * attribute is a chart container. Three kinds:
 *   line    {x: [seconds], bucket: seconds, unit, series: [{name, values, dash}], markers: [{value, label}]}
 *   bar     {categories: [...], unit, series: [{name, values}]}
 *   scatter {unit, xunit, series: [{name, points: [[x, y], ...]}]}
 * When every chart is drawn, <body data-charts-rendered="N"> tells tests (and people) it is done.
 */
(function () {
  "use strict";

  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563",
                 "#65a30d", "#9333ea"];
  var HEIGHT = 240;
  var MARGIN = {left: 62, right: 14, top: 12, bottom: 30};
  var hidden = {};

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function text(parent, x, y, value, attrs) {
    var node = el("text", Object.assign({x: x, y: y}, attrs || {}), parent);
    node.textContent = value;
    return node;
  }

  function trim(value, digits) {
    return Number(value.toFixed(digits)).toString();
  }

  function fmtMs(v) {
    var a = Math.abs(v);
    if (a >= 3600000) { return trim(v / 3600000, 2) + "h"; }
    if (a >= 60000) { return trim(v / 60000, 2) + "m"; }
    if (a >= 1000) { return trim(v / 1000, a >= 10000 ? 1 : 2) + "s"; }
    if (a >= 100) { return trim(v, 0) + "ms"; }
    if (a >= 1) { return trim(v, 1) + "ms"; }
    return trim(v, 3) + "ms";
  }

  function fmt(v, unit) {
    if (v === null || v === undefined || isNaN(v)) { return "-"; }
    if (unit === "ms") { return fmtMs(v); }
    if (unit === "/s") { return (Math.abs(v) >= 100 ? trim(v, 0) : trim(v, 2)) + "/s"; }
    if (unit === "%") { return trim(v * 100, 2) + "%"; }
    if (Math.abs(v) >= 1000) { return trim(v, 0); }
    return trim(v, 2);
  }

  function fmtTime(seconds) {
    var s = Math.round(seconds);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var r = s % 60;
    if (h) { return h + "h" + (m < 10 ? "0" : "") + m + "m"; }
    if (m) { return m + "m" + (r < 10 ? "0" : "") + r + "s"; }
    return r + "s";
  }

  function niceStep(span, count) {
    var raw = span / Math.max(1, count);
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * power >= raw) { return steps[i] * power; }
    }
    return 10 * power;
  }

  function ticks(min, max, count) {
    if (!(max > min)) { max = min + 1; }
    var step = niceStep(max - min, count);
    var out = [];
    var last = Math.ceil(max / step - 1e-9) * step;  // the top tick covers the largest value
    for (var v = Math.floor(min / step + 1e-9) * step; v <= last + step * 1e-9; v += step) { out.push(v); }
    return out;
  }

  function timeTicks(min, max, count) {
    var steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400];
    var step = steps[steps.length - 1];
    for (var i = 0; i < steps.length; i++) {
      if ((max - min) / steps[i] <= count) { step = steps[i]; break; }
    }
    var out = [];
    for (var v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step) { out.push(v); }
    return out;
  }

  function frame(container, spec) {
    var width = Math.max(280, container.clientWidth || 600);
    var svg = el("svg", {
      "class": "chart-svg", width: width, height: HEIGHT, viewBox: "0 0 " + width + " " + HEIGHT,
      role: "img", "aria-label": spec.title || "chart"
    });
    container.appendChild(svg);
    return {svg: svg, width: width, plotW: width - MARGIN.left - MARGIN.right,
            plotH: HEIGHT - MARGIN.top - MARGIN.bottom};
  }

  function yAxis(f, yMin, yMax, unit) {
    var values = ticks(yMin, yMax, 5);
    var bottom = values[0];
    var top = values[values.length - 1];
    var scale = function (v) { return MARGIN.top + f.plotH - (v - bottom) / (top - bottom) * f.plotH; };
    values.forEach(function (v) {
      var y = scale(v);
      el("line", {x1: MARGIN.left, x2: MARGIN.left + f.plotW, y1: y, y2: y, "class": "grid"}, f.svg);
      text(f.svg, MARGIN.left - 6, y + 4, fmt(v, unit), {"class": "tick", "text-anchor": "end"});
    });
    return scale;
  }

  function legend(container, series, onToggle) {
    var box = document.createElement("div");
    box.className = "legend";
    series.forEach(function (s, i) {
      var item = document.createElement("button");
      item.type = "button";
      item.className = "legend-item" + (s.off ? " off" : "");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = s.color || PALETTE[i % PALETTE.length];
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(s.name));
      if (onToggle) { item.addEventListener("click", function () { onToggle(s.name); }); }
      box.appendChild(item);
    });
    container.appendChild(box);
  }

  function empty(container, message) {
    var note = document.createElement("p");
    note.className = "empty";
    note.textContent = message;
    container.appendChild(note);
  }

  function renderLine(container, spec, id) {
    var off = hidden[id] || {};
    var series = spec.series.map(function (s, i) {
      return {name: s.name, values: s.values, dash: s.dash, color: s.color || PALETTE[i % PALETTE.length],
              off: !!off[s.name]};
    });
    var x = spec.x;
    var bucket = spec.bucket || 1;
    if (!x.length) { empty(container, "no data"); return; }
    var yMax = 0;
    series.forEach(function (s) {
      if (s.off) { return; }
      s.values.forEach(function (v) { if (v !== null && v > yMax) { yMax = v; } });
    });
    // A limit far above the data would flatten it: such limits are named, not drawn.
    var dataMax = yMax > 0 ? yMax : 1;
    var markers = [];
    var above = [];
    (spec.markers || []).forEach(function (m) {
      if (m.value <= dataMax * 2.5) {
        markers.push(m);
        if (m.value > yMax) { yMax = m.value; }
      } else {
        above.push(m.label);
      }
    });
    if (yMax <= 0) { yMax = 1; }
    var f = frame(container, spec);
    var xMin = x[0];
    var xMax = x[x.length - 1] + bucket;
    var sx = function (v) { return MARGIN.left + (v - xMin) / (xMax - xMin) * f.plotW; };
    var sy = yAxis(f, 0, yMax * 1.05, spec.unit);
    timeTicks(xMin, xMax, Math.max(2, Math.floor(f.plotW / 80))).forEach(function (v) {
      var px = sx(v);
      el("line", {x1: px, x2: px, y1: MARGIN.top + f.plotH, y2: MARGIN.top + f.plotH + 4, "class": "axis"}, f.svg);
      text(f.svg, px, HEIGHT - 10, fmtTime(v), {"class": "tick", "text-anchor": "middle"});
    });
    el("line", {x1: MARGIN.left, x2: MARGIN.left + f.plotW, y1: MARGIN.top + f.plotH, y2: MARGIN.top + f.plotH,
                "class": "axis"}, f.svg);
    if (above.length) {
      text(f.svg, MARGIN.left + f.plotW - 4, MARGIN.top + 10, "\u2191 " + above.join(", ") + " (far above)",
           {"class": "marker-label", "text-anchor": "end"});
    }
    markers.forEach(function (m) {
      var y = sy(m.value);
      el("line", {x1: MARGIN.left, x2: MARGIN.left + f.plotW, y1: y, y2: y, "class": "marker"}, f.svg);
      text(f.svg, MARGIN.left + f.plotW - 4, y - 4, m.label, {"class": "marker-label", "text-anchor": "end"});
    });
    series.slice().reverse().forEach(function (s) {
      if (s.off) { return; }
      var d = "";
      var open = false;
      var points = 0;
      s.values.forEach(function (v, i) {
        if (v === null || v === undefined) { open = false; return; }
        var px = sx(x[i] + bucket / 2);
        var py = sy(v);
        d += (open ? "L" : "M") + px.toFixed(1) + "," + py.toFixed(1);
        open = true;
        points += 1;
      });
      if (d) {
        el("path", {d: d, fill: "none", stroke: s.color, "stroke-width": 1.8, "class": "series",
                    "stroke-dasharray": s.dash ? "5,3" : "none", "data-series": s.name}, f.svg);
      }
      s.values.forEach(function (v, i) {
        var before = i > 0 ? s.values[i - 1] : null;
        var after = i + 1 < s.values.length ? s.values[i + 1] : null;
        var isolated = (before === null || before === undefined) && (after === null || after === undefined);
        if (v !== null && v !== undefined && (isolated || points <= 40)) {
          el("circle", {cx: sx(x[i] + bucket / 2), cy: sy(v), r: 2.5, fill: s.color, "class": "point"}, f.svg);
        }
      });
    });
    hover(container, f, series, x, bucket, sx, spec.unit);
    legend(container, series, function (name) {
      var state = hidden[id] || (hidden[id] = {});
      state[name] = !state[name];
      draw(container, spec, id);
    });
  }

  function hover(container, f, series, x, bucket, sx, unit) {
    var tip = document.createElement("div");
    tip.className = "tooltip";
    container.appendChild(tip);
    var guide = el("line", {y1: MARGIN.top, y2: MARGIN.top + f.plotH, "class": "guide", visibility: "hidden"}, f.svg);
    var overlay = el("rect", {x: MARGIN.left, y: MARGIN.top, width: f.plotW, height: f.plotH, fill: "transparent"},
                     f.svg);
    overlay.addEventListener("mousemove", function (event) {
      var box = f.svg.getBoundingClientRect();
      var px = event.clientX - box.left;
      var best = 0;
      var bestDistance = Infinity;
      x.forEach(function (v, i) {
        var distance = Math.abs(sx(v + bucket / 2) - px);
        if (distance < bestDistance) { bestDistance = distance; best = i; }
      });
      var gx = sx(x[best] + bucket / 2);
      guide.setAttribute("x1", gx);
      guide.setAttribute("x2", gx);
      guide.setAttribute("visibility", "visible");
      var lines = ["<strong>" + fmtTime(x[best]) + " \u2013 " + fmtTime(x[best] + bucket) + "</strong>"];
      series.forEach(function (s) {
        if (!s.off) {
          lines.push("<span class=\"swatch\" style=\"background:" + s.color + "\"></span>" + escapeHtml(s.name) +
                     ": " + fmt(s.values[best], unit));
        }
      });
      tip.innerHTML = lines.join("<br>");
      tip.style.display = "block";
      var left = gx + 12;
      if (left + tip.offsetWidth > f.width) { left = gx - tip.offsetWidth - 12; }
      tip.style.left = Math.max(0, left) + "px";
      tip.style.top = MARGIN.top + "px";
    });
    overlay.addEventListener("mouseleave", function () {
      tip.style.display = "none";
      guide.setAttribute("visibility", "hidden");
    });
  }

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
    });
  }

  function renderBar(container, spec) {
    var series = spec.series.map(function (s, i) {
      return {name: s.name, values: s.values, color: s.color || PALETTE[i % PALETTE.length]};
    });
    var cats = spec.categories;
    if (!cats.length) { empty(container, "no data"); return; }
    var yMax = 0;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null && v > yMax) { yMax = v; } }); });
    if (yMax <= 0) { yMax = 1; }
    var f = frame(container, spec);
    var sy = yAxis(f, 0, yMax * 1.1, spec.unit);
    var group = f.plotW / cats.length;
    var barW = Math.max(2, Math.min(48, (group * 0.8) / series.length));
    cats.forEach(function (cat, ci) {
      var start = MARGIN.left + ci * group + (group - barW * series.length) / 2;
      series.forEach(function (s, si) {
        var v = s.values[ci];
        if (v === null || v === undefined) { return; }
        var y = sy(v);
        var rect = el("rect", {x: start + si * barW, y: y, width: Math.max(1, barW - 2),
                               height: Math.max(0, MARGIN.top + f.plotH - y), fill: s.color, "class": "bar"}, f.svg);
        var title = el("title", {}, rect);
        title.textContent = cat + " " + s.name + ": " + fmt(v, spec.unit);
        if (series.length === 1) {
          text(f.svg, start + si * barW + barW / 2 - 1, y - 4, fmt(v, spec.unit),
               {"class": "bar-label", "text-anchor": "middle"});
        }
      });
      var label = cat.length > 18 ? cat.slice(0, 17) + "\u2026" : cat;
      text(f.svg, MARGIN.left + ci * group + group / 2, HEIGHT - 10, label, {"class": "tick", "text-anchor": "middle"});
    });
    el("line", {x1: MARGIN.left, x2: MARGIN.left + f.plotW, y1: MARGIN.top + f.plotH, y2: MARGIN.top + f.plotH,
                "class": "axis"}, f.svg);
    if (series.length > 1) { legend(container, series, null); }
  }

  function renderScatter(container, spec) {
    var series = spec.series.map(function (s, i) {
      return {name: s.name, points: s.points, color: s.color || PALETTE[i % PALETTE.length]};
    });
    var all = [];
    series.forEach(function (s) { all = all.concat(s.points); });
    if (!all.length) { empty(container, "no data"); return; }
    var xMin = Infinity, xMax = -Infinity, yMax = 0;
    all.forEach(function (p) {
      if (p[0] < xMin) { xMin = p[0]; }
      if (p[0] > xMax) { xMax = p[0]; }
      if (p[1] > yMax) { yMax = p[1]; }
    });
    if (xMax <= xMin) { xMax = xMin + 1; }
    if (yMax <= 0) { yMax = 1; }
    var f = frame(container, spec);
    var xt = ticks(xMin, xMax, Math.max(2, Math.floor(f.plotW / 90)));
    var x0 = Math.min(xMin, xt[0]);
    var x1 = Math.max(xMax, xt[xt.length - 1]);
    var sx = function (v) { return MARGIN.left + (v - x0) / (x1 - x0) * f.plotW; };
    var sy = yAxis(f, 0, yMax * 1.05, spec.unit);
    xt.forEach(function (v) {
      text(f.svg, sx(v), HEIGHT - 10, fmt(v, spec.xunit), {"class": "tick", "text-anchor": "middle"});
    });
    el("line", {x1: MARGIN.left, x2: MARGIN.left + f.plotW, y1: MARGIN.top + f.plotH, y2: MARGIN.top + f.plotH,
                "class": "axis"}, f.svg);
    series.forEach(function (s) {
      s.points.forEach(function (p) {
        var dot = el("circle", {cx: sx(p[0]), cy: sy(p[1]), r: 2.5, fill: s.color, "class": "point dot"}, f.svg);
        var title = el("title", {}, dot);
        title.textContent = s.name + ": " + fmt(p[1], spec.unit) + " at " + fmt(p[0], spec.xunit) + " " +
                            (spec.xlabel || "");
      });
    });
    legend(container, series, null);
  }

  function draw(container, spec, id) {
    container.textContent = "";
    if (spec.type === "line") { renderLine(container, spec, id); }
    else if (spec.type === "bar") { renderBar(container, spec); }
    else if (spec.type === "scatter") { renderScatter(container, spec); }
    else { empty(container, "unknown chart type " + spec.type); }
  }

  function renderAll() {
    var source = document.getElementById("perf-data");
    var data = source ? JSON.parse(source.textContent) : {charts: {}};
    var drawn = 0;
    document.querySelectorAll("[data-chart]").forEach(function (container) {
      var id = container.getAttribute("data-chart");
      var spec = data.charts[id];
      if (!spec) { return; }
      draw(container, spec, id);
      drawn += 1;
    });
    document.body.setAttribute("data-charts-rendered", String(drawn));
  }

  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { window.clearTimeout(pending); }
    pending = window.setTimeout(renderAll, 150);
  });
  renderAll();
})();
