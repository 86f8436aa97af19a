# Unit tests (Check) and CLI tests (shell). `make check` runs them all.
UNIT_TESTS = \
	tests/unit/check_desc \
	tests/unit/check_tagstore \
	tests/unit/check_plan \
	tests/unit/check_simvtd \
	tests/unit/check_flushtrace \
	tests/unit/check_oracle \
	tests/unit/check_stress \
	tests/unit/check_qemu_trace

check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
UNIT_LDADD = $(TAGVMM_LIBS) $(CHECK_LIBS)

tests_unit_check_desc_SOURCES = tests/unit/check_desc.c
tests_unit_check_desc_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_desc_LDADD = $(UNIT_LDADD)
tests_unit_check_tagstore_SOURCES = tests/unit/check_tagstore.c tests/unit/testutil.h
tests_unit_check_tagstore_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_tagstore_LDADD = $(UNIT_LDADD)
tests_unit_check_plan_SOURCES = tests/unit/check_plan.c tests/unit/testutil.h
tests_unit_check_plan_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_plan_LDADD = $(UNIT_LDADD)
tests_unit_check_simvtd_SOURCES = tests/unit/check_simvtd.c
tests_unit_check_simvtd_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_simvtd_LDADD = $(UNIT_LDADD)
tests_unit_check_flushtrace_SOURCES = tests/unit/check_flushtrace.c
tests_unit_check_flushtrace_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_flushtrace_LDADD = $(UNIT_LDADD)
tests_unit_check_oracle_SOURCES = tests/unit/check_oracle.c tests/unit/testutil.h
tests_unit_check_oracle_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_oracle_LDADD = $(UNIT_LDADD)
tests_unit_check_stress_SOURCES = tests/unit/check_stress.c tests/unit/testutil.h
tests_unit_check_stress_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_stress_LDADD = $(UNIT_LDADD)
tests_unit_check_qemu_trace_SOURCES = tests/unit/check_qemu_trace.c vmm/qemu-trace.c vmm/qemu-trace.h
tests_unit_check_qemu_trace_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_qemu_trace_LDADD = $(UNIT_LDADD)

# CLI tests drive the built tagvmm binary.
CLI_TESTS = tests/cli/replay.sh tests/cli/trace-summary.sh
TESTS += $(CLI_TESTS)
EXTRA_DIST += $(CLI_TESTS) tests/data
