# Sourced by the bench scripts (from the repository's root): `bench_topics PREFIX` exports
# a run-unique name for every topic of the stack, `OBS_TOPICS__<FIELD>__NAME=PREFIX-<field>`,
# so that no run reads what another run, or a stack on the same broker, left in a topic.
# The topics are read from `TopicsConfig` (crates/kafka/src/topics.rs), so a topic added
# there gets its own name here too without anyone remembering to add it.
bench_topics() {
  local prefix="$1" source=crates/kafka/src/topics.rs fields expected field
  fields=$(sed -n 's/^ *pub \([a-z_]*\): TopicSpec,$/\1/p' "$source")
  expected=$(sed -n 's/.*pub fn all(&self) -> \[&TopicSpec; \([0-9]*\)\].*/\1/p' "$source")
  if [[ -z "$fields" || "$(wc -w <<<"$fields")" != "$expected" ]]; then
    echo "bench: cannot read the topics of $source (found: ${fields//$'\n'/ }; TopicsConfig::all has ${expected:-?})" >&2
    return 1
  fi
  for field in $fields; do
    export "OBS_TOPICS__${field^^}__NAME=$prefix-${field//_/-}"
  done
  export OBS_TOPICS__REPLICATION_FACTOR=1
}
