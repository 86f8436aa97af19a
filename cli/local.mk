# The tagvmm program: main and the run/replay/trace commands, the only
# place that sees every other folder.
bin_PROGRAMS += tagvmm
tagvmm_SOURCES = \
	cli/main.c cli/cli.h \
	cli/cmd-run.c cli/run-options.c cli/run-options.h cli/cmd-replay.c cli/cmd-trace.c
# Every libvmm object, not the archive: devices register themselves from
# constructors (vmm/init.h), which an archive link would drop.
tagvmm_LDADD = libreplay.a $(libvmm_a_OBJECTS) $(libviommu_a_OBJECTS) $(TAGVMM_LIBS)
