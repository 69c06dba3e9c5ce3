/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Memory-map syscalls (mmap, munmap, brk, ...). Part of memtrace.bpf.c,
 * after the allocation accounting, whose stacks they reuse.
 */

/*
 * Memory-map syscalls, from the raw syscall tracepoints: they see Go
 * programs and static binaries, which never go through libc's wrappers, and
 * they need no tracefs. They are rare next to malloc, so each is sent to
 * userspace, which keeps the interval map.
 */
static __always_inline bool vm_syscall(long id)
{
	switch (id) {
	case MT_NR_MMAP:
	case MT_NR_MPROTECT:
	case MT_NR_MUNMAP:
	case MT_NR_BRK:
	case MT_NR_MREMAP:
	case MT_NR_MADVISE:
		return true;
	}
	return false;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(mt_sys_enter, struct pt_regs *regs, long id)
{
	struct mt_pending *p;
	__u32 tgid;

	if (empty_probes || !vm_syscall(id))
		return 0;
	if (!traced(&tgid))
		return 0;
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p)
		return 0;
	p->vm_nr = (__u32)id;
	p->vm_args[0] = regs->di;
	p->vm_args[1] = regs->si;
	p->vm_args[2] = regs->dx;
	p->vm_args[3] = regs->r10;
	p->vm_args[4] = regs->r8;
	p->vm_args[5] = regs->r9;
	p->vm_active = 1;
	/* Inside malloc the allocation's own stack says who made the heap grow. */
	if (p->active && p->stack_id) {
		p->vm_stack_id = 0;
		return 0;
	}
	if (id == MT_NR_MMAP || id == MT_NR_BRK || id == MT_NR_MREMAP) {
		/* Inside the syscall wrapper: its own frame first, from the user registers. */
		struct walk_regs start = { .ip = regs->ip, .sp = regs->sp, .bp = regs->bp };

		stack_window_reset(&p->win);
		p->vm_stack_id = capture_stack_at(&start, 0, &p->vm_stack, &p->win, 0);
	} else {
		p->vm_stack_id = 0;
	}
	return 0;
}

/* A process whose executable mappings changed: userspace publishes its modules. */
static __always_inline void modules_changed(__u32 tgid)
{
	struct mt_uev_modules *e;

	if (!defer_stacks)
		return;
	e = bpf_ringbuf_reserve(&unwind_events, sizeof(*e), 0);
	if (!e)
		return;	/* the next refresh publishes them; frames until then are deferred */
	e->type = MT_UEV_MODULES;
	e->pid = tgid;
	bpf_ringbuf_submit(e, 0);
}

/*
 * A traced process (system-wide: any process) runs a new program: its
 * executable and dynamic linker are mapped, the rest follows by mmap.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(mt_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid;

	if (empty_probes || !traced(&tgid))
		return 0;
	/* A new image: its interpreter, if any, is found again by its own probes. */
	if (python_probes)
		bpf_map_delete_elem(&py_procs, &tgid);
	modules_changed(tgid);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(mt_sys_exit, struct pt_regs *regs, long ret)
{
	struct mt_vm_event *e;
	struct mt_pending *p;
	__u64 stack_id;
	__u32 tgid;

	if (empty_probes || !vm_syscall(regs->orig_ax))
		return 0;
	if (!traced(&tgid))
		return 0;
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0, 0);
	if (!p || !p->vm_active || p->vm_nr != regs->orig_ax)
		return 0;
	p->vm_active = 0;

	stack_id = p->vm_stack_id;
	if (!stack_id && p->active && p->stack_id) {
		stack_id = p->stack_id;
		if (!store_stack(stack_id, &p->stack))
			stack_id = 0;	/* the region is shown with no stack */
	} else if (stack_id) {
		if (!store_stack(stack_id, &p->vm_stack))
			stack_id = 0;
	}

	e = bpf_ringbuf_reserve(&vm_events, sizeof(*e), 0);
	if (!e) {
		count(MT_CNT_VM_EVENTS_LOST);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = tgid;
	e->nr = p->vm_nr;
	e->ret = ret;
	e->in_alloc = p->active;
	e->stack_id = stack_id;
	e->pad = 0;
	__builtin_memcpy(e->args, p->vm_args, sizeof(e->args));
	bpf_ringbuf_submit(e, 0);
	/* Code mapped (a library loaded, dlopen): PROT_EXEC, and no error. */
	if ((p->vm_nr == MT_NR_MMAP || p->vm_nr == MT_NR_MPROTECT) && (p->vm_args[2] & 4) &&
	    (__u64)ret < (__u64)-4095)
		modules_changed(tgid);
	return 0;
}
