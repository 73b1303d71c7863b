# Operations commands: included by the Makefile (`include ops.mk`); `make help` lists them.
COMPOSE ?= docker-compose
REPLICAS ?= 3

## --- operations --------------------------------------------------------------

.PHONY: test-ingestion
test-ingestion: kafka-up ## Run the ingestion service's tests (unit and against the real broker)
	$(CARGO) test --locked -p ingestion

.PHONY: ops-tools
ops-tools: ## Install Prometheus, Alertmanager and docker-compose when missing (apt as root, Compose from its Go module)
	scripts/ops-tools.sh

.PHONY: ops-check
ops-check: ## Check the ops configuration: promtool (config, rules, rule tests), amtool, docker-compose config, dashboards
	scripts/ops-test.sh --static-only

.PHONY: ops-test
ops-test: kafka-up ## Ops test: ops-check, then the services with a real Prometheus + Alertmanager on loopback
	scripts/ops-test.sh

.PHONY: env
env: ## Create .env from .env.example with generated Grafana and Kafka UI passwords (keeps an existing .env)
	@if [[ -e .env ]]; then echo ".env exists; not changed"; exit 0; fi; \
	umask 077; \
	while IFS= read -r line; do \
	  if [[ "$$line" =~ ^(GRAFANA_ADMIN|KAFKA_UI)_PASSWORD=$$ ]]; then line+="$$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"; fi; \
	  printf '%s\n' "$$line"; \
	done < .env.example > .env; \
	echo "wrote .env: passwords generated; set SLACK_WEBHOOK_URL and SMTP_PASSWORD for the notifications"

.PHONY: config
config: ## Validate docker-compose.yml with the current .env
	$(COMPOSE) config -q

.PHONY: scale
scale: ## Run REPLICAS processing replicas (default 3; up to the input topic's partitions do work)
	$(COMPOSE) up -d --no-recreate --scale processing=$(REPLICAS)

.PHONY: ps
ps: ## State and health of the docker-compose services
	$(COMPOSE) ps

.PHONY: rules-test
rules-test: ## Prometheus rule unit tests only (promtool test rules)
	promtool test rules prometheus/tests/*.test.yml
