// Record trace: where one run has been (GET /trace/{record_id}): accepted by ingestion,
// standardized or dead-lettered (why), processed (scores, rule hits, alerts), with the
// time between stages. The record id is in the URL: /console/trace/{record_id}.
"use strict";

(() => {
  const id = decodeURIComponent(location.pathname.split("/")[3] || "");
  const main = document.getElementById("page");
  const input = el("input", { id: "record-id", name: "record_id", type: "search", required: true, size: "48",
    placeholder: "akonovia:2025-09-05-16-45:1995", value: id });
  const form = el("form", { id: "trace-form", class: "filters", role: "search" },
    field("Record id", input), el("button", { type: "submit" }, "Trace"));
  const result = el("div", { id: "trace-result" });
  main.append(form, result);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.value.trim()) location.assign(`/console/trace/${encodeURIComponent(input.value.trim())}`);
  });

  /** The details a stage carries beyond where and when. */
  function details(stage) {
    const skip = new Set(["stage", "at", "topic", "partition", "offset"]);
    const items = Object.entries(stage).filter(([key, value]) => !skip.has(key) && value !== null);
    return el("dl", { class: "details" }, items.map(([key, value]) => [
      el("dt", {}, key.replace(/_/g, " ")),
      el("dd", {}, typeof value === "object" ? el("pre", {}, JSON.stringify(value, null, 1)) : String(value)),
    ]));
  }

  function render(trace) {
    let previous = null;
    const rows = trace.stages.map((stage) => {
      const at = Date.parse(stage.at);
      const since = previous === null ? "—" : `+${duration((at - previous) / 1000)}`;
      previous = at;
      return [
        badge(stage.stage),
        when(stage.at),
        since,
        stage.topic ? `${stage.topic} [${stage.partition}] @ ${stage.offset}` : "—",
        details(stage),
      ];
    });
    return [
      el("p", { class: "summary" }, `Record ${trace.record_id}: `,
        trace.complete ? "its journey is complete." : "not through the pipeline yet (or its later stages are beyond the indexes)."),
      table(["Stage", "At", "Since the previous", "Where", "Details"], rows, { id: "stages" }),
    ];
  }

  async function load() {
    if (!id) {
      fill(result, el("p", { class: "muted" }, "Enter the id of a record (a run's record_id, as the incidents and logs show it)."));
      return "";
    }
    const answer = await getJson(`/trace/${encodeURIComponent(id)}`);
    if (answer.status === 404) {
      fill(result, el("p", { class: "problem", role: "alert" },
        `No trace of record ${id}: the trace indexes do not hold it (unknown, or too old for them). `,
        answer.body && answer.body.error ? `(${answer.body.error.code}: ${answer.body.error.message})` : ""));
      return "";
    }
    if (!answer.ok) {
      fill(result, problem(answer));
      return "";
    }
    fill(result, render(answer.body));
    return partial(answer.body);
  }

  live(load);
})();
