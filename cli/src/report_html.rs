//! `--report FILE.html`: a self-contained page (inline CSS and JS, data as embedded JSON, no
//! network fetches) that draws the task stream per worker thread over time on a canvas and
//! the tracked memory over time as SVG.
//!
//! After drawing, the script sets `data-lanes` (worker lanes drawn) and `data-ok="1"` on the
//! element `#status`; a script error sets `data-error` instead (tests read these from the DOM
//! that headless Chromium dumps).

use chunkwise::RunReport;
use serde_json::json;

/// A picture of an array the command wrote: PNG bytes, or why there is none.
pub(crate) struct Picture {
    /// The array, as the command line names it.
    pub what: String,
    pub png: Result<Vec<u8>, String>,
}

/// The "Results" section: each picture as an inline `data:image/png;base64,` image (no
/// external file); empty without pictures.
fn pictures_html(pictures: &[Picture]) -> String {
    use base64::Engine;
    if pictures.is_empty() {
        return String::new();
    }
    let mut s = String::from("<h2>Results</h2>\n<div class=\"pictures\">\n");
    for p in pictures {
        let what = html_escape(&p.what);
        match &p.png {
            Ok(png) => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(png);
                let (w, h) = crate::plot::THUMBNAIL_SIZE;
                s.push_str(&format!(
                    "<figure><img src=\"data:image/png;base64,{b64}\" width=\"{w}\" \
                     height=\"{h}\" alt=\"map of {what}\"><figcaption><code>{what}</code>\
                     </figcaption></figure>\n"
                ));
            }
            Err(e) => s.push_str(&format!(
                "<figure><figcaption><code>{what}</code>: no picture ({})</figcaption>\
                 </figure>\n",
                html_escape(e)
            )),
        }
    }
    s.push_str("</div>\n");
    s
}

/// The report page for `report`, run by `command`, with `pictures` of what it wrote.
pub(crate) fn render(report: &RunReport, command: &str, pictures: &[Picture]) -> String {
    let mut labels: Vec<String> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let events: Vec<serde_json::Value> = report
        .events
        .iter()
        .map(|e| {
            let li = *index.entry(e.label.clone()).or_insert_with(|| {
                labels.push(e.label.clone());
                labels.len() - 1
            });
            json!([
                e.worker,
                e.start.as_secs_f64(),
                e.end.as_secs_f64(),
                e.tracked_after,
                li
            ])
        })
        .collect();
    let data = json!({
        "command": command,
        "tasks": report.tasks,
        "threads": report.threads,
        "memory_limit": report.memory_limit,
        "peak_tracked_bytes": report.peak_tracked_bytes,
        "persisted_bytes": report.persisted_bytes,
        "bytes_produced": report.bytes_produced,
        "wall_s": report.wall_time.as_secs_f64(),
        "labels": labels,
        "events": events,
    });
    // Inside <script>, `</` would end the element early.
    let data = data.to_string().replace("</", "<\\/");
    TEMPLATE
        .replace("{{TITLE}}", &html_escape(command))
        .replace("{{PICTURES}}", &pictures_html(pictures))
        .replace("{{DATA}}", &data)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const TEMPLATE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chunkwise run report</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fff; }
  h1 { font-size: 1.3em; margin-bottom: 0.2em; }
  h2 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
  code { background: #f3f3f3; padding: 0.1em 0.3em; border-radius: 3px; }
  .summary td { padding: 0.1em 1em 0.1em 0; }
  .legend span { display: inline-block; margin: 0 1em 0.3em 0; font-size: 0.9em; }
  .legend i { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em;
              vertical-align: -0.1em; border-radius: 2px; }
  #tip { position: fixed; pointer-events: none; background: #333; color: #fff; padding: 0.3em 0.5em;
         font-size: 0.85em; border-radius: 3px; display: none; }
  canvas, svg { border: 1px solid #ddd; }
  .pictures figure { display: inline-block; margin: 0 1em 0.5em 0; }
  .pictures figcaption { font-size: 0.85em; }
  table.ops { border-collapse: collapse; font-size: 0.9em; }
  table.ops td, table.ops th { border-bottom: 1px solid #eee; padding: 0.15em 0.8em; text-align: right; }
  table.ops td:first-child, table.ops th:first-child { text-align: left; }
</style>
</head>
<body>
<h1>chunkwise run report</h1>
<div><code>{{TITLE}}</code></div>
<div id="status" data-lanes="0"></div>
<table class="summary" id="summary"></table>
{{PICTURES}}<h2>Task stream (one lane per worker thread)</h2>
<div class="legend" id="legend"></div>
<canvas id="tasks" width="1100" height="200"></canvas>
<h2>Tracked memory over time</h2>
<svg id="memory" width="1100" height="220" xmlns="http://www.w3.org/2000/svg"></svg>
<h2>Tasks by operation</h2>
<table class="ops" id="ops"></table>
<div id="tip"></div>
<script type="application/json" id="run-data">{{DATA}}</script>
<script>
"use strict";
window.onerror = function (msg, src, line) {
  var s = document.getElementById("status");
  if (s) { s.setAttribute("data-" + "error", String(msg) + " (line " + line + ")"); }
  return false;
};
(function () {
  var data = JSON.parse(document.getElementById("run-data").textContent);
  var status = document.getElementById("status");
  function human(b) {
    if (b >= 1073741824) return (b / 1073741824).toFixed(2) + " GiB";
    if (b >= 1048576) return (b / 1048576).toFixed(1) + " MiB";
    if (b >= 1024) return (b / 1024).toFixed(1) + " KiB";
    return b + " B";
  }
  function color(i) {
    var hue = (i * 137.508) % 360;
    return "hsl(" + hue.toFixed(0) + ", 65%, 55%)";
  }
  var ev = data.events;
  var lanes = Math.max(1, data.threads);
  var tmax = data.wall_s;
  for (var i = 0; i < ev.length; i++) { tmax = Math.max(tmax, ev[i][2]); }
  if (!(tmax > 0)) tmax = 1e-6;

  // Summary.
  var rows = [
    ["tasks", data.tasks], ["worker threads", data.threads],
    ["wall time", data.wall_s.toFixed(3) + " s"],
    ["peak tracked memory", human(data.peak_tracked_bytes) + " of " + human(data.memory_limit) +
      " limit (" + (100 * data.peak_tracked_bytes / Math.max(1, data.memory_limit)).toFixed(0) + "%)"],
    ["persisted in memory (counted against the limit)", human(data.persisted_bytes)],
    ["bytes produced", human(data.bytes_produced)],
    ["task events recorded", ev.length]
  ];
  var summary = document.getElementById("summary");
  rows.forEach(function (r) {
    var tr = document.createElement("tr");
    var a = document.createElement("td"); a.textContent = r[0];
    var b = document.createElement("td"); b.textContent = String(r[1]);
    tr.appendChild(a); tr.appendChild(b); summary.appendChild(tr);
  });

  // Legend and per-operation table.
  var legend = document.getElementById("legend");
  var perOp = data.labels.map(function () { return { n: 0, t: 0 }; });
  ev.forEach(function (e) { perOp[e[4]].n += 1; perOp[e[4]].t += e[2] - e[1]; });
  data.labels.forEach(function (l, i) {
    var s = document.createElement("span");
    var sw = document.createElement("i"); sw.style.background = color(i);
    s.appendChild(sw); s.appendChild(document.createTextNode(l)); legend.appendChild(s);
  });
  var ops = document.getElementById("ops");
  var head = document.createElement("tr");
  ["operation", "tasks", "busy time (s)", "mean (ms)"].forEach(function (h) {
    var th = document.createElement("th"); th.textContent = h; head.appendChild(th);
  });
  ops.appendChild(head);
  data.labels.forEach(function (l, i) {
    var tr = document.createElement("tr");
    [l, perOp[i].n, perOp[i].t.toFixed(4), (1000 * perOp[i].t / Math.max(1, perOp[i].n)).toFixed(3)]
      .forEach(function (v) { var td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td); });
    ops.appendChild(tr);
  });

  // Task stream.
  var canvas = document.getElementById("tasks");
  var laneH = 28, top = 10, left = 90, right = 20, bottom = 30;
  canvas.height = top + lanes * laneH + bottom;
  var W = canvas.width - left - right;
  var ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = "12px sans-serif"; ctx.textBaseline = "middle";
  for (var w = 0; w < lanes; w++) {
    var y = top + w * laneH;
    ctx.fillStyle = w % 2 ? "#fafafa" : "#f0f0f0";
    ctx.fillRect(left, y, W, laneH);
    ctx.fillStyle = "#333"; ctx.fillText("worker " + w, 8, y + laneH / 2);
  }
  function xOf(t) { return left + W * t / tmax; }
  ev.forEach(function (e) {
    var x0 = xOf(e[1]), x1 = Math.max(xOf(e[2]), x0 + 1);
    ctx.fillStyle = color(e[4]);
    ctx.fillRect(x0, top + e[0] * laneH + 3, x1 - x0, laneH - 6);
  });
  ctx.fillStyle = "#333"; ctx.textBaseline = "top";
  for (var k = 0; k <= 5; k++) {
    var t = tmax * k / 5, x = xOf(t);
    ctx.fillRect(x, top + lanes * laneH, 1, 4);
    ctx.fillText(t.toFixed(3) + " s", Math.min(x - 10, canvas.width - 60), top + lanes * laneH + 8);
  }
  var tip = document.getElementById("tip");
  canvas.addEventListener("mousemove", function (m) {
    var r = canvas.getBoundingClientRect();
    var mx = m.clientX - r.left, my = m.clientY - r.top;
    var w = Math.floor((my - top) / laneH), t = (mx - left) / W * tmax, hit = null;
    for (var i = 0; i < ev.length; i++) {
      if (ev[i][0] === w && ev[i][1] <= t && t <= ev[i][2]) { hit = ev[i]; break; }
    }
    if (!hit) { tip.style.display = "none"; return; }
    tip.textContent = data.labels[hit[4]] + ": " + (1000 * (hit[2] - hit[1])).toFixed(3) +
      " ms, tracked after " + human(hit[3]);
    tip.style.left = (m.clientX + 12) + "px"; tip.style.top = (m.clientY + 12) + "px";
    tip.style.display = "block";
  });
  canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });

  // Memory over time: tracked bytes after each task, as steps.
  var svg = document.getElementById("memory");
  var NS = "http://www.w3.org/2000/svg";
  var SW = 1100, SH = 220, ml = 90, mr = 20, mt = 10, mb = 30;
  var ymax = Math.max(data.memory_limit, data.peak_tracked_bytes, 1);
  function sx(t) { return ml + (SW - ml - mr) * t / tmax; }
  function sy(b) { return mt + (SH - mt - mb) * (1 - b / ymax); }
  function el(name, attrs, text) {
    var n = document.createElementNS(NS, name);
    for (var a in attrs) { n.setAttribute(a, attrs[a]); }
    if (text !== undefined) n.textContent = text;
    svg.appendChild(n); return n;
  }
  el("rect", { x: ml, y: mt, width: SW - ml - mr, height: SH - mt - mb, fill: "#fafafa" });
  el("line", { x1: ml, x2: SW - mr, y1: sy(data.memory_limit), y2: sy(data.memory_limit),
               stroke: "#c33", "stroke-dasharray": "5,4" });
  el("text", { x: SW - mr - 4, y: sy(data.memory_limit) + 14, "text-anchor": "end",
               "font-size": "12", fill: "#c33" }, "limit " + human(data.memory_limit));
  el("line", { x1: ml, x2: SW - mr, y1: sy(data.peak_tracked_bytes), y2: sy(data.peak_tracked_bytes),
               stroke: "#888", "stroke-dasharray": "2,3" });
  el("text", { x: ml + 4, y: sy(data.peak_tracked_bytes) - 4, "font-size": "12", fill: "#555" },
     "peak " + human(data.peak_tracked_bytes));
  var sorted = ev.slice().sort(function (a, b) { return a[2] - b[2]; });
  var pts = [[sx(0), sy(0)]], prev = 0;
  sorted.forEach(function (e) {
    var x = sx(e[2]);
    pts.push([x, sy(prev)]); pts.push([x, sy(e[3])]); prev = e[3];
  });
  pts.push([sx(tmax), sy(prev)]);
  el("polyline", { points: pts.map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join(" "),
                   fill: "none", stroke: "#2a6ebb", "stroke-width": "1.5" });
  for (var q = 0; q <= 4; q++) {
    var b = ymax * q / 4;
    el("text", { x: ml - 6, y: sy(b) + 4, "text-anchor": "end", "font-size": "11" }, human(Math.round(b)));
  }
  for (var k2 = 0; k2 <= 5; k2++) {
    var t2 = tmax * k2 / 5;
    el("text", { x: sx(t2), y: SH - 10, "text-anchor": "middle", "font-size": "11" }, t2.toFixed(3) + " s");
  }
  if (ev.length === 0) {
    el("text", { x: SW / 2, y: SH / 2, "text-anchor": "middle", "font-size": "14", fill: "#777" },
       "no tasks ran");
  }

  status.setAttribute("data-lanes", String(lanes));
  status.setAttribute("data-ok", "1");
})();
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use chunkwise::exec::TaskEvent;
    use std::time::Duration;

    #[test]
    fn page_embeds_the_run() {
        let r = RunReport {
            tasks: 2,
            threads: 2,
            memory_limit: 1 << 20,
            peak_tracked_bytes: 1000,
            persisted_bytes: 4096,
            bytes_produced: 2000,
            wall_time: Duration::from_millis(5),
            events: vec![TaskEvent {
                label: "read </script>".into(),
                worker: 1,
                start: Duration::from_millis(1),
                end: Duration::from_millis(2),
                tracked_after: 500,
            }],
            engine: None,
        };
        let html = render(&r, "chunkwise stats <x>", &[]);
        assert!(html.contains("read <\\/script>"));
        assert!(html.contains("chunkwise stats &lt;x&gt;"));
        assert!(html.contains("\"persisted_bytes\":4096"));
        // Self-contained: no external scripts, styles or images.
        assert!(!html.contains("<script src") && !html.contains("<link") && !html.contains("<img"));
    }
}
