// The admin analytics dashboard: draws charts and tables from the data URL, and redraws
// when the analytics socket reports a committed usage row, code run or rating.
(function () {
  "use strict";
  const root = document.getElementById("an-root");
  const period = root.dataset.period;
  const dataUrl = root.dataset.dataUrl + "?period=" + encodeURIComponent(period);
  const live = document.getElementById("an-live");
  const log = document.getElementById("an-log");
  const layoutBase = { margin: { t: 50, r: 50, b: 60, l: 60 }, height: 320, legend: { orientation: "h" } };
  const config = { responsive: true, displaylogo: false, displayModeBar: "hover" };
  let latest = null;

  function fmt(name, value) {
    if (value === null || value === undefined) return "–";
    if (name === "code_success_rate") return (value * 100).toFixed(1) + " %";
    if (name.indexOf("cost") !== -1) return "$" + Number(value).toFixed(4);
    if (name === "avg_rating") return Number(value).toFixed(2);
    return Number(value).toLocaleString();
  }

  function drawKpis(kpis) {
    document.querySelectorAll("[data-kpi]").forEach(function (el) {
      el.textContent = fmt(el.dataset.kpi, kpis[el.dataset.kpi]);
    });
  }

  function column(rows, key) { return rows.map(function (row) { return row[key]; }); }

  function plot(id, traces, title, extra) {
    Plotly.react(id, traces, Object.assign({}, layoutBase, { title: { text: title, x: 0.02, xanchor: "left" } }, extra || {}), config);
  }

  function drawCharts(tables) {
    const daily = tables.daily_usage;
    plot("chart-daily", [
      { type: "scatter", mode: "lines+markers", name: "tokens", x: column(daily, "date"), y: column(daily, "tokens") },
      { type: "bar", name: "cost (USD)", x: column(daily, "date"), y: column(daily, "cost"), yaxis: "y2", opacity: 0.5 },
    ], "Usage per day", { yaxis2: { overlaying: "y", side: "right", title: { text: "USD" } } });
    plot("chart-models", [
      { type: "bar", name: "tokens", x: column(tables.models, "model_name"), y: column(tables.models, "tokens") },
    ], "Tokens per model");
    plot("chart-tiers", [
      { type: "bar", name: "requests", x: column(tables.tiers, "name"), y: column(tables.tiers, "total_requests") },
      { type: "bar", name: "credits", x: column(tables.tiers, "name"), y: column(tables.tiers, "total_credit_cost") },
    ], "Credit tiers", { barmode: "group" });
    const activity = tables.user_activity;
    plot("chart-users", [
      { type: "scatter", mode: "lines", name: "active users", x: column(activity, "date"), y: column(activity, "activeUsers") },
      { type: "scatter", mode: "lines", name: "new users", x: column(activity, "date"), y: column(activity, "newUsers") },
      { type: "scatter", mode: "lines", name: "chats", x: column(activity, "date"), y: column(activity, "sessions") },
    ], "Active users");
    plot("chart-errors", [
      { type: "bar", name: "failed runs", x: column(tables.code_errors, "error_type"), y: column(tables.code_errors, "count") },
    ], "Code execution errors");
    plot("chart-ratings", [
      { type: "bar", name: "ratings", x: column(tables.feedback_ratings, "rating"), y: column(tables.feedback_ratings, "count") },
    ], "Feedback ratings", { xaxis: { dtick: 1 } });
  }

  function drawTables(tables) {
    document.querySelectorAll("table[data-table]").forEach(function (table) {
      const rows = tables[table.dataset.table];
      if (!rows) { table.closest("section").querySelector("thead").textContent = ""; return; }
      const head = table.querySelector("thead");
      const body = table.querySelector("tbody");
      head.textContent = "";
      body.textContent = "";
      const columns = rows.length ? Object.keys(rows[0]) : [];
      const tr = document.createElement("tr");
      columns.forEach(function (name) { const th = document.createElement("th"); th.textContent = name; tr.appendChild(th); });
      head.appendChild(tr);
      rows.forEach(function (row) {
        const line = document.createElement("tr");
        columns.forEach(function (name) { const td = document.createElement("td"); td.textContent = row[name]; line.appendChild(td); });
        body.appendChild(line);
      });
      if (!rows.length) { const td = document.createElement("td"); td.textContent = "No rows in this period."; body.appendChild(td); }
    });
  }

  function load() {
    return fetch(dataUrl, { credentials: "same-origin" })
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
      .then(function (data) {
        latest = data;
        drawKpis(data.kpis);
        drawCharts(data.tables);
        drawTables(data.tables);
        document.getElementById("an-updated").textContent = "updated " + new Date().toLocaleTimeString();
        root.dataset.loads = String(Number(root.dataset.loads || 0) + 1);
      })
      .catch(function (error) { document.getElementById("an-updated").textContent = "could not load data (" + error.message + ")"; });
  }

  let reloadTimer = null;
  function reloadSoon() {
    if (reloadTimer) return;
    reloadTimer = setTimeout(function () { reloadTimer = null; load(); }, 500);
  }

  function note(event) {
    const line = document.createElement("div");
    let text = new Date().toLocaleTimeString() + " " + event.type;
    if (event.type === "model_update") text += " " + event.model_name + " +" + event.metrics.tokens + " tokens";
    if (event.type === "code_execution_update") text += " " + (event.is_successful ? "ok" : "failed") + " " + (event.agent_name || "");
    if (event.type === "feedback_update") text += " rating " + event.rating;
    line.textContent = text;
    log.insertBefore(line, log.firstChild);
    while (log.childNodes.length > 50) log.removeChild(log.lastChild);
  }

  function onEvent(event) {
    note(event);
    root.dataset.events = String(Number(root.dataset.events || 0) + 1);
    if (event.type === "usage_update" && latest) {
      // Show the change at once; the reload then brings every chart in line.
      const kpis = latest.kpis;
      kpis.total_requests += event.metrics.requests_delta;
      kpis.total_tokens += event.metrics.tokens_delta;
      kpis.total_cost += event.metrics.cost_delta;
      drawKpis(kpis);
    }
    if (event.type !== "error") reloadSoon();
  }

  let retry = 1000;
  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + root.dataset.socketPath);
    socket.onopen = function () { live.textContent = "live"; live.className = "an-live on"; retry = 1000; };
    socket.onmessage = function (message) {
      try { onEvent(JSON.parse(message.data)); } catch (error) { /* not an event */ }
    };
    socket.onclose = function (close) {
      live.className = "an-live off";
      if (close.code === 4403) { live.textContent = "live updates refused (log in again)"; return; }
      live.textContent = "reconnecting…";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  load().then(connect);
})();
