# SPDX-License-Identifier: ISC
# libfzws.a: WebSocket client and server over libevent (+ OpenSSL), with wslay.
