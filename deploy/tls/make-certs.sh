#!/bin/sh
# Makes the certificates, keys and NATS password that deploy/compose.tls.yml mounts, in
# deploy/tls/generated/ (ignored by git: keys are never committed). A throwaway CA for the
# Compose demo; in production bring your own CA (cert-manager, Vault, ...).
#
#   sh deploy/tls/make-certs.sh
#   docker compose -f docker-compose.yml -f deploy/compose.tls.yml up -d --build
#
# Each Tabby service gets one certificate for both server and client use (it serves gRPC
# with --tls-cert/--tls-key and presents the same pair when it dials; see docs/security.md),
# naming its compose host name, its address on the tabby network and 127.0.0.1 (for the
# healthchecks inside the container). Keys are made readable by the containers' user
# (0644): acceptable for this local demo only.
set -eu
cd "$(dirname "$0")"
out=generated
mkdir -p "$out"
cd "$out"

if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj /CN=tabby-demo-ca -keyout ca.key -out ca.pem 2>/dev/null
fi

# leaf NAME SAN EKU
leaf() {
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$2" "$3" > "$1.ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
  chmod 0644 "$1.key"
}

both=serverAuth,clientAuth
leaf nats     DNS:nats,IP:172.30.0.2,IP:127.0.0.1                 serverAuth
leaf store    DNS:store,IP:172.30.0.3,IP:127.0.0.1,DNS:localhost    $both
leaf ipam     DNS:ipam,IP:172.30.0.4,IP:127.0.0.1,DNS:localhost     $both
leaf topology DNS:topology,IP:172.30.0.5,IP:127.0.0.1,DNS:localhost $both
leaf ui       DNS:ui,IP:172.30.0.10,IP:127.0.0.1,DNS:localhost      $both
leaf node1    DNS:node1,IP:172.30.0.11,IP:127.0.0.1,DNS:localhost   $both
leaf node2    DNS:node2,IP:172.30.0.12,IP:127.0.0.1,DNS:localhost   $both
leaf node3    DNS:node3,IP:172.30.0.13,IP:127.0.0.1,DNS:localhost   $both
leaf tabbyctl DNS:tabbyctl                                          clientAuth

if [ ! -f nats-password ]; then
  openssl rand -hex 24 > nats-password
fi
chmod 0644 nats-password
# nats.conf includes this file: the one NATS user the services log in as.
printf 'authorization {\n  users: [\n    { user: "tabby", password: "%s" }\n  ]\n}\n' "$(cat nats-password)" > nats-users.conf
chmod 0644 nats-users.conf
echo "certificates, keys and the NATS password are in $(pwd)"
