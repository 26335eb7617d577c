# Included by the top Makefile: install, uninstall, deb, rpm, check-package.
#
# Layout (DESTDIR is prepended to every path):
#   $(HOOKDIR)/oci-cgroup-bpf-hook        the hook; HOOKDIR is /usr/libexec/oci/hooks.d
#                                         whatever PREFIX is, because the hooks.d
#                                         files name that path (other OCI hooks live
#                                         there too); set HOOKDIR to move it, and the
#                                         installed hooks.d files follow
#   $(BINDIR)/oci-cgroup-bpf-hook         relative symlink to the hook
#   $(HOOKSDDIR)/*.json                   hooks.d files ($(PREFIX)/share/containers/oci/hooks.d;
#                                         podman and CRI-O read /usr/share/... and
#                                         /etc/containers/oci/hooks.d: with another
#                                         PREFIX, add HOOKSDDIR to their hooks_dir)
#   $(CONFDIR)/config.json, profiles/     /etc/oci-cgroup-bpf-hook, the hook's built-in
#                                         default; existing files are never overwritten
#   $(MANDIR)/man1, man5                  manual pages
#
# `make uninstall` removes what `make install` put there, except
# configuration files that differ from the shipped ones.

HOOKDIR    ?= /usr/libexec/oci/hooks.d
BINDIR     ?= $(PREFIX)/bin
HOOKSDDIR  ?= $(PREFIX)/share/containers/oci/hooks.d
CONFDIR    ?= /etc/oci-cgroup-bpf-hook
MANDIR     ?= $(PREFIX)/share/man

INSTALL    ?= install
HOOK_NAME  := oci-cgroup-bpf-hook
HOOKSD_SRC := $(wildcard config/hooks.d/*.json)
PROFILES   := $(wildcard config/profiles/*.json)
MAN1       := packaging/man/oci-cgroup-bpf-hook.1
MAN5       := packaging/man/oci-cgroup-bpf-hook-profile.5
SHIPPED_HOOKPATH := /usr/libexec/oci/hooks.d/oci-cgroup-bpf-hook

.PHONY: install uninstall deb rpm check-package

install: $(BIN)
	$(INSTALL) -d -m 0755 $(DESTDIR)$(HOOKDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(HOOKSDDIR) \
		$(DESTDIR)$(CONFDIR) $(DESTDIR)$(CONFDIR)/profiles \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	@# Beside the target, then renamed: a runtime never execs a partial file.
	$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(HOOKDIR)/.$(HOOK_NAME).tmp
	mv -f $(DESTDIR)$(HOOKDIR)/.$(HOOK_NAME).tmp $(DESTDIR)$(HOOKDIR)/$(HOOK_NAME)
	ln -sfr $(DESTDIR)$(HOOKDIR)/$(HOOK_NAME) $(DESTDIR)$(BINDIR)/$(HOOK_NAME)
	@set -e; for f in $(HOOKSD_SRC); do \
		echo "install $$f -> $(DESTDIR)$(HOOKSDDIR)/$${f##*/}"; \
		sed 's|"$(SHIPPED_HOOKPATH)"|"$(HOOKDIR)/$(HOOK_NAME)"|' $$f > $(DESTDIR)$(HOOKSDDIR)/.$${f##*/}.tmp; \
		chmod 0644 $(DESTDIR)$(HOOKSDDIR)/.$${f##*/}.tmp; \
		mv -f $(DESTDIR)$(HOOKSDDIR)/.$${f##*/}.tmp $(DESTDIR)$(HOOKSDDIR)/$${f##*/}; \
	done
	@set -e; for f in config/config.json $(PROFILES); do \
		d=$(DESTDIR)$(CONFDIR)/$${f#config/}; \
		if [ -e "$$d" ] || [ -L "$$d" ]; then \
			echo "keep $$d (exists; the shipped version is $$f)"; \
		else \
			echo "install $$f -> $$d"; \
			$(INSTALL) -m 0644 $$f "$$d"; \
		fi; \
	done
	$(INSTALL) -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/$(HOOK_NAME) $(DESTDIR)$(HOOKDIR)/$(HOOK_NAME)
	rm -f $(addprefix $(DESTDIR)$(HOOKSDDIR)/,$(notdir $(HOOKSD_SRC)))
	rm -f $(DESTDIR)$(MANDIR)/man1/$(notdir $(MAN1)) $(DESTDIR)$(MANDIR)/man5/$(notdir $(MAN5))
	@set -e; for f in config/config.json $(PROFILES); do \
		d=$(DESTDIR)$(CONFDIR)/$${f#config/}; \
		if [ -f "$$d" ] && cmp -s "$$f" "$$d"; then \
			echo "rm $$d"; rm -f "$$d"; \
		elif [ -e "$$d" ]; then \
			echo "keep $$d (changed from the shipped $$f)"; \
		fi; \
	done
	@rmdir $(DESTDIR)$(CONFDIR)/profiles $(DESTDIR)$(CONFDIR) 2>/dev/null || true
	@rmdir -p $(DESTDIR)$(HOOKDIR) $(DESTDIR)$(HOOKSDDIR) 2>/dev/null || true

# --- packages ----------------------------------------------------------------
# Both are built from a copy of the working tree (without build/ and .git),
# so uncommitted changes are packaged and this tree's build/ is untouched.

PKG_NAME   := oci-cgroup-bpf-hook
PKG_SRC    := $(BUILD)/pkg-src/$(PKG_NAME)-$(VERSION)
RPM_TOP    := $(abspath $(BUILD)/rpm)

$(BUILD)/pkg-src: FORCE
	rm -rf $(BUILD)/pkg-src
	mkdir -p $(PKG_SRC)
	tar --exclude=./build --exclude=./.git --exclude='./$(BUILD)' -cf - . | tar -C $(PKG_SRC) -xf -

.PHONY: FORCE
FORCE:

# dpkg-buildpackage writes its results beside the source tree: they are
# moved to $(BUILD)/deb/.
deb: $(BUILD)/pkg-src
	@v=$$(dpkg-parsechangelog -l packaging/debian/changelog -S Version); \
	if [ "$$v" != "$(VERSION)" ]; then \
		echo "packaging/debian/changelog is at $$v, the Makefile at $(VERSION): add a changelog entry (dch -v $(VERSION))" >&2; \
		exit 1; \
	fi
	cp -a packaging/debian $(PKG_SRC)/debian
	cd $(PKG_SRC) && dpkg-buildpackage -us -uc -b
	rm -rf $(BUILD)/deb
	mkdir -p $(BUILD)/deb
	find $(BUILD)/pkg-src -maxdepth 1 -type f -name '$(PKG_NAME)*_$(VERSION)_*' -exec mv {} $(BUILD)/deb/ \;
	@ls -l $(BUILD)/deb

# rpmbuild on a Debian host: no rpm database holds the BuildRequires, so
# they are not checked (--nodeps), and there is no debuginfo tooling.
rpm: $(BUILD)/pkg-src
	@v=$$(sed -n 's/^Version:[[:space:]]*//p' packaging/rpm/$(PKG_NAME).spec); \
	if [ "$$v" != "$(VERSION)" ]; then \
		echo "packaging/rpm/$(PKG_NAME).spec is at $$v, the Makefile at $(VERSION)" >&2; \
		exit 1; \
	fi
	rm -rf $(RPM_TOP)
	mkdir -p $(RPM_TOP)/SOURCES
	tar -C $(BUILD)/pkg-src -czf $(RPM_TOP)/SOURCES/$(PKG_NAME)-$(VERSION).tar.gz $(PKG_NAME)-$(VERSION)
	rpmbuild -bb --nodeps --define '_topdir $(RPM_TOP)' --define 'debug_package %{nil}' \
		packaging/rpm/$(PKG_NAME).spec
	@find $(RPM_TOP)/RPMS -name '*.rpm' -exec ls -l {} +

check-package:
	./tests/check-package.sh
