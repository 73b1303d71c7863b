# The stack's commands. `make help` lists them.
SHELL := bash
.DEFAULT_GOAL := help
CARGO ?= cargo
INGESTION_URL ?= http://127.0.0.1:8001
STANDARDIZATION_URL ?= http://127.0.0.1:8002
PROCESSING_URL ?= http://127.0.0.1:8003
# `make chaos`: records, their pace, the schedule's seed (empty: random, printed), the
# SIGKILLs of each stage, the binaries' profile.
CHAOS_RECORDS ?= 1000000
CHAOS_RATE ?= 5000
CHAOS_SEED ?=
CHAOS_KILLS_PER_STAGE ?= 3
CHAOS_PROFILE ?= release
# The API keys of .env (`make env` writes them): `Authorization` headers for curl.
env_token = $(shell [[ -f .env ]] && sed -n 's/^OBS_$(1)_TOKEN=//p' .env | tail -n 1)
INGEST_KEY = -H 'authorization: Bearer $(call env_token,INGEST)'
READ_KEY = -H 'authorization: Bearer $(call env_token,READ)'

.PHONY: help
help: ## List the commands (coloured on a terminal only)
	@if [[ -t 1 ]]; then on=$$'\033[36m' off=$$'\033[0m'; else on= off=; fi; \
	awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*## "} \
	  /^[a-zA-Z0-9_-]+:.*## / {printf "  %s%-20s%s %s\n", on, $$1, off, $$2}' $(MAKEFILE_LIST)

## --- the two commands of a fresh machine ------------------------------------

.PHONY: demo
demo: env ## Run the stack on the sample data, print what it reports and the console's URL (KEEP=1 keeps it running; embedded DEV-ONLY broker unless KAFKA_BOOTSTRAP_SERVERS is set; keys from .env)
	$(CARGO) build --locked --bins
	scripts/demo.sh

.PHONY: test
test: kafka-up ## Run every test (starts a real Kafka broker with kafka-up; installs Chromium for the console's browser test), then the API fuzzing (Schemathesis), the ops test (real Prometheus and Alertmanager), the Kubernetes manifests' offline check and a 50,000-record chaos run on a broker of its own
	scripts/install-browser.sh >/dev/null
	$(CARGO) test --workspace --locked
	scripts/fuzz-api.sh
	scripts/ops-test.sh
	scripts/k8s-check.sh
	CHAOS_RECORDS=50000 CHAOS_RATE=500 CHAOS_PROFILE=debug scripts/chaos.sh

## --- development -------------------------------------------------------------

.PHONY: fuzz-api
fuzz-api: kafka-up ## Fuzz each service's API from its /openapi.json with Schemathesis (installed pinned under target/): no 5xx, every answer as documented (FUZZ_MAX_EXAMPLES per operation, default 50)
	scripts/fuzz-api.sh

.PHONY: k8s-check
k8s-check: ## Check the Kubernetes manifests offline: render every overlay (kustomize), decode every object strictly (k8s.io/api), validate the Strimzi, KEDA and Prometheus Operator resources against their CRDs, rules and dashboards equal to their files (tools pinned, under target/k8s-tools)
	scripts/k8s-check.sh

.PHONY: k8s-generate
k8s-generate: ## Rewrite the Kubernetes PrometheusRules and dashboard ConfigMaps (deploy/kubernetes/base/monitoring/generated) from prometheus/rules and grafana/dashboards
	scripts/k8s-check.sh generate

.PHONY: check
check: ## Formatting and lints (cargo fmt --check, clippy -D warnings)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

.PHONY: build
build: ## Build the release binaries
	$(CARGO) build --release --locked --bins

.PHONY: kafka-up
kafka-up: ## Start a real single-node Kafka (KRaft) on 127.0.0.1:9092, no Docker (no-op if one answers)
	scripts/kafka.sh up

.PHONY: kafka-down
kafka-down: ## Stop the broker started by kafka-up and delete its data
	scripts/kafka.sh down

.PHONY: kafka-topics
kafka-topics: ## Describe the topics of the broker on 127.0.0.1:9092
	scripts/kafka.sh topics --describe

.PHONY: sample-data
sample-data: ## Regenerate sample-data/logs.json and labels.json (deterministic)
	$(CARGO) run --locked --release -p obs-samplegen --bin sample-gen

.PHONY: bench
bench: bench-ingest bench-log bench-standardize bench-e2e ## Run the benchmarks (figures go in the README)

.PHONY: bench-ingest
bench-ingest: kafka-up ## Ingestion throughput into the real broker (NDJSON batches of 1,000)
	$(CARGO) build --release --locked --bin ingestion --bin ingest-bench
	scripts/bench-ingest.sh

.PHONY: bench-log
bench-log: kafka-up ## Ingestion's POST /log into the real broker: application log events in NDJSON batches of 1,000
	$(CARGO) build --release --locked --bin ingestion --bin ingest-bench
	scripts/bench-ingest.sh log

.PHONY: bench-standardize
bench-standardize: kafka-up ## Standardization: criterion for the pure function, then raw-logs → standardized-logs on the real broker
	$(CARGO) bench --locked -p obs-records --bench standardize -- --warm-up-time 1 --measurement-time 5
	$(CARGO) build --release --locked --bin standardization --bin stage-bench
	scripts/bench-stage.sh

.PHONY: bench-e2e
bench-e2e: kafka-up ## End to end on the real broker, after a warm-up: latency at 5,000 records/s, throughput and RSS over 1,000,000 records, with BENCH_LOG_EVENTS_PER_RUN (1) application log events per run
	$(CARGO) build --release --locked --bin ingestion --bin standardization --bin processing --bin ingest-bench --bin stage-bench
	scripts/bench-e2e.sh

.PHONY: bench-compare
bench-compare: kafka-up ## bench-e2e's throughput against BASELINE=<commit> in one sitting: BENCH_PAIRS (6) pairs of runs in alternating order, each pair's ratio, their median and mean
	scripts/bench-compare.sh

.PHONY: bench-console
bench-console: kafka-up ## The console's API (p50/p99/max of fleet, incidents, trace) with 10,000 series and 1,000,000 runs processed, its pages' load time (headless Chromium), processing's RSS and index memory
	scripts/install-browser.sh >/dev/null
	$(CARGO) build --release --locked --bin processing --bin console-bench
	scripts/bench-console.sh

.PHONY: chaos
chaos: ## CHAOS_RECORDS (1,000,000) records through standardization and processing on a broker of its own (free loopback ports) while each stage is SIGKILLed at seeded random moments and the broker restarted (SIGTERM, then SIGKILL); fails on a lost or duplicated record, an analytics total that differs, or a stage back after 10 s or more
	$(CARGO) build $(if $(filter release,$(CHAOS_PROFILE)),--release) --locked --bin standardization --bin processing --bin chaos
	CHAOS_RECORDS=$(CHAOS_RECORDS) CHAOS_RATE=$(CHAOS_RATE) CHAOS_KILLS_PER_STAGE=$(CHAOS_KILLS_PER_STAGE) \
	  CHAOS_PROFILE=$(CHAOS_PROFILE) $(if $(CHAOS_SEED),CHAOS_SEED=$(CHAOS_SEED)) scripts/chaos.sh

.PHONY: eval
eval: ## Detector quality: Isolation Forest ROC-AUC on ODDS, alerts on labelled data, the log-event severity classifier on its held-out corpus, NAB score when NAB_DIR and NAB_SCORER are found (default ../shared; skipped, saying so, when not)
	scripts/eval.sh

## --- a running stack ---------------------------------------------------------

.PHONY: run-ingestion
run-ingestion: ## Run the ingestion service on :8001 against KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092)
	$(CARGO) run --locked --bin ingestion

.PHONY: run-standardization
run-standardization: ## Run the standardization service on :8002
	$(CARGO) run --locked --bin standardization

.PHONY: run-processing
run-processing: ## Run the processing service on :8003
	$(CARGO) run --locked --bin processing

.PHONY: health
health: ## Health of the services
	@for url in $(INGESTION_URL) $(STANDARDIZATION_URL) $(PROCESSING_URL); do curl -sS $$url/health; echo; done

.PHONY: status
status: ## Status of the services (read key from .env)
	@for url in $(INGESTION_URL) $(STANDARDIZATION_URL) $(PROCESSING_URL); do curl -sS $(READ_KEY) $$url/status; echo; done

.PHONY: analytics
analytics: ## Summary and per-source figures from the processing service (read key from .env)
	@curl -sS $(READ_KEY) $(PROCESSING_URL)/analytics/summary; echo
	@curl -sS $(READ_KEY) $(PROCESSING_URL)/analytics/sources; echo

.PHONY: anomalies
anomalies: ## The latest anomalies (alerts) from the processing service (read key from .env)
	@curl -sS $(READ_KEY) '$(PROCESSING_URL)/analytics/anomalies?limit=20'; echo

.PHONY: ingest
ingest: ## Send sample-data/logs.json to the running ingestion service (ingest key from .env)
	@curl -sS -X POST -H 'content-type: application/x-ndjson' $(INGEST_KEY) --data-binary @sample-data/logs.json $(INGESTION_URL)/ingest/file; echo

include ops.mk
