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
