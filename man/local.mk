# SPDX-License-Identifier: ISC
dist_man_MANS += man/fz-tunneld.8 man/fz-controld.8 man/fzctl.1 \
	man/fz-relayd.8 man/fz-turnbench.1 man/fz-portald.8
