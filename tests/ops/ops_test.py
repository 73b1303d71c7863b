#!/usr/bin/env python3
"""The operations test: configuration checks, then the stack on loopback.

Static (no services):
  * promtool check config / check rules / test rules, and every alert covered by a unit
    test that fires and one that does not;
  * amtool check-config;
  * docker-compose config (a real Compose v2) and the compose rules of the stack;
  * the dashboards' structure (ids, layout, data sources, template variables).

Live (--static-only skips it):
  * a real Prometheus and Alertmanager on loopback ports with temporary data, the
    project's rules and Alertmanager config, and a loopback variant of the scrape config;
  * a real node exporter on a loopback port the OS chooses (the platform's host metrics);
    cAdvisor is not run (no Docker engine): the panels that read only its metrics are
    named in NOT_RUN_HERE and may be empty, said so in the output;
  * the three services (binaries from $OPS_BIN_DIR) against the real broker
    ($KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:9092) on topics unique to the run;
  * sample-data/logs.json ingested; then every rule and every dashboard query must
    evaluate without error, the dashboards' panels must return data, and alerts must reach
    Alertmanager both from Prometheus and from processing's alert forwarder.

Tools come from the environment (scripts/ops-tools.sh env): PROMETHEUS, PROMTOOL,
ALERTMANAGER, AMTOOL, NODE_EXPORTER, COMPOSE. Standard library only. Any failure exits non-zero; nothing
is skipped.
"""

import argparse
import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Dashboard panels that may show nothing in this run, and only while none of the named
# series selectors matches a series in Prometheus: the sample data has no dead letters
# (errors of the processing stage), and the detector's gauges appear with the first run
# they score.
MAY_BE_EMPTY = {
    "Dead letters (last 10 minutes)": ['errors_total{stage="processing"}'],
    "Anomaly score per series": ["processing_detector_anomaly_score"],
    "Outage probability per series": ["processing_detector_outage_probability"],
    "Highest outage probability now": ["processing_detector_outage_probability"],
}

# Exporters of prometheus.yml this test cannot run, why, the metrics only they export, and
# the dashboard panels that read nothing else. Such a panel may be empty here, and the
# output says so; once one of those metrics is in Prometheus (the exporter runs), the panel
# must have data like any other. A panel reading container_* / container:* metrics that is
# not listed fails the static check: the exception stays explicit.
NOT_RUN_HERE = {
    "cAdvisor": {
        "why": "it reads the containers of a Docker engine (compose) or runs inside the kubelet (Kubernetes); neither is here",
        "metrics": ["container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                    "container_spec_memory_limit_bytes", "container_start_time_seconds",
                    "container_network_receive_bytes_total", "container_network_transmit_bytes_total"],
        "panels": {"platform": ["Host network", "CPU per container", "Memory per container",
                                "Memory per container / its limit", "Container restarts (last 15 minutes)"]},
    },
}

# Grafana's built-in variables as this test substitutes them (a 1-hour range).
GRAFANA_VARS = [
    ("$__range_s", "3600"), ("$__range_ms", "3600000"), ("$__range", "1h"),
    ("$__rate_interval", "5m"), ("$__interval_ms", "60000"), ("$__interval", "1m"),
]

failures = []


class StackError(Exception):
    """The live stack cannot go on (a process died, something never became ready)."""


def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def section(title):
    print(f"\n== {title}", flush=True)


def tool(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"ops-test: ${name} is not set (run through scripts/ops-test.sh)")
    return shlex.split(value)


def run(cmd, what, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, **kwargs)
    output = (result.stdout + result.stderr).strip()
    if not check(result.returncode == 0, what):
        print("\n".join("        " + line for line in output.splitlines()[-30:]))
    return result


# --- static checks -------------------------------------------------------------------


def alert_names(rule_files):
    names = []
    for path in rule_files:
        names += re.findall(r"^\s*- alert:\s*(\S+)", Path(path).read_text(), re.M)
    return names


def unit_test_cases(test_files):
    """alertname -> set of "fires" / "silent" seen in the promtool test files."""
    cases = {}
    for path in test_files:
        text = Path(path).read_text()
        for match in re.finditer(r"alertname:\s*(\S+)\s*\n\s*exp_alerts:(.*?)(?=\n\s*- eval_time|\n\s*- name:|\Z)", text, re.S):
            kind = "silent" if match.group(2).strip().startswith("[]") else "fires"
            cases.setdefault(match.group(1), set()).add(kind)
    return cases


def static_prometheus():
    section("Prometheus: config, rules, rule unit tests")
    promtool = tool("PROMTOOL")
    rules = sorted(glob.glob(str(ROOT / "prometheus/rules/*.yml")))
    tests = sorted(glob.glob(str(ROOT / "prometheus/tests/*.test.yml")))
    run(promtool + ["check", "config", "prometheus/prometheus.yml"], "promtool check config prometheus/prometheus.yml")
    run(promtool + ["check", "rules"] + rules, f"promtool check rules ({len(rules)} files)")
    run(promtool + ["test", "rules"] + tests, f"promtool test rules ({len(tests)} files)")
    cases = unit_test_cases(tests)
    for name in alert_names(rules):
        seen = cases.get(name, set())
        check(seen == {"fires", "silent"}, f"alert {name} has unit tests firing and not firing (found: {sorted(seen) or 'none'})")


def static_alertmanager():
    section("Alertmanager: config")
    config = "alertmanager/alertmanager.yml"
    run(tool("AMTOOL") + ["check-config", config], f"amtool check-config {config}")
    routes = {
        ("alertname=ConnectorIncident", "severity=critical", "scope=source"): "incidents-slack",
        ("alertname=ConnectorIncident", "severity=warning", "scope=series"): "incidents-webhook",
        ("alertname=ConnectorRunFailed", "severity=critical"): "oncall",
        ("alertname=ContainerRestarting", "severity=warning", "container=processing"): "operators",
        ("alertname=KafkaDiskFillingUp", "severity=warning", "instance=node-exporter:9100"): "operators",
    }
    for labels, receiver in routes.items():
        out = subprocess.run(tool("AMTOOL") + ["config", "routes", "test", f"--config.file={config}", *labels],
                             cwd=ROOT, capture_output=True, text=True)
        got = out.stdout.strip()
        check(out.returncode == 0 and got == receiver, f"{' '.join(labels)} goes to {receiver} (amtool: {got or out.stderr.strip()})")


def compose_env_file(directory):
    """.env.example with the required passwords filled in, as `docker-compose --env-file`."""
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#") and key.endswith("_PASSWORD") and not value:
            line = f"{key}=ops-test-{uuid.uuid4().hex[:8]}"
        lines.append(line)
    path = Path(directory) / "compose.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def static_compose(tmp):
    section("docker-compose")
    compose = tool("COMPOSE")
    env_file = compose_env_file(tmp)
    base = compose + ["--env-file", str(env_file), "-f", "docker-compose.yml"]
    run(base + ["config", "-q"], "docker-compose config -q")
    bare_env = {k: v for k, v in os.environ.items() if not k.endswith("_PASSWORD")}
    without = subprocess.run(compose + ["--env-file", "/dev/null", "-f", "docker-compose.yml", "config", "-q"],
                             capture_output=True, text=True, cwd=ROOT, env=bare_env)
    said = without.stderr + without.stdout
    check(without.returncode != 0 and "_PASSWORD" in said and "make env" in said,
          "without .env the stack refuses to start, naming a password to set")
    result = run(base + ["config", "--format", "json"], "docker-compose config --format json")
    if result.returncode != 0:
        return
    config = json.loads(result.stdout)
    services = config.get("services", {})
    expected = {"kafka", "kafka-ui", "ingestion", "standardization", "processing", "processing-api",
                "prometheus", "alertmanager", "grafana", "node-exporter", "cadvisor"}
    check(expected <= set(services), f"services {sorted(expected)} defined (found {sorted(services)})")
    processing = services.get("processing", {})
    check("container_name" not in processing and not processing.get("ports"),
          "processing can be scaled: no container_name, no published port")
    check(not any("TRANSACTIONAL_ID" in k for k in processing.get("environment", {})),
          "processing replicas keep their default transactional ids (<group>-<hostname>)")
    for name in ("ingestion", "standardization", "processing"):
        s = services.get(name, {})
        deps = s.get("depends_on", {})
        check("healthcheck" in s and deps.get("kafka", {}).get("condition") == "service_healthy"
              and s.get("restart") == "unless-stopped",
              f"{name}: health check, waits for a healthy Kafka, restart policy")
    published = {name: {(p.get("host_ip"), str(p.get("published"))) for p in s.get("ports", [])}
                 for name, s in services.items()}
    wanted = {"kafka-ui": "8080", "ingestion": "8001", "processing-api": "8003", "grafana": "3000"}
    for name, port in wanted.items():
        check(published.get(name) == {("127.0.0.1", port)}, f"{name} published on 127.0.0.1:{port} only"
              + f" (found {sorted(published.get(name, set()))})")
    others = {name: ports for name, ports in published.items() if ports and name not in wanted}
    check(not others, f"nothing else published: Kafka, standardization, Prometheus, Alertmanager inside the network only (found {others})")
    kafka = services.get("kafka", {})
    mounts = {v.get("target") for v in kafka.get("volumes", [])}
    check(kafka.get("entrypoint") == ["/opt/obs/start.sh"]
          and {"/opt/obs/start.sh", "/opt/obs/server.properties"} <= mounts,
          "Kafka starts through deploy/kafka/compose/start.sh with its SASL/SCRAM server.properties")
    users = set()
    for name in ("ingestion", "standardization", "processing"):
        env = services.get(name, {}).get("environment", {})
        users.add(env.get("KAFKA_SASL_USERNAME"))
        check(env.get("KAFKA_SECURITY_PROTOCOL") == "sasl_plaintext" and env.get("KAFKA_SASL_MECHANISM") == "SCRAM-SHA-512"
              and env.get("KAFKA_SASL_USERNAME") == name and env.get("KAFKA_SASL_PASSWORD"),
              f"{name}: authenticates to Kafka with SCRAM as its own user")
        s = services.get(name, {})
        check(str(s.get("user")) == "10001:10001" and s.get("read_only") is True and s.get("cap_drop") == ["ALL"]
              and "no-new-privileges:true" in s.get("security_opt", [])
              and s.get("healthcheck", {}).get("test", [])[:2] == ["CMD", "/usr/local/bin/healthcheck"],
              f"{name}: non-root, read-only root file system, no capabilities, health check without a shell")
    for name in ("node-exporter", "cadvisor"):
        s = services.get(name, {})
        image = str(s.get("image", ""))
        binds = [v for v in s.get("volumes", []) if v.get("type") == "bind"]
        check(re.search(r":v\d+\.\d+\.\d+$", image) is not None and not s.get("ports") and s.get("expose")
              and s.get("read_only") is True and s.get("cap_drop") == ["ALL"]
              and "no-new-privileges:true" in s.get("security_opt", [])
              and binds and all(v.get("read_only") is True for v in binds),
              f"{name}: pinned image ({image}), not published, read-only root file system and host mounts,"
              " no capabilities, no privilege to gain")
    check(str(services.get("node-exporter", {}).get("user")) == "65534:65534", "node-exporter runs as nobody")
    scrape = (ROOT / "prometheus/prometheus.yml").read_text()
    check(all(re.search(rf'job_name: {job}\n\s+static_configs:\n\s+- targets: \["{target}"\]', scrape)
              for job, target in (("node", "node-exporter:9100"), ("cadvisor", "cadvisor:8080"))),
          "Prometheus scrapes node-exporter:9100 (job node) and cadvisor:8080 (job cadvisor)")
    ui = services.get("kafka-ui", {}).get("environment", {})
    check(str(ui.get("KAFKA_CLUSTERS_0_READONLY")).lower() == "true" and ui.get("AUTH_TYPE") == "LOGIN_FORM"
          and 'username="kafka-ui"' in str(ui.get("KAFKA_CLUSTERS_0_PROPERTIES_SASL_JAAS_CONFIG")),
          "Kafka UI: read-only, behind a login, its own SCRAM user")
    processing_env = services.get("processing", {}).get("environment", {})
    check(processing_env.get("OBS_CONSOLE__STANDARDIZATION_URL") == "http://standardization:8002"
          and processing_env.get("OBS_CONSOLE__INGESTION_URL") == "http://ingestion:8001",
          "the console asks the other services inside the network")
    broker = (ROOT / "deploy/kafka/compose/server.properties").read_text()
    check(re.search(r"^process\.roles=broker,controller$", broker, re.M) and "zookeeper" not in broker,
          "Kafka in KRaft mode (no ZooKeeper)")
    check(set(config.get("volumes", {})) >= {"kafka-data", "prometheus-data", "alertmanager-data", "grafana-data"},
          "named volumes for Kafka, Prometheus, Alertmanager, Grafana")
    text = (ROOT / "docker-compose.yml").read_text()
    check(not re.search(r"(?i)(password|secret|token)[ \t]*:[ \t]*['\"]?[A-Za-z0-9]", re.sub(r"\$\{[^}]*\}", "", text)),
          "no credential written in docker-compose.yml")


def dashboards():
    return {path.stem: json.loads(path.read_text()) for path in sorted((ROOT / "grafana/dashboards").glob("*.json"))}


def provisioned_datasource_uids():
    text = (ROOT / "grafana/provisioning/datasources/datasources.yml").read_text()
    return set(re.findall(r"^\s*uid:\s*(\S+)", text, re.M))


def panel_targets(board):
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            continue
        yield panel, [t for t in panel.get("targets", []) if t.get("expr")]


def static_dashboards():
    section("Grafana: provisioning and dashboards")
    boards = dashboards()
    check(len(boards) == 6, f"6 dashboards (found {sorted(boards)})")
    uids = provisioned_datasource_uids()
    check({"prometheus", "alertmanager"} <= uids, "data sources prometheus and alertmanager provisioned with fixed uids")
    compose = (ROOT / "docker-compose.yml").read_text()
    home = re.search(r"GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH:\s*/etc/grafana/dashboards/(\S+)", compose)
    check(bool(home) and (ROOT / "grafana/dashboards" / home.group(1)).exists(), "Grafana's home dashboard exists")
    seen_uids = set()
    for name, board in boards.items():
        check(board.get("uid") not in seen_uids, f"{name}: unique uid {board.get('uid')}")
        seen_uids.add(board.get("uid"))
        variables = {v["name"] for v in board.get("templating", {}).get("list", [])}
        if name not in ("pipeline", "platform"):
            check({"source", "object"} <= variables, f"{name}: template variables source and object")
        ids, cells, problems = set(), set(), []
        for panel in board.get("panels", []):
            if panel["id"] in ids:
                problems.append(f"duplicate panel id {panel['id']}")
            ids.add(panel["id"])
            g = panel["gridPos"]
            if g["x"] + g["w"] > 24:
                problems.append(f"{panel['title']}: wider than the grid")
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    if (x, y) in cells:
                        problems.append(f"{panel['title']}: overlaps another panel")
                    cells.add((x, y))
            if panel["type"] == "row":
                continue
            if panel.get("datasource", {}).get("uid") not in uids:
                problems.append(f"{panel['title']}: unknown data source")
            if not panel.get("targets") or not all(t.get("expr") for t in panel["targets"]):
                problems.append(f"{panel['title']}: a target without a query")
        check(not problems, f"{name}: {sum(1 for p in board['panels'] if p['type'] != 'row')} panels, ids, layout, data sources"
              + ("" if not problems else " — " + "; ".join(sorted(set(problems))[:5])))
    for exporter, spec in NOT_RUN_HERE.items():
        listed = {(board, title) for board, titles in spec["panels"].items() for title in titles}
        reads = {(name, panel["title"]) for name, board in boards.items() for panel, targets in panel_targets(board)
                 if any(re.search(r"\bcontainer[_:]", t["expr"]) for t in targets)}
        check(listed == reads, f"{exporter}: the panels reading its metrics are the ones named as not run here"
              + ("" if listed == reads else f" (unlisted: {sorted(reads - listed)}, listed but not found: {sorted(listed - reads)})"))


# --- live stack ------------------------------------------------------------------------


# The run's API key, every scope: the services get its digest, every request carries it.
API_TOKEN = secrets.token_hex(32)
API_KEY_ENV = {f"OBS_AUTH__{scope}_KEY_HASHES": hashlib.sha256(API_TOKEN.encode()).hexdigest()
               for scope in ("INGEST", "READ", "OPERATE")}
AUTHORIZATION = {"authorization": f"Bearer {API_TOKEN}"}


class Http:
    @staticmethod
    def get(url, timeout=10):
        request = urllib.request.Request(url, headers=AUTHORIZATION)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()

    @staticmethod
    def json(url, timeout=10):
        return json.loads(Http.get(url, timeout)[1])

    @staticmethod
    def post(url, body, content_type, timeout=120):
        request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": content_type, **AUTHORIZATION})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


def wait_for(what, probe, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except (OSError, ValueError, KeyError, urllib.error.URLError) as error:
            last = error
        time.sleep(interval)
    raise StackError(f"{what}: not after {timeout} s" + (f" (last error: {last})" if last else ""))


def os_port():
    """A loopback port the OS says is free now (the default of every OPS_<NAME>_PORT)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class Stack:
    """The processes this test started, stopped (only them) at the end."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.processes = {}
        self.commands = {}
        # The run's topic prefix, once the services were given their topics.
        self.topics_prefix = None

    def start(self, name, cmd, env=None):
        self.commands[name] = (cmd, env)
        log = open(self.tmp / f"{name}.log", "a")
        self.processes[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                                 env={**os.environ, **(env or {})},
                                                 start_new_session=True), log)

    def alive(self, name):
        return self.processes[name][0].poll() is None

    def kill_and_restart(self, name):
        """SIGKILL, then the same command again (its log goes on in the same file)."""
        process, log = self.processes[name]
        process.kill()
        process.wait()
        log.close()
        self.start(name, *self.commands[name])

    def log_tail(self, name, lines=25):
        text = (self.tmp / f"{name}.log").read_text(errors="replace")
        return "\n".join("        " + line for line in text.splitlines()[-lines:])

    def stop(self):
        for process, _ in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process, log in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def loopback_prometheus_config(tmp, ports):
    """prometheus/prometheus.yml with loopback targets and fast intervals; same rules, the
    services' jobs and node (cAdvisor, job cadvisor, is not run here: NOT_RUN_HERE)."""
    path = Path(tmp) / "prometheus.yml"
    jobs = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: [\"127.0.0.1:{ports[job]}\"]\n"
        for job in ("ingestion", "standardization", "processing", "node"))
    path.write_text(
        "# Generated by tests/ops/ops_test.py from prometheus/prometheus.yml: loopback targets.\n"
        "global:\n  scrape_interval: 2s\n  evaluation_interval: 2s\n"
        f"rule_files:\n  - {ROOT / 'prometheus/rules'}/*.yml\n"
        "alerting:\n  alertmanagers:\n    - static_configs:\n"
        f"        - targets: [\"127.0.0.1:{ports['alertmanager']}\"]\n"
        f"scrape_configs:\n{jobs}")
    return path


def promql(prometheus, expr):
    query = urllib.parse.urlencode({"query": expr})
    status, body = Http.get(f"{prometheus}/api/v1/query?{query}")
    return json.loads(body)


def substitute(expr):
    for name, value in GRAFANA_VARS:
        expr = expr.replace(name, value)
    for var in ("source", "object"):
        expr = expr.replace("${" + var + "}", ".*").replace("$" + var, ".*")
    return expr


def has_data(result):
    """At least one number that is not NaN/Inf in an instant query's answer."""
    data = result.get("data", {})
    if data.get("resultType") == "scalar":
        values = [data["result"][1]]
    else:
        values = [series["value"][1] for series in data.get("result", [])]
    return any(v not in ("NaN", "+Inf", "-Inf") for v in values)


def live(tmp, bin_dir):
    names = ("ingestion", "standardization", "processing", "prometheus", "alertmanager")
    ports = {name: int(os.environ.get(f"OPS_{name.upper()}_PORT") or os_port()) for name in names}
    ports["node"] = os_port()
    busy = [f"{name} :{port}" for name, port in ports.items() if not port_free(port)]
    if busy:
        check(False, f"loopback ports free ({', '.join(busy)} in use; set OPS_<NAME>_PORT)")
        return
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not check(not port_free(int(port)) if host in ("127.0.0.1", "localhost") else True,
                 f"a Kafka broker answers at {bootstrap} (make kafka-up)"):
        return
    for binary in ("ingestion", "standardization", "processing"):
        if not check((Path(bin_dir) / binary).is_file(), f"binary {bin_dir}/{binary} built"):
            return

    stack = Stack(tmp)
    try:
        run_live(stack, tmp, bin_dir, ports, bootstrap)
    except StackError as error:
        check(False, str(error))
        for name in stack.processes:
            print(f"      --- {name}.log (tail)\n{stack.log_tail(name)}")
    finally:
        stack.stop()
        if stack.topics_prefix:
            delete_topics(bootstrap, stack.topics_prefix)


def delete_topics(bootstrap, prefix):
    """The run's topics off the shared broker (scripts/kafka.sh's TopicCommand), so that runs
    do not pile up there; a failure is said, not a test failure."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    result = subprocess.run([str(ROOT / "scripts/kafka.sh"), "topics", "--delete", "--topic", f"{prefix}-.*"],
                            env={**os.environ, "KAFKA_HOST": host, "KAFKA_PORT": port},
                            capture_output=True, text=True, timeout=120)
    said = "deleted" if result.returncode == 0 else f"not deleted: {result.stderr.strip()[-200:]}"
    print(f"  info  the run's topics ({prefix}-*) {said}", flush=True)


def run_live(stack, tmp, bin_dir, ports, bootstrap):
    section("Live stack on loopback")
    prometheus = f"http://127.0.0.1:{ports['prometheus']}"
    alertmanager = f"http://127.0.0.1:{ports['alertmanager']}"
    config = loopback_prometheus_config(tmp, ports)
    run(tool("PROMTOOL") + ["check", "config", str(config)], "loopback variant of the scrape config is valid")

    stack.start("alertmanager", tool("ALERTMANAGER") + [
        f"--config.file={ROOT / 'alertmanager/alertmanager.yml'}", f"--storage.path={tmp}/alertmanager",
        f"--web.listen-address=127.0.0.1:{ports['alertmanager']}", "--cluster.listen-address="])
    # The host's metrics: the platform rules and panels read them. The collectors that need
    # what a container may not have (hardware, systemd) are off.
    stack.start("node-exporter", tool("NODE_EXPORTER") + [
        f"--web.listen-address=127.0.0.1:{ports['node']}", "--collector.disable-defaults",
        *(f"--collector.{c}" for c in ("cpu", "meminfo", "filesystem", "diskstats", "netdev", "loadavg", "stat"))])
    stack.start("prometheus", tool("PROMETHEUS") + [
        f"--config.file={config}", f"--storage.tsdb.path={tmp}/prometheus",
        f"--web.listen-address=127.0.0.1:{ports['prometheus']}"])

    run_id = f"ops-{int(time.time())}-{uuid.uuid4().hex[:6]}"
    # Every topic of TopicsConfig, read from its source (as scripts/bench-topics.sh does): a
    # default name would be shared with every other run on the broker (standardization's
    # de-duplication would then drop the sample as already standardized).
    fields = re.findall(r"^ *pub ([a-z_]+): TopicSpec,$", (ROOT / "crates/kafka/src/topics.rs").read_text(), re.M)
    topics = {key: f"{run_id}-{key.replace('_', '-')}" for key in fields}
    stack.topics_prefix = run_id
    common = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "RUST_LOG": "info", "OBS_TOPICS__REPLICATION_FACTOR": "1",
              **API_KEY_ENV,
              **{f"OBS_TOPICS__{key.upper()}__NAME": name for key, name in topics.items()}}
    for name in ("ingestion", "standardization", "processing"):
        env = {**common, "OBS_HTTP__LISTEN": f"127.0.0.1:{ports[name]}"}
        if name != "ingestion":
            env.update(OBS_STAGE__GROUP_ID=f"{run_id}-{name}", OBS_STAGE__TRANSACTIONAL_ID=f"{run_id}-{name}")
        if name == "processing":
            env.update(OBS_ALERTMANAGER__URL=alertmanager)
        stack.start(name, [str(Path(bin_dir) / name)], env)

    wait_for("Alertmanager ready", lambda: Http.get(f"{alertmanager}/-/ready")[0] == 200, 30)
    wait_for("Prometheus ready", lambda: Http.get(f"{prometheus}/-/ready")[0] == 200, 30)
    check(True, "Prometheus and Alertmanager started with the project's rules and config")
    for name in ("ingestion", "standardization", "processing"):
        def healthy(name=name):
            if not stack.alive(name):
                log = (Path(tmp) / f"{name}.log").read_text(errors="replace")
                hint = (" — processing does not know [alertmanager] yet: wire "
                        "services/processing/src/alertmanager/" if "alertmanager" in log and "unknown field" in log else "")
                raise StackError(f"{name} exited at start-up{hint}")
            return Http.get(f"http://127.0.0.1:{ports[name]}/health")[0] == 200
        wait_for(f"{name} healthy", healthy, 90)
    check(True, f"services healthy against {bootstrap} (topics {run_id}-*)")

    ingestion = f"http://127.0.0.1:{ports['ingestion']}"
    status, _ = Http.post(f"{ingestion}/ingest/single", b'{"No_Sequence": 1}', "application/json")
    check(status == 422, "an invalid record is refused (422), so the error panels have data")
    lines = (ROOT / "sample-data/logs.json").read_bytes().splitlines(keepends=True)
    first, rest = lines[:300], lines[300:]
    # Two steps, a few scrapes apart: rate() and increase() need a before and an after.
    status, answer = Http.post(f"{ingestion}/ingest/batch", b"".join(first), "application/x-ndjson")
    check(status == 202 and answer["accepted"] == len(first), f"first {len(first)} sample records accepted")
    time.sleep(6)
    status, answer = Http.post(f"{ingestion}/ingest/file", b"".join(rest), "application/x-ndjson")
    accepted = len(first) + (answer or {}).get("accepted", 0)
    check(status == 202 and accepted == len(lines), f"all {len(lines)} sample records accepted")


    started = time.monotonic()
    runs = wait_for("Prometheus sees every run processed",
                    lambda: (lambda r: r and float(r[0]["value"][1]) >= accepted and r)(
                        promql(prometheus, "sum(processing_runs_total)")["data"]["result"]), 120, 1)
    check(True, f"{int(float(runs[0]['value'][1]))} runs processed and scraped ({time.monotonic() - started:.0f} s)")

    # An operator acknowledges an incident, so the time-to-acknowledge panel has data.
    processing = f"http://127.0.0.1:{ports['processing']}"
    # An open incident may resolve itself (normal runs) before the command reaches the
    # incident stage, which then skips it: another open one is tried.
    acknowledged, status, incident_id = False, None, None
    for _ in range(5):
        listed = wait_for("an open incident", lambda: [
            i for i in Http.json(f"{processing}/incidents?status=open&limit=1").get("incidents", [])], 60, 1)
        incident_id = listed[0]["id"]
        status, answer = Http.post(f"{processing}/incidents/{incident_id}/acknowledge",
                                   json.dumps({"by": "ops-test", "note": "looking"}).encode(), "application/json")
        # 200 once applied, 202 when the incident stage is still busy with the sample's signals.
        try:
            acknowledged = status in (200, 202) and wait_for(
                "the acknowledgement in the incident view",
                lambda: Http.json(f"{processing}/incidents/{incident_id}")["incident"]["status"] != "open", 180)
            acknowledged = acknowledged and Http.json(
                f"{processing}/incidents/{incident_id}")["incident"]["status"] == "acknowledged"
        except StackError as error:
            print(f"        {error}")
            acknowledged = False
        if acknowledged:
            break
    check(acknowledged, f"incident {incident_id} acknowledged through the API ({status})")
    time.sleep(6)  # a few rule evaluations on the final figures

    section("Prometheus on the live stack")
    targets = Http.json(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]
    check(sorted(t["labels"]["job"] for t in targets if t["health"] == "up") == ["ingestion", "node", "processing", "standardization"],
          "every service and the node exporter are scraped (up)")
    groups = Http.json(f"{prometheus}/api/v1/rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    bad = [f"{r.get('name')}: {r.get('lastError')}" for r in rules if r.get("health") not in ("ok", "unknown")]
    defined = sum(len(re.findall(r"^\s*- (?:alert|record):", Path(f).read_text(), re.M))
                  for f in glob.glob(str(ROOT / "prometheus/rules/*.yml")))
    check(not bad and len(rules) == defined, f"{len(rules)} of {defined} rules loaded and healthy" + (f" — {bad}" if bad else ""))
    errors = [f"{r['name']}: {res.get('error')}" for r in rules
              for res in [promql(prometheus, r["query"])] if res.get("status") != "success"]
    check(not errors, f"every rule expression evaluates ({len(rules)})" + (f" — {errors[:3]}" if errors else ""))

    names = set(Http.json(f"{prometheus}/api/v1/label/__name__/values")["data"])

    def exported(selector):
        return bool(promql(prometheus, selector).get("data", {}).get("result"))
    for var, match in (("source", "processing_runs_total"), ("object", "processing_failures_total")):
        values = Http.json(f"{prometheus}/api/v1/label/{var}/values?match[]={match}")["data"]
        check(bool(values), f"template variable ${var}: {len(values)} values")

    section("Dashboards on the live stack")
    for board_name, board in dashboards().items():
        evaluated = empty = 0
        for panel, targets in panel_targets(board):
            results = []
            for t in targets:
                expr = substitute(t["expr"])
                result = promql(prometheus, expr)
                evaluated += 1
                if not check(result.get("status") == "success", f"{board_name} / {panel['title']} [{t['refId']}] evaluates") and result.get("error"):
                    print(f"        {result.get('error')}\n        {expr}")
                results.append(result)
            if any(has_data(r) for r in results):
                continue
            allowed = MAY_BE_EMPTY.get(panel["title"])
            not_run = [(exporter, spec) for exporter, spec in NOT_RUN_HERE.items()
                       if panel["title"] in spec["panels"].get(board_name, [])]
            if allowed and not any(exported(selector) for selector in allowed):
                empty += 1
                print(f"  note  {board_name} / {panel['title']}: no data ({', '.join(allowed)} not exported in this run)")
            elif not_run and not any(exported(m) for _, spec in not_run for m in spec["metrics"]):
                empty += 1
                for exporter, spec in not_run:
                    print(f"  note  {board_name} / {panel['title']}: no data: {exporter} is not run here ({spec['why']})")
            else:
                check(False, f"{board_name} / {panel['title']} returns data")
        check(True, f"{board_name}: {evaluated} queries evaluated, {empty} panel(s) legitimately empty")

    section("Alerts reach Alertmanager")

    def alerts_by_name():
        found = {}
        for alert in Http.json(f"{alertmanager}/api/v2/alerts"):
            found.setdefault(alert["labels"].get("alertname"), []).append(alert)
        return found

    def both():
        found = alerts_by_name()
        return found if "ConnectorRunFailed" in found and "ConnectorIncident" in found else None

    try:
        found = wait_for("alerts from Prometheus and incidents from processing in Alertmanager", both, 60, 1)
    except StackError as error:
        found = alerts_by_name()
        check(False, f"{error}; Alertmanager has: {sorted(k for k in found if k)}")
        if "processing_alerts_delivered_total" not in names:
            print("        processing exports no processing_alerts_delivered_total: the incident notifier "
                  "(services/processing/src/alertmanager/) is not wired into processing")
        return
    rule_alert = found["ConnectorRunFailed"][0]
    check(rule_alert["labels"].get("severity") == "critical" and rule_alert["labels"].get("source"),
          f"Prometheus alert ConnectorRunFailed in Alertmanager ({len(found['ConnectorRunFailed'])} sources)")
    incidents = found["ConnectorIncident"]
    sample = incidents[0]
    check({"incident_id", "severity", "company", "source", "scope"} <= set(sample["labels"])
          and {"summary", "description", "status"} <= set(sample["annotations"]),
          f"incidents in Alertmanager with labels and annotations ({len(incidents)} incidents, e.g. "
          f"{sample['labels'].get('scope')} {sample['labels'].get('source')}: {sample['annotations'].get('summary')})")
    ids = [a["labels"]["incident_id"] for a in incidents]
    check(len(ids) == len(set(ids)), "one Alertmanager alert per incident")
    processing = f"http://127.0.0.1:{ports['processing']}"
    listed = Http.json(f"{processing}/incidents?limit=500")["incidents"]
    active = {i["id"] for i in listed if i["status"] != "resolved"}
    check(set(ids) <= {i["id"] for i in listed} and active <= set(ids),
          f"Alertmanager's incidents are processing's ({len(active)} active)")

    # SIGKILL processing and start it again: it sends the same incidents (same labels, same
    # startsAt), which Alertmanager merges with what it holds: nobody is paged twice.
    def firing_incidents():
        return sorted((a["labels"]["incident_id"], a["labels"]["severity"], a["startsAt"])
                      for a in Http.json(f"{alertmanager}/api/v2/alerts")
                      if a["labels"].get("alertname") == "ConnectorIncident")
    before = firing_incidents()
    sent_before = Http.json(f"{processing}/status")["incident_notifier"]["sent"]
    stack.kill_and_restart("processing")
    wait_for("processing back and its incident view caught up", lambda: stack.alive("processing") and
             Http.json(f"{processing}/incidents?limit=1").get("view_caught_up") is True, 90)
    wait_for("the restarted notifier sent the incidents again",
             lambda: (Http.json(f"{processing}/status")["incident_notifier"] or {}).get("sent", 0) >= len(active), 30)
    after = firing_incidents()
    check(after == before, f"after a SIGKILL and a restart Alertmanager holds the same {len(after)} incident alerts "
          f"(the restarted instance re-sent {len(active)}+ of them; {sent_before} sent before)")
    print(f"  info  Alertmanager holds {sum(len(v) for v in found.values())} alerts: "
          + ", ".join(f"{k} {len(v)}" for k, v in sorted(found.items())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--static-only", action="store_true", help="only the configuration checks")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ops-test.") as tmp:
        static_prometheus()
        static_alertmanager()
        static_compose(tmp)
        static_dashboards()
        if not args.static_only:
            bin_dir = os.environ.get("OPS_BIN_DIR", str(ROOT / "target/debug"))
            try:
                live(tmp, bin_dir)
            finally:
                if failures and os.environ.get("OPS_KEEP_LOGS"):
                    kept = shutil.copytree(tmp, tempfile.mkdtemp(prefix="ops-test-logs."), dirs_exist_ok=True)
                    print(f"\nlogs kept in {kept}")
    print(f"\n{'FAILED' if failures else 'PASSED'}: ops test in {time.monotonic() - started:.0f} s"
          + (f", {len(failures)} failure(s):" if failures else ""))
    for failure in failures:
        print(f"  - {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
