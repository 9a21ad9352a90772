# SPDX-License-Identifier: ISC
# libfzportal.a: the portal client (Phoenix channels, WebSocket, messages, credentials).
