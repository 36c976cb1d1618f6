// Interactive charts (uPlot, vendored beside this file): each <div class="chart"
// data-chart="ID"> draws the JSON of <script type="application/json" id="ID"> (the CSP
// allows no inline script). The server formats every word and amount for the reader's
// locale; the tooltip shows those texts, the numbers only place the points.
(function () {
  "use strict";
  var HEIGHT = 260;

  function axisNumber(lang, percent) {
    var format = new Intl.NumberFormat(lang, {notation: "compact", maximumFractionDigits: 1});
    return function (u, splits) {
      return splits.map(function (v) { return v == null ? "" : format.format(v) + (percent ? "%" : ""); });
    };
  }

  function seriesOptions(s) {
    var o = {label: s.label, stroke: s.color, width: 2, spanGaps: true, points: {show: true, size: 6}};
    if (s.type === "bars") {
      o.fill = s.color + "66";
      o.paths = uPlot.paths.bars({size: [0.6, 48]});
      o.points = {show: false};
    } else if (s.type === "step") {
      o.paths = uPlot.paths.stepped({align: 1});
    } else if (s.type === "dash") {
      o.dash = [6, 4];
      o.points = {show: false};
    }
    return o;
  }

  function tooltip(spec, tip) {
    return function (u) {
      var i = u.cursor.idx;
      if (i == null) { tip.hidden = true; return; }
      var rows = [spec.xtexts[i]];
      spec.series.forEach(function (s) {
        if (s.texts[i] != null) { rows.push(s.label + ": " + s.texts[i]); }
      });
      tip.textContent = "";
      rows.forEach(function (text, n) {
        var line = document.createElement(n ? "div" : "strong");
        line.textContent = text;
        tip.appendChild(line);
      });
      tip.hidden = false;
      var width = u.over.clientWidth, left = u.cursor.left + 12;
      if (left + tip.offsetWidth > width) { left = Math.max(0, u.cursor.left - tip.offsetWidth - 12); }
      tip.style.left = left + "px";
      tip.style.top = Math.max(0, u.cursor.top - tip.offsetHeight - 8) + "px";
    };
  }

  function draw(box) {
    var source = document.getElementById(box.getAttribute("data-chart"));
    if (!source || typeof uPlot === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    var lang = document.documentElement.lang || "en";
    var tip = document.createElement("div");
    tip.className = "chart-tip";
    tip.hidden = true;
    var x = {time: spec.time};
    var xAxis = {};
    if (spec.time) {
      var day = new Intl.DateTimeFormat(lang, {month: "short", day: "numeric", timeZone: "UTC"});
      xAxis.values = function (u, splits) {
        return splits.map(function (t) { return day.format(new Date(t * 1000)); });
      };
    } else {
      // Categories (months, periods): one tick per point, bars centred on it.
      x.range = function () { return [-0.5, spec.x.length - 0.5]; };
      xAxis.splits = function () { return spec.x; };
      xAxis.values = function (u, splits) {
        return splits.map(function (i) { return spec.ticks[i] || ""; });
      };
    }
    var opts = {
      width: Math.max(200, box.clientWidth), height: HEIGHT,
      series: [{}].concat(spec.series.map(seriesOptions)),
      scales: {x: x},
      axes: [xAxis, {values: axisNumber(lang, spec.percent), size: 56}],
      legend: {live: false},
      cursor: {drag: {x: false, y: false}, points: {size: 8}},
      hooks: {setCursor: [tooltip(spec, tip)]}
    };
    var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    box.textContent = "";  // the static image is the fallback without scripts
    var chart = new uPlot(opts, data, box);
    chart.over.appendChild(tip);
    box.classList.add("drawn");
    // The chart follows its box's width (a phone turned, a window resized); until it has,
    // the box scrolls it rather than letting it run out of its card.
    var fit = function () {
      var width = Math.max(200, box.clientWidth);
      if (width !== chart.width) { chart.setSize({width: width, height: HEIGHT}); }
    };
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(fit).observe(box);
    } else {
      window.addEventListener("resize", fit);
    }
  }

  function drawAll() {
    Array.prototype.forEach.call(document.querySelectorAll(".chart[data-chart]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
}());
