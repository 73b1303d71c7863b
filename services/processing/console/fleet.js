// Fleet: one tile per source of a company and, within it, per object, worst first
// (GET /console/api/fleet). Filters: company and source, kept in the URL.
"use strict";

(() => {
  const main = document.getElementById("page");
  const company = el("select", { id: "company", name: "company" });
  const source = el("select", { id: "source", name: "source" });
  const filters = el("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
    field("Company", company), field("Source", source));
  const summary = el("p", { id: "fleet-summary", class: "summary" });
  const tiles = el("div", { id: "fleet", class: "tiles" });
  main.append(filters, summary, tiles);

  /** The select's options: "all" and `values`, the URL's choice kept even before it is known. */
  function options(select, values, chosen) {
    const wanted = ["", ...new Set([...values, ...(chosen ? [chosen] : [])])];
    const shown = [...select.options].map((o) => o.value);
    if (wanted.join("\n") !== shown.join("\n")) {
      fill(select, wanted.map((v) => el("option", { value: v }, v || "all")));
    }
    select.value = chosen || "";
  }

  const HEALTH_ORDER = ["failing", "silent", "anomalous", "ok"];

  filters.addEventListener("change", () => {
    setQuery({ company: company.value, source: source.value });
    refresh();
  });

  /** Time since the last run against the usual interval: what makes a silent one stand out. */
  function freshness(item) {
    const since = item.since_last_run_seconds;
    const usual = item.usual_interval_seconds;
    const lastRan = since > 0 ? `last ran ${duration(since)} before the newest run` : "has the newest run";
    return usual ? `${lastRan}; usually every ${duration(usual)}` : `${lastRan}; no usual interval yet`;
  }

  function objectTile(o) {
    const last = o.last_status === "FAILED"
      ? `last run FAILED${o.last_error_kind ? ` (${o.last_error_kind.replace(/_/g, " ")})` : ""}`
      : "last run succeeded";
    return el("li", { class: `object health-${o.health}`, "data-object": o.object_id },
      el("div", { class: "object-head" }, badge(o.health), " ",
        el("strong", {}, String(o.object_id)), " ", el("span", { class: "muted" }, o.object_type)),
      el("div", {}, last, " · ", when(o.last_run_at)),
      el("div", {}, freshness(o)),
      el("div", {}, `failure rate ${percent(o.failure_rate)} (${number(o.failed_count)} of ${number(o.total_runs)} runs)`),
      o.open_incidents ? el("div", {}, badge("open"), ` ${o.open_incidents} active incident${o.open_incidents > 1 ? "s" : ""}`) : null);
  }

  function sourceTile(t) {
    const counts = Object.entries(t.objects_by_health)
      .sort((a, b) => HEALTH_ORDER.indexOf(a[0]) - HEALTH_ORDER.indexOf(b[0]))
      .map(([health, n]) => `${n} ${health.replace(/_/g, " ")}`).join(" · ");
    const incidentsLink = `/console/incidents?${new URLSearchParams({ company: t.company, source: t.source })}`;
    return el("section", { class: `tile health-${t.health}`, "data-company": t.company, "data-source": t.source },
      el("header", {}, el("h2", {}, `${t.company} / ${t.source}`), badge(t.health)),
      el("p", {}, `${number(t.objects_total)} objects: ${counts}`),
      el("p", {}, freshness(t), " · ", `failure rate ${percent(t.failure_rate)} (${number(t.failed_count)} of ${number(t.total_runs)} runs)`),
      t.incidents.length
        ? el("ul", { class: "incident-refs" }, t.incidents.map((i) => el("li", {},
          badge(i.severity), " ", badge(i.status), " ", el("a", { href: `/console/incidents/${encodeURIComponent(i.id)}` }, i.title))))
        : el("p", { class: "muted" }, "no active incident"),
      el("p", {}, el("a", { href: incidentsLink }, "all incidents of this source")),
      el("ol", { class: "objects", "aria-label": `objects of ${t.source}, worst first` }, t.objects.map(objectTile)),
      t.objects_not_shown ? el("p", { class: "muted" }, `${t.objects_not_shown} more objects, better off, not shown`) : null);
  }

  async function load() {
    const answer = await getJson(`/console/api/fleet${apiQuery(["company", "source"])}`);
    if (!answer.ok) {
      fill(tiles, problem(answer));
      return "";
    }
    const fleet = answer.body;
    const chosen = query();
    options(company, fleet.companies, chosen.get("company"));
    options(source, fleet.sources, chosen.get("source"));
    const objects = fleet.tiles.reduce((n, t) => n + t.objects_total, 0);
    fill(summary, `${number(fleet.tiles.length + fleet.tiles_not_shown)} sources${fleet.tiles_not_shown ? ` (the worst ${fleet.tiles.length} shown)` : ""}, ${number(objects)} objects in those shown, worst first. Freshness is measured from the newest run, `,
      fleet.newest_run_at ? [when(fleet.newest_run_at), ` (${ago(fleet.newest_run_at)} by this browser's clock).`] : "— no run yet.");
    fill(tiles, fleet.tiles.length ? fleet.tiles.map(sourceTile) : el("p", { class: "muted" }, "No source matches."),
      fleet.tiles_not_shown ? el("p", { class: "muted", id: "tiles-not-shown" },
        `${number(fleet.tiles_not_shown)} more sources, better off, not shown: choose a company or a source.`) : null);
    return partial(fleet);
  }

  const refresh = live(load);
})();
