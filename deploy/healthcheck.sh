#!/bin/bash
# Container health check without curl in the image: `healthcheck PORT` is healthy when
# GET /health/ready on 127.0.0.1:PORT answers 200 (Kafka reachable, partitions assigned,
# views caught up: the service does its job).
set -euo pipefail
port="${1:?usage: healthcheck PORT}"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /health/ready HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
read -r -t 5 _ status _ <&3
[[ "$status" == 200 ]]
