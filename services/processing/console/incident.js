// One incident (GET /incidents/{id}): its state, timeline, alerts with their explanation,
// runs and correlated log events; acknowledge and resolve, with a name and a note
// (POST /incidents/{id}/acknowledge|resolve), seen by every viewer at their next refresh.
"use strict";

(() => {
  const id = decodeURIComponent(location.pathname.split("/")[3] || "");
  const main = document.getElementById("page");
  const heading = main.querySelector("h1");
  const state = el("div", { id: "incident-state" });

  // The form is built once and never redrawn, so a refresh never loses what is typed.
  const by = el("input", { id: "by", name: "by", required: true, maxlength: "200", autocomplete: "name" });
  const note = el("input", { id: "note", name: "note", maxlength: "2000" });
  const acknowledge = el("button", { id: "acknowledge", type: "button" }, "Acknowledge");
  const resolve = el("button", { id: "resolve", type: "button" }, "Resolve");
  // Focusable, so that the keyboard's place is kept when the button just used turns disabled.
  const result = el("p", { id: "action-result", role: "status", "aria-live": "polite", tabindex: "-1" });
  const actions = el("form", { id: "actions", class: "filters", onsubmit: (e) => e.preventDefault() },
    field("Your name", by), field("Note", note), acknowledge, resolve);
  const evidence = el("div", { id: "evidence" });
  main.append(state, el("section", { "aria-labelledby": "act" }, el("h2", { id: "act" }, "Act on it"), actions, result), evidence);
  by.value = localStorage.getItem("console.by") || "";

  async function command(action) {
    if (!by.value.trim()) {
      by.focus();
      fill(result, "Say who you are first.");
      return;
    }
    localStorage.setItem("console.by", by.value.trim());
    const body = { by: by.value.trim() };
    if (note.value.trim()) body.note = note.value.trim();
    acknowledge.disabled = resolve.disabled = true;
    const answer = await postJson(`/incidents/${encodeURIComponent(id)}/${action}`, body);
    if (answer.status === 200) {
      fill(result, `${action === "acknowledge" ? "Acknowledged" : "Resolved"} by ${body.by}.`);
      note.value = "";
    } else if (answer.status === 202) {
      fill(result, "Accepted; the incident stage has not applied it yet.");
    } else {
      fill(result, problem(answer));
    }
    await refresh();
    if (document.activeElement === document.body || document.activeElement.disabled) result.focus();
  }
  acknowledge.addEventListener("click", () => command("acknowledge"));
  resolve.addEventListener("click", () => command("resolve"));

  function timelineEntry(entry) {
    const words = {
      opened: () => `opened by alert ${entry.alert_id} (${entry.severity})`,
      alert: () => `alert ${entry.alert_id} on object ${entry.object_id} (${entry.severity})`,
      escalated: () => `escalated from ${entry.from} to ${entry.to}`,
      acknowledged: () => `acknowledged by ${entry.by}${entry.note ? `: “${entry.note}”` : ""}`,
      resolved: () => `resolved (${entry.reason})${entry.by ? ` by ${entry.by}` : ""}`,
      reopened: () => `reopened by alert ${entry.alert_id}`,
      merged: () => `taken over by the source-wide incident ${entry.into}`,
      absorbed: () => `took over incident ${entry.incident_id}`,
    };
    const text = (words[entry.event] || (() => entry.event))();
    return el("li", {}, when(entry.at), " — ", text);
  }

  function stateOf(i) {
    const s = i.scope;
    const lines = [
      el("p", { class: "state-line" }, el("span", { id: "incident-status", "data-status": i.status }, badge(i.status)), " ", badge(i.severity),
        " ", s.kind === "source" ? `source-wide: ${s.company} / ${s.source}` : `object ${s.object_id} (${s.object_type || "?"}) of ${s.company} / ${s.source}`),
      el("p", {}, i.summary),
      el("p", { class: "muted" }, "Opened ", when(i.opened_at), ` (${ago(i.opened_at)}); latest alert `, when(i.last_alert_at),
        `; ${number(i.alerts_total)} alerts; objects ${i.objects.join(", ")}`, i.reopened ? `; reopened ${i.reopened}×` : ""),
    ];
    if (i.acknowledged) lines.push(el("p", {}, `Acknowledged by ${i.acknowledged.by}`, i.acknowledged.note ? ` — “${i.acknowledged.note}”` : "", ", ", when(i.acknowledged.at)));
    if (i.resolved) lines.push(el("p", {}, `Resolved (${i.resolved.reason})`, i.resolved.by ? ` by ${i.resolved.by}` : "", i.resolved.note ? ` — “${i.resolved.note}”` : "", ", ", when(i.resolved.at)));
    if (i.merged_into) lines.push(el("p", {}, "Taken over by ", el("a", { href: `/console/incidents/${encodeURIComponent(i.merged_into)}` }, i.merged_into)));
    return lines;
  }

  function alertsOf(alerts) {
    return table(["Raised", "Object", "Detector", "Severity", "What", "Why"], alerts.map((a) => [
      when(a.raised_at),
      `${a.object_id} ${a.object_type}`,
      a.detector,
      badge(a.severity),
      a.message,
      el("div", {}, a.why ? el("p", { class: "why" }, a.why) : "", el("ul", {}, a.reasons.map((r) => el("li", {}, r)))),
    ]), { id: "alerts" });
  }

  function runsOf(runs) {
    return table(["Started", "Object", "Status", "Duration", "Error", "Record"], runs.map((r) => [
      when(r.start_time),
      `${r.object_id} ${r.object_type}`,
      r.status === "FAILED" ? badge("failing") : badge("ok"),
      duration(r.duration_seconds),
      r.error_kind ? `${r.error_kind}: ${r.error_message || ""}` : (r.error_message || ""),
      el("a", { href: `/console/trace/${encodeURIComponent(r.record_id)}` }, r.record_id),
    ]), { id: "runs" });
  }

  function logsOf(events) {
    return table(["Time", "Severity", "Service", "Message"], events.map((e) => [
      when(e.timestamp), badge(e.severity), e.service, e.message,
    ]), { id: "log-events" });
  }

  async function load() {
    const answer = await getJson(`/incidents/${encodeURIComponent(id)}`);
    if (!answer.ok) {
      fill(state, problem(answer));
      acknowledge.disabled = resolve.disabled = true;
      return "";
    }
    const i = answer.body.incident;
    const e = i.evidence;
    document.title = `${i.title} · operator console`;
    heading.textContent = i.title;
    acknowledge.disabled = i.status !== "open";
    resolve.disabled = i.status === "resolved";
    fill(state, stateOf(i));
    fill(evidence,
      el("h2", {}, "Timeline"), el("ol", { id: "timeline", class: "timeline" }, i.timeline.map(timelineEntry)),
      el("h2", {}, `Alerts (${e.alerts.length} newest of ${number(i.alerts_total)})`), alertsOf(e.alerts),
      el("h2", {}, `Runs (${e.runs.length})`), runsOf(e.runs),
      el("h2", {}, `Application log events (${e.log_events.length})`),
      el("p", { class: "muted" }, "Of the same company, source or objects, from ", when(e.log_window.from), " to ", when(e.log_window.to), ". ",
        el("a", { href: `/console/logs?${new URLSearchParams({ from: e.log_window.from, to: e.log_window.to })}` }, "All log events of that window")),
      logsOf(e.log_events));
    return partial(answer.body);
  }

  const refresh = live(load);
})();
