# SPDX-License-Identifier: ISC
# controld/dns: sans-I/O module (see its header).
