#!/bin/bash
# SPDX-License-Identifier: ISC
# The Debian packages on a new machine (root): build them with
# contrib/debian/build.sh (dpkg-buildpackage), run lintian (no error,
# warning or info tag that is not overridden with a reason), then, in a
# fresh Debian 12 root made with debootstrap (cached in
# /var/tmp/fz-fresh-bookworm, as ../shared/tools/fresh-root keeps it), with
# the packages' dependencies already installed:
#   apt-get install the packages; systemd-sysusers made the users, nothing
#   is enabled; fz-tunneld --check, fz-tunneld --mode gateway --check (the
#   token as a systemd credential), fz-relayd --help and
#   fz-portald --config /etc/fz/portald.json --check run there;
#   apt-get purge; the root's files are as before the install (but the
#   system users, which Debian leaves on purge).
# Also checks the fzctl bash completion with this machine's bash-completion.
# Takes about 2 minutes with the cached root (debootstrap adds a few more).
# FZ_DEBIAN_KEEP=1 keeps the work directory.
. "$(dirname "$0")/../netns/lib.sh"

[ "$(id -u)" = 0 ] || ns_skip "needs root (chroot, mounts)"
for t in dpkg-buildpackage dh lintian chroot; do
	command -v $t >/dev/null 2>&1 || ns_skip "$t missing (debhelper, lintian, dpkg-dev)"
done
# Under /var/tmp: the root is a few hundred MB, and something on this
# machine removes /tmp/fz-test.* directories while a build runs.
FZ_TMP=$(mktemp -d /var/tmp/fz-debian-test.XXXXXX) || ns_fail "mktemp"
T=$FZ_TMP
[ -n "${FZ_DEBIAN_KEEP:-}" ] && FZ_KEEP_TMP=1
src=$top_srcdir

# 1. Build.
log=$T/build.log
"$src/contrib/debian/build.sh" "$T/out" -j2 >"$log" 2>&1 ||
	{ tail -40 "$log"; ns_fail "contrib/debian/build.sh failed"; }
debs=$(ls "$T"/out/*.deb | grep -v -- -dbgsym_) || ns_fail "no .deb built"
names=""
for d in $debs; do names="$names $(dpkg-deb -f "$d" Package)"; done
ns_log "built:$names"
for p in fz-client fz-gateway fz-relay fz-portal; do
	case " $names " in *" $p "*) ;; *) ns_fail "package $p not built" ;; esac
done
# Contents each package must hold.
for p in $names; do dpkg-deb -c "$T/out/$p"_*.deb >"$T/$p.list"; done
has() { grep -- " \./$2\$" "$T/$1.list" >/dev/null || ns_fail "$1 lacks /$2"; }
for f in usr/sbin/fz-tunneld usr/sbin/fz-controld usr/bin/fzctl \
    lib/systemd/system/fz-tunneld.service lib/systemd/system/fz-tunneld.socket \
    usr/lib/sysusers.d/fz.conf usr/lib/tmpfiles.d/fz.conf \
    usr/share/man/man8/fz-tunneld.8.gz usr/share/man/man1/fzctl.1.gz \
    usr/share/bash-completion/completions/fzctl; do has fz-client $f; done
has fz-gateway lib/systemd/system/fz-gateway.service
for f in usr/sbin/fz-relayd lib/systemd/system/fz-relayd.service \
    usr/lib/sysusers.d/fz-relayd.conf; do has fz-relay $f; done
for f in usr/sbin/fz-portald lib/systemd/system/fz-portald.service \
    usr/lib/sysusers.d/fz-portald.conf; do has fz-portal $f; done
case " $names " in
*" fz-client-gui "*)
	has fz-client-gui usr/bin/fz-gui
	grep -E ' \./usr/share/applications/.*\.desktop$' "$T/fz-client-gui.list" >/dev/null ||
		ns_fail "fz-client-gui has no desktop file" ;;
*) ns_log "fz-client-gui not built (gui/ does not build fz-gui: nogui profile)" ;;
esac
dpkg-deb --fsys-tarfile "$T"/out/fz-gateway_*.deb |
	tar -xOf - ./lib/systemd/system/fz-gateway.service |
	grep -qx 'LoadCredential=FIREZONE_TOKEN:/etc/fz/gateway-token' ||
	ns_fail "fz-gateway.service does not load /etc/fz/gateway-token"

# 2. lintian: errors, warnings and info tags fail (overrides need a reason).
changes=$(ls "$T"/out/*.changes)
lintian -I --pedantic --show-overrides "$changes" \
	>"$T/lintian.out" 2>&1 || { cat "$T/lintian.out"; ns_fail "lintian"; }
grep -E '^[EWIPX]:' "$T/lintian.out" && ns_fail "lintian: tags above"
ns_log "lintian: clean ($(grep -c '^O:' "$T/lintian.out") tags overridden, each with its reason)"

# 3. The fzctl completion, with this machine's bash-completion.
bc=/usr/share/bash-completion/bash_completion
[ -r $bc ] || ns_skip "bash-completion missing"
got=$(bash -c '. '$bc'; . "$1"; COMP_WORDS=(fzctl sign-); COMP_CWORD=1;
	COMP_LINE="fzctl sign-"; COMP_POINT=${#COMP_LINE}; _fzctl;
	echo "${COMPREPLY[*]}"' sh "$src/contrib/completion/fzctl")
[ "$got" = "sign-in sign-out" ] || ns_fail "completion of 'fzctl sign-': '$got'"
got=$(bash -c '. '$bc'; . "$1"; COMP_WORDS=(fzctl sign-in --t); COMP_CWORD=2;
	COMP_LINE="fzctl sign-in --t"; COMP_POINT=${#COMP_LINE}; _fzctl;
	echo "${COMPREPLY[*]}"' sh "$src/contrib/completion/fzctl")
[ "$got" = "--token-file" ] || ns_fail "completion of 'fzctl sign-in --t': '$got'"

# 4. A fresh Debian 12 root.
base=/var/tmp/fz-fresh-bookworm
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
if [ ! -f $base/.ok ]; then
	command -v debootstrap >/dev/null 2>&1 || ns_skip "debootstrap missing"
	rm -rf $base
	debootstrap --variant=minbase bookworm $base "$mirror" >"$T/debootstrap.log" 2>&1 ||
		{ tail -20 "$T/debootstrap.log"; ns_fail "debootstrap"; }
	cp /etc/apt/sources.list.d/debian.sources $base/etc/apt/sources.list.d/ 2>/dev/null
	touch $base/.ok
fi
R=$T/root
mkdir "$R"
cp -a $base/. "$R"/
rm -f "$R/.ok"
cp /etc/resolv.conf "$R/etc/resolv.conf"
mount -t proc proc "$R/proc" || ns_fail "mount proc"
ns_on_cleanup "umount -l '$R/proc'"
mount --bind /dev "$R/dev" || ns_fail "bind /dev"
ns_on_cleanup "umount -l '$R/dev'"
# Before the tmp directory goes: refuse to remove a root with mounts left.
ns_on_cleanup "grep -q ' $R/' /proc/mounts && FZ_KEEP_TMP=1"
inroot() {
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
mkdir "$R/tmp/debs"
cp $debs "$R/tmp/debs/"
inroot apt-get -q update >"$T/apt.log" 2>&1 || { tail "$T/apt.log"; ns_fail "apt-get update in the root"; }
# The packages' dependencies first (apt's choice among alternatives: the
# first), so the files before and after are the packages' own.
deps=$(for d in $debs; do dpkg-deb -f "$d" Depends; done | tr ',' '\n' |
	sed -e 's/|.*//' -e 's/(.*//' -e 's/ //g' | grep -v '^fz-' | grep . | sort -u)
inroot apt-get -q install -y --no-install-recommends $deps >>"$T/apt.log" 2>&1 ||
	{ tail -20 "$T/apt.log"; ns_fail "installing the dependencies"; }

snapshot() {
	(cd "$R" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./tmp \
	    -o -path ./var/cache -o -path ./var/lib/apt -o -path ./var/lib/dpkg \
	    -o -path ./var/log/apt -o -path ./var/log/dpkg.log \
	    -o -path ./var/log/alternatives.log \) -prune -o -print) | sort
}
snapshot >"$T/before"
for f in passwd group; do cp "$R/etc/$f" "$T/$f.before"; done

# 5. Install, as on a new machine.
inroot sh -c 'apt-get -q install -y --no-install-recommends /tmp/debs/*.deb' \
	>"$T/install.log" 2>&1 || { tail -30 "$T/install.log"; ns_fail "apt-get install of the packages"; }
ns_log "installed:$names"
for u in fz fz-relay fz-portal; do
	inroot getent passwd $u >/dev/null || ns_fail "user $u not created (sysusers)"
done
inroot getent group fz-client >/dev/null || ns_fail "group fz-client not created"
[ -d "$R/var/lib/dev.firezone.client/config" ] || ns_fail "tmpfiles.d/fz.conf not applied"
en=$(find "$R/etc/systemd/system" -name 'fz-*' 2>/dev/null)
[ -z "$en" ] || ns_fail "installation enabled units: $en"

inroot fz-tunneld --check >"$T/check.out" 2>&1 ||
	{ cat "$T/check.out"; ns_fail "fz-tunneld --check in the root"; }
ns_log "fz-tunneld --check: ok"
# The gateway, its token as a systemd credential as the unit passes it.
mkdir -p "$R/etc/fz" "$R/tmp/cred"
echo "gw-$RANDOM$RANDOM" >"$R/etc/fz/gateway-token"
chmod 0400 "$R/etc/fz/gateway-token"
cp "$R/etc/fz/gateway-token" "$R/tmp/cred/FIREZONE_TOKEN"
inroot env CREDENTIALS_DIRECTORY=/tmp/cred fz-tunneld --mode gateway --check \
	>"$T/gwcheck.out" 2>&1 || { cat "$T/gwcheck.out"; ns_fail "fz-tunneld --mode gateway --check"; }
ns_log "fz-tunneld --mode gateway --check: ok"
inroot fz-relayd --help >"$T/relay.out" 2>&1 ||
	{ cat "$T/relay.out"; ns_fail "fz-relayd --help in the root"; }
grep -q 'usage' "$T/relay.out" || ns_fail "fz-relayd --help printed no usage"
ns_log "fz-relayd --help: ok"
cat >"$R/etc/fz/portald.json" <<JSON
{ "account": {"slug": "acme", "search_domain": "corp.test",
              "upstream_do53": ["10.0.0.53"]},
  "relay_token": "relay-$RANDOM$RANDOM",
  "turn_servers": [],
  "sites": [{"name": "hq", "gateway_token": "gw-$RANDOM$RANDOM"}],
  "resources": [
    {"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq"}],
  "clients": [{"name": "alice", "token": "alice-$RANDOM$RANDOM", "groups": ["eng"]}],
  "policies": [{"group": "eng", "resource": "lan"}] }
JSON
chmod 0640 "$R/etc/fz/portald.json"
inroot fz-portald --config /etc/fz/portald.json --check >"$T/portald.out" 2>&1 ||
	{ cat "$T/portald.out"; ns_fail "fz-portald --check in the root"; }
ns_log "fz-portald --config /etc/fz/portald.json --check: ok"
inroot fzctl --help >/dev/null 2>&1 || ns_fail "fzctl --help in the root"
case " $names " in *" fz-client-gui "*)
	inroot fz-gui --help >/dev/null 2>&1 || ns_fail "fz-gui --help in the root"
	ns_log "fz-gui --help: ok" ;;
esac

# 6. Purge: nothing left but the system users.
inroot apt-get -q purge -y $names >"$T/purge.log" 2>&1 ||
	{ tail -30 "$T/purge.log"; ns_fail "apt-get purge"; }
left=$(inroot dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' 'fz-*' 2>/dev/null | grep -v '^un ')
[ -z "$left" ] || ns_fail "packages left after purge: $left"
snapshot >"$T/after"
extra=$(comm -13 "$T/before" "$T/after" | grep -Ev '^\./etc/(passwd|group|shadow|gshadow)-$')
gone=$(comm -23 "$T/before" "$T/after")
[ -z "$extra" ] || ns_fail "purge left: $(echo $extra)"
[ -z "$gone" ] || ns_fail "install + purge removed: $(echo $gone)"
users=$(diff "$T/passwd.before" "$R/etc/passwd" | sed -n 's/^> \([^:]*\):.*/\1/p' | sort | tr '\n' ' ')
[ "$users" = "fz fz-portal fz-relay " ] || ns_fail "passwd changed beyond the system users: '$users'"
ns_log "purge: no files left (system users kept: $users)"
ns_log "PASS"
