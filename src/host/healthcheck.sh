# shellcheck shell=bash
# The `healthcheck` step. Needs prelude.sh.

# orch_healthcheck RETRIES INTERVAL PROBE ARGS...: runs `PROBE ARGS...` (a function
# that succeeds when healthy and writes why not to the file $ORCH_ERR) up to RETRIES+1
# times, INTERVAL seconds apart. Healthy: status ok. Else exits 3 with
# `unhealthy after N attempts: <last 500 bytes of the reasons>` on stderr.
orch_healthcheck() {
  local attempts=$(($1 + 1)) interval=$2 i=0
  shift 2
  ORCH_ERR=$(mktemp)
  trap 'rm -f -- "$ORCH_ERR"' EXIT
  while :; do
    i=$((i + 1))
    if "$@"; then orch_status ok; return 0; fi
    [ "$i" -lt "$attempts" ] || break
    sleep "$interval"
  done
  printf 'unhealthy after %s attempts: %s\n' "$attempts" "$(tail -c 500 -- "$ORCH_ERR" | tr '\n' ' ')" >&2
  exit 3
}

# orch_probe_cmd TIMEOUT CMD: the command text CMD exits 0 within TIMEOUT seconds.
orch_probe_cmd() {
  timeout "$1" bash -c "$2" >/dev/null 2>"$ORCH_ERR"
}

# orch_probe_http TIMEOUT EXPECT URL HOST PORT PATH: URL answers HTTP status EXPECT
# within TIMEOUT seconds. With curl when the host has it, else (http:// only) a GET
# through bash's /dev/tcp to HOST:PORT for PATH, so hosts need no extra tools.
orch_probe_http() {
  local timeout=$1 expect=$2 url=$3 code
  if command -v curl >/dev/null; then
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$timeout" -- "$url" 2>"$ORCH_ERR" || true)
  elif [ "${url%%://*}" = http ]; then
    code=$(timeout "$timeout" bash -c "$(declare -f orch_http_tcp); orch_http_tcp \"\$@\"" orch "$4" "$5" "$6" 2>"$ORCH_ERR" || true)
  else
    echo "curl is needed for https healthchecks" >"$ORCH_ERR"
    code=000
  fi
  [ "$code" = "$expect" ] || { printf 'HTTP status %s, expected %s\n' "${code:-none}" "$expect" >>"$ORCH_ERR"; return 1; }
}

# orch_http_tcp HOST PORT PATH: prints the status code of `GET PATH` (HTTP/1.0).
orch_http_tcp() {
  local _proto code _rest
  exec 3<>"/dev/tcp/$1/$2"
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$3" "$1" >&3
  IFS=' ' read -r _proto code _rest <&3
  printf '%s' "$code"
}
