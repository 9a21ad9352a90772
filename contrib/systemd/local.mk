# SPDX-License-Identifier: ISC
# systemd units (with the install paths filled in), sysusers and tmpfiles.
systemdsystemunit_DATA += contrib/systemd/fz-tunneld.socket \
	contrib/systemd/fz-tunneld.service contrib/systemd/fz-gateway.service \
	contrib/systemd/fz-relayd.service contrib/systemd/fz-portald.service
unit_templates = contrib/systemd/fz-tunneld.service.in \
	contrib/systemd/fz-gateway.service.in contrib/systemd/fz-relayd.service.in \
	contrib/systemd/fz-portald.service.in
EXTRA_DIST += $(unit_templates) contrib/systemd/fz-tunneld.socket \
	contrib/systemd/fz.sysusers contrib/systemd/fz.tmpfiles \
	contrib/systemd/fz-portald.sysusers contrib/systemd/fz-relayd.sysusers
CLEANFILES += contrib/systemd/fz-tunneld.service \
	contrib/systemd/fz-gateway.service contrib/systemd/fz-relayd.service \
	contrib/systemd/fz-portald.service

unit_sed = $(MKDIR_P) contrib/systemd && sed -e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@bindir[@]|$(bindir)|g'
contrib/systemd/fz-tunneld.service: $(srcdir)/contrib/systemd/fz-tunneld.service.in Makefile
	$(AM_V_GEN)$(unit_sed) $(srcdir)/contrib/systemd/fz-tunneld.service.in > $@
contrib/systemd/fz-gateway.service: $(srcdir)/contrib/systemd/fz-gateway.service.in Makefile
	$(AM_V_GEN)$(unit_sed) $(srcdir)/contrib/systemd/fz-gateway.service.in > $@
contrib/systemd/fz-relayd.service: $(srcdir)/contrib/systemd/fz-relayd.service.in Makefile
	$(AM_V_GEN)$(unit_sed) $(srcdir)/contrib/systemd/fz-relayd.service.in > $@
contrib/systemd/fz-portald.service: $(srcdir)/contrib/systemd/fz-portald.service.in Makefile
	$(AM_V_GEN)$(unit_sed) $(srcdir)/contrib/systemd/fz-portald.service.in > $@

install-data-local: install-sysusers-tmpfiles
install-sysusers-tmpfiles:
	$(MKDIR_P) $(DESTDIR)$(sysusersdir) $(DESTDIR)$(tmpfilesdir)
	$(INSTALL_DATA) $(srcdir)/contrib/systemd/fz.sysusers \
	    $(DESTDIR)$(sysusersdir)/fz.conf
	$(INSTALL_DATA) $(srcdir)/contrib/systemd/fz-portald.sysusers \
	    $(DESTDIR)$(sysusersdir)/fz-portald.conf
	$(INSTALL_DATA) $(srcdir)/contrib/systemd/fz-relayd.sysusers \
	    $(DESTDIR)$(sysusersdir)/fz-relayd.conf
	$(INSTALL_DATA) $(srcdir)/contrib/systemd/fz.tmpfiles \
	    $(DESTDIR)$(tmpfilesdir)/fz.conf
uninstall-local:
	rm -f $(DESTDIR)$(sysusersdir)/fz.conf $(DESTDIR)$(tmpfilesdir)/fz.conf \
	    $(DESTDIR)$(sysusersdir)/fz-portald.conf \
	    $(DESTDIR)$(sysusersdir)/fz-relayd.conf
.PHONY: install-sysusers-tmpfiles
