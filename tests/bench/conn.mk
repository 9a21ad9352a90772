# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am.
