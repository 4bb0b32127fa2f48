#!/usr/bin/env python3
# gst-diode example — a viewer that reacts to what diodesrc tells the
# application on the bus.
# Copyright (C) 2026 gst-diode developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Watch a diode stream and print what the elements post on the bus.

    diodesrc ! decodebin ! videoconvert ! autovideosink

diodesrc posts, besides the usual GStreamer messages (docs/stats.md):

  diode-connection  element message: state connected / reconnecting /
                    resumed / gave-up, the relay in use
  diode-stats       element message every stats-interval ms: a structure
                    of counters (buffers-received, join-ms, discont, path...)
  diode-path        element message when media moves between the relay and
                    a direct path to the publisher
  ERROR / WARNING   GLib errors of the GST_RESOURCE_ERROR domain (codes
                    OPEN_READ: relay unreachable, NOT_FOUND: nothing
                    published under that name, NOT_AUTHORIZED: refused)
  EOS               the publisher ended the stream

Exit status: 0 at EOS or after --count frames, 1 on an error, 2 on bad
arguments. Needs PyGObject and GStreamer's introspection data (Debian:
python3-gi gir1.2-gstreamer-1.0), and GST_PLUGIN_PATH pointing at the
directory of libgstdiode.so.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

# What the resource errors diodesrc posts mean for the person watching.
HINTS = {
    Gst.ResourceError.OPEN_READ: "is the relay running, and is the address right?",
    Gst.ResourceError.NOT_FOUND: "nobody publishes that stream (or the host name does not resolve)",
    Gst.ResourceError.NOT_AUTHORIZED: "the relay or the stream's policy refused this identity",
    Gst.ResourceError.OPEN_READ_WRITE: "the TLS handshake failed: is it a diode relay?",
    Gst.ResourceError.SETTINGS: "a property has a value the element refuses",
}


class Viewer:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.status = 0
        self.frames = 0

        self.pipeline = Gst.Pipeline.new("viewer")
        src = Gst.ElementFactory.make("diodesrc", "src")
        decode = Gst.ElementFactory.make("decodebin", None)
        convert = Gst.ElementFactory.make("videoconvert", None)
        self.sink = Gst.ElementFactory.make(args.sink, None)
        missing = [n for n, e in (("diodesrc", src), ("decodebin", decode),
                                  ("videoconvert", convert), (args.sink, self.sink))
                   if e is None]
        if missing:
            raise RuntimeError("missing element(s): " + ", ".join(missing)
                               + " (GST_PLUGIN_PATH must name the directory"
                               " of libgstdiode.so)")
        src.set_property("relay", args.relay)
        src.set_property("stream", args.stream)
        if args.relay_id:
            src.set_property("relay-id", args.relay_id)
        src.set_property("stats-interval", args.stats_interval)
        for e in (src, decode, convert, self.sink):
            self.pipeline.add(e)
        src.link(decode)
        convert.link(self.sink)
        # decodebin makes its source pad once it knows the stream's caps,
        # i.e. after diodesrc has received them from the relay.
        decode.connect("pad-added", self.on_pad_added, convert)
        # Count the decoded pictures that reach the sink.
        self.sink.get_static_pad("sink").add_probe(
            Gst.PadProbeType.BUFFER, self.on_frame)

        bus = self.pipeline.get_bus()
        bus.add_signal_watch()        # messages as signals on the main loop
        bus.connect("message", self.on_message)

    def on_pad_added(self, decode, pad, convert):
        caps = pad.get_current_caps() or pad.query_caps(None)
        if caps.get_structure(0).get_name().startswith("video/"):
            pad.link(convert.get_static_pad("sink"))

    def on_frame(self, pad, info):
        # Runs on the streaming thread: count, and leave the rest to the
        # main loop (GLib.idle_add is thread-safe).
        self.frames += 1
        if self.frames == 1:
            s = pad.get_current_caps().get_structure(0)
            print("first picture: %dx%d %s" % (s.get_value("width"),
                  s.get_value("height"), s.get_value("format")), flush=True)
        if self.args.count and self.frames == self.args.count:
            GLib.idle_add(self.stop, "%d frames decoded" % self.frames)
        return Gst.PadProbeReturn.OK

    def stop(self, why, status=0):
        print("stopping: " + why, flush=True)
        self.status = self.status or status
        self.loop.quit()
        return GLib.SOURCE_REMOVE

    def on_message(self, bus, msg):
        t = msg.type
        if t == Gst.MessageType.ELEMENT:
            self.on_element_message(msg.get_structure())
        elif t == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            # err is a GLib.Error: domain, code and a sentence for people.
            hint = ""
            if err.matches(Gst.ResourceError.quark(), err.code):
                hint = HINTS.get(Gst.ResourceError(err.code), "")
            print("error from %s: %s" % (msg.src.get_name(), err.message),
                  file=sys.stderr, flush=True)
            print("  (%s, code %d%s)" % (err.domain, err.code,
                  "; " + hint if hint else ""), file=sys.stderr, flush=True)
            if self.args.verbose and debug:
                print("  debug: " + debug, file=sys.stderr)
            self.stop("error", 1)
        elif t == Gst.MessageType.WARNING:
            err, _ = msg.parse_warning()
            print("warning from %s: %s" % (msg.src.get_name(), err.message),
                  file=sys.stderr, flush=True)
        elif t == Gst.MessageType.EOS:
            print("eos: the publisher ended the stream", flush=True)
            self.stop("end of stream")
        elif t == Gst.MessageType.LATENCY:
            # diodesrc is a live source; a latency change (its latency
            # property) needs the pipeline to redistribute latency.
            self.pipeline.recalculate_latency()
        elif t == Gst.MessageType.STATE_CHANGED and msg.src == self.pipeline:
            old, new, _ = msg.parse_state_changed()
            if new == Gst.State.PLAYING:
                print("playing", flush=True)

    def on_element_message(self, s):
        name = s.get_name()
        if name == "diode-connection":
            print("connection: %s relay %s%s" % (
                s.get_string("state"), s.get_string("relay"),
                (" (" + s.get_string("reason") + ")") if s.get_string("reason") else ""),
                flush=True)
        elif name == "diode-stats":
            st = s.get_value("stats")     # a Gst.Structure
            fields = ["buffers-received", "bytes-received", "join-ms",
                      "discont", "buffers-missed", "reconnects", "path",
                      "stream-state"]
            print("stats: " + " ".join(
                "%s=%s" % (f, st.get_value(f)) for f in fields if st.has_field(f)),
                flush=True)
        elif name == "diode-path":
            print("path: %s pair '%s' from seq %d%s" % (
                s.get_string("path"), s.get_string("pair"),
                s.get_value("from-seq"),
                (" (" + s.get_string("reason") + ")") if s.get_string("reason") else ""),
                flush=True)

    def run(self):
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            # diodesrc could not connect: the ERROR message saying why is
            # on the bus; let the main loop deliver it.
            GLib.timeout_add(2000, self.stop, "the pipeline did not start", 1)
        if self.args.timeout:
            GLib.timeout_add_seconds(self.args.timeout, self.stop,
                                     "no end after %d s" % self.args.timeout, 1)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT,
                             self.stop, "interrupted", 130)
        self.loop.run()
        self.pipeline.set_state(Gst.State.NULL)
        self.pipeline.get_bus().remove_signal_watch()
        print("done: %d frames decoded" % self.frames, flush=True)
        return self.status


def main():
    p = argparse.ArgumentParser(description="Watch a diode stream and print "
                                "the elements' bus messages.")
    p.add_argument("--relay", default="127.0.0.1:7878", help="HOST[:PORT] (default %(default)s)")
    p.add_argument("--stream", default="test", help="stream name (default %(default)s)")
    p.add_argument("--relay-id", help="0xADDRESS the relay must have (default: trust on first use)")
    p.add_argument("--count", type=int, default=0,
                   help="stop after this many decoded frames (default: at EOS)")
    p.add_argument("--stats-interval", type=int, default=1000,
                   help="ms between diode-stats messages (default %(default)s)")
    p.add_argument("--sink", default="autovideosink",
                   help="video sink (default %(default)s; fakesink shows nothing)")
    p.add_argument("--timeout", type=int, default=0,
                   help="give up after this many seconds (default: never)")
    p.add_argument("-v", "--verbose", action="store_true", help="print errors' debug text")
    args = p.parse_args()

    Gst.init(None)
    try:
        viewer = Viewer(args)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    return viewer.run()


if __name__ == "__main__":
    sys.exit(main())
