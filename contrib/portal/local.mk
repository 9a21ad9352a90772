# SPDX-License-Identifier: ISC
# fz-portald: a self-hosted portal speaking Firezone's protocol.
