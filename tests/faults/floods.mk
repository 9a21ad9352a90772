# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am: the floods of issue 15 (each script
# prints one row of docs/RELIABILITY.md (Load and floods); --long by hand).
TESTS += tests/faults/flood_ipc.sh tests/faults/flood_fe.sh tests/faults/flood_hs.sh
dist_noinst_SCRIPTS += tests/faults/flood_ipc.sh tests/faults/flood_fe.sh tests/faults/flood_hs.sh
dist_noinst_SCRIPTS += tests/faults/flood_controld.py tests/faults/flood_fe.py tests/faults/flood_hs.py
TESTS += tests/faults/flood_relay.sh
dist_noinst_SCRIPTS += tests/faults/flood_relay.sh tests/faults/flood_allocate.py
