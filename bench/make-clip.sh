#!/bin/sh
# gst-diode — make the benchmark clip (once; cached, never committed).
#
#   bench/make-clip.sh [--force]
#
# A real H.264 stream made by x264enc: 1280x720, 30 fps, ~4 Mbit/s CBR
# (nal-hrd=cbr with filler, so every second carries the same bytes and "full
# rate" has one meaning), a keyframe every 2 s (60 frames), no B-frames
# (live-camera style), SPS/PPS before every IDR. 90 s long: longer than any
# single benchmark point, so no looping is needed.
#
# Each branch has its own h264parse: a shared one would negotiate one format
# (avc, for matroskamux) for both.
# Outputs, in bench/.cache/ (override with BENCH_CACHE):
#   clip.h264  Annex B byte-stream, alignment=au (publisher-cost input)
#   clip.mkv   the same frames in Matroska, with timestamps (real-time pacing)
#   clip.info  seconds, frames, bytes and the average bitrate (bits/s)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${BENCH_CACHE:-$here/.cache}
seconds=${CLIP_SECONDS:-90}
frames=$((seconds * 30))

if [ "${1:-}" != "--force" ] && [ -s "$cache/clip.h264" ] && \
   [ -s "$cache/clip.mkv" ] && [ -s "$cache/clip.info" ]; then
  exit 0
fi
mkdir -p "$cache"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export XDG_CONFIG_HOME="$tmp/config"

echo "make-clip: encoding $seconds s of 1280x720p30 H.264 at 4 Mbit/s (once)" >&2
# A scrolling test pattern with a running clock: motion in every frame.
timeout 600 gst-launch-1.0 -q \
  videotestsrc num-buffers=$frames pattern=smpte horizontal-speed=3 ! \
  video/x-raw,width=1280,height=720,framerate=30/1 ! \
  timeoverlay font-desc="Sans 48" ! \
  x264enc bitrate=4000 key-int-max=60 bframes=0 speed-preset=veryfast \
    vbv-buf-capacity=1000 option-string="nal-hrd=cbr:filler=1" ! \
  video/x-h264,stream-format=byte-stream,alignment=au,profile=high ! \
  tee name=t \
  t. ! queue ! h264parse config-interval=-1 ! \
    video/x-h264,stream-format=byte-stream,alignment=au ! \
    filesink location="$tmp/clip.h264" \
  t. ! queue ! h264parse ! matroskamux ! filesink location="$tmp/clip.mkv"

bytes=$(stat -c %s "$tmp/clip.h264")
bps=$((bytes * 8 / seconds))
printf 'seconds=%s\nframes=%s\nbytes=%s\nbps=%s\n' \
  "$seconds" "$frames" "$bytes" "$bps" > "$tmp/clip.info"
mv "$tmp/clip.h264" "$tmp/clip.mkv" "$tmp/clip.info" "$cache/"
echo "make-clip: $cache/clip.h264: $bytes bytes, $bps bit/s" >&2
