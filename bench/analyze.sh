#!/usr/bin/env bash
# Benchmark: `kalab analyze` against tshark and tcpdump on one generated high-churn capture.
#
# Generates a loopback capture of ~100,000 short connections (>= 1,000,000 packets) with
# tcpdump (small snaplen) while examples/churn.rs runs, then times, best of RUNS:
#   kalab analyze (examples/analyze.rs until the CLI is wired), tshark -q -z conv,tcp,
#   tcpdump -r FILE -w /dev/null
# and prints ratios and kalab's peak memory (max RSS from /usr/bin/time -v).
# Needs root (capture), tcpdump, tshark, capinfos, /usr/bin/time. The capture goes to a temp dir.
# Env: CONNECTIONS (100000), REQUESTS (2 per connection), RUNS (3), PORT (random), KEEP=1.
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

cargo build --release --example churn --example analyze
KALAB=(target/release/examples/analyze)

TMP=$(mktemp -d)
TCPDUMP_PID=
cleanup() {
  [ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] && echo "capture kept in $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
FILE=$TMP/churn.pcap

echo "== generating: $CONNECTIONS connections x $REQUESTS requests on 127.0.0.1:$PORT"
tcpdump -i lo --immediate-mode -s 128 -B 262144 -Z root -w "$FILE" "tcp port $PORT" 2>"$TMP/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 100); do grep -q listening "$TMP/tcpdump.err" && break; sleep 0.05; done
target/release/examples/churn "$PORT" "$CONNECTIONS" "$REQUESTS" 4
sleep 1
kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true; TCPDUMP_PID=
grep -E "captured|dropped" "$TMP/tcpdump.err" | sed 's/^/   tcpdump: /'
PACKETS=$(capinfos -M -c "$FILE" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
SIZE_MB=$(du -m "$FILE" | cut -f1)
echo "   file: $PACKETS packets, $SIZE_MB MB"
cat "$FILE" >/dev/null # page cache

# best_of NAME CMD... : prints best wall seconds and its max RSS (KiB) as "SECONDS KIB"
best_of() {
  local best="" rss=""
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$TMP/t" "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; return 1; }
    read -r secs kib <"$TMP/t"
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; rss=$kib; fi
  done
  echo "$best $rss"
}

echo "== timing (best of $RUNS)"
read -r K_S K_RSS < <(best_of "${KALAB[@]}" "$FILE" "$PORT" table)
read -r KG_S KG_RSS < <(best_of "${KALAB[@]}" "$FILE" - table)
read -r KJ_S KJ_RSS < <(best_of "${KALAB[@]}" "$FILE" "$PORT" json)
read -r D_S _ < <(best_of tcpdump -r "$FILE" -w /dev/null)
read -r T_S _ < <(RUNS=1 best_of tshark -q -z conv,tcp -r "$FILE")

"${KALAB[@]}" "$FILE" "$PORT" table | grep -E "connections opened|reuse ratio|closed by|packets read" | sed 's/^/   /'
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.1f\", $1 / $2; else print \"inf\" }"; }
printf '   %-36s %8s s   peak RSS %6.1f MB\n' "kalab analyze --port (table)" "$K_S" "$(awk "BEGIN{print $K_RSS/1024}")"
printf '   %-36s %8s s   peak RSS %6.1f MB\n' "kalab analyze, port guessed" "$KG_S" "$(awk "BEGIN{print $KG_RSS/1024}")"
printf '   %-36s %8s s   peak RSS %6.1f MB\n' "kalab analyze --format json" "$KJ_S" "$(awk "BEGIN{print $KJ_RSS/1024}")"
printf '   %-36s %8s s\n' "tcpdump -r FILE -w /dev/null" "$D_S"
printf '   %-36s %8s s\n' "tshark -q -z conv,tcp" "$T_S"
echo "== ratios"
echo "   tcpdump re-read / kalab: $(ratio "$D_S" "$K_S")x   (target > 1)"
echo "   tshark / kalab:          $(ratio "$T_S" "$K_S")x   (target >= 30)"
echo "   kalab peak memory:       $(awk "BEGIN{printf \"%.1f\", $K_RSS/1024}") MB   (target < 20)"
