# Operations commands: included by the Makefile (`include ops.mk`); `make help` lists them.
REPLICAS ?= 3

# Compose v2 as Docker's plugin (`docker compose`) when it runs, else a `docker-compose` on
# PATH (v2, or the old v1), else the one `make ops-tools` builds. `COMPOSE=…` overrides.
ifeq ($(origin COMPOSE),undefined)
COMPOSE := $(shell \
  if docker compose version >/dev/null 2>&1; then echo 'docker compose'; \
  elif ! command -v docker-compose >/dev/null 2>&1 && [[ -x target/ops-tools/bin/docker-compose ]]; \
  then echo target/ops-tools/bin/docker-compose; \
  else echo docker-compose; fi)
endif

# Recipe lines that stop a command with one line saying what it lacks.
define need_compose
	@$(COMPOSE) version >/dev/null 2>&1 || { echo "$@: no Docker Compose: neither 'docker compose' nor 'docker-compose' runs (install Docker's Compose plugin, or 'make ops-tools' for docker-compose)" >&2; exit 1; }
endef
define need_engine
	@docker info >/dev/null 2>&1 || { echo "$@: no Docker engine answers ('docker info' fails): start Docker; without it, 'make demo' or 'make run-*' run the services" >&2; exit 1; }
endef
define need_env
	@[[ -f .env ]] || { echo "$@: no .env: run 'make env' first (it writes .env from .env.example with generated passwords)" >&2; exit 1; }
endef

## --- operations --------------------------------------------------------------

.PHONY: up
up: ## Start the full stack with Docker Compose (needs a Docker engine and .env: make env)
	$(need_env)
	$(need_compose)
	$(need_engine)
	$(COMPOSE) up -d

.PHONY: down
down: ## Stop the Docker Compose stack
	$(need_compose)
	$(need_engine)
	$(COMPOSE) down

.PHONY: logs
logs: ## Follow the Docker Compose stack's logs
	$(need_compose)
	$(need_engine)
	$(COMPOSE) logs -f

.PHONY: scale
scale: ## Run REPLICAS processing replicas (default 3; up to the input topic's partitions do work)
	$(need_env)
	$(need_compose)
	$(need_engine)
	$(COMPOSE) up -d --no-recreate --scale processing=$(REPLICAS)

.PHONY: ps
ps: ## State and health of the Docker Compose services
	$(need_compose)
	$(need_engine)
	$(COMPOSE) ps

.PHONY: env
env: ## Write .env for compose: generated passwords (Grafana, Kafka UI, the Kafka SCRAM users) and API keys; what .env holds is kept, what it lacks is added
	@scripts/gen-env.sh

.PHONY: config
config: ## Validate docker-compose.yml with the current .env (no Docker engine needed)
	$(need_compose)
	$(COMPOSE) config -q

.PHONY: test-ingestion
test-ingestion: kafka-up ## Run the ingestion service's tests (unit and against the real broker)
	$(CARGO) test --locked -p ingestion

.PHONY: ops-tools
ops-tools: ## Install Prometheus, Alertmanager and docker-compose when missing (apt as root, Compose from its Go module into target/ops-tools)
	scripts/ops-tools.sh

.PHONY: ops-check
ops-check: ## Check the ops configuration: promtool (config, rules, rule tests), amtool, docker-compose config, dashboards
	scripts/ops-test.sh --static-only

.PHONY: ops-test
ops-test: kafka-up ## Ops test: ops-check, then the services with a real Prometheus + Alertmanager on loopback
	scripts/ops-test.sh

.PHONY: rules-test
rules-test: ## Prometheus rule unit tests only (promtool test rules)
	promtool test rules prometheus/tests/*.test.yml
