# The tagvmm program and its subcommands.
bin_PROGRAMS += tagvmm
tagvmm_SOURCES = \
	vmm/main.c vmm/cli.h \
	vmm/cmd-replay.c vmm/cmd-trace.c \
	vmm/topology.h vmm/topology.c \
	vmm/qemu-trace.h vmm/qemu-trace.c
tagvmm_LDADD = $(TAGVMM_LIBS)
