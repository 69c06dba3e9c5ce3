/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "app/run.h"
#include "app/tracking.h"
#include "probe/loader.h"
#include "report/format.h"
#include "util/log.h"

/*
 * The rate memtrace chooses: one allocation per 64 KiB (tcmalloc and Go
 * sample per 512 KiB, for a profile only; memtrace's figures are checked per
 * call site, and a sampled call costs a return trap: at a mean block of 100
 * bytes, one call in 650). A 500 MiB heap then keeps ~8,000 samples, a
 * total within about 1% (one standard deviation).
 */
#define AUTO_SHIFT 16
/* The map is "nearly full" at 90%: blocks still fit while the switch happens. */
#define FULL_PERCENT 90
/* A process this large when memtrace attaches starts sampled (its RSS, anonymous). */
#define LARGE_TARGET_BYTES (1ull << 30)

uint64_t tracking__rate(const struct run *r)
{
	return r->tracking.shift ? 1ull << r->tracking.shift : 0;
}

/* Sampling from now on at 2^shift bytes per sample, because of why. */
static void set_shift(struct run *r, unsigned int shift, const char *why)
{
	char b[32];
	int err = loader__set_native_sample_shift(r->loader, shift);

	if (err == -EOPNOTSUPP) {
		if (!r->tracking.told_unsupported)
			mt_warn("cannot sample allocations: the kernel makes no uprobe sessions "
				"(6.13+): every block is kept\n");
		r->tracking.told_unsupported = true;
		return;
	}
	if (err) {
		mt_warn("cannot sample allocations: %s\n", strerror(-err));
		return;
	}
	/* When and why sampling began; a later halving of the rate is only said. */
	if (!r->tracking.shift) {
		/* At start-up the clock has not started: since 0. */
		r->tracking.since_s = r->start.tv_sec ? elapsed_s(r) : 0;
		snprintf(r->tracking.why, sizeof(r->tracking.why), "%s", why);
	}
	r->tracking.shift = shift;
	mt_info("sampling allocations from now on, 1 per %s allocated: %s\n",
		mt_human_bytes(1ull << shift, b, sizeof(b)), why);
}

void tracking__start(struct run *r)
{
	const struct options *o = r->o;
	uint64_t large = 0;
	char why[160], b[32];
	size_t i;

	if (o->sampling == SAMPLING_FIXED) {
		set_shift(r, o->sample_shift, "--sample-rate");
		return;
	}
	if (o->sampling != SAMPLING_AUTO)
		return;
	/* Blocks the map refuses are not lost in numbers: the BPF side starts sampling. */
	loader__set_auto_sample_shift(r->loader, AUTO_SHIFT);
	if (r->cmd_mode || r->system_wide)
		return;
	for (i = 0; i < r->set.nr; i++)
		if (!r->set.targets[i].alloc.is_go)
			large += r->set.targets[i].rss_anon_bytes;
	if (large < LARGE_TARGET_BYTES)
		return;
	snprintf(why, sizeof(why), "the targets hold %s of anonymous memory already "
		 "(--exact keeps every block)", mt_human_bytes(large, b, sizeof(b)));
	set_shift(r, AUTO_SHIFT, why);
}

void tracking__check(struct run *r, uint64_t blocks, uint64_t sampled)
{
	uint64_t max = r->o->max_allocs;
	unsigned int now = loader__native_sample_shift(r->loader);
	char why[160], b1[32], b2[32];

	/* The BPF side switched by itself: the map refused a block before memtrace looked. */
	if (now && !r->tracking.shift) {
		r->tracking.shift = now;
		r->tracking.since_s = elapsed_s(r);
		r->tracking.blocks_at_switch = blocks;
		r->tracking.sampled_at_switch = sampled;
		snprintf(r->tracking.why, sizeof(r->tracking.why),
			 "the allocation map was %d%% full (of %s blocks; --exact keeps every block "
			 "that fits, --max-allocs makes room)", FULL_PERCENT,
			 mt_count_str(max, b1, sizeof(b1)));
		mt_info("sampling allocations from now on, 1 per %s allocated: %s\n",
			mt_human_bytes(1ull << now, b2, sizeof(b2)), r->tracking.why);
		return;
	}
	if (r->o->sampling != SAMPLING_AUTO || !max || blocks * 100 < max * FULL_PERCENT ||
	    r->tracking.told_unsupported)
		return;
	if (r->tracking.shift >= MT_SAMPLE_SHIFT_MAX)
		return;
	/*
	 * Sampled already: the blocks kept exactly before stay until freed
	 * (halving the rate does nothing to them); only when samples take half
	 * the room those leave is the rate halved.
	 */
	if (r->tracking.shift && (r->tracking.blocks_at_switch >= max ||
				  (sampled - r->tracking.sampled_at_switch) * 2 <
				  max - r->tracking.blocks_at_switch))
		return;
	snprintf(why, sizeof(why), "the allocation map was %llu%% full (%s of %s blocks; "
		 "--exact keeps every block, --max-allocs makes room)",
		 (unsigned long long)(blocks * 100 / max), mt_count_str(blocks, b1, sizeof(b1)),
		 mt_count_str(max, b2, sizeof(b2)));
	/* Sampled already and full anyway: half as many samples from now on. */
	set_shift(r, r->tracking.shift ? r->tracking.shift + 1 : AUTO_SHIFT, why);
	r->tracking.blocks_at_switch = blocks;
	r->tracking.sampled_at_switch = sampled;
}
