/* SPDX-License-Identifier: MIT */
/*
 * A small AML emitter (ACPI 6.5 chapter 20) and the resource-template
 * descriptors (§6.4) the DSDT needs. It writes bytes straight into a caller
 * buffer, so the DSDT can be assembled in place after its table header and
 * tests can check the encodings without building any table.
 *
 * The emitter only ever writes the shortest encoding of an integer or a
 * PkgLength, because that is what iasl produces: the DSDT's AML must match
 * what iasl recompiles from its own disassembly, byte for byte.
 *
 * Errors are sticky rather than returned: every call may run past the
 * buffer, and the caller checks aml_failed() once at the end, which keeps
 * table code a straight list of calls.
 */
#ifndef TAGVMM_VMM_AML_H
#define TAGVMM_VMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of open objects (Scope in Device in Package in ...). */
#define AML_MAX_DEPTH		8

/*
 * An AML byte stream. buf[0..len) is the output; the other fields are the
 * emitter's. Objects with a PkgLength (§20.2.4) are opened with a 4-byte
 * hole for it and closed once their size is known; closing picks the
 * shortest encoding and slides the body down.
 */
struct aml {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
	size_t open[AML_MAX_DEPTH];
	unsigned int depth;
};

void aml_init(struct aml *a, void *buf, size_t cap);

/* True when the buffer ran out, nesting was too deep, or an object is still open. */
bool aml_failed(const struct aml *a);

/*
 * NameString (§20.2.2) from "\_SB.PCI0"-style text: an optional root or
 * parent prefix, then dot-separated segments of up to four characters,
 * padded with '_' ("\_SB" becomes "\_SB_"), so callers can write ASL names.
 */
void aml_name_string(struct aml *a, const char *path);

/* ComputationalData integer (§20.2.3): ZeroOp, OneOp, or the narrowest prefix. */
void aml_integer(struct aml *a, uint64_t v);

/*
 * The objects below open a PkgLength: emit their contents, then call
 * aml_close(). Nesting is limited to AML_MAX_DEPTH. DefScope is in
 * §20.2.5.1, DefDevice in §20.2.5.2.
 */
void aml_scope(struct aml *a, const char *name);
void aml_device(struct aml *a, const char *name);
/* DefMethod with no arguments, NotSerialized (MethodFlags 0, §20.2.5.2). */
void aml_method(struct aml *a, const char *name);
/* DefPackage of @nelems elements (§20.2.5.4): the caller emits each one. */
void aml_package(struct aml *a, uint8_t nelems);
/*
 * Writes the PkgLength (§20.2.4) of the innermost open object. It counts
 * itself, so it takes 1 byte up to 0x3f in all, then 2, 3 or 4 bytes up to
 * 0xfff, 0xfffff and 0xfffffff.
 */
void aml_close(struct aml *a);

/* DefName (§20.2.5.1): the caller emits the value object next. */
void aml_name(struct aml *a, const char *name);
void aml_name_integer(struct aml *a, const char *name, uint64_t v);
/* Name(name, EisaId("PNP0A08")): _HID and _CID values for PNP devices. */
void aml_name_eisa_id(struct aml *a, const char *name, const char *id);

/* DefReturn (§20.2.5.3): the caller emits the returned value next. */
void aml_return(struct aml *a);

/*
 * The ASL EisaId() macro the way iasl compresses it, "PNP0A08" -> 0x080ad041:
 * three 5-bit letters and four hex digits, stored big-endian.
 */
uint32_t aml_eisa_id(const char *id);

/* ---- ResourceTemplate (§6.4) ----------------------------------------------- */

#define AML_RES_MAX		128

/*
 * Descriptors collected before they go into a Buffer. Zero-initialise it.
 * Once full, descriptors land in scratch and aml_resource_template() fails
 * the stream, so the descriptor calls need no error checks.
 */
struct aml_resources {
	uint8_t b[AML_RES_MAX];
	size_t len;
	bool overflow;
	uint8_t scratch[32];
};

/* IO(Decode16, base, base, 1, len): a fixed range of ports (§6.4.2.5). */
void aml_res_io(struct aml_resources *r, uint16_t base, uint8_t len);
/* IRQNoFlags(){irq}: edge-triggered, active-high, exclusive (§6.4.2.1). */
void aml_res_irq_no_flags(struct aml_resources *r, unsigned int irq);
/* Memory32Fixed(ReadWrite, base, len) (§6.4.3.4). */
void aml_res_memory32_fixed(struct aml_resources *r, uint32_t base, uint32_t len);
/*
 * Bridge windows a ResourceProducer decodes (§6.4.3.5.2, §6.4.3.5.3), with
 * fixed minimum and maximum: WordBusNumber, WordIO (EntireRange), and a
 * read-write non-cacheable DWordMemory. A root bridge's _CRS needs these:
 * Linux scans only the buses and windows they list.
 */
void aml_res_word_bus_number(struct aml_resources *r, uint16_t min, uint16_t len);
void aml_res_word_io(struct aml_resources *r, uint16_t min, uint16_t len);
void aml_res_dword_memory(struct aml_resources *r, uint32_t min, uint32_t len);

/* ResourceTemplate(): a Buffer holding @r's descriptors and an End Tag (§6.4.2.9). */
void aml_resource_template(struct aml *a, const struct aml_resources *r);

#endif
