#!/usr/bin/env python3
# gst-diode example — publish a test pattern or a camera with diodesink.
# Copyright (C) 2026 gst-diode developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Publish a live video stream to a diode relay.

    SOURCE ! videoconvert ! x264enc ! h264parse ! diodesink

SOURCE is a gst-launch fragment: a test pattern by default, or a camera,
e.g.

    publish.py --source "v4l2src device=/dev/video0"
    publish.py --source "libcamerasrc ! video/x-raw,width=1280,height=720,format=NV12"

A source that already outputs H.264 (rpicamsrc, a UVC camera's H.264 mode)
needs no encoder:

    publish.py --h264 --source "v4l2src device=/dev/video0 ! video/x-h264,width=1280,height=720,framerate=30/1"

After --seconds (0: until Ctrl-C) it sends EOS down the pipeline and waits
for diodesink to pass it to the relay, so viewers see the end of the stream.
Exit status 0 then, 1 on an error (e.g. the relay is unreachable).
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


class Publisher:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.status = 0
        self.eos_sent = False

        # The source is a description, so any camera line works; parse it
        # into a bin with a ghost source pad. The queue gives the encoder its
        # own thread, so a slow frame never holds up the capture, and lets
        # the description end with caps ("... ! video/x-raw,width=640"),
        # which the parser accepts only between two elements.
        source = Gst.parse_bin_from_description(args.source + " ! queue", True)
        self.pipeline = Gst.Pipeline.new("publisher")
        self.pipeline.add(source)
        last = source
        if not args.h264:
            convert = Gst.ElementFactory.make("videoconvert", None)
            # 8-bit 4:2:0, which every H.264 decoder plays (browsers and
            # hardware ones included); left free, x264enc would take the
            # source's format, e.g. 4:4:4 High 10 from videotestsrc.
            i420 = Gst.ElementFactory.make("capsfilter", None)
            i420.set_property("caps", Gst.Caps.from_string("video/x-raw,format=I420"))
            enc = Gst.ElementFactory.make("x264enc", None)
            if enc is None:
                raise RuntimeError("no x264enc (Debian: gstreamer1.0-plugins-ugly)")
            # zerolatency: every frame leaves the encoder at once (no
            # B-frames, no lookahead); a keyframe every --keyint frames is
            # where joining viewers start.
            Gst.util_set_object_arg(enc, "tune", "zerolatency")
            Gst.util_set_object_arg(enc, "speed-preset", "ultrafast")
            enc.set_property("key-int-max", args.keyint)
            enc.set_property("bitrate", args.bitrate)
            for e in (convert, i420, enc):
                self.pipeline.add(e)
                last.link(e)
                last = e
        # h264parse puts SPS/PPS in the caps (codec_data or in-band), which
        # the relay gives every joining viewer before its first frame.
        parse = Gst.ElementFactory.make("h264parse", None)
        sink = Gst.ElementFactory.make("diodesink", "sink")
        if sink is None:
            raise RuntimeError("no diodesink: GST_PLUGIN_PATH must name the "
                               "directory of libgstdiode.so")
        sink.set_property("relay", args.relay)
        sink.set_property("stream", args.stream)
        if args.relay_id:
            sink.set_property("relay-id", args.relay_id)
        sink.set_property("stats-interval", args.stats_interval)
        if args.direct:
            # Offer viewers a direct path (ICE, TLS end to end); the relay
            # keeps getting the stream and stays their fallback.
            sink.set_property("direct", True)
        for e in (parse, sink):
            self.pipeline.add(e)
            if not last.link(e):
                raise RuntimeError("cannot link %s to %s" % (last.get_name(), e.get_name()))
            last = e

        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_message)

    def send_eos(self, why):
        # EOS goes in at the source and flows through the encoder (which
        # flushes what it holds) to diodesink; its EOS message on the bus
        # says the stream's end was handed to the relay.
        if not self.eos_sent:
            print("sending eos: " + why, flush=True)
            self.eos_sent = True
            self.pipeline.send_event(Gst.Event.new_eos())
        return GLib.SOURCE_REMOVE

    def quit(self, status, why=None):
        if why:
            print("stopping: " + why, file=sys.stderr, flush=True)
        self.status = self.status or status
        self.loop.quit()
        return GLib.SOURCE_REMOVE

    def on_message(self, bus, msg):
        t = msg.type
        if t == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s.get_name() == "diode-stats":
                st = s.get_value("stats")
                print("stats: " + " ".join(
                    "%s=%s" % (f, st.get_value(f)) for f in
                    ("buffers-sent", "bytes-sent", "backlog-bytes",
                     "gops-dropped", "reconnects", "relay", "path",
                     "direct-viewers")
                    if st.has_field(f)), flush=True)
            elif s.get_name() == "diode-connection":
                print("connection: %s relay %s" % (s.get_string("state"),
                      s.get_string("relay")), flush=True)
            elif s.get_name() == "diode-gop-dropped":
                # The link to the relay is too slow for the stream: whole
                # GOPs are dropped so viewers never see broken pictures.
                print("gop dropped: backlog %d bytes" % s.get_value("backlog-bytes"),
                      flush=True)
        elif t == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            print("error from %s: %s" % (msg.src.get_name(), err.message),
                  file=sys.stderr, flush=True)
            if debug and self.args.verbose:
                print("  debug: " + debug, file=sys.stderr, flush=True)
            self.quit(1)
        elif t == Gst.MessageType.WARNING:
            err, _ = msg.parse_warning()
            print("warning from %s: %s" % (msg.src.get_name(), err.message),
                  file=sys.stderr, flush=True)
        elif t == Gst.MessageType.EOS:
            print("eos: the relay has the whole stream", flush=True)
            self.quit(0)
        elif t == Gst.MessageType.STATE_CHANGED and msg.src == self.pipeline:
            _, new, _ = msg.parse_state_changed()
            if new == Gst.State.PLAYING:
                print("publishing '%s'" % self.args.stream, flush=True)

    def run(self):
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            # diodesink connects as it starts; the ERROR saying why is on
            # the bus and arrives once the loop runs.
            GLib.timeout_add(2000, self.quit, 1, "the pipeline did not start")
        elif self.args.seconds:
            GLib.timeout_add_seconds(self.args.seconds, self.send_eos,
                                     "%d s published" % self.args.seconds)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT,
                             self.send_eos, "interrupted")
        if self.args.timeout:
            GLib.timeout_add_seconds(self.args.timeout, self.quit, 1,
                                     "not finished after %d s" % self.args.timeout)
        self.loop.run()
        self.pipeline.set_state(Gst.State.NULL)
        self.pipeline.get_bus().remove_signal_watch()
        return self.status


def main():
    p = argparse.ArgumentParser(description="Publish live video to a diode relay.")
    p.add_argument("--relay", default="127.0.0.1:7878", help="HOST[:PORT] (default %(default)s)")
    p.add_argument("--stream", default="test", help="stream name (default %(default)s)")
    p.add_argument("--relay-id", help="0xADDRESS the relay must have (default: trust on first use)")
    p.add_argument("--source", default="videotestsrc is-live=true pattern=ball ! "
                   "video/x-raw,width=320,height=240,framerate=30/1",
                   help="gst-launch description of the video source (default: %(default)s)")
    p.add_argument("--h264", action="store_true",
                   help="the source outputs H.264 already: no encoder")
    p.add_argument("--keyint", type=int, default=30, help="frames between keyframes (default %(default)s)")
    p.add_argument("--bitrate", type=int, default=1000, help="kbit/s (default %(default)s)")
    p.add_argument("--direct", action="store_true",
                   help="offer viewers a direct path (needs a relay of protocol version 4)")
    p.add_argument("--seconds", type=int, default=0, help="publish this long, then EOS (default: until Ctrl-C)")
    p.add_argument("--stats-interval", type=int, default=1000,
                   help="ms between diode-stats messages (default %(default)s)")
    p.add_argument("--timeout", type=int, default=0,
                   help="fail if not finished after this many seconds (default: never)")
    p.add_argument("-v", "--verbose", action="store_true", help="print errors' debug text")
    args = p.parse_args()

    Gst.init(None)
    try:
        publisher = Publisher(args)
    except (RuntimeError, GLib.Error) as e:
        print(e, file=sys.stderr)
        return 1
    return publisher.run()


if __name__ == "__main__":
    sys.exit(main())
