#!/usr/bin/env python3
"""Property-based fuzzing of each service's HTTP API with Schemathesis.

Each service runs from its binary ($FUZZ_BIN_DIR) against the real broker
($KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:9092) on topics unique to the run, on a free
loopback port, with one API key of every scope. Schemathesis reads the service's own
`/openapi.json` and sends `$FUZZ_MAX_EXAMPLES` cases per operation (positive and negative)
with that key; the run fails on any 5xx, an answer outside its documented schema, status
code, content type or headers, or invalid data accepted. Schemathesis comes from $ST (see
scripts/fuzz-api.sh). Standard library only; the processes it started are stopped and the
run's topics deleted at the end.
"""

import hashlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingestion", "standardization", "processing")
# Every topic of TopicsConfig, read from its source: each run names them all its own.
TOPICS = tuple(re.findall(r"^ *pub ([a-z_]+): TopicSpec,$",
                          (ROOT / "crates/kafka/src/topics.rs").read_text(), re.M))
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live(url):
    try:
        with urllib.request.urlopen(f"{url}/health/live", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def delete_topics(bootstrap, run_id):
    """Deletes the run's topics (with the broker's own tool), saying so when it cannot."""
    result = subprocess.run([str(ROOT / "scripts/kafka.sh"), "tool", "org.apache.kafka.tools.TopicCommand",
                             "--bootstrap-server", bootstrap, "--delete", "--topic", f"{run_id}-.*"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        print(f"fuzz-api: could not delete the topics {run_id}-*: {result.stderr.strip()[-500:]}")


def main():
    st = os.environ.get("ST") or sys.exit("fuzz-api: $ST is not set (run through scripts/fuzz-api.sh)")
    bin_dir = Path(os.environ.get("FUZZ_BIN_DIR", ROOT / "target/debug"))
    examples = os.environ.get("FUZZ_MAX_EXAMPLES", "50")
    token = secrets.token_hex(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    run_id = f"fuzz-{int(time.time())}-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        "RUST_LOG": "warn",
        "OBS_TOPICS__REPLICATION_FACTOR": "1",
        **{f"OBS_AUTH__{scope}_KEY_HASHES": digest for scope in ("INGEST", "READ", "OPERATE")},
        **{f"OBS_TOPICS__{key.upper()}__NAME": f"{run_id}-{key.replace('_', '-')}" for key in TOPICS},
    }
    tmp = Path(tempfile.mkdtemp(prefix="obs-fuzz-"))
    processes, failed = [], []
    try:
        urls = {}
        for name in SERVICES:
            port = free_port()
            urls[name] = f"http://127.0.0.1:{port}"
            service_env = {**env, "OBS_HTTP__LISTEN": f"127.0.0.1:{port}"}
            if name == "ingestion":
                service_env["OBS_INGEST__DATA_DIR"] = str(tmp)
            else:
                service_env.update(OBS_STAGE__GROUP_ID=f"{run_id}-{name}",
                                   OBS_STAGE__TRANSACTIONAL_ID=f"{run_id}-{name}")
            log = open(tmp / f"{name}.log", "w")
            processes.append((name, subprocess.Popen([str(bin_dir / name)], env=service_env, stdout=log,
                                                     stderr=subprocess.STDOUT, start_new_session=True)))
        deadline = time.monotonic() + 90
        for name, process in processes:
            while not live(urls[name]):
                if process.poll() is not None or time.monotonic() > deadline:
                    print((tmp / f"{name}.log").read_text(errors="replace")[-3000:])
                    sys.exit(f"fuzz-api: {name} did not start")
                time.sleep(0.3)
        for name in SERVICES:
            print(f"\n== {name}: schemathesis on {urls[name]}/openapi.json, {examples} examples per operation",
                  flush=True)
            result = subprocess.run([
                st, "--config-file", str(Path(__file__).with_name("schemathesis.toml")), "run",
                f"{urls[name]}/openapi.json", "--header", f"Authorization: Bearer {token}",
                "--checks", CHECKS, "--max-examples", examples, "--workers", "2",
                "--phases", "examples,coverage,fuzzing", "--request-timeout", "30",
                "--suppress-health-check", "too_slow,filter_too_much", "--output-sanitize", "true",
                "--report", "junit", "--report-dir", str(tmp / f"report-{name}"),
                "--seed", os.environ.get("FUZZ_SEED", str(secrets.randbelow(2**31))),
            ], cwd=tmp)
            if result.returncode != 0:
                failed.append(name)
    finally:
        for _, process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in processes:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
        delete_topics(env["KAFKA_BOOTSTRAP_SERVERS"], run_id)
    passed = len(SERVICES) - len(failed)
    print(f"\nfuzz-api: {passed} passed, {len(failed)} failed")
    if failed:
        print(f"fuzz-api: failing: {', '.join(failed)}; the services' logs are in {tmp}")
        sys.exit(1)


if __name__ == "__main__":
    main()
