// RoamGuard analysts' console: a hash-routed page over the API it is served with.
//   #/queue?…            flagged verdicts, newest first, with filters and counts
//   #/case/{event_id}    one verdict: score, who decided, reasons in words, label buttons
//   #/subscriber/{imsi}  profile, usage by hour against the baseline, timeline of verdicts
//   #/overview           decisions per hour, score histogram, top reasons and rules
// Every element is built with textContent (no HTML from data); the only requests go to /v1/.
"use strict";

const FRAUD_TYPES = ["irsf", "simbox", "wangiri", "data_abuse", "impossible_travel", "device_swap", "other"];
const COLORS = { ALLOW: "#2f7d46", REVIEW: "#a86400", BLOCK: "#b3261e" };
const SVG = "http://www.w3.org/2000/svg";

// ---- small helpers ---------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ headers: { accept: "application/json" } }, options));
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `${response.status} ${response.statusText}`);
  return body;
}

function time(t) {
  return t ? t.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "—";
}

function decision(d) {
  return h("span", { class: `decision ${d}` }, d);
}

function round1(x) {
  return Math.round(x * 10) / 10;
}

function score(x) {
  return typeof x === "number" ? x.toFixed(3) : "—";
}

function view(title, ...content) {
  const main = document.getElementById("main");
  main.replaceChildren(h("h2", {}, title), ...content);
  document.title = `${title} — RoamGuard`;
}

function failed(error) {
  return h("p", { class: "error", role: "alert" }, `Could not load: ${error.message}`);
}

function caseLink(id, text) {
  return h("a", { href: `#/case/${encodeURIComponent(id)}` }, text || id);
}

function subscriberLink(imsi) {
  return h("a", { href: `#/subscriber/${encodeURIComponent(imsi)}` }, imsi);
}

function decidedBy(v) {
  return v.decided_by && v.decided_by !== "model" ? v.decided_by.replace(/^rule:/, "rule ") : "model";
}

function labelText(label) {
  if (!label) return "—";
  return label.fraud ? `fraud${label.fraud_type ? ` (${label.fraud_type})` : ""}` : "not fraud";
}

// ---- queue -----------------------------------------------------------------------------------

const FILTERS = ["decision", "since", "until", "rule", "model_version", "labelled"];

function toApiTime(local) {
  // <input type=datetime-local> gives "2026-06-01T12:00" in UTC as this console shows times.
  return local ? `${local}:00Z` : "";
}

function fromApiTime(t) {
  return t ? t.slice(0, 16) : "";
}

async function queue(params) {
  const form = h("form", { "aria-label": "Filter the queue" });
  const field = (name, label, control) => h("div", {}, h("label", { for: `f-${name}` }, label), control);
  const select = (name, options) =>
    h("select", { id: `f-${name}`, name }, options.map(([value, text]) =>
      h("option", { value, selected: (params.get(name) || "") === value }, text)));
  form.append(h("fieldset", {},
    h("legend", {}, "Filters"),
    field("decision", "Decision", select("decision", [["", "REVIEW and BLOCK"], ["REVIEW", "REVIEW"], ["BLOCK", "BLOCK"]])),
    field("since", "From (UTC)", h("input", { id: "f-since", name: "since", type: "datetime-local", value: fromApiTime(params.get("since")) })),
    field("until", "To (UTC)", h("input", { id: "f-until", name: "until", type: "datetime-local", value: fromApiTime(params.get("until")) })),
    field("rule", "Rule", h("input", { id: "f-rule", name: "rule", value: params.get("rule") || "", placeholder: "rule id" })),
    field("model_version", "Model version", h("input", { id: "f-model_version", name: "model_version", value: params.get("model_version") || "" })),
    field("labelled", "Labelled", select("labelled", [["", "all"], ["false", "not yet"], ["true", "labelled"]])),
    h("button", { type: "submit" }, "Apply")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const name of FILTERS) {
      let value = form.elements[name].value;
      if (name === "since" || name === "until") value = toApiTime(value);
      if (value) next.set(name, value);
    }
    location.hash = `#/queue?${next}`;
  });

  const counts = h("div", { class: "counts", "aria-label": "Flagged verdicts in the range" });
  const body = h("tbody");
  const table = h("table", { "aria-label": "Flagged verdicts, newest first" },
    h("thead", {}, h("tr", {}, ["Event time", "Decision", "Score", "Why", "Decided by", "Subscriber", "Label"].map((t) => h("th", { scope: "col" }, t)))),
    body);
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const status = h("p", { class: "status", role: "status" });
  view("Queue", counts, form, status, table, more);

  const apiParams = new URLSearchParams();
  for (const name of FILTERS) if (params.get(name)) apiParams.set(name, params.get(name));
  const range = new URLSearchParams();
  for (const name of ["since", "until"]) if (params.get(name)) range.set(name, params.get(name));
  api(`/v1/overview?${range}`).then((o) => {
    counts.replaceChildren(
      ...["REVIEW", "BLOCK"].map((d) => h("div", { class: "count" }, h("b", { class: `decision ${d}` }, o.by_decision[d] || 0), d)),
      h("div", { class: "count" }, h("b", {}, o.labelled), "labelled"),
      h("p", { class: "muted" }, `${time(o.since)} – ${time(o.until)}${o.truncated ? " (the newest 10,000)" : ""}`));
  }).catch((e) => counts.replaceChildren(failed(e)));

  let next = null;
  const load = async () => {
    const page = new URLSearchParams(apiParams);
    page.set("limit", "50");
    if (next) page.set("next", next);
    status.textContent = "Loading…";
    try {
      const answer = await api(`/v1/cases?${page}`);
      for (const c of answer.cases) {
        body.append(h("tr", {},
          h("td", {}, caseLink(c.event_id, time(c.event_time))),
          h("td", {}, decision(c.decision)),
          h("td", { class: "num" }, score(c.score)),
          h("td", {}, c.explanations[0] || ""),
          h("td", {}, decidedBy(c)),
          h("td", {}, subscriberLink(c.imsi)),
          h("td", {}, labelText(c.label))));
      }
      next = answer.next;
      more.hidden = !next;
      status.textContent = body.children.length ? `${body.children.length} verdicts shown` : "No flagged verdict matches.";
    } catch (e) {
      status.replaceChildren(failed(e));
    }
  };
  more.addEventListener("click", load);
  await load();
}

// ---- one case --------------------------------------------------------------------------------

async function showCase(id) {
  let c;
  try {
    c = await api(`/v1/cases/${encodeURIComponent(id)}`);
  } catch (e) {
    return view("Verdict", failed(e));
  }
  const facts = h("dl", {},
    h("dt", {}, "Decision"), h("dd", {}, decision(c.decision), c.enforced === false ? " (shadow: not enforced)" : ""),
    h("dt", {}, "Score"), h("dd", {}, score(c.score)),
    h("dt", {}, "Decided by"), h("dd", {}, decidedBy(c)),
    h("dt", {}, "Event time"), h("dd", {}, time(c.event_time)),
    h("dt", {}, "Subscriber"), h("dd", {}, subscriberLink(c.imsi)),
    h("dt", {}, "Model"), h("dd", {}, c.model_version, c.degraded ? " (fallback scorer)" : ""),
    c.challenger && [h("dt", {}, "Challenger"),
      h("dd", {}, `${c.challenger.model_version}: `, decision(c.challenger.decision), ` at ${score(c.challenger.score)}`)]);
  const reasons = h("ul", { class: "reasons" },
    c.explanations.map((text, i) => h("li", {}, text,
      h("span", { class: "muted" }, ` (${c.reasons[i].feature}, +${c.reasons[i].contribution.toFixed(2)})`))));
  const rules = c.rules.length
    ? h("ul", { class: "reasons" }, c.rules.map((r) => h("li", {}, h("b", {}, r.id), r.description ? `: ${r.description}` : "")))
    : h("p", { class: "muted" }, "No rule matched.");
  view(`Verdict ${c.event_id}`,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "facts" }, h("h3", { id: "facts" }, "Decision"), facts),
      h("section", { class: "card", "aria-labelledby": "why" }, h("h3", { id: "why" }, "Why"),
        c.explanations.length ? reasons : h("p", { class: "muted" }, "An ALLOW carries no reasons."),
        h("h3", {}, "Rules"), rules)),
    labelForm(c));
}

function labelForm(c) {
  const current = h("p", { id: "current-label" }, "Current label: ", labelText(c.label),
    c.label ? h("span", { class: "muted" }, ` by ${c.label.analyst || "unknown"} at ${time(c.label.labelled_at)}`) : "");
  const status = h("p", { class: "status", role: "status" });
  const type = h("select", { id: "fraud-type", name: "fraud_type" },
    h("option", { value: "" }, "(none)"), FRAUD_TYPES.map((t) => h("option", { value: t }, t)));
  const note = h("textarea", { id: "label-note", name: "note", rows: 2, cols: 40, maxlength: 1000 });
  const analyst = h("input", { id: "label-analyst", name: "analyst", maxlength: 100, value: localStorage.getItem("analyst") || "" });
  const post = async (fraud) => {
    const body = { fraud };
    if (fraud && type.value) body.fraud_type = type.value;
    if (note.value.trim()) body.note = note.value.trim();
    if (analyst.value.trim()) {
      body.analyst = analyst.value.trim();
      localStorage.setItem("analyst", body.analyst);
    }
    status.textContent = "Saving…";
    try {
      const stored = await api(`/v1/verdicts/${encodeURIComponent(c.event_id)}/label`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(body),
      });
      current.replaceChildren("Current label: ", labelText(stored), h("span", { class: "muted" }, ` by ${stored.analyst || "unknown"} at ${time(stored.labelled_at)}`));
      status.textContent = "Label saved.";
    } catch (e) {
      status.replaceChildren(failed(e));
    }
  };
  return h("section", { class: "card", "aria-labelledby": "label-title" },
    h("h3", { id: "label-title" }, "Your verdict"),
    current,
    h("fieldset", {},
      h("legend", {}, "Label this event"),
      h("div", {}, h("label", { for: "fraud-type" }, "Fraud type"), type),
      h("div", {}, h("label", { for: "label-note" }, "Note"), note),
      h("div", {}, h("label", { for: "label-analyst" }, "Analyst"), analyst),
      h("button", { type: "button", id: "label-fraud", onclick: () => post(true) }, "Fraud"),
      h("button", { type: "button", id: "label-legit", class: "secondary", onclick: () => post(false) }, "Not fraud")),
    status);
}

// ---- subscriber ------------------------------------------------------------------------------

async function subscriber(imsi) {
  let sub, timeline;
  try {
    [sub, timeline] = await Promise.all([
      api(`/v1/subscribers/${encodeURIComponent(imsi)}`),
      api(`/v1/subscribers/${encodeURIComponent(imsi)}/verdicts?limit=200`),
    ]);
  } catch (e) {
    return view(`Subscriber ${imsi}`, failed(e));
  }
  const p = sub.profile;
  const profile = p
    ? h("dl", {},
      h("dt", {}, "Home"), h("dd", {}, p.home_country),
      h("dt", {}, "Plan"), h("dd", {}, p.plan),
      h("dt", {}, "Tenure"), h("dd", {}, `${p.tenure_days} days`),
      h("dt", {}, "Usual countries"), h("dd", {}, (p.usual_countries || []).join(", ") || "—"),
      h("dt", {}, "Profile averages"), h("dd", {}, `${round1(p.avg_daily_voice_min)} voice min, ${round1(p.avg_daily_sms)} SMS, ${round1(p.avg_daily_data_mb)} MB a day`),
      h("dt", {}, "Known devices"), h("dd", {}, (p.known_imeis || []).length))
    : h("p", { class: "muted" }, "No profile: the model scores this subscriber without one.");
  const b = sub.baseline_per_day;
  const state = h("dl", {},
    h("dt", {}, "Last event"), h("dd", {}, time(sub.last_event_time)),
    h("dt", {}, "Own history"), h("dd", {}, `${sub.history_days} completed ${sub.history_days === 1 ? "day" : "days"}`),
    h("dt", {}, "Usual day"), h("dd", {}, b.voice_min === null ? "—" : `${b.voice_min} voice min, ${b.sms} SMS, ${b.data_mb} MB`),
    h("dt", {}, "Devices seen"), h("dd", {}, sub.devices_seen),
    h("dt", {}, "Countries visited"), h("dd", {}, sub.countries_visited.join(", ") || "—"));
  const rows = timeline.verdicts.map((v) => h("tr", {},
    h("td", {}, caseLink(v.event_id, time(v.event_time))),
    h("td", {}, decision(v.decision)),
    h("td", { class: "num" }, score(v.score)),
    h("td", {}, v.reasons.length ? v.reasons[0].feature : ""),
    h("td", {}, decidedBy(v)),
    h("td", {}, labelText(v.label))));
  view(`Subscriber ${imsi}`,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "profile" }, h("h3", { id: "profile" }, "Profile"), profile),
      h("section", { class: "card", "aria-labelledby": "live" }, h("h3", { id: "live" }, "Live state"), state)),
    h("section", { class: "card", "aria-labelledby": "usage" }, h("h3", { id: "usage" }, "Usage in the last 24 hours, by hour"),
      usageChart(sub.usage_by_hour, "voice_min", "voice minutes", b.voice_min),
      usageChart(sub.usage_by_hour, "data_mb", "data MB", b.data_mb)),
    h("section", { "aria-labelledby": "timeline" }, h("h3", { id: "timeline" }, `Timeline (${rows.length} verdicts, newest first)`),
      h("table", { id: "timeline-table" },
        h("thead", {}, h("tr", {}, ["Event time", "Decision", "Score", "Top reason", "Decided by", "Label"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows))));
}

/// Bars of one measure per hour, and a line at the usual day's share of an hour.
function usageChart(hours, key, what, perDay) {
  const width = 640, height = 150, pad = 28;
  const perHour = typeof perDay === "number" ? perDay / 24 : null;
  const max = Math.max(1e-9, perHour || 0, ...hours.map((u) => u[key]));
  const bar = (width - pad) / Math.max(24, hours.length);
  const y = (v) => height - pad - (v / max) * (height - 2 * pad);
  const label = `${what} per hour over ${hours.length} hours; usual hour ${perHour === null ? "unknown" : perHour.toFixed(1)}`;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": label, class: "usage-chart" },
    s("title", {}, label),
    hours.map((u, i) => s("rect", { x: pad + i * bar, y: y(u[key]), width: bar * 0.8, height: height - pad - y(u[key]), fill: "#1f5fa8" },
      s("title", {}, `${time(u.start)}: ${u[key]} ${what}`))),
    perHour === null ? [] : [s("line", { x1: pad, x2: width, y1: y(perHour), y2: y(perHour), stroke: "#b3261e", "stroke-dasharray": "4 3" }),
      s("text", { x: pad + 4, y: y(perHour) - 4 }, "usual hour")],
    s("text", { x: 0, y: 12 }, max.toFixed(1)), s("text", { x: 0, y: height - pad }, "0"));
  return h("figure", {}, svg, h("figcaption", { class: "muted" }, label));
}

// ---- overview --------------------------------------------------------------------------------

async function overview(params) {
  const range = new URLSearchParams();
  for (const name of ["since", "until"]) if (params.get(name)) range.set(name, params.get(name));
  let o;
  try {
    o = await api(`/v1/overview?${range}`);
  } catch (e) {
    return view("Overview", failed(e));
  }
  const hours = Object.entries(o.by_hour);
  const list = (counted, empty, link) => counted.length
    ? h("ol", {}, counted.map((c) => h("li", {}, link ? link(c.name) : c.name, ` — ${c.verdicts}`,
      c.description ? h("div", { class: "muted" }, c.description) : "")))
    : h("p", { class: "muted" }, empty);
  view("Overview",
    h("p", { class: "muted" }, `${o.verdicts} flagged verdicts, ${time(o.since)} – ${time(o.until)}${o.truncated ? " (the newest 10,000)" : ""}; ${o.decided_by_rule} decided by a rule, ${o.labelled} labelled.`),
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "per-hour" }, h("h3", { id: "per-hour" }, "Decisions per hour"), hourChart(hours),
        h("div", { class: "legend" }, ["REVIEW", "BLOCK"].map((d) => h("span", { class: d }, d)))),
      h("section", { class: "card", "aria-labelledby": "histogram" }, h("h3", { id: "histogram" }, "Score histogram"), histogram(o.score_histogram))),
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "top-reasons" }, h("h3", { id: "top-reasons" }, "Top first reasons"), list(o.top_reasons, "None.")),
      h("section", { class: "card", "aria-labelledby": "top-rules" }, h("h3", { id: "top-rules" }, "Top rules"),
        list(o.top_rules, "No rule matched.", (id) => h("a", { href: `#/queue?rule=${encodeURIComponent(id)}` }, id))),
      h("section", { class: "card", "aria-labelledby": "models" }, h("h3", { id: "models" }, "Model versions"), list(o.model_versions, "None."))),
    drift(o.drift));
}

function drift(d) {
  const title = h("h3", { id: "drift" }, "Drift against the training data");
  if (!d) {
    return h("section", { class: "card", "aria-labelledby": "drift" }, title,
      h("p", { class: "muted" }, "Not measured here: start serve with --history (the events behind the verdicts); in AWS, score-stream's MaxFeaturePsi metric."));
  }
  const band = (x) => h("span", { class: `band ${x.band}` }, `${x.psi.toFixed(3)} (${x.band})`);
  return h("section", { class: "card", "aria-labelledby": "drift" }, title,
    h("p", {}, `${d.events} events: ${d.major} features with a major shift (PSI > 0.25), ${d.moderate} moderate; score `,
      d.score ? band(d.score) : "—"),
    h("table", { id: "drift-table" },
      h("thead", {}, h("tr", {}, ["Feature", "PSI"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, d.features.map((f) => h("tr", {}, h("td", {}, f.name), h("td", { class: "num" }, band(f)))))));
}

function hourChart(hours) {
  const width = 520, height = 160, pad = 24;
  const max = Math.max(1, ...hours.map(([, d]) => (d.REVIEW || 0) + (d.BLOCK || 0)));
  const bar = (width - pad) / Math.max(1, hours.length);
  const label = `flagged verdicts per hour over ${hours.length} hours, at most ${max}`;
  return s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": label },
    s("title", {}, label),
    hours.map(([hour, d], i) => {
      const r = ((d.REVIEW || 0) / max) * (height - 2 * pad), b = ((d.BLOCK || 0) / max) * (height - 2 * pad);
      return s("g", {}, s("title", {}, `${time(hour)}: ${d.REVIEW || 0} REVIEW, ${d.BLOCK || 0} BLOCK`),
        s("rect", { x: pad + i * bar, y: height - pad - b, width: bar * 0.8, height: b, fill: COLORS.BLOCK }),
        s("rect", { x: pad + i * bar, y: height - pad - b - r, width: bar * 0.8, height: r, fill: COLORS.REVIEW }));
    }),
    s("text", { x: 0, y: 12 }, max), s("text", { x: 0, y: height - pad }, "0"));
}

function histogram(bins) {
  const width = 520, height = 160, pad = 24;
  const max = Math.max(1, ...bins);
  const bar = (width - pad) / bins.length;
  const label = `flagged verdicts by score decile: ${bins.join(", ")}`;
  return s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": label },
    s("title", {}, label),
    bins.map((n, i) => {
      const hgt = (n / max) * (height - 2 * pad);
      return s("g", {}, s("title", {}, `score ${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}: ${n}`),
        s("rect", { x: pad + i * bar, y: height - pad - hgt, width: bar * 0.85, height: hgt, fill: "#1f5fa8" }),
        s("text", { x: pad + i * bar, y: height - 6 }, (i / 10).toFixed(1)));
    }),
    s("text", { x: 0, y: 12 }, max));
}

// ---- routing ---------------------------------------------------------------------------------

function route() {
  const [path, query] = (location.hash.slice(1) || "/queue").split("?");
  const params = new URLSearchParams(query || "");
  const [, name, arg] = path.split("/");
  for (const a of document.querySelectorAll("header nav > a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const id = arg ? decodeURIComponent(arg) : "";
  const shown = name === "case" && id ? showCase(id)
    : name === "subscriber" && id ? subscriber(id)
    : name === "overview" ? overview(params)
    : queue(params);
  shown.then(() => document.getElementById("main").focus({ preventScroll: true }));
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("find-subscriber").addEventListener("submit", (e) => {
    e.preventDefault();
    const imsi = document.getElementById("find-imsi").value.trim();
    if (imsi) location.hash = `#/subscriber/${encodeURIComponent(imsi)}`;
  });
  window.addEventListener("hashchange", route);
  route();
});
