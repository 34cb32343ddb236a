/// The console page served at `/` by ``Console``: one self-contained HTML document (styles and script inline; no
/// CDN, no build step). It polls `/console/api/overview` once a second and fetches records and failures on demand.
enum ConsolePage {
    /// The page.
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>ShardLog console</title>
        <style>
        :root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f7f8fa; --card:#fff; --accent:#2f6fec;
                --ok:#12805c; --warn:#b54708; --bad:#c0342b; }
        * { box-sizing: border-box; }
        body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
        header { display:flex; align-items:baseline; gap:16px; padding:12px 24px; background:#10182a; color:#fff; }
        header h1 { font-size:18px; margin:0; }
        header .meta { color:#b8c0d0; font-size:12px; }
        header .live { margin-left:auto; font-size:12px; color:#9fe0c0; }
        header .live.stale { color:#ffb4a8; }
        main { padding:16px 24px; display:grid; gap:16px; }
        section.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; }
        h2 { font-size:15px; margin:0 0 8px; }
        h3 { font-size:14px; margin:0; }
        table { border-collapse:collapse; width:100%; }
        th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
        th { font-weight:600; color:var(--muted); font-size:12px; }
        td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
        .muted { color:var(--muted); }
        .pill { display:inline-block; padding:0 8px; border-radius:10px; font-size:12px; background:#eef2ff; color:#3538cd; }
        .pill.ok { background:#e7f6ef; color:var(--ok); } .pill.bad { background:#fdecea; color:var(--bad); }
        .pill.warn { background:#fff4e5; color:var(--warn); }
        .stream { border-top:1px solid var(--line); padding:10px 0; }
        .stream:first-of-type { border-top:0; }
        .stream .head { display:flex; gap:12px; align-items:baseline; flex-wrap:wrap; }
        .ranges { width:100%; height:26px; display:block; margin:6px 0; }
        .ranges rect { stroke:#fff; stroke-width:0.5; }
        .lineage { font-family:ui-monospace,SFMono-Regular,Menlo,monospace; font-size:12px; }
        canvas.spark { width:120px; height:22px; display:block; }
        pre.data { margin:0; white-space:pre-wrap; word-break:break-all; font-size:12px; max-height:12em; overflow:auto;
                   background:#f4f5f7; padding:4px 6px; border-radius:4px; }
        form.browse { display:flex; gap:8px; flex-wrap:wrap; align-items:end; margin-bottom:8px; }
        form.browse label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); }
        input, select, button { font:inherit; padding:4px 6px; }
        button { background:var(--accent); color:#fff; border:0; border-radius:4px; padding:5px 12px; cursor:pointer; }
        .err { color:var(--bad); }
        details summary { cursor:pointer; color:var(--accent); }
        </style>
        </head>
        <body>
        <header>
          <h1>ShardLog</h1>
          <span class="meta" id="server-meta"></span>
          <select id="scope" title="account / region" hidden></select>
          <span class="live" id="live">connecting…</span>
        </header>
        <main>
          <section class="card">
            <h2>Streams <span class="muted" id="stream-count"></span></h2>
            <div id="streams"><p class="muted">No streams yet.</p></div>
          </section>
          <section class="card">
            <h2>Event source mappings <span class="muted" id="mapping-count"></span></h2>
            <div id="mappings"><p class="muted">No mappings.</p></div>
          </section>
          <section class="card">
            <h2>Latest failures</h2>
            <div id="failures"><p class="muted">No discarded batches.</p></div>
          </section>
          <section class="card">
            <h2>Record browser</h2>
            <form class="browse" id="browse">
              <label>Stream <select id="b-stream"></select></label>
              <label>Shard <select id="b-shard"></select></label>
              <label>Position <select id="b-type">
                <option value="TRIM_HORIZON">TRIM_HORIZON</option><option value="LATEST">LATEST</option>
                <option value="AT_SEQUENCE_NUMBER">AT_SEQUENCE_NUMBER</option>
                <option value="AFTER_SEQUENCE_NUMBER">AFTER_SEQUENCE_NUMBER</option></select></label>
              <label>Sequence number <input id="b-seq" size="30" placeholder="(for AT/AFTER)"></label>
              <label>Limit <input id="b-limit" type="number" value="25" min="1" max="1000" size="5"></label>
              <button type="submit">Read</button>
              <button type="button" id="b-next" disabled>Next page</button>
            </form>
            <div id="records"></div>
          </section>
        </main>
        <script>
        "use strict";
        // One request per second for everything on the page (/console/api/overview), whatever the number of shards;
        // rates are computed here from successive overviews. Records and failures are fetched on demand.
        const HISTORY = 60;               // samples kept per shard for sparklines and rates
        const history = new Map();        // "stream/shard" -> [{t, records, bytes}]
        let overview = null, nextPosition = null;

        const $ = (id) => document.getElementById(id);
        const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
        const fmt = (n) => n == null ? "–" : Number(n).toLocaleString("en-US");
        function bytes(n) {
          if (n == null) return "–";
          const u = ["B","KiB","MiB","GiB","TiB"]; let i = 0;
          while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
          return (i ? n.toFixed(1) : n) + " " + u[i];
        }
        function duration(ms) {
          if (ms == null) return "–";
          if (ms < 1000) return ms + " ms";
          let s = Math.floor(ms / 1000); const d = Math.floor(s / 86400); s %= 86400;
          const h = Math.floor(s / 3600); s %= 3600; const m = Math.floor(s / 60); s %= 60;
          return (d ? d + "d" : "") + (h ? h + "h" : "") + (m ? m + "m" : "") + s + "s";
        }
        function rate(key) {
          const h = history.get(key); if (!h || h.length < 2) return null;
          const a = h[Math.max(0, h.length - 6)], b = h[h.length - 1]; const dt = (b.t - a.t) / 1000;
          return dt > 0 ? Math.max(0, (b.records - a.records) / dt) : null;
        }
        function remember(key, t, records, b) {
          let h = history.get(key); if (!h) { h = []; history.set(key, h); }
          h.push({t, records, bytes: b}); if (h.length > HISTORY) h.shift();
        }
        function drawSpark(canvas, key) {
          const h = history.get(key) || []; const ctx = canvas.getContext("2d");
          const w = canvas.width = 120, ht = canvas.height = 22; ctx.clearRect(0, 0, w, ht);
          const rates = []; for (let i = 1; i < h.length; i++) {
            const dt = (h[i].t - h[i-1].t) / 1000; rates.push(dt > 0 ? Math.max(0, (h[i].records - h[i-1].records) / dt) : 0);
          }
          if (!rates.length) return; const max = Math.max(1, ...rates);
          ctx.strokeStyle = "#2f6fec"; ctx.lineWidth = 1.5; ctx.beginPath();
          rates.forEach((r, i) => { const x = (i / Math.max(1, HISTORY - 2)) * (w - 2) + 1, y = ht - 2 - (r / max) * (ht - 4);
            i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
          ctx.stroke();
        }
        // Hash ranges are decimal strings up to 2^128-1; a Number keeps enough precision for drawing.
        const HASH_MAX = 340282366920938463463374607431768211455;
        const palette = ["#5b8def","#36b37e","#f5a524","#e5484d","#8e6ae0","#14b8a6","#ec4899","#64748b"];
        function rangesSVG(shards) {
          const open = shards.filter((s) => s.open);
          const rects = open.map((s, i) => {
            const x = Number(s.startingHashKey) / HASH_MAX * 1000, w = Math.max(0.3, (Number(s.endingHashKey) - Number(s.startingHashKey)) / HASH_MAX * 1000);
            return `<rect x="${x.toFixed(3)}" y="0" width="${w.toFixed(3)}" height="26" fill="${palette[i % palette.length]}"><title>${esc(s.shardId)}: ${esc(s.startingHashKey)} … ${esc(s.endingHashKey)}</title></rect>`;
          }).join("");
          return `<svg class="ranges" viewBox="0 0 1000 26" preserveAspectRatio="none" aria-label="open shards' hash ranges">${rects}</svg>`;
        }

        function renderStreams(o) {
          $("stream-count").textContent = `(${o.streams.length})`;
          if (!o.streams.length) { $("streams").innerHTML = '<p class="muted">No streams yet.</p>'; return; }
          const openDetails = new Set([...document.querySelectorAll("#streams details[open]")].map((d) => d.dataset.stream));
          $("streams").innerHTML = o.streams.map((s) => {
            const open = s.shards.filter((x) => x.open).length;
            const total = s.shards.reduce((a, x) => a + (x.records || 0), 0);
            const totalBytes = s.shards.reduce((a, x) => a + (x.bytes || 0), 0);
            const r = s.shards.reduce((a, x) => a + (rate(s.name + "/" + x.shardId) || 0), 0);
            const rows = s.shards.slice(0, 200).map((x) => `<tr data-shard="${esc(x.shardId)}">
              <td class="lineage">${esc(x.shardId)}</td>
              <td class="lineage">${x.parentShardId ? esc(x.parentShardId) + (x.adjacentParentShardId ? " + " + esc(x.adjacentParentShardId) : "") + " →" : "<span class=muted>—</span>"}</td>
              <td>${x.open ? '<span class="pill ok">open</span>' : '<span class="pill">closed</span>'}</td>
              <td class="num shard-records">${fmt(x.records)}</td><td class="num">${bytes(x.bytes)}</td>
              <td class="num">${fmt(Math.round(rate(s.name + "/" + x.shardId) || 0))}/s</td>
              <td><canvas class="spark" data-key="${esc(s.name + "/" + x.shardId)}"></canvas></td></tr>`).join("");
            const more = s.shards.length > 200 ? `<p class="muted">First 200 of ${s.shards.length} shards shown; use the record browser or <code>shardlog status</code> for the rest.</p>` : "";
            const consumers = (s.consumers || []).map((c) => `<span class="pill">${esc(c.name)} · ${esc(c.status)}</span>`).join(" ");
            return `<div class="stream" data-stream="${esc(s.name)}">
              <div class="head"><h3 class="stream-name">${esc(s.name)}</h3>
                <span class="pill ${s.status === "ACTIVE" ? "ok" : "warn"}">${esc(s.status)}</span>
                <span class="muted">${esc(s.mode)} · ${open} open / ${s.shards.length} shards · retention ${fmt(s.retentionHours)} h</span>
                <span><b class="stream-records">${fmt(total)}</b> records · ${bytes(totalBytes)} · <b>${fmt(Math.round(r))}</b> rec/s</span>
                ${consumers ? `<span>consumers: ${consumers}</span>` : ""}</div>
              ${rangesSVG(s.shards)}
              <details data-stream="${esc(s.name)}" ${openDetails.has(s.name) ? "open" : ""}><summary>Shards and lineage</summary>
              <table><thead><tr><th>Shard</th><th>Parents</th><th>State</th><th class="num">Records</th><th class="num">Bytes</th><th class="num">Rate</th><th>Ingest</th></tr></thead>
              <tbody>${rows}</tbody></table>${more}</details></div>`;
          }).join("");
          document.querySelectorAll("#streams details[open] canvas.spark").forEach((c) => drawSpark(c, c.dataset.key));
        }

        function renderMappings(o) {
          $("mapping-count").textContent = `(${o.mappings.length})`;
          if (!o.mappings.length) { $("mappings").innerHTML = '<p class="muted">No mappings.</p>'; return; }
          $("mappings").innerHTML = o.mappings.map((m) => {
            const shards = (m.shards || []).slice().sort((a, b) => (b.recordsBehind || 0) - (a.recordsBehind || 0));
            const behind = shards.reduce((a, x) => a + (x.recordsBehind || 0), 0);
            const age = shards.reduce((a, x) => Math.max(a, x.iteratorAgeMilliseconds || 0), 0);
            const problem = (m.lastProcessingResult || "").startsWith("PROBLEM");
            const rows = shards.slice(0, 20).map((x) => `<tr><td class="lineage">${esc(x.shardId)}</td>
              <td class="num shard-behind">${fmt(x.recordsBehind)}</td><td class="num">${duration(x.iteratorAgeMilliseconds)}</td></tr>`).join("");
            const ir = rate("mapping/" + m.name);
            return `<div class="stream mapping" data-mapping="${esc(m.name)}">
              <div class="head"><h3>${esc(m.name)}</h3>
                <span class="pill ${m.state === "Enabled" ? "ok" : "warn"}">${esc(m.state)}</span>
                <span class="muted">${esc(m.stream)} → ${esc(m.function)}</span></div>
              <p>records behind <b class="mapping-behind">${fmt(behind)}</b> · iterator age <b class="mapping-age">${duration(age)}</b> ·
                invocations ${fmt(m.invocations)} (${ir == null ? "–" : ir.toFixed(1)}/s) · function errors ${fmt(m.functionErrors)} ·
                partial failures ${fmt(m.partialFailures)} · discarded ${fmt(m.discardedRecords)}</p>
              <p class="${problem ? "err" : "muted"}">LastProcessingResult: ${esc(m.lastProcessingResult || "–")}</p>
              ${rows ? `<table><thead><tr><th>Shard</th><th class="num">Records behind</th><th class="num">Iterator age</th></tr></thead><tbody>${rows}</tbody></table>` : ""}
            </div>`;
          }).join("");
        }

        // A record's data as the server decoded it: `dataEncoding` json (data is JSON text), utf8 (text) or base64.
        function decoded(r) {
          if (r.dataEncoding === "json") {
            let shown = r.data; try { shown = JSON.stringify(JSON.parse(r.data), null, 2); } catch (e) { /* shown as sent */ }
            return `<pre class="data" data-kind="json">${esc(shown)}</pre>`;
          }
          if (r.dataEncoding === "utf8") return `<pre class="data" data-kind="text">${esc(r.data)}</pre>`;
          return `<pre class="data" data-kind="base64">${esc(r.data)}</pre><span class="muted">binary, base64</span>`;
        }

        async function refreshFailures() {
          try {
            const r = await fetch("/console/api/failures?" + new URLSearchParams({limit: 10, scope: scope()})); if (!r.ok) return;
            const f = await r.json();
            if (!f.failures.length) { $("failures").innerHTML = '<p class="muted">No discarded batches.</p>'; return; }
            $("failures").innerHTML = f.failures.map((x) => `<div class="stream failure">
              <div class="head"><b>${esc(x.mapping)}</b><span class="pill bad">${esc(x.condition)}</span>
              <span class="muted">${esc(x.timestamp)} · ${esc(x.shardId)} · ${esc(x.startSequenceNumber)} … ${esc(x.endSequenceNumber)} · ${fmt(x.batchSize)} records</span></div>
              ${x.lastError ? `<p class="err">${esc(x.lastError.errorType)}: ${esc(x.lastError.errorMessage)}</p>` : ""}
              <table><thead><tr><th>Sequence number</th><th>Partition key</th><th>Data</th></tr></thead><tbody>
              ${(x.records || []).slice(0, 10).map((r) => `<tr class="failed-record"><td class="lineage">${esc(r.sequenceNumber)}</td><td>${esc(r.partitionKey)}</td><td>${decoded(r)}</td></tr>`).join("")}
              </tbody></table></div>`).join("");
          } catch (e) { /* the overview's status line reports connectivity */ }
        }

        function fillBrowser(o) {
          const sel = $("b-stream"), cur = sel.value;
          const names = o.streams.map((s) => s.name);
          if (sel.dataset.names !== names.join("\n")) {
            sel.innerHTML = names.map((n) => `<option>${esc(n)}</option>`).join(""); sel.dataset.names = names.join("\n");
            if (names.includes(cur)) sel.value = cur;
            fillShards();
          }
        }
        function fillShards() {
          const s = overview && overview.streams.find((x) => x.name === $("b-stream").value);
          const sel = $("b-shard"), cur = sel.value;
          sel.innerHTML = s ? s.shards.map((x) => `<option>${esc(x.shardId)}</option>`).join("") : "";
          if (cur) sel.value = cur;
        }
        async function browse(position) {
          const q = new URLSearchParams({stream: $("b-stream").value, shard: $("b-shard").value, limit: $("b-limit").value, scope: scope()});
          if (position) { q.set("type", "AFTER_SEQUENCE_NUMBER"); q.set("sequenceNumber", position); }
          else { q.set("type", $("b-type").value); if ($("b-seq").value) q.set("sequenceNumber", $("b-seq").value); }
          const r = await fetch("/console/api/records?" + q); const body = await r.json();
          if (!r.ok) { $("records").innerHTML = `<p class="err">${esc(body.message || r.statusText)}</p>`; return; }
          nextPosition = body.records.length ? body.records[body.records.length - 1].sequenceNumber : position;
          $("b-next").disabled = !body.records.length;
          $("records").innerHTML = body.records.length ? `<table><thead><tr><th>Sequence number</th><th>Partition key</th><th>Arrival</th><th>Data</th></tr></thead><tbody>
            ${body.records.map((x) => `<tr class="record"><td class="lineage">${esc(x.sequenceNumber)}</td><td>${esc(x.partitionKey)}</td><td class="muted">${esc(x.approximateArrivalTimestamp)}</td><td>${decoded(x)}</td></tr>`).join("")}
            </tbody></table>` : '<p class="muted">No records at this position.</p>';
        }
        $("b-stream").addEventListener("change", fillShards);
        $("browse").addEventListener("submit", (e) => { e.preventDefault(); browse(null); });
        $("b-next").addEventListener("click", () => browse(nextPosition));
        document.addEventListener("toggle", (e) => { if (e.target.open) e.target.querySelectorAll("canvas.spark").forEach((c) => drawSpark(c, c.dataset.key)); }, true);

        // The account and region shown: ACCOUNT/REGION of the overview's scopes (the selector shows when there are several).
        function scope() { return $("scope").value || ""; }
        function fillScopes(o) {
          const sel = $("scope");
          if (sel.dataset.scopes !== o.scopes.join("\n")) {
            sel.innerHTML = o.scopes.map((x) => `<option>${esc(x)}</option>`).join(""); sel.dataset.scopes = o.scopes.join("\n");
            sel.value = o.scope;
          }
          sel.hidden = o.scopes.length < 2;
        }
        $("scope").addEventListener("change", () => { history.clear(); $("b-stream").dataset.names = ""; $("records").innerHTML = ""; tick(); refreshFailures(); });

        async function tick() {
          try {
            const r = await fetch("/console/api/overview?" + new URLSearchParams({scope: scope()})); if (!r.ok) throw new Error(r.statusText);
            const o = await r.json(); overview = o; const t = Date.now();
            for (const s of o.streams) for (const x of s.shards) remember(s.name + "/" + x.shardId, t, x.records || 0, x.bytes || 0);
            for (const m of o.mappings) remember("mapping/" + m.name, t, m.invocations || 0, 0);
            $("server-meta").textContent = o.dataDirectory;
            fillScopes(o);
            $("live").textContent = "live · " + new Date(o.time).toLocaleTimeString(); $("live").classList.remove("stale");
            renderStreams(o); renderMappings(o); fillBrowser(o);
            document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
          } catch (e) { $("live").textContent = "disconnected: " + e.message; $("live").classList.add("stale"); }
        }
        tick(); refreshFailures();
        setInterval(tick, 1000); setInterval(refreshFailures, 5000);
        </script>
        </body>
        </html>
        """#
}
