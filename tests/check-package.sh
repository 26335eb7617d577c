#!/bin/bash
# make check-package: the Debian package, for real.
#  1. builds it (make deb) and checks it with lintian (no error or warning);
#  2. installs it with apt-get (dependencies from ${shlibs:Depends});
#  3. checks the installed layout and the conffiles;
#  4. runs the podman test against the installed files and podman's default
#     hooks directories (tests/integration/70-podman.sh, OCB_PODMAN_INSTALLED=1);
#  5. removes it (configuration stays), then purges it, and checks that
#     nothing is left: files, directories it created, pins, locks;
#  6. builds the RPM (make rpm) if rpmbuild exists, and checks its contents.
# The package is purged at exit even if a step fails. It refuses to run if
# the package is already installed or files of `make install` are present.
. "$(dirname "$0")/lib.sh"

PKG=oci-cgroup-bpf-hook
TOP=$OCB_TOP
VERSION=$(sed -n 's/^VERSION[[:space:]]*:=[[:space:]]*//p' "$TOP/Makefile")
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600)
export DEBIAN_FRONTEND=noninteractive

require_root
require_cmds dpkg dpkg-buildpackage dh lintian apt-get podman runc busybox python3 jq bpftool socat

pkg_status() {
	dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null
}

# Expected files (besides directories and /usr/share/doc).
EXPECTED_FILES="/etc/oci-cgroup-bpf-hook/config.json
/etc/oci-cgroup-bpf-hook/profiles/deny-all.json
/etc/oci-cgroup-bpf-hook/profiles/no-lan.json
/etc/oci-cgroup-bpf-hook/profiles/no-metadata.json
/etc/oci-cgroup-bpf-hook/profiles/trace-only.json
/usr/bin/oci-cgroup-bpf-hook
/usr/libexec/oci/hooks.d/oci-cgroup-bpf-hook
/usr/share/containers/oci/hooks.d/oci-cgroup-bpf-hook-poststop.json
/usr/share/containers/oci/hooks.d/oci-cgroup-bpf-hook-prestart.json
/usr/share/man/man1/oci-cgroup-bpf-hook.1.gz
/usr/share/man/man5/oci-cgroup-bpf-hook-profile.5.gz"
CONFFILES=$(grep '^/etc/' <<<"$EXPECTED_FILES")
# State the hook creates at run time; purge removes it when it is empty.
RUNTIME_DIRS="/sys/fs/bpf/oci-cgroup-bpf-hook /sys/fs/bpf/oci-cgroup-bpf-hook-work /run/oci-cgroup-bpf-hook"

case $(pkg_status) in
'' | not-installed | config-files) ;;
*) bail "$PKG is not installed before the test" \
	"it is ($(pkg_status)); purge it first: apt-get purge $PKG" ;;
esac
[ "$(pkg_status)" = config-files ] && "${APT[@]}" purge "$PKG" >/dev/null 2>&1
for f in $EXPECTED_FILES; do
	if [ -e "$f" ] || [ -L "$f" ]; then
		bail "no $PKG files outside the package before the test" \
			"$f exists (from make install? run: make uninstall)"
	fi
done

# Directories the package may create, and whether they exist now: those
# that did not must be gone after the purge.
PKG_DIRS="/etc/oci-cgroup-bpf-hook /etc/oci-cgroup-bpf-hook/profiles /usr/libexec/oci
/usr/libexec/oci/hooks.d /usr/share/containers /usr/share/containers/oci
/usr/share/containers/oci/hooks.d /usr/share/doc/$PKG"
declare -A EXISTED=()
for d in $PKG_DIRS $RUNTIME_DIRS; do
	[ -d "$d" ] && EXISTED[$d]=1
done
# What others (parallel test runs) have in the runtime directories now.
runtime_entries() {
	local d
	for d in $RUNTIME_DIRS; do
		[ -d "$d" ] && find "$d" -mindepth 1 -maxdepth 1 -printf '%p\n'
	done | sort
}
ENTRIES_BEFORE=$(runtime_entries)
# Whether another user of this host's bpffs has containers attached: then
# purge must keep the shared objects, and their removal is not checked.
ATTACHED_BEFORE=$(find /sys/fs/bpf/oci-cgroup-bpf-hook -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)

INSTALLED_BY_US=
purge_at_exit() {
	[ -n "$INSTALLED_BY_US" ] || return 0
	case $(pkg_status) in
	'' | not-installed) ;;
	*) "${APT[@]}" purge "$PKG" >/dev/null 2>&1 ;;
	esac
}
defer purge_at_exit

# ------------------------------------------------------------ 1. build

DEB_LOG=$T_TMP/deb.log
if make -C "$TOP" --no-print-directory deb >"$DEB_LOG" 2>&1; then
	ok "make deb"
else
	bail "make deb" "$(tail -40 "$DEB_LOG")"
fi
ARCH=$(dpkg --print-architecture)
DEB=$TOP/build/deb/${PKG}_${VERSION}_$ARCH.deb
CHANGES=$TOP/build/deb/${PKG}_${VERSION}_$ARCH.changes
[ -f "$DEB" ] || bail "make deb wrote $DEB" "$(ls -l "$TOP/build/deb" 2>&1)"
ok "make deb wrote build/deb/${DEB##*/}"

if grep -E '^dpkg-shlibdeps: warning' "$DEB_LOG"; then
	diag "dpkg-shlibdeps warnings (above)"
fi

# lintian as root says so on stderr; that line is not a finding.
lintian --fail-on error,warning "$CHANGES" >"$T_TMP/lintian.txt" 2>&1
rc=$?
LINTIAN=$(grep -v 'running with root privileges' "$T_TMP/lintian.txt")
if [ "$rc" -eq 0 ] && ! grep -qE '^[EW]: ' <<<"$LINTIAN"; then
	ok "lintian: no error or warning"
else
	not_ok "lintian: no error or warning" "exit status $rc" "$LINTIAN"
fi
INFO=$(lintian -I --pedantic "$CHANGES" 2>&1 | grep -v 'running with root privileges')
[ -n "$INFO" ] && diag "lintian -I --pedantic:" "$INFO"

DEPENDS=$(dpkg-deb -f "$DEB" Depends)
diag "Depends: $DEPENDS"
for lib in libbpf1 libjansson4; do
	expect_match "Depends names $lib (from \${shlibs:Depends})" "(^|, )$lib( |,|$)" "$DEPENDS"
done
# libseccomp2 appears once the hook calls into libseccomp (--as-needed).
if readelf -d "$TOP/build/pkg-src/$PKG-$VERSION/debian/$PKG/usr/libexec/oci/hooks.d/$PKG" 2>/dev/null |
	grep -q 'libseccomp'; then
	expect_match "Depends names libseccomp2" "(^|, )libseccomp2( |,|$)" "$DEPENDS"
else
	diag "the hook does not link libseccomp (no symbol used): no libseccomp2 in Depends"
fi

# ------------------------------------------------------------ 2. install

INSTALLED_BY_US=1
out=$("${APT[@]}" install "$DEB" 2>&1)
rc=$?
expect_eq "apt-get install ./${DEB##*/}" 0 "$rc" "$(tail -20 <<<"$out")" ||
	bail "the package installs"
expect_eq "dpkg says $PKG is installed" installed "$(pkg_status)"

# ------------------------------------------------------------ 3. layout

LISTED=$(dpkg -L "$PKG" | sort)
for f in $EXPECTED_FILES; do
	if grep -qxF "$f" <<<"$LISTED" && { [ -e "$f" ] || [ -L "$f" ]; }; then
		ok "installed: $f"
	else
		not_ok "installed: $f" "$(ls -la "$f" 2>&1)"
	fi
done
expect_eq "/usr/bin/oci-cgroup-bpf-hook is a relative symlink to the hook" \
	"../libexec/oci/hooks.d/oci-cgroup-bpf-hook" "$(readlink /usr/bin/oci-cgroup-bpf-hook)"
expect_eq "the hook is root-owned, mode 755" "root 755" \
	"$(stat -c '%U %a' /usr/libexec/oci/hooks.d/oci-cgroup-bpf-hook)"
expect_match "oci-cgroup-bpf-hook --version" "^oci-cgroup-bpf-hook $VERSION\$" \
	"$(oci-cgroup-bpf-hook --version 2>&1)"
GOT_CONF=$(dpkg-query -W -f='${Conffiles}\n' "$PKG" | awk 'NF {print $1}' | sort | tr '\n' ' ')
expect_eq "conffiles: /etc/oci-cgroup-bpf-hook/*" "$(tr '\n' ' ' <<<"$CONFFILES")" "$GOT_CONF"
for f in $CONFFILES; do
	src=$TOP/config/${f#/etc/oci-cgroup-bpf-hook/}
	if cmp -s "$src" "$f" && [ "$(stat -c '%U %a' "$f")" = "root 644" ]; then
		ok "$f is config/${src#"$TOP"/config/}, root-owned, mode 644"
	else
		not_ok "$f is config/${src#"$TOP"/config/}, root-owned, mode 644" \
			"$(stat -c '%U %a' "$f")" "$(diff "$src" "$f" 2>&1)"
	fi
done
# The documentation the man page points to (/usr/share/doc/PKG/).
DOC=/usr/share/doc/$PKG
for f in README.md SECURITY.md hooks.d-always/oci-cgroup-bpf-hook-prestart.json \
	hooks.d-always/oci-cgroup-bpf-hook-poststop.json hooks.d-always/50-oci-cgroup-bpf-hook-hooks-dir.conf \
	crio/10-oci-cgroup-bpf-hook.conf kubernetes/daemonset.yaml kubernetes/configmaps.yaml; do
	got=$(ls "$DOC/$f" "$DOC/$f.gz" 2>/dev/null | head -1)
	if [ -n "$got" ] && grep -qxF "$got" <<<"$LISTED"; then
		ok "documentation: $got"
	else
		not_ok "documentation: $DOC/$f (or .gz) is in the package" "$(ls "$DOC" 2>&1 | tr '\n' ' ')"
	fi
done
expect_eq "documentation: the hooks.d-always files are the ones in the tree (not compressed)" "" \
	"$(cmp "$DOC/hooks.d-always/oci-cgroup-bpf-hook-prestart.json" \
		"$TOP/packaging/hooks.d-always/oci-cgroup-bpf-hook-prestart.json" 2>&1)"
for m in oci-cgroup-bpf-hook oci-cgroup-bpf-hook-profile; do
	if man -w "$m" >/dev/null 2>&1 && man "$m" 2>/dev/null | grep -q 'SEE ALSO'; then
		ok "man $m"
	else
		not_ok "man $m" "$(man -w "$m" 2>&1)"
	fi
done

# ------------------------------------------------------------ 4. podman

PODMAN_LOG=$T_TMP/podman.log
IDS=$T_TMP/podman-ids
: >"$IDS"
OCB_PODMAN_INSTALLED=1 OCB_PODMAN_IDS_FILE=$IDS bash "$TOP/tests/integration/70-podman.sh" >"$PODMAN_LOG" 2>&1
rc=$?
sed 's/^/    /' "$PODMAN_LOG"
summary=$(grep -E '^# 70-podman: ' "$PODMAN_LOG" | sed 's/^# 70-podman: //')
if [ "$rc" -eq 0 ]; then
	ok "podman test against the installed package (${summary:-no summary})"
else
	not_ok "podman test against the installed package (${summary:-no summary})" \
		"exit status $rc; failures:" "$(grep '^not ok' "$PODMAN_LOG")"
fi

# ------------------------------------------------------------ 5. remove, purge

# A changed conffile must survive remove and go with purge.
echo '{"on_error": "allow"}' >/etc/oci-cgroup-bpf-hook/config.json
out=$("${APT[@]}" remove "$PKG" 2>&1)
expect_eq "apt-get remove" 0 "$?" "$(tail -20 <<<"$out")"
expect_eq "after remove: dpkg keeps the configuration" config-files "$(pkg_status)"
expect_eq "after remove: the changed config.json is kept" '{"on_error": "allow"}' \
	"$(cat /etc/oci-cgroup-bpf-hook/config.json 2>&1)"
for f in /usr/libexec/oci/hooks.d/oci-cgroup-bpf-hook /usr/bin/oci-cgroup-bpf-hook \
	/usr/share/containers/oci/hooks.d/oci-cgroup-bpf-hook-prestart.json; do
	if [ -e "$f" ] || [ -L "$f" ]; then
		not_ok "after remove: $f is gone"
	else
		ok "after remove: $f is gone"
	fi
done

out=$("${APT[@]}" purge "$PKG" 2>&1)
expect_eq "apt-get purge" 0 "$?" "$(tail -20 <<<"$out")"
case $(pkg_status) in
'' | not-installed) ok "after purge: dpkg forgot $PKG" ;;
*) not_ok "after purge: dpkg forgot $PKG" "status: $(pkg_status)" ;;
esac
left=""
for f in $EXPECTED_FILES $(grep -v '^/etc/' <<<"$LISTED"); do
	[ -d "$f" ] && [ ! -L "$f" ] && continue
	{ [ -e "$f" ] || [ -L "$f" ]; } && left+="$f "
done
expect_eq "after purge: no file of the package is left" "" "$left"
left=""
for d in $PKG_DIRS; do
	[ -z "${EXISTED[$d]:-}" ] && [ -d "$d" ] && left+="$d "
done
expect_eq "after purge: no directory the package created is left" "" "$left"
left=""
for id in $(sort -u "$IDS"); do
	for p in "$(pin_dir "$id")" "$LOCK_DIR/$id"; do
		[ -e "$p" ] && left+="$p "
	done
	[ -n "$(find /sys/fs/bpf/oci-cgroup-bpf-hook-work -maxdepth 1 -name "*$id*" 2>/dev/null)" ] &&
		left+="work:$id "
done
expect_eq "after purge: none of the $(sort -u "$IDS" | wc -l) podman containers left pins or locks" "" "$left"
# Beyond those ids: anything new in the run-time directories that looks
# like a podman container id (64 hex digits) is ours too.
new_hex=$(comm -13 <(printf '%s\n' "$ENTRIES_BEFORE") <(runtime_entries) | grep -E '/[0-9a-f]{64}$')
expect_eq "after purge: no new container-id entry under $RUNTIME_DIRS" "" "$new_hex"
left=""
for d in $RUNTIME_DIRS; do
	[ -z "${EXISTED[$d]:-}" ] && [ -d "$d" ] && [ -z "$(ls -A "$d")" ] && left+="$d "
done
expect_eq "after purge: empty run-time directories the hook created are removed" "" "$left"
# With no container attached, purge unpins the shared programs and the
# event ring buffer and removes the lock files, whoever made them.
SHARED="/sys/fs/bpf/oci-cgroup-bpf-hook-events /sys/fs/bpf/oci-cgroup-bpf-hook-progs /run/oci-cgroup-bpf-hook"
if [ "$ATTACHED_BEFORE" -gt 0 ]; then
	skip "after purge: shared objects removed" "$ATTACHED_BEFORE container(s) of another user were attached before the test"
else
	left=""
	for d in $SHARED; do
		[ -e "$d" ] && left+="$d "
	done
	expect_eq "after purge with no container attached: no shared program, ring buffer or lock file left" "" "$left"
fi
INSTALLED_BY_US=

# ------------------------------------------------------------ 6. rpm

if command -v rpmbuild >/dev/null 2>&1; then
	RPM_LOG=$T_TMP/rpm.log
	if make -C "$TOP" --no-print-directory rpm >"$RPM_LOG" 2>&1; then
		ok "make rpm"
		RPM=$(find "$TOP/build/rpm/RPMS" -name "$PKG-$VERSION-*.rpm" | head -1)
		files=$(rpm -qlp "$RPM" 2>/dev/null | grep -v '^/usr/lib/.build-id' |
			sed 's/\.gz$//' | sort)
		want=$(sed 's/\.gz$//' <<<"$EXPECTED_FILES" | sort)
		missing=$(comm -13 <(printf '%s\n' "$files") <(printf '%s\n' "$want"))
		expect_eq "rpm: every installed file is in the package" "" "$missing"
		expect_eq "rpm: %config(noreplace) files" "$(tr '\n' ' ' <<<"$CONFFILES")" \
			"$(rpm -qp --configfiles "$RPM" 2>/dev/null | sort | tr '\n' ' ')"
		reqs=$(rpm -qp --requires "$RPM" 2>/dev/null | tr '\n' ' ')
		for r in libbpf jansson libseccomp; do
			expect_match "rpm: Requires $r" "(^| )$r( |$)" "$reqs"
		done
	else
		not_ok "make rpm" "$(tail -30 "$RPM_LOG")"
	fi
else
	skip "make rpm" "rpmbuild is not installed (apt-get install rpm)"
fi

done_testing
