#!/bin/sh
# One-shot setup of the demo cluster (docker-compose.yml's `demo` service): the BGP
# configuration and pool, then a workload on every node once its agent has registered it.
# tabbyctl finds the services through TABBY_STORE_ADDR and TABBY_IPAM_ADDR.
set -eu
dir=$(dirname "$0")
tabbyctl apply -f "$dir/cluster.yaml"
for n in 1 2 3; do
  tries=0
  until tabbyctl get node "node$n" > /dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
      echo "node$n did not register within 60 s: is its tabby-agent running?" >&2
      exit 1
    fi
    sleep 1
  done
  tabbyctl workload add "default/web-$n" --node "node$n" -l app=web
done
tabbyctl get wep --all-namespaces
