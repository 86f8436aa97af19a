dist_man_MANS += docs/tagvmm.1
EXTRA_DIST += docs
