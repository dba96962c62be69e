// The dashboard at `/`: one HTML page, one style sheet, one script, compiled into the binary (a
// copied `dojo` binary carries them; no CDN, works offline). The script reads the JSON API every
// two seconds and draws with the DOM and SVG; every value is set as text, never as HTML, so a job
// or worker name cannot inject markup. The API has no document text, so neither has the page.

/// The dashboard's static files.
public enum Dashboard {
    /// `GET /`.
    public static let html = """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Dojo</title>
    <link rel="stylesheet" href="/dashboard.css">
    </head>
    <body>
    <header>
      <h1>Dojo</h1>
      <span id="summary">loading…</span>
      <span id="updated"></span>
    </header>
    <main>
      <section>
        <h2>Throughput, last hour</h2>
        <svg id="chart" viewBox="0 0 960 220" preserveAspectRatio="none" role="img" aria-label="documents per second over the last hour">
          <g id="chart-grid"></g>
          <path id="chart-area" d=""></path>
          <path id="chart-line" d=""></path>
          <text id="chart-max" x="4" y="14"></text>
          <text id="chart-from" x="4" y="214">60 min ago</text>
          <text id="chart-to" x="956" y="214" text-anchor="end">now</text>
        </svg>
        <p class="legend"><span id="chart-now"></span></p>
      </section>
      <section>
        <h2>Jobs</h2>
        <table id="jobs">
          <thead><tr><th>Job</th><th>Name</th><th>Task</th><th>State</th><th>Progress</th><th>Docs/s</th><th>Tokens/s</th><th>ETA</th><th>Errors</th><th>Shards</th></tr></thead>
          <tbody></tbody>
        </table>
        <p id="no-jobs" class="empty" hidden>No jobs yet. Submit one with <code>dojo submit JOB.yaml --input DOCS.jsonl</code>.</p>
      </section>
      <section>
        <h2>Workers</h2>
        <table id="workers">
          <thead><tr><th>Worker</th><th>State</th><th>Current shard</th><th>Docs/s</th><th>Tokens/s</th><th>Last heartbeat</th><th>Shards done</th><th>Threads</th></tr></thead>
          <tbody></tbody>
        </table>
        <p id="no-workers" class="empty" hidden>No workers yet. Start one with <code>dojo worker --connect ENDPOINT</code>.</p>
      </section>
      <p id="error" class="error" hidden></p>
    </main>
    <script src="/dashboard.js"></script>
    </body>
    </html>

    """

    /// `GET /dashboard.css`.
    public static let css = """
    :root { --fg: #1d2330; --muted: #6b7385; --line: #e2e5eb; --accent: #2f6fdf; --bad: #c2372f; --ok: #1f8a4c; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #f6f7f9; }
    header { display: flex; align-items: baseline; gap: 1.5em; padding: 0.8em 1.5em; background: #fff; border-bottom: 1px solid var(--line); }
    header h1 { margin: 0; font-size: 20px; }
    #updated { margin-left: auto; color: var(--muted); }
    main { padding: 0 1.5em 2em; }
    section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin-top: 1.2em; padding: 0.8em 1em; }
    h2 { margin: 0 0 0.6em; font-size: 15px; }
    table { width: 100%; border-collapse: collapse; }
    th, td { text-align: left; padding: 0.35em 0.6em; border-bottom: 1px solid var(--line); white-space: nowrap; }
    th { color: var(--muted); font-weight: 600; }
    td.num { text-align: right; font-variant-numeric: tabular-nums; }
    progress { width: 160px; height: 12px; vertical-align: middle; margin-right: 0.5em; }
    .state-completed, .state-idle, .state-busy { color: var(--ok); }
    .state-running, .state-queued { color: var(--accent); }
    .state-failed, .state-gone, .errors { color: var(--bad); }
    .state-cancelled { color: var(--muted); }
    .empty { color: var(--muted); }
    .error { color: var(--bad); }
    svg#chart { width: 100%; height: 220px; display: block; background: #fbfcfd; border: 1px solid var(--line); }
    #chart-line { fill: none; stroke: var(--accent); stroke-width: 2; vector-effect: non-scaling-stroke; }
    #chart-area { fill: rgba(47, 111, 223, 0.12); stroke: none; }
    #chart-grid line { stroke: var(--line); stroke-width: 1; vector-effect: non-scaling-stroke; }
    svg text { font-size: 12px; fill: var(--muted); }
    .legend { color: var(--muted); margin: 0.4em 0 0; }

    """

    /// `GET /dashboard.js`.
    public static let javascript = #"""
    "use strict";
    const REFRESH_MS = 2000;
    const CHART_W = 960, CHART_H = 200;

    function el(tag, text, cls) {
      const e = document.createElement(tag);
      if (text !== undefined && text !== null) e.textContent = String(text);
      if (cls) e.className = cls;
      return e;
    }

    function rate(x) {
      if (x === null || x === undefined) return "–";
      if (x >= 100) return x.toFixed(0);
      if (x >= 10) return x.toFixed(1);
      return x.toFixed(2);
    }

    function duration(seconds) {
      if (seconds === null || seconds === undefined) return "–";
      const s = Math.round(seconds);
      if (s < 60) return s + "s";
      const m = Math.floor(s / 60), r = s % 60;
      if (m < 60) return m + "m " + String(r).padStart(2, "0") + "s";
      const h = Math.floor(m / 60);
      return h + "h " + String(m % 60).padStart(2, "0") + "m";
    }

    async function get(path) {
      const response = await fetch(path, { cache: "no-store" });
      if (!response.ok) throw new Error(path + ": HTTP " + response.status);
      return response.json();
    }

    function renderJobs(jobs) {
      const body = document.querySelector("#jobs tbody");
      body.replaceChildren();
      document.getElementById("no-jobs").hidden = jobs.length > 0;
      for (const job of jobs.slice().reverse()) {
        const tr = el("tr");
        tr.id = "job-" + job.id;
        tr.appendChild(el("td", job.id, "job-id"));
        tr.appendChild(el("td", job.name));
        tr.appendChild(el("td", job.task));
        tr.appendChild(el("td", job.state, "state-" + job.state));
        const cell = el("td");
        const bar = el("progress");
        bar.id = "progress-" + job.id;
        bar.max = Math.max(job.documents_total, 1);
        bar.value = job.documents_done;
        cell.appendChild(bar);
        const total = job.input_complete ? String(job.documents_total) : "?";
        cell.appendChild(el("span", job.documents_done + "/" + total + " docs", "progress-text"));
        tr.appendChild(cell);
        tr.appendChild(el("td", rate(job.documents_per_second), "num"));
        tr.appendChild(el("td", rate(job.tokens_per_second), "num"));
        tr.appendChild(el("td", job.state === "running" ? duration(job.eta_seconds) : "–", "num"));
        tr.appendChild(el("td", job.document_errors, job.document_errors > 0 ? "num errors" : "num"));
        tr.appendChild(el("td", job.shards_done + "/" + job.shards_total, "num"));
        if (job.error) tr.title = job.error;
        body.appendChild(tr);
      }
    }

    function renderWorkers(workers) {
      const body = document.querySelector("#workers tbody");
      body.replaceChildren();
      document.getElementById("no-workers").hidden = workers.length > 0;
      for (const w of workers) {
        const state = !w.connected ? "gone" : (w.current_shards.length > 0 ? "busy" : "idle");
        const tr = el("tr");
        tr.appendChild(el("td", w.name, "worker-name"));
        tr.appendChild(el("td", state, "state-" + state));
        tr.appendChild(el("td", w.current_shards.length ? w.current_shards.join(", ") : "–"));
        tr.appendChild(el("td", rate(w.documents_per_second), "num"));
        tr.appendChild(el("td", rate(w.tokens_per_second), "num"));
        const beat = w.heartbeat_age_ms === null || w.heartbeat_age_ms === undefined
          ? "left" : (w.heartbeat_age_ms / 1000).toFixed(1) + " s ago";
        tr.appendChild(el("td", beat, "num"));
        tr.appendChild(el("td", w.shards_done, "num"));
        tr.appendChild(el("td", w.threads, "num"));
        body.appendChild(tr);
      }
    }

    function renderChart(series) {
      const points = series.points;
      const n = points.length;
      const max = Math.max(1, ...points.map(p => p.documents_per_second));
      const x = i => (n <= 1 ? 0 : (i / (n - 1)) * CHART_W);
      const y = v => CHART_H - (v / max) * (CHART_H - 24);
      let line = "";
      points.forEach((p, i) => { line += (i === 0 ? "M" : " L") + x(i).toFixed(1) + "," + y(p.documents_per_second).toFixed(1); });
      document.getElementById("chart-line").setAttribute("d", line);
      document.getElementById("chart-area").setAttribute("d", n ? line + " L" + x(n - 1).toFixed(1) + "," + CHART_H + " L0," + CHART_H + " Z" : "");
      document.getElementById("chart-line").dataset.points = String(n);
      document.getElementById("chart-max").textContent = rate(max) + " docs/s";
      const grid = document.getElementById("chart-grid");
      grid.replaceChildren();
      for (const f of [0.25, 0.5, 0.75]) {
        const l = document.createElementNS("http://www.w3.org/2000/svg", "line");
        l.setAttribute("x1", "0"); l.setAttribute("x2", String(CHART_W));
        l.setAttribute("y1", String(y(max * f))); l.setAttribute("y2", String(y(max * f)));
        grid.appendChild(l);
      }
      const total = points.reduce((a, p) => a + p.documents, 0);
      const last = n ? points[n - 1] : null;
      document.getElementById("chart-now").textContent =
        total + " documents in the last " + Math.round((series.to_ms - series.from_ms) / 60000) + " min; now " +
        (last ? rate(last.documents_per_second) : "0") + " docs/s (" + series.bucket_seconds + " s buckets)";
    }

    async function refresh() {
      try {
        const [jobs, workers, series] = await Promise.all([get("/api/jobs"), get("/api/workers"), get("/api/throughput?minutes=60")]);
        renderJobs(jobs.jobs);
        renderWorkers(workers.workers);
        renderChart(series);
        const running = jobs.jobs.filter(j => j.state === "running").length;
        const connected = workers.workers.filter(w => w.connected).length;
        const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
        document.getElementById("summary").textContent =
          plural(jobs.jobs.length, "job") + " (" + running + " running), " + plural(connected, "worker") + " connected";
        document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
        document.getElementById("error").hidden = true;
      } catch (e) {
        const box = document.getElementById("error");
        box.textContent = "Cannot reach the coordinator: " + e.message;
        box.hidden = false;
      }
    }

    refresh();
    setInterval(refresh, REFRESH_MS);

    """#
}
