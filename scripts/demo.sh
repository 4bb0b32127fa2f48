#!/bin/sh
# gst-diode — the main job with no configuration: a relay, a live test-pattern
# publisher encoded with x264enc, and a viewer that decodes what crosses the
# relay, shows it (when there is a display) or records snapshots, and prints
# what happened. Installs and builds first (scripts/setup.sh).
#   scripts/demo.sh [SECONDS]
set -eu
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-10}
scripts/setup.sh build

B=$PWD/build
export GST_PLUGIN_PATH_1_0="$B/gst/elements${GST_PLUGIN_PATH_1_0:+:$GST_PLUGIN_PATH_1_0}"
OUT=$PWD/demo-output
rm -rf "$OUT"; mkdir -p "$OUT"
FRAMES=$((SECONDS_TO_RUN * 30))
PORT=${DIODE_DEMO_PORT:-7878}
HTTP_PORT=${DIODE_DEMO_HTTP_PORT:-8080}

echo "== relay: diode-relay --listen 127.0.0.1:$PORT --http 127.0.0.1:$HTTP_PORT"
"$B/relay/diode-relay" --listen "127.0.0.1:$PORT" --http "127.0.0.1:$HTTP_PORT" \
  --print-id -v > "$OUT/relay.out" 2> "$OUT/relay.log" &
RELAY=$!
VIEWER=""
trap 'kill $RELAY $VIEWER 2>/dev/null || true' EXIT INT TERM
i=0
until [ -s "$OUT/relay.out" ]; do
  i=$((i + 1))
  if [ $i -gt 50 ] || ! kill -0 $RELAY 2>/dev/null; then
    echo "relay did not start:"; cat "$OUT/relay.log"; exit 1
  fi
  sleep 0.1
done
echo "   relay identity and port: $(cat "$OUT/relay.out")"
# the relay's log line has the web side's real address
WEB=$(grep -o "web side listening on [a-z]*://[^ ]*" "$OUT/relay.log" | head -1 \
  | sed 's/web side listening on //')
echo "   watch it in a browser while it runs: ${WEB:-http://127.0.0.1:$HTTP_PORT}/watch/demo"

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  SHOW="t. ! queue ! videoconvert ! autovideosink"
  echo "== viewer: decoding and showing in a window, snapshots in $OUT/"
else
  SHOW=""
  echo "== viewer: no display; decoding and recording snapshots in $OUT/"
fi
# The viewer subscribes first and waits for the stream (timeout 15 s).
gst-launch-1.0 -v -e diodesrc stream=demo relay=127.0.0.1:$PORT timeout=15000 \
  ! h264parse ! avdec_h264 ! identity name=decoded silent=false ! tee name=t \
  t. ! queue ! fakesink sync=true \
  t. ! queue ! videoconvert ! videorate ! video/x-raw,framerate=1/2 ! pngenc \
     ! multifilesink location="$OUT/frame-%02d.png" \
  $SHOW > "$OUT/viewer.log" 2>&1 &
VIEWER=$!
sleep 1

echo "== publisher: videotestsrc ! x264enc ! h264parse ! diodesink name=demo ($SECONDS_TO_RUN s)"
if ! gst-launch-1.0 -e videotestsrc is-live=true pattern=ball num-buffers=$FRAMES \
  ! video/x-raw,width=640,height=360,framerate=30/1 ! timeoverlay \
  ! x264enc tune=zerolatency key-int-max=60 bitrate=2000 ! h264parse \
  ! diodesink name=demo relay=127.0.0.1:$PORT > "$OUT/publisher.log" 2>&1; then
  echo "publisher failed:"; tail -20 "$OUT/publisher.log"; exit 1
fi
echo "   publisher sent $FRAMES frames and EOS"

status=0
wait $VIEWER || status=$?
kill $RELAY 2>/dev/null || true
wait $RELAY 2>/dev/null || true
trap - EXIT INT TERM

decoded=$(grep -c 'decoded: last-message = chain' "$OUT/viewer.log" || true)
snaps=$(ls "$OUT"/frame-*.png 2>/dev/null | wc -l)
echo "== what happened"
grep -E "publishes|waits|joined|end of stream" "$OUT/relay.log" | sed 's/^/   relay: /' || true
echo "   viewer: decoded $decoded frames (of $FRAMES published), $snaps snapshots in $OUT/"
if [ $status -ne 0 ] || ! grep -q "EOS" "$OUT/viewer.log"; then
  echo "viewer failed:"; tail -20 "$OUT/viewer.log"; exit 1
fi
echo "   viewer reached the publisher's EOS: OK"
