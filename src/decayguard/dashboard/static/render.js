/* Draws decayguard's charts (shared by the dashboard page and the HTML report).
   charts: [{id, title, caption, figure: {data, layout}}]; each goes into #chart-<id>.
   When every plot is drawn: body[data-rendered] = how many, and
   window.decayguardRenderedAt = performance.now(). */
function decayguardRender(charts) {
  "use strict";
  var config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  var drawn = charts.map(function (chart) {
    var el = document.getElementById("chart-" + chart.id);
    if (!el) { return Promise.resolve(null); }
    var layout = Object.assign({}, chart.figure.layout || {}, { autosize: true });
    return Plotly.newPlot(el, chart.figure.data || [], layout, config).then(function () {
      el.setAttribute("data-traces", String((chart.figure.data || []).length));
      return el;
    });
  });
  return Promise.all(drawn).then(function (els) {
    window.decayguardRenderedAt = performance.now();
    document.body.setAttribute("data-rendered", String(els.filter(Boolean).length));
    return els;
  });
}
