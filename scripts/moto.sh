#!/usr/bin/env bash
# moto.sh start|stop|status: the AWS emulator (moto's server, scripts/emulator.py) on loopback.
# `start` reuses an emulator already answering on the port and prints "started" only when it
# started one, so callers stop only what they started.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
pidfile="$STATE_DIR/moto-$FOLIO_MOTO_PORT.pid"
up() { curl -s -m 2 -o /dev/null "http://127.0.0.1:$FOLIO_MOTO_PORT/moto-api/data.json"; }
# Folio's emulator (scripts/emulator.py), not a plain moto server.
ours() { curl -sf -m 2 -o /dev/null "http://127.0.0.1:$FOLIO_MOTO_PORT/folio-emulator/requests"; }

case "${1:-}" in
  start)
    if ours; then log "reusing the emulator on port $FOLIO_MOTO_PORT"; echo reused; exit 0; fi
    if up; then
      # A plain moto server (an older checkout's): its DynamoDB writes race, so replace it
      # if this script started it, else refuse.
      if [ -f "$pidfile" ]; then
        log "replacing the plain moto server on port $FOLIO_MOTO_PORT with Folio's emulator"
        kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"
        for _ in $(seq 1 20); do up || break; sleep 0.5; done
      else
        log "port $FOLIO_MOTO_PORT has another emulator; stop it or set FOLIO_MOTO_PORT"; exit 1
      fi
    fi
    "$ROOT/scripts/venv.sh"
    log "starting the emulator on 127.0.0.1:$FOLIO_MOTO_PORT (log: .folio/moto.log)"
    # moto's server, its DynamoDB requests one at a time (see scripts/emulator.py).
    nohup "$ROOT/.venv/bin/python" "$ROOT/scripts/emulator.py" -H 127.0.0.1 -p "$FOLIO_MOTO_PORT" \
      > "$STATE_DIR/moto.log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    for _ in $(seq 1 60); do
      if ours; then echo started; exit 0; fi
      sleep 0.5
    done
    log "the emulator did not answer within 30 s; see .folio/moto.log"; exit 1 ;;
  stop)
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi ;;
  status)
    if up; then echo up; else echo down; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
