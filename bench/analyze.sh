#!/usr/bin/env bash
# Benchmark: `kalab analyze` against tshark and tcpdump on one generated high-churn capture.
#
# Generates a loopback capture of ~100,000 short connections (>= 1,000,000 packets) with
# tcpdump (small snaplen) while examples/churn.rs runs, then times, best of RUNS:
#   target/release/kalab analyze, tshark -q -z conv,tcp, tcpdump -r FILE -w /dev/null
# and prints each time, the ratios, kalab's peak memory (max RSS from /usr/bin/time -v) and
# PASS/FAIL per target (faster than tcpdump, >= 30x faster than tshark, < 20 MB).
# Needs root (capture), tcpdump, tshark, capinfos, /usr/bin/time. The capture goes to a temp dir.
# Env: CONNECTIONS (100000), REQUESTS (2 per connection), RUNS (3), PORT (random), KEEP=1,
#      FILE (analyse this capture instead of generating one; PORT must then be its server port).
# Exit status: 0 when every target passes, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=${CONNECTIONS:-100000}
REQUESTS=${REQUESTS:-2}
RUNS=${RUNS:-3}
PORT=${PORT:-$((20000 + RANDOM % 20000))}

for tool in tcpdump tshark capinfos; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 3; }
done
if [ ! -x /usr/bin/time ]; then
  echo "bench: installing GNU time (apt-get install time)" >&2
  apt-get install -y time >/dev/null
fi

cargo build --release --bin kalab --example churn
KALAB=(target/release/kalab analyze)

TMP=$(mktemp -d)
TCPDUMP_PID=
cleanup() {
  [ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] && echo "capture kept in $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
if [ -z "${FILE:-}" ]; then
  FILE=$TMP/churn.pcap
  echo "== generating: $CONNECTIONS connections x $REQUESTS requests on 127.0.0.1:$PORT"
  tcpdump -i lo --immediate-mode -s 128 -B 262144 -Z root -w "$FILE" "tcp port $PORT" 2>"$TMP/tcpdump.err" &
  TCPDUMP_PID=$!
  for _ in $(seq 100); do grep -q listening "$TMP/tcpdump.err" && break; sleep 0.05; done
  target/release/examples/churn "$PORT" "$CONNECTIONS" "$REQUESTS" 4
  sleep 1
  kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true; TCPDUMP_PID=
  grep -E "captured|dropped" "$TMP/tcpdump.err" | sed 's/^/   tcpdump: /'
fi
PACKETS=$(capinfos -M -c "$FILE" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
SIZE_MB=$(du -m "$FILE" | cut -f1)
echo "   file: $PACKETS packets, $SIZE_MB MB"
cat "$FILE" >/dev/null # page cache

# best_of CMD... : prints the best wall seconds (ms resolution) and that run's max RSS (KiB,
# from /usr/bin/time -v) as "SECONDS KIB"
best_of() {
  local best="" rss="" start end secs kib
  for _ in $(seq "$RUNS"); do
    start=$(date +%s%N)
    /usr/bin/time -v -o "$TMP/t" "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; return 1; }
    end=$(date +%s%N)
    secs=$(awk "BEGIN{printf \"%.3f\", ($end - $start) / 1e9}")
    kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/t")
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; rss=$kib; fi
  done
  echo "$best $rss"
}

echo "== timing (best of $RUNS)"
# kalab and tcpdump alternate so that both see the same machine load.
K_S="" K_RSS="" D_S=""
for _ in $(seq "$RUNS"); do
  read -r s rss < <(RUNS=1 best_of "${KALAB[@]}" "$FILE" --port "$PORT")
  if [ -z "$K_S" ] || awk "BEGIN{exit !($s < $K_S)}"; then K_S=$s; K_RSS=$rss; fi
  read -r s _ < <(RUNS=1 best_of tcpdump -r "$FILE" -w /dev/null)
  if [ -z "$D_S" ] || awk "BEGIN{exit !($s < $D_S)}"; then D_S=$s; fi
done
read -r KG_S KG_RSS < <(best_of "${KALAB[@]}" "$FILE")
read -r KJ_S KJ_RSS < <(best_of "${KALAB[@]}" "$FILE" --port "$PORT" --format json)
read -r T_S _ < <(best_of tshark -q -z conv,tcp -r "$FILE")

"${KALAB[@]}" "$FILE" --port "$PORT" | grep -E "connections opened|reuse ratio|closed by|packets read" | sed 's/^/   /'
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.1f\", $1 / $2; else print \"inf\" }"; }
printf '   %-36s %8s s   peak RSS %6.1f MB\n' "kalab analyze --port (table)" "$K_S" "$(awk "BEGIN{print $K_RSS/1024}")"
printf '   %-36s %8s s   peak RSS %6.1f MB\n' "kalab analyze, port guessed" "$KG_S" "$(awk "BEGIN{print $KG_RSS/1024}")"
printf '   %-36s %8s s   peak RSS %6.1f MB\n' "kalab analyze --format json" "$KJ_S" "$(awk "BEGIN{print $KJ_RSS/1024}")"
printf '   %-36s %8s s\n' "tcpdump -r FILE -w /dev/null" "$D_S"
printf '   %-36s %8s s\n' "tshark -q -z conv,tcp" "$T_S"
verdict() { if awk "BEGIN{exit !($1)}"; then echo PASS; else FAILED=1; echo FAIL; fi; }
FAILED=0
echo "== targets"
echo "   tcpdump re-read / kalab: $(ratio "$D_S" "$K_S")x   (target > 1)    $(verdict "$K_S < $D_S")"
echo "   tshark / kalab:          $(ratio "$T_S" "$K_S")x   (target >= 30)  $(verdict "$T_S >= 30 * $K_S")"
echo "   kalab peak memory:       $(awk "BEGIN{printf \"%.1f\", $K_RSS/1024}") MB   (target < 20)  $(verdict "$K_RSS < 20 * 1024")"
exit "$FAILED"
