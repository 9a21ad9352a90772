# SPDX-License-Identifier: ISC
# controld/ice: sans-I/O module (see its header).
