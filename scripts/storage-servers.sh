#!/usr/bin/env bash
# storage-servers.sh start|stop|env: the storage servers the tests write to and read from,
# on loopback: a Google Cloud Storage emulator (scripts/gcs_emulator.py), Azurite (Azure Blob
# Storage, from the npm registry, installed into .folio/azurite once) and pyftpdlib (plain FTP
# and explicit FTPS, scripts/ftp_server.py). `env` prints the variables the tests read.
# `start` reuses this checkout's servers when they answer and prints "started" only when it
# started them.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
GCS_PORT=${FOLIO_GCS_PORT:-5056}
AZURE_PORT=${FOLIO_AZURE_PORT:-5057}
FTP_PORT=${FOLIO_FTP_PORT:-5058}
FTPS_PORT=${FOLIO_FTPS_PORT:-5059}
AZURITE_VERSION=3.37.0
dir="$STATE_DIR/storage"
pidfile="$STATE_DIR/storage-servers.pids"

print_env() {
  cat <<EOF
export FOLIO_TEST_GCS_URL=http://127.0.0.1:$GCS_PORT
export FOLIO_TEST_GCS_KEYFILE=$dir/gcs-service-account.json
export FOLIO_TEST_AZURE_URL=http://127.0.0.1:$AZURE_PORT
export FOLIO_TEST_FTP_PORT=$FTP_PORT
export FOLIO_TEST_FTPS_PORT=$FTPS_PORT
export FOLIO_TEST_FTP_ROOT=$dir/ftp
export FOLIO_TEST_FTP_CA=$dir/ca.pem
EOF
}

answering() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
all_up() { answering "$GCS_PORT" && answering "$AZURE_PORT" && answering "$FTP_PORT" && answering "$FTPS_PORT"; }

# A test CA, a certificate for 127.0.0.1 and localhost signed by it (FTPS), and a Google
# service account's key pair (the GCS emulator checks the tokens it signs).
make_keys() {
  mkdir -p "$dir/ftp"
  [ -f "$dir/server.pem" ] && [ -f "$dir/gcs-service-account.json" ] && return 0
  log "making the storage tests' keys in ${dir#$ROOT/}"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Folio test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' > "$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 3650 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
  openssl genrsa -out "$dir/gcs.key" 2048 2>/dev/null
  openssl rsa -in "$dir/gcs.key" -pubout -out "$dir/gcs.pub" 2>/dev/null
  "$ROOT/.venv/bin/python" - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
json.dump({"type": "service_account", "project_id": "folio-tests", "private_key_id": "test-key",
           "private_key": open(f"{d}/gcs.key").read(),
           "client_email": "folio-tests@folio-tests.iam.gserviceaccount.com",
           "token_uri": "https://oauth2.googleapis.com/token"},
          open(f"{d}/gcs-service-account.json", "w"))
PY
}

install_azurite() {
  local bin="$STATE_DIR/azurite/node_modules/.bin/azurite-blob"
  if [ -x "$bin" ] && grep -q "\"version\": \"$AZURITE_VERSION\"" \
      "$STATE_DIR/azurite/node_modules/azurite/package.json" 2>/dev/null; then
    return 0
  fi
  command -v npm >/dev/null || { log "npm is needed for Azurite (Azure Blob Storage)"; exit 1; }
  log "installing azurite@$AZURITE_VERSION into .folio/azurite"
  mkdir -p "$STATE_DIR/azurite"
  npm install --prefix "$STATE_DIR/azurite" --no-audit --no-fund --silent \
    "azurite@$AZURITE_VERSION" >/dev/null
}

case "${1:-}" in
  start)
    "$ROOT/scripts/venv.sh"
    make_keys
    if all_up; then
      # Only this checkout's own: the GCS emulator trusts this checkout's key alone.
      if [ -f "$pidfile" ]; then log "reusing the storage servers"; echo reused; exit 0; fi
      log "the storage servers' ports ($GCS_PORT-$FTPS_PORT) are taken by another checkout's;" \
        "stop them or set FOLIO_GCS_PORT, FOLIO_AZURE_PORT, FOLIO_FTP_PORT, FOLIO_FTPS_PORT"
      exit 1
    fi
    install_azurite
    log "starting the storage servers: GCS :$GCS_PORT, Azurite :$AZURE_PORT, FTP :$FTP_PORT, FTPS :$FTPS_PORT"
    : > "$pidfile"
    nohup "$ROOT/.venv/bin/python" "$ROOT/scripts/gcs_emulator.py" --port "$GCS_PORT" \
      --public-key "$dir/gcs.pub" --client-email folio-tests@folio-tests.iam.gserviceaccount.com \
      > "$STATE_DIR/gcs.log" 2>&1 < /dev/null &
    echo $! >> "$pidfile"
    rm -rf "$dir/azurite-data" && mkdir -p "$dir/azurite-data"
    nohup "$STATE_DIR/azurite/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
      --blobPort "$AZURE_PORT" --location "$dir/azurite-data" --skipApiVersionCheck --silent \
      > "$STATE_DIR/azurite.log" 2>&1 < /dev/null &
    echo $! >> "$pidfile"
    ftp=("$ROOT/.venv/bin/python" "$ROOT/scripts/ftp_server.py" --root "$dir/ftp" --user folio
         --password ftp-secret-of-folio)
    nohup "${ftp[@]}" --port "$FTP_PORT" > "$STATE_DIR/ftp.log" 2>&1 < /dev/null &
    echo $! >> "$pidfile"
    nohup "${ftp[@]}" --port "$FTPS_PORT" --cert "$dir/server.pem" --key "$dir/server.key" \
      > "$STATE_DIR/ftps.log" 2>&1 < /dev/null &
    echo $! >> "$pidfile"
    for _ in $(seq 1 60); do
      if all_up; then echo started; exit 0; fi
      sleep 0.5
    done
    log "the storage servers did not all answer within 30 s; see .folio/{gcs,azurite,ftp,ftps}.log"; exit 1 ;;
  stop)
    if [ -f "$pidfile" ]; then
      while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$pidfile"
      rm -f "$pidfile"
    fi ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
