# SPDX-License-Identifier: ISC
# Debian packaging (contrib/debian/build.sh -> dpkg-buildpackage) and the
# bash completion the fz-client package installs.
bashcompletiondir = $(datadir)/bash-completion/completions
dist_bashcompletion_DATA = contrib/completion/fzctl
EXTRA_DIST += contrib/debian/build.sh contrib/debian/rules \
	contrib/debian/control contrib/debian/changelog contrib/debian/copyright \
	contrib/debian/source/format contrib/debian/fz-client.install \
	contrib/debian/fz-client-gui.install contrib/debian/fz-gateway.install \
	contrib/debian/fz-relay.install contrib/debian/fz-portal.install \
	contrib/debian/fz-client.postrm contrib/debian/fz-gateway.postrm \
	contrib/debian/fz-relay.postrm contrib/debian/fz-portal.postrm \
	contrib/debian/fz-client.lintian-overrides \
	contrib/debian/fz-gateway.lintian-overrides \
	contrib/debian/fz-relay.lintian-overrides \
	contrib/debian/fz-portal.lintian-overrides
# Build the packages, lintian, then install, run and purge them in a fresh
# Debian 12 root (root; about 2.5 minutes with the cached debootstrap root,
# a few more the first time).
TESTS += tests/debian/packages.sh
dist_noinst_SCRIPTS += tests/debian/packages.sh
