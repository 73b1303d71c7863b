// Incidents: the open, acknowledged or resolved ones with severity, scope and age
// (GET /incidents), worst first. Filters: status, severity, company, source, in the URL.
"use strict";

(() => {
  const main = document.getElementById("page");
  const select = (id, values) => el("select", { id, name: id },
    values.map(([value, label]) => el("option", { value }, label)));
  const status = select("status", [["open", "open"], ["acknowledged", "acknowledged"], ["resolved", "resolved"], ["", "all"]]);
  const severity = select("severity", [["", "any"], ["warning", "warning and above"], ["critical", "critical"]]);
  const company = el("input", { id: "company", name: "company", type: "search", placeholder: "any" });
  const source = el("input", { id: "source", name: "source", type: "search", placeholder: "any" });
  const filters = el("form", { class: "filters", role: "search" },
    field("Status", status), field("Severity", severity), field("Company", company), field("Source", source),
    el("button", { type: "submit" }, "Apply"));
  const count = el("p", { id: "incidents-count", class: "summary" });
  const list = el("div", { id: "incidents" });
  main.append(filters, count, list);

  const initial = query();
  // No status in the URL: the open ones, what an operator looks at first.
  const wanted = initial.has("status") ? initial.get("status") : "open";
  status.value = wanted === "all" ? "" : wanted;
  severity.value = initial.get("severity") || "";
  company.value = initial.get("company") || "";
  source.value = initial.get("source") || "";

  function apply(event) {
    if (event) event.preventDefault();
    setQuery({ status: status.value || "all", severity: severity.value, company: company.value.trim(), source: source.value.trim() });
    refresh();
  }
  filters.addEventListener("submit", apply);
  status.addEventListener("change", apply);
  severity.addEventListener("change", apply);

  function scope(incident) {
    const s = incident.scope;
    const where = `${s.company} / ${s.source}`;
    if (s.kind === "source") return `source-wide: ${where} (${incident.objects.length} objects)`;
    return `object ${s.object_id}${s.object_type ? ` (${s.object_type})` : ""} of ${where}`;
  }

  async function load() {
    const chosen = status.value;
    const extra = { limit: "500" };
    if (chosen) extra.status = chosen;
    const answer = await getJson(`/incidents${apiQuery(["severity", "company", "source"], extra)}`);
    if (!answer.ok) {
      fill(list, problem(answer));
      return "";
    }
    const { incidents, total_matched: total } = answer.body;
    fill(count, `${number(total)} ${chosen || ""} incident${total === 1 ? "" : "s"}${total > incidents.length ? `, the worst ${incidents.length} shown` : ""}.`);
    fill(list, incidents.length === 0 ? el("p", { class: "muted" }, "None.") : table(
      ["Severity", "Status", "Incident", "Scope", "Opened", "Latest alert", "Alerts"],
      incidents.map((i) => [
        badge(i.severity),
        badge(i.status),
        el("a", { href: `/console/incidents/${encodeURIComponent(i.id)}`, "data-incident": i.id }, i.title),
        scope(i),
        [ago(i.opened_at), el("br"), when(i.opened_at)],
        when(i.last_alert_at),
        number(i.alerts_total),
      ]),
      { class: "incidents" }));
    return partial(answer.body);
  }

  const refresh = live(load);
})();
