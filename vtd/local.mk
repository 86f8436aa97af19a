# VT-d definitions and the descriptor codec, shared by every other part.
noinst_LIBRARIES += libvtd.a
libvtd_a_SOURCES = vtd/regs.h vtd/fault.h vtd/desc.h vtd/desc.c
