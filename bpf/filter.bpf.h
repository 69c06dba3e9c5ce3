/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which processes are traced: those userspace put in traced_pids, or,
 * system-wide, each process as it first allocates. Part of memtrace.bpf.c.
 */

static __always_inline bool traced(__u32 *tgid)
{
	__u8 one = 1;

	*tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&traced_pids, tgid))
		return true;
	if (!trace_all || *tgid == self_tgid)
		return false;
	/* A process seen for the first time: taken while there is room, else counted. */
	if (bpf_map_update_elem(&traced_pids, tgid, &one, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&traced_pids, tgid)) {
		count(MT_CNT_PROCS_MAP_FULL);
		return false;
	}
	return true;
}

/*
 * traced() for the allocator's probes. Probes attached for given processes
 * (-p, -- COMMAND) fire in those processes only: the kernel filters them
 * by pid, and a child after fork is not one of them. Only system-wide,
 * where the probes are on every process, is the map asked (a hash lookup,
 * ~40 ns per call here).
 */
static __always_inline bool probe_traced(__u32 *tgid)
{
	if (trace_all)
		return traced(tgid);
	*tgid = bpf_get_current_pid_tgid() >> 32;
	return true;
}
