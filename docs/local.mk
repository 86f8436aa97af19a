# What `make install` puts beside the binary: the man page, and the README
# with the documentation under $(docdir) (README.md in it, docs/ below it, so
# the README's links to docs/*.md still resolve once installed).
dist_man_MANS += docs/tagvmm.1
dist_doc_DATA = README.md
tagvmmdocsdir = $(docdir)/docs
dist_tagvmmdocs_DATA = \
	docs/running.md docs/machine.md docs/viommu.md docs/passthrough.md \
	docs/replay.md docs/flush-trace.md docs/performance.md docs/design.md \
	docs/virtio.md
