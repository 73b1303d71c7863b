// Pipeline: per service and loop, records in / out / dead-lettered, lag, time per record
// and the last error (GET /console/api/pipeline, from each service's /status and /metrics).
"use strict";

(() => {
  const main = document.getElementById("page");
  const services = el("div", { id: "services" });
  main.append(services);

  /** A short time: milliseconds below a second. */
  function seconds(s) {
    return s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(1)} s`;
  }

  function timing(t) {
    return t ? el("span", { title: `${t.measure}, over ${number(t.count)}` },
      `${seconds(t.average_seconds)} / ${seconds(t.p99_seconds)}`) : "—";
  }

  function lastError(e) {
    return e ? [e.message, el("br"), when(e.at)] : "—";
  }

  function service(s) {
    const head = el("header", {}, el("h2", {}, s.service), badge(s.reachable ? "reachable" : "unreachable"),
      s.url ? el("span", { class: "muted" }, ` ${s.url}`) : el("span", { class: "muted" }, " this process"));
    if (!s.reachable) {
      return el("section", { class: "service", "data-service": s.service, "data-reachable": "false" }, head,
        el("p", { class: "problem" }, `Unreachable: ${s.error}. Its figures are unknown until it answers.`));
    }
    return el("section", { class: "service", "data-service": s.service, "data-reachable": "true" }, head,
      table(["Loop", "Phase", "In", "Out", "Dead-lettered", "Rejected", "Lag", "Time per record: mean / p99", "Errors", "Last error"],
        s.loops.map((l) => [
          el("strong", {}, l.name), l.phase || "HTTP", number(l.records_in), number(l.records_out),
          l.dead_lettered === null ? "—" : number(l.dead_lettered),
          l.rejected === null ? "—" : number(l.rejected),
          l.lag === null ? "—" : number(l.lag),
          timing(l.timing), number(l.errors), lastError(l.last_error),
        ])));
  }

  async function load() {
    const answer = await getJson("/console/api/pipeline");
    if (!answer.ok) {
      fill(services, problem(answer));
      return "";
    }
    fill(services, answer.body.services.map(service),
      el("p", { class: "muted" }, "Time per record: for the stages, from ingestion (the record's ingested-at) to the commit of its outputs; for ingestion, one HTTP request until Kafka acknowledged it. Hover a figure for what it covers."));
    return answer.body.services.some((s) => !s.reachable) ? "a service is unreachable" : "";
  }

  live(load);
})();
