#!/usr/bin/env bash
# Checks (and where it can, installs) the real services the tests and `qcl up --store redis --bus pubsub` use:
# redis-server from Debian's packages, and the Pub/Sub emulator that ships with the Google Cloud CLI.
set -uo pipefail

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "services: installing redis-server from Debian's packages"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
      || echo "services: could not install redis-server; Redis tests will skip (CI fails instead)"
  else
    echo "services: redis-server is missing (sudo apt-get install redis-server); Redis tests will skip"
  fi
fi
# The dashboard's browser tests drive Debian's Chromium (no browser downloads); CJK fonts render the zh-TW pages.
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "services: installing chromium and fonts-noto-cjk from Debian's packages"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
      || echo "services: could not install chromium; the dashboard's browser tests will fail"
  else
    echo "services: chromium or fonts-noto-cjk is missing (sudo apt-get install chromium fonts-noto-cjk)"
  fi
fi
# `qcl up --ops` and the alerting tests run Debian's Prometheus and Alertmanager (promtool, amtool with them).
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "services: installing prometheus and prometheus-alertmanager from Debian's packages"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null) \
      || echo "services: could not install prometheus; the alerting tests will fail"
  else
    echo "services: prometheus or prometheus-alertmanager is missing (sudo apt-get install prometheus prometheus-alertmanager)"
  fi
fi
if command -v redis-cli >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "services: nothing answers on 127.0.0.1:6379; the tests start their own redis-server on a free port"
fi

if ! command -v gcloud >/dev/null 2>&1; then
  echo "services: gcloud is missing; Pub/Sub emulator tests will skip (install the Google Cloud CLI)"
elif ! command -v java >/dev/null 2>&1; then
  echo "services: java is missing; the Pub/Sub emulator needs it (sudo apt-get install default-jre-headless)"
else
  echo "services: redis-server $(command -v redis-server >/dev/null && redis-server --version | cut -d' ' -f3), gcloud with the Pub/Sub emulator"
fi
exit 0
