# SPDX-License-Identifier: ISC
# controld/turn: sans-I/O module (see its header).
