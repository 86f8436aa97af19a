// SPDX-License-Identifier: MIT
/*
 * virtio-blk and virtio-rng on the PCI transport without an IOMMU (bus
 * address = guest-physical), without KVM: guest RAM is a malloc'ed region,
 * the test is the driver (virtio_testutil.h). Functional tests (features,
 * read/write/flush/get-id against a temporary image, rng, MSI-X, INTx and
 * the ISR) and one test per item of the hostile-driver list: each ends in
 * DEVICE_NEEDS_RESET, an error status or a dropped request, never a crash
 * or an access outside guest RAM (ASan watches the latter).
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "virtio_testutil.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vmm/virtio-priv.h"
#include "vmm/virtio.h"

#define RAM_SIZE	(16ULL << 20)
#define BDF		0x0018		/* 00:03.0 */
#define DESC		0x100000ULL
#define AVAIL		0x101000ULL
#define USED		0x102000ULL
#define DATA		0x200000ULL	/* data pages from here */
#define HDR		0x1ff000ULL	/* request header */
#define STATUS		0x1ff800ULL	/* status byte */
#define IMAGE_SECTORS	2048		/* 1 MiB */

static struct vm vm;
static uint8_t *ram;
static struct vdrv drv;
static char image[64];
static unsigned int nmsis;
static uint32_t last_msi_data;
static bool intx_level;

static int record_msi(struct vm *v, uint64_t address, uint32_t data)
{
	(void)v;
	ck_assert_uint_eq(address, 0xfee00000);
	__atomic_add_fetch(&nmsis, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&last_msi_data, data, __ATOMIC_SEQ_CST);
	return 0;
}

static int record_intx(struct vm *v, unsigned int gsi, bool level)
{
	(void)v;
	(void)gsi;
	__atomic_store_n(&intx_level, level, __ATOMIC_SEQ_CST);
	return 0;
}

static uint64_t identity(uint64_t bus)
{
	return bus;
}

static void *gpa(uint64_t addr, size_t len)
{
	void *p = vm_gpa(&vm, addr, len);

	ck_assert_ptr_nonnull(p);
	return p;
}

static void setup(void)
{
	char err[256];
	int fd;

	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = -1;
	vm.console_in = vm.console_out = -1;
	ram = calloc(1, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	vm.nmem = 1;
	vm.mem[0] = (struct mem_region){ .gpa = 0, .size = RAM_SIZE, .host = ram };
	ck_assert_int_eq(bus_init(&vm.pio, "pio"), 0);
	ck_assert_int_eq(bus_init(&vm.mmio, "mmio"), 0);
	ck_assert_int_eq(pci_host_bridge_init(&vm, err, sizeof(err)), 0);
	pci_signal_msi = record_msi;
	pci_irq_line = record_intx;
	nmsis = 0;
	intx_level = false;

	strcpy(image, "/tmp/tagvmm-virtio-XXXXXX");
	fd = mkstemp(image);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, IMAGE_SECTORS * 512), 0);
	close(fd);
	memset(&drv, 0, sizeof(drv));
}

static void teardown(void)
{
	virtio_free(drv.vp);
	pci_host_bridge_exit(&vm);
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
	free(ram);
	unlink(image);
}

/* The device @kind (blk on the image; @ro) at BDF, decoded, bus master, MSI-X on. */
static void make(enum virtio_kind kind, bool ro, bool msix)
{
	struct virtio_spec s = { .kind = kind, .ro = ro };
	char err[256];
	struct pci_device *pci;

	strcpy(s.path, image);
	drv.vm = &vm;
	drv.vp = virtio_create(&vm, &s, BDF, false, err, sizeof(err));
	ck_assert_msg(drv.vp != NULL, "%s", err);
	pci = drv.pci = virtio_pci_device(drv.vp);
	drv.gpa_of = identity;
	drv.desc = DESC;
	drv.avail = AVAIL;
	drv.used = USED;
	pci_device_config_write(pci, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	if (msix) {
		for (unsigned int v = 0; v < pci->msix_entries; v++) {
			uint8_t *e = pci->msix_table + 16 * v;

			memset(e, 0, 16);
			e[2] = 0xe0;
			e[3] = 0xfe;
			e[8] = (uint8_t)(0x40 + v);	/* data: 0x40 + vector */
		}
		pci_device_config_write(pci, pci->msix_cap + 2, 2, 0x8000);
	}
}

/* A blk request: header (type, sector), data at DATA of @len bytes, status. */
static int64_t blk(uint32_t type, uint64_t sector, uint32_t len, bool data_write)
{
	struct vd_buf b[3];
	unsigned int n = 0;
	uint8_t *h = gpa(HDR, 16);

	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	*(uint8_t *)gpa(STATUS, 1) = 0xff;
	b[n++] = (struct vd_buf){ HDR, 16, false };
	if (len)
		b[n++] = (struct vd_buf){ DATA, len, data_write };
	b[n++] = (struct vd_buf){ STATUS, 1, true };
	return vd_request(&drv, b, n);
}

static uint8_t blk_status(void)
{
	return *(uint8_t *)gpa(STATUS, 1);
}

static bool needs_reset(void)
{
	return vd_status(&drv) & VIRTIO_STATUS_NEEDS_RESET;
}

/* ---- functional ---- */

/* The vendor capability of @type: BAR and offset. */
static bool find_cap(uint8_t type, uint8_t *bar, uint32_t *off)
{
	struct pci_device *pci = drv.pci;
	unsigned int at = pci_device_config_read(pci, 0x34, 1), guard = 0;

	while (at && guard++ < 48) {
		if (pci_device_config_read(pci, at, 1) == VIRTIO_PCI_CAP_ID &&
		    pci_device_config_read(pci, at + 3, 1) == type) {
			*bar = (uint8_t)pci_device_config_read(pci, at + 4, 1);
			*off = pci_device_config_read(pci, at + 8, 4);
			return true;
		}
		at = pci_device_config_read(pci, at + 1, 1);
	}
	return false;
}

START_TEST(test_config_space)
{
	uint8_t bar;
	uint32_t off;

	make(VIRTIO_KIND_BLK, false, true);
	ck_assert_uint_eq(pci_device_config_read(drv.pci, 0, 4), 0x1042u << 16 | 0x1af4);
	ck_assert(find_cap(VIRTIO_PCI_CAP_COMMON, &bar, &off));
	ck_assert_uint_eq(bar, 0);
	ck_assert_uint_eq(off, VIRTIO_COMMON_OFF);
	ck_assert(find_cap(VIRTIO_PCI_CAP_NOTIFY, &bar, &off));
	ck_assert_uint_eq(off, VIRTIO_NOTIFY_OFF);
	ck_assert(find_cap(VIRTIO_PCI_CAP_ISR, &bar, &off));
	ck_assert(find_cap(VIRTIO_PCI_CAP_DEVICE, &bar, &off));
	ck_assert_uint_eq(drv.pci->msix_entries, 2);	/* config + one queue */
	ck_assert_uint_eq(pci_find_ext_cap(drv.pci, PCI_EXT_CAP_ID_ATS), 0);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_COMMON_NUMQ, 2), 1);
	/* capacity, byte by byte as well as whole */
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_DEVICE_OFF, 8), IMAGE_SECTORS);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_DEVICE_OFF + 1, 1), IMAGE_SECTORS >> 8);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_DEVICE_OFF + 12, 4), 64);	/* seg_max */
}
END_TEST

START_TEST(test_features)
{
	uint64_t f;

	make(VIRTIO_KIND_BLK, false, true);
	f = vd_device_features(&drv);
	ck_assert(f >> VIRTIO_F_VERSION_1 & 1);
	ck_assert(!(f >> VIRTIO_F_ACCESS_PLATFORM & 1));	/* no IOMMU: not offered */
	ck_assert(f >> 9 & 1);					/* FLUSH */
	ck_assert(!(f >> 5 & 1));				/* not RO */
	/* No VERSION_1, or a bit not offered: FEATURES_OK does not stick. */
	ck_assert(!vd_negotiate(&drv, f & ~(1ULL << VIRTIO_F_VERSION_1)));
	ck_assert(!vd_negotiate(&drv, f | 1ULL << VIRTIO_F_ACCESS_PLATFORM));
	ck_assert(!vd_negotiate(&drv, f | 1ULL << 28));		/* INDIRECT_DESC */
	ck_assert(vd_negotiate(&drv, f));
	/* Features are fixed once FEATURES_OK is set. */
	vd_wr(&drv, VIRTIO_COMMON_GFSELECT, 4, 0);
	vd_wr(&drv, VIRTIO_COMMON_GF, 4, 0);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_COMMON_GF, 4), (uint32_t)f);
	/* DRIVER_OK without FEATURES_OK is an error. */
	vd_wr(&drv, VIRTIO_COMMON_STATUS, 1, 0);
	vd_wr(&drv, VIRTIO_COMMON_STATUS, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
	      VIRTIO_STATUS_DRIVER_OK);
	ck_assert(needs_reset());
	vd_wr(&drv, VIRTIO_COMMON_STATUS, 1, 0);
	ck_assert_uint_eq(vd_status(&drv), 0);
}
END_TEST

START_TEST(test_blk_round_trip)
{
	uint8_t *data = gpa(DATA, 8192), file[8192], id[20];
	int fd;

	make(VIRTIO_KIND_BLK, false, true);
	vd_bring_up(&drv, 16);
	for (unsigned int i = 0; i < 8192; i++)
		data[i] = (uint8_t)(i * 13 + 5);
	ck_assert_int_eq(blk(1, 7, 8192, false), 1);		/* OUT */
	ck_assert_uint_eq(blk_status(), 0);
	ck_assert_int_eq(blk(4, 0, 0, false), 1);		/* FLUSH */
	ck_assert_uint_eq(blk_status(), 0);
	fd = open(image, O_RDONLY);
	ck_assert_int_eq(pread(fd, file, sizeof(file), 7 * 512), (ssize_t)sizeof(file));
	close(fd);
	ck_assert_mem_eq(file, data, sizeof(file));
	memset(data, 0, 8192);
	ck_assert_int_eq(blk(0, 7, 8192, true), 8193);		/* IN */
	ck_assert_uint_eq(blk_status(), 0);
	ck_assert_mem_eq(file, data, sizeof(file));
	ck_assert_int_eq(blk(8, 0, 20, true), 21);		/* GET_ID */
	memcpy(id, data, 20);
	ck_assert_int_eq(memcmp(id, strrchr(image, '/') + 1, strlen(strrchr(image, '/') + 1)), 0);
	ck_assert_int_eq(blk(99, 0, 0, false), 1);		/* unknown type */
	ck_assert_uint_eq(blk_status(), 2);			/* UNSUPP */
	/* Past the end, or not whole sectors: IOERR, nothing moved. */
	ck_assert_int_eq(blk(0, IMAGE_SECTORS - 1, 1024, true), 1);
	ck_assert_uint_eq(blk_status(), 1);
	ck_assert_int_eq(blk(0, 0, 100, true), 1);
	ck_assert_uint_eq(blk_status(), 1);
	ck_assert_uint_eq(nmsis, 7);
	ck_assert_uint_eq(last_msi_data, 0x41);			/* the queue's vector 1 */
	ck_assert(!needs_reset());
}
END_TEST

START_TEST(test_blk_read_only)
{
	uint8_t *data = gpa(DATA, 4096), file[4096], zero[4096] = { 0 };
	int fd;

	make(VIRTIO_KIND_BLK, true, true);
	ck_assert(vd_device_features(&drv) >> 5 & 1);		/* RO */
	vd_bring_up(&drv, 16);
	memset(data, 0xab, 4096);
	ck_assert_int_eq(blk(1, 0, 4096, false), 1);
	ck_assert_uint_eq(blk_status(), 1);			/* IOERR */
	fd = open(image, O_RDONLY);
	ck_assert_int_eq(pread(fd, file, sizeof(file), 0), (ssize_t)sizeof(file));
	close(fd);
	ck_assert_mem_eq(file, zero, sizeof(file));
}
END_TEST

START_TEST(test_rng)
{
	uint8_t *data = gpa(DATA, 64);
	struct vd_buf b = { DATA, 64, true };
	unsigned int nonzero = 0;

	uint8_t bar;
	uint32_t off;

	make(VIRTIO_KIND_RNG, false, true);
	ck_assert_uint_eq(pci_device_config_read(drv.pci, 0, 4), 0x1044u << 16 | 0x1af4);
	/* No configuration, so no device region (Linux refuses a zero-length one). */
	ck_assert(!find_cap(VIRTIO_PCI_CAP_DEVICE, &bar, &off));
	ck_assert(find_cap(VIRTIO_PCI_CAP_NOTIFY, &bar, &off));
	vd_bring_up(&drv, 8);
	ck_assert_int_eq(vd_request(&drv, &b, 1), 64);
	for (unsigned int i = 0; i < 64; i++)
		nonzero += data[i] != 0;
	ck_assert_uint_gt(nonzero, 32);	/* 64 random bytes with 33 zeros: ~never */
}
END_TEST

START_TEST(test_msix_vectors)
{
	make(VIRTIO_KIND_BLK, false, true);
	ck_assert(vd_negotiate(&drv, vd_device_features(&drv)));
	/* A vector beyond the table reads back as NO_VECTOR (Linux then falls back). */
	vd_wr(&drv, VIRTIO_COMMON_MSIX, 2, 5);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_COMMON_MSIX, 2), 0xffff);
	vd_wr(&drv, VIRTIO_COMMON_MSIX, 2, 0);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_COMMON_MSIX, 2), 0);
	vd_setup_queue(&drv, 16, 1);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_COMMON_Q_MSIX, 2), 1);
	vd_driver_ok(&drv);
	ck_assert_int_eq(blk(4, 0, 0, false), 1);
	ck_assert_uint_eq(nmsis, 1);
	ck_assert_uint_eq(last_msi_data, 0x41);
	/* NO_INTERRUPT in avail.flags: no message. */
	vd_put16(&drv, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	ck_assert_int_eq(blk(4, 0, 0, false), 1);
	ck_assert_uint_eq(nmsis, 1);
	/* A device error goes to the config vector. */
	vd_put16(&drv, AVAIL, 0);
	vd_desc(&drv, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 0);	/* loops on itself */
	vd_kick(&drv, 0);
	virtio_quiesce(drv.vp);
	ck_assert(needs_reset());
	ck_assert_uint_eq(nmsis, 2);
	ck_assert_uint_eq(last_msi_data, 0x40);
}
END_TEST

START_TEST(test_intx_isr)
{
	make(VIRTIO_KIND_BLK, false, false);	/* MSI-X left off */
	vd_bring_up(&drv, 16);
	ck_assert_int_eq(blk(4, 0, 0, false), 1);
	ck_assert_uint_eq(nmsis, 0);
	ck_assert(intx_level);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_ISR_OFF, 1), VIRTIO_ISR_QUEUE);
	ck_assert(!intx_level);					/* read clears, line drops */
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_ISR_OFF, 1), 0);
}
END_TEST

/* ---- hostile drivers ---- */

START_TEST(test_hostile_loop)
{
	make(VIRTIO_KIND_BLK, false, true);
	vd_bring_up(&drv, 4);
	vd_desc(&drv, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	vd_desc(&drv, 1, DATA, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
	vd_kick(&drv, 0);
	virtio_quiesce(drv.vp);
	ck_assert(needs_reset());
	ck_assert_uint_eq(vd_used_idx(&drv), 0);
	/* Kicks after the error do nothing. */
	vd_kick(&drv, 0);
	virtio_quiesce(drv.vp);
	ck_assert_uint_eq(vd_used_idx(&drv), 0);
}
END_TEST

START_TEST(test_hostile_chain_too_long)
{
	make(VIRTIO_KIND_BLK, false, true);
	vd_bring_up(&drv, 4);
	/* next beyond the queue size: the chain would leave the table. */
	vd_desc(&drv, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 4);
	vd_kick(&drv, 0);
	virtio_quiesce(drv.vp);
	ck_assert(needs_reset());
}
END_TEST

START_TEST(test_hostile_avail_runs_ahead)
{
	make(VIRTIO_KIND_BLK, false, true);
	vd_bring_up(&drv, 4);
	/* 5 new entries in a ring of 4, and a head beyond the table. */
	vd_put16(&drv, AVAIL + 2, 5);
	vd_wr(&drv, VIRTIO_NOTIFY_OFF, 2, 0);
	virtio_quiesce(drv.vp);
	ck_assert(needs_reset());
	vd_wr(&drv, VIRTIO_COMMON_STATUS, 1, 0);
	vd_bring_up(&drv, 4);
	drv.avail_idx = 0;
	vd_kick(&drv, 9);
	virtio_quiesce(drv.vp);
	ck_assert(needs_reset());
}
END_TEST

START_TEST(test_hostile_outside_ram)
{
	struct vd_buf b[3] = {
		{ HDR, 16, false }, { RAM_SIZE - 512, 4096, true }, { STATUS, 1, true },
	};
	uint8_t *h = gpa(HDR, 16);

	make(VIRTIO_KIND_BLK, false, true);
	vd_bring_up(&drv, 16);
	memset(h, 0, 16);					/* IN, sector 0 */
	/* Data running past the end of RAM: IOERR, the queue goes on. */
	ck_assert_int_eq(vd_request(&drv, b, 3), 1);
	ck_assert_uint_eq(blk_status(), 1);
	ck_assert(!needs_reset());
	b[1].addr = 0xd0000000;					/* in the MMIO hole */
	ck_assert_int_eq(vd_request(&drv, b, 3), 1);
	ck_assert_uint_eq(blk_status(), 1);
	/* The status byte itself outside RAM: nothing to report, used but empty. */
	b[1].addr = DATA;
	b[2].addr = 1ULL << 40;
	ck_assert_int_eq(vd_request(&drv, b, 3), 4096);
	/* A ring outside RAM: the device cannot go on. */
	vd_wr(&drv, VIRTIO_COMMON_STATUS, 1, 0);
	ck_assert(vd_negotiate(&drv, vd_device_features(&drv)));
	drv.used = 0x7fff0000000ULL;
	vd_setup_queue(&drv, 16, 1);
	vd_driver_ok(&drv);
	vd_desc(&drv, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	vd_desc(&drv, 1, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	vd_put16(&drv, AVAIL + 4, 0);
	vd_put16(&drv, AVAIL + 2, 1);
	vd_wr(&drv, VIRTIO_NOTIFY_OFF, 2, 0);
	virtio_quiesce(drv.vp);
	ck_assert(needs_reset());
	ck_assert_uint_ge(vd_rd(&drv, VIRTIO_COMMON_Q_ENABLE, 2), 1);
}
END_TEST

START_TEST(test_hostile_length_overflow)
{
	struct vd_buf b[3] = {
		{ HDR, 16, false }, { DATA, 0xfffffe00u, true }, { STATUS, 1, true },
	};

	make(VIRTIO_KIND_BLK, false, true);
	vd_bring_up(&drv, 16);
	memset(gpa(HDR, 16), 0, 16);
	/* 4 GiB of data: beyond the request limit, IOERR before any copy. */
	ck_assert_int_eq(vd_request(&drv, b, 3), 1);
	ck_assert_uint_eq(blk_status(), 1);
	ck_assert(!needs_reset());
	/* Address + length wraps around: a broken descriptor. */
	b[1].addr = 0xfffffffffffff000ULL;
	b[1].len = 0x2000;
	ck_assert_int_eq(vd_request(&drv, b, 3), -1);
	ck_assert(needs_reset());
}
END_TEST

START_TEST(test_hostile_queue_size)
{
	make(VIRTIO_KIND_BLK, false, true);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_COMMON_Q_SIZE, 2), VIRTQ_MAX_SIZE);
	ck_assert(vd_negotiate(&drv, vd_device_features(&drv)));
	vd_setup_queue(&drv, 3, 1);				/* not a power of two */
	ck_assert(needs_reset());
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_COMMON_Q_ENABLE, 2), 0);
	ck_assert(vd_negotiate(&drv, vd_device_features(&drv)));
	vd_setup_queue(&drv, 512, 1);				/* above the maximum */
	ck_assert(needs_reset());
	ck_assert(vd_negotiate(&drv, vd_device_features(&drv)));
	vd_setup_queue(&drv, 0, 1);
	ck_assert(needs_reset());
	/* Queues the device does not have read as absent and ignore writes. */
	vd_wr(&drv, VIRTIO_COMMON_Q_SELECT, 2, 7);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_COMMON_Q_SIZE, 2), 0);
	vd_wr(&drv, VIRTIO_COMMON_Q_ENABLE, 2, 1);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_COMMON_Q_ENABLE, 2), 0);
}
END_TEST

START_TEST(test_hostile_notify_before_driver_ok)
{
	make(VIRTIO_KIND_BLK, false, true);
	ck_assert(vd_negotiate(&drv, vd_device_features(&drv)));
	vd_setup_queue(&drv, 16, 1);
	memset(gpa(HDR, 16), 0, 16);
	vd_desc(&drv, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	vd_desc(&drv, 1, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	vd_kick(&drv, 0);
	virtio_quiesce(drv.vp);
	ck_assert_uint_eq(vd_used_idx(&drv), 0);
	/* DRIVER_OK then a kick: the request waiting in the ring is served. */
	vd_driver_ok(&drv);
	vd_wr(&drv, VIRTIO_NOTIFY_OFF, 2, 0);
	virtio_quiesce(drv.vp);
	ck_assert_uint_eq(vd_used_idx(&drv), 1);
	/* Without bus master the function may not DMA: nothing happens. */
	pci_device_config_write(drv.pci, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	vd_kick(&drv, 0);
	virtio_quiesce(drv.vp);
	ck_assert_uint_eq(vd_used_idx(&drv), 1);
}
END_TEST

START_TEST(test_hostile_bad_descriptors)
{
	make(VIRTIO_KIND_BLK, false, true);
	vd_bring_up(&drv, 16);
	/* INDIRECT was not offered. */
	vd_desc(&drv, 0, HDR, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vd_kick(&drv, 0);
	virtio_quiesce(drv.vp);
	ck_assert(needs_reset());
	/* A readable descriptor after a writable one. */
	vd_wr(&drv, VIRTIO_COMMON_STATUS, 1, 0);
	vd_bring_up(&drv, 16);
	vd_desc(&drv, 0, STATUS, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	vd_desc(&drv, 1, HDR, 16, 0, 0);
	vd_kick(&drv, 0);
	virtio_quiesce(drv.vp);
	ck_assert(needs_reset());
	/* Too short for a header, or no status byte: dropped (used, nothing written). */
	vd_wr(&drv, VIRTIO_COMMON_STATUS, 1, 0);
	vd_bring_up(&drv, 16);
	{
		struct vd_buf b[1] = { { HDR, 16, false } };

		ck_assert_int_eq(vd_request(&drv, b, 1), 0);
		b[0] = (struct vd_buf){ STATUS, 1, true };
		ck_assert_int_eq(vd_request(&drv, b, 1), 0);
	}
	ck_assert(!needs_reset());
}
END_TEST

/* A driver thread scribbling on its rings while the device serves them. */
struct scribbler {
	bool stop;		/* __atomic */
	unsigned int seed;
};

static void *scribble(void *arg)
{
	struct scribbler *s = arg;
	uint8_t *desc = ram + DESC, *avail = ram + AVAIL;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		unsigned int r = rand_r(&s->seed);

		if (r & 1)
			desc[(r >> 1) % (16 * 16)] = (uint8_t)(r >> 12);
		else
			avail[4 + (r >> 1) % 32] = (uint8_t)(r >> 12);
	}
	return NULL;
}

START_TEST(test_hostile_rings_changed_while_running)
{
	struct scribbler s = { .stop = false, .seed = 1 };
	pthread_t t;

	make(VIRTIO_KIND_BLK, false, true);
	vd_bring_up(&drv, 16);
	/* The queue's layout is fixed once enabled: later writes are ignored. */
	vd_wr(&drv, VIRTIO_COMMON_Q_DESC, 8, 0x300000);
	vd_wr(&drv, VIRTIO_COMMON_Q_SIZE, 2, 8);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_COMMON_Q_DESC, 8), DESC);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_COMMON_Q_SIZE, 2), 16);
	/* Descriptors and ring entries change under the device: whatever it reads is checked. */
	ck_assert_int_eq(pthread_create(&t, NULL, scribble, &s), 0);
	for (unsigned int i = 0; i < 2000 && !needs_reset(); i++) {
		vd_put16(&drv, AVAIL + 2, (uint16_t)(vd_get16(&drv, AVAIL + 2) + 1));
		vd_wr(&drv, VIRTIO_NOTIFY_OFF, 2, 0);
		if (i % 64 == 0)
			virtio_quiesce(drv.vp);
	}
	__atomic_store_n(&s.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	virtio_quiesce(drv.vp);
	/* Whatever happened, a reset brings the device back. */
	vd_wr(&drv, VIRTIO_COMMON_STATUS, 1, 0);
	memset(ram + DESC, 0, 3 * 4096);
	vd_bring_up(&drv, 16);
	ck_assert_int_eq(blk(4, 0, 0, false), 1);
	ck_assert_uint_eq(blk_status(), 0);
}
END_TEST

START_TEST(test_hostile_reset_mid_io)
{
	/* Many large reads queued, then a reset: it returns once nothing is in flight. */
	make(VIRTIO_KIND_BLK, false, true);
	vd_bring_up(&drv, 16);
	memset(gpa(HDR, 16), 0, 16);
	vd_desc(&drv, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	vd_desc(&drv, 1, DATA, 512 * 1024, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	vd_desc(&drv, 2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	for (unsigned int i = 0; i < 16; i++)
		vd_put16(&drv, AVAIL + 4 + 2 * i, 0);
	vd_put16(&drv, AVAIL + 2, 16);
	vd_wr(&drv, VIRTIO_NOTIFY_OFF, 2, 0);
	vd_wr(&drv, VIRTIO_COMMON_STATUS, 1, 0);
	ck_assert_uint_eq(vd_status(&drv), 0);
	ck_assert_uint_eq(vd_rd(&drv, VIRTIO_COMMON_Q_ENABLE, 2), 0);
	{
		uint16_t used = vd_used_idx(&drv);

		/* After the reset read back 0, the device writes nothing more. */
		ck_assert_uint_le(used, 16);
		memset(ram + DATA, 0x5a, 4096);
		usleep(20000);
		virtio_quiesce(drv.vp);
		ck_assert_uint_eq(vd_used_idx(&drv), used);
		ck_assert_uint_eq(ram[DATA], 0x5a);
	}
	vd_bring_up(&drv, 16);
	ck_assert_int_eq(blk(4, 0, 0, false), 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("virtio");
	TCase *f = tcase_create("functional"), *h = tcase_create("hostile");

	tcase_add_checked_fixture(f, setup, teardown);
	tcase_add_test(f, test_config_space);
	tcase_add_test(f, test_features);
	tcase_add_test(f, test_blk_round_trip);
	tcase_add_test(f, test_blk_read_only);
	tcase_add_test(f, test_rng);
	tcase_add_test(f, test_msix_vectors);
	tcase_add_test(f, test_intx_isr);
	suite_add_tcase(s, f);
	tcase_add_checked_fixture(h, setup, teardown);
	tcase_set_timeout(h, 60);
	tcase_add_test(h, test_hostile_loop);
	tcase_add_test(h, test_hostile_chain_too_long);
	tcase_add_test(h, test_hostile_avail_runs_ahead);
	tcase_add_test(h, test_hostile_outside_ram);
	tcase_add_test(h, test_hostile_length_overflow);
	tcase_add_test(h, test_hostile_queue_size);
	tcase_add_test(h, test_hostile_notify_before_driver_ok);
	tcase_add_test(h, test_hostile_bad_descriptors);
	tcase_add_test(h, test_hostile_rings_changed_while_running);
	tcase_add_test(h, test_hostile_reset_mid_io);
	suite_add_tcase(s, h);
	return s;
}

int main(void)
{
	return check_run(suite());
}
