// Browser code of the backtest report (a classic script, after uPlot and
// marketbus_charts.js): reads the data element and draws the charts into the
// containers the page names. Text comes from the page's escaped HTML; this
// script writes only canvases and sizes.
"use strict";
// A block: in strict code its functions and constants stay private to it.
{
  const { uPlot, marketbusCharts } = globalThis;
  const data = JSON.parse(
    document.getElementById("report-data").textContent,
  );
  const plots = [];

  const widthOf = (element) => {
    return Math.max(320, element.clientWidth);
  };

  const candleChart = (element, series) => {
    const fills = series.fills;
    const markers = fills.time.map((time, i) => ({
      time,
      price: fills.price[i],
      side: fills.side[i],
    }));
    return new uPlot(
      {
        width: widthOf(element),
        height: 340,
        tzDate: marketbusCharts.utcDate,
        scales: marketbusCharts.candleScales({ markers }),
        axes: [marketbusCharts.timeAxis(), marketbusCharts.valueAxis()],
        series: [{}, ...marketbusCharts.candleSeries()],
        plugins: [marketbusCharts.candlestickPlugin({ markers })],
      },
      [series.time, series.open, series.high, series.low, series.close],
      element,
    );
  };

  const lineChart = (element, label, values, style) => {
    return new uPlot(
      {
        width: widthOf(element),
        height: 220,
        tzDate: marketbusCharts.utcDate,
        scales: { x: { time: true } },
        axes: [marketbusCharts.timeAxis(), marketbusCharts.valueAxis()],
        series: [{}, marketbusCharts.lineSeries(label, style)],
      },
      [data.equity.time, values],
      element,
    );
  };

  // The charts, drawn into the containers the page names.
  const drawCharts = () => {
    for (const element of document.querySelectorAll("[data-candles]")) {
      const series = data.candles[Number(element.dataset.candles)];
      if (series && series.time.length > 0) {
        plots.push([element, candleChart(element, series)]);
      }
    }
    if (data.equity.time.length > 0) {
      const equity = document.getElementById("equity-chart");
      const drawdown = document.getElementById("drawdown-chart");
      plots.push([
        equity,
        lineChart(equity, "equity", data.equity.equity, { stroke: "#1565c0" }),
      ]);
      plots.push([
        drawdown,
        lineChart(drawdown, "drawdown", data.equity.drawdown.map((d) => -d), {
          stroke: "#c62828",
          fill: "rgba(198, 40, 40, 0.15)",
        }),
      ]);
    }
  };

  drawCharts();
  addEventListener("resize", () => {
    for (const [element, plot] of plots) {
      plot.setSize({ width: widthOf(element), height: plot.height });
    }
  });
  document.documentElement.dataset.charts = String(plots.length);
  // For tests (tests/backtest_report_browser_test.ts): the uPlot of each chart
  // container, to check where it drew against its scales.
  globalThis.marketbusReport = Object.freeze({
    plot: (element) => plots.find(([e]) => e === element)?.[1],
  });
}
