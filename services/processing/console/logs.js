// Logs: the application log events of the index, newest first (GET /logs), by service,
// lowest severity and free text; the filters (and a time window, from an incident) in the URL.
"use strict";

(() => {
  const main = document.getElementById("page");
  const service = el("input", { id: "service", name: "service", type: "search", placeholder: "any" });
  const severity = el("select", { id: "severity", name: "severity" },
    [["", "any"], ["info", "info and above"], ["warning", "warning and above"], ["error", "error and above"], ["critical", "critical"]]
      .map(([value, label]) => el("option", { value }, label)));
  const text = el("input", { id: "q", name: "q", type: "search", placeholder: "words of the message", size: "32" });
  const filters = el("form", { class: "filters", role: "search" },
    field("Service", service), field("Severity", severity), field("Text", text), el("button", { type: "submit" }, "Search"));
  const count = el("p", { id: "logs-count", class: "summary" });
  const events = el("div", { id: "logs" });
  main.append(filters, count, events);

  const initial = query();
  service.value = initial.get("service") || "";
  severity.value = initial.get("severity") || "";
  text.value = initial.get("q") || "";

  function apply(event) {
    if (event) event.preventDefault();
    const current = query();
    setQuery({
      service: service.value.trim(), severity: severity.value, q: text.value.trim(),
      from: current.get("from"), to: current.get("to"),
    });
    refresh();
  }
  filters.addEventListener("submit", apply);
  severity.addEventListener("change", apply);

  async function load() {
    const answer = await getJson(`/logs${apiQuery(["service", "severity", "q", "from", "to"], { limit: "200" })}`);
    if (!answer.ok) {
      fill(events, problem(answer));
      return "";
    }
    const { events: found, total_matched: total, index } = answer.body;
    const span = query().get("from") ? [" between ", when(query().get("from")), " and ", when(query().get("to"))] : "";
    fill(count, `${number(total)} events match`, span, `${total > found.length ? `, the newest ${found.length} shown` : ""}; the index holds ${number(index.held)} of at most ${number(index.capacity)}.`);
    fill(events, found.length === 0 ? el("p", { class: "muted" }, "None.") : table(
      ["Time", "Severity", "Service", "Company / source", "Message"],
      found.map((e) => [
        when(e.timestamp),
        [badge(e.severity), e.severity_source === "classified" ? el("span", { class: "muted", title: `classified from the text, confidence ${percent(e.severity_confidence)}` }, " (classified)") : ""],
        e.service,
        [e.company, e.source].filter(Boolean).join(" / ") || "—",
        e.message,
      ]),
      { class: "log-events" }));
    return partial(index);
  }

  const refresh = live(load);
})();
