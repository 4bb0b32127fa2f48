/* placeholder replaced below */
#include <gst/check/gstcheck.h>
static Suite *relay_suite (void) { Suite *s = suite_create ("relay"); return s; }
GST_CHECK_MAIN (relay);
