# SPDX-License-Identifier: ISC
# fz-gui: the GTK 4 front end (configure --enable-gui, default auto), its
# desktop entry, icon and man page, and its test.
if ENABLE_GUI
bin_PROGRAMS += fz-gui
dist_man_MANS += man/fz-gui.1
desktopdir = $(datadir)/applications
dist_desktop_DATA = gui/fz-gui.desktop
guiicondir = $(datadir)/icons/hicolor/scalable/apps
dist_guiicon_DATA = gui/fz-gui.svg
endif
fz_gui_SOURCES = gui/fz-gui.c
fz_gui_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/ipc -I$(top_srcdir)/ctl \
	$(LIBEVENT_CFLAGS) $(SODIUM_CFLAGS) $(GTK_CFLAGS) \
	-DGDK_VERSION_MIN_REQUIRED=GDK_VERSION_4_8 \
	-DGDK_VERSION_MAX_ALLOWED=GDK_VERSION_4_8
fz_gui_LDADD = $(FZCTL_LIBS) $(GTK_LIBS)
EXTRA_DIST += gui/fz-gui.desktop gui/fz-gui.svg man/fz-gui.1 \
	tests/gui/gui_atspi.py

# Root (network namespaces), Xvfb, a session bus with AT-SPI; without
# GTK it skips (fails under CI).
TESTS += tests/gui/gui.sh
dist_noinst_SCRIPTS += tests/gui/gui.sh
