#!/bin/bash
# SPDX-License-Identifier: ISC
# In-session path switching through NATs (root): the demo step
# contrib/demo/steps/50-connect.sh is the test: a download from a CIDR
# resource behind the gateway runs direct, moves to the relay when P
# drops UDP between the NATs (within the §2.3 client active timeout), and
# back to direct when unblocked, without restarting anything; it completes
# intact.
export top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
export top_builddir=${top_builddir:-.}
[ "$(id -u)" = 0 ] || exit 77
exec bash "$top_srcdir/contrib/demo/steps/50-connect.sh"
