//! rust_leak: what a Rust service's allocations look like, with exactly known figures.
//!
//!   make_session <- handle_request <- serve   300 x Vec<u8> of 4096 bytes, kept:
//!                                             live 1,228,800 bytes in 300 blocks
//!   grow_index <- serve                       a Vec<u64> pushed to 1000 elements: one
//!                                             allocation and 8 reallocations (capacity
//!                                             4, 8, ..., 1024), kept: live 8192 bytes
//!   drop_scratch <- serve                     1000 x Box<[u8; 100]> made and dropped:
//!                                             1000 allocated, none live
//!
//! The start/stop protocol is the C workloads' (tests/workloads/wl_common.h):
//! with --wait (or MT_WAIT=1) print "ready PID", wait for SIGUSR1, do the work,
//! print "done", answer each SIGUSR1 with one allocation and "pong", exit 0 on
//! SIGTERM or SIGINT; with MT_LINGER=1 the same without the waiting before;
//! without either, do the work, print "done" and exit 0. Protocol
//! lines are written with write(2) from a stack buffer: nothing else allocates.

/// What std::hint::black_box does (Rust 1.66+), for Debian 12's rustc 1.63: a
/// value the optimizer cannot see through, so loops and allocations stay.
#[inline(never)]
pub fn black_box<T>(x: T) -> T {
    let y = unsafe { std::ptr::read_volatile(&x) };
    std::mem::forget(x);
    y
}

pub const SESSIONS: usize = 300;
pub const SESSION_BYTES: usize = 4096;

#[inline(never)]
pub fn make_session(id: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(SESSION_BYTES);
    v.resize(SESSION_BYTES, id as u8);
    v
}

#[inline(never)]
pub fn handle_request(id: usize, sessions: &mut Vec<Vec<u8>>) {
    sessions.push(make_session(id));
}

#[inline(never)]
pub fn grow_index() -> Vec<u64> {
    let mut index = Vec::new();
    for i in 0..black_box(1000u64) {
        index.push(black_box(i));
    }
    index
}

#[inline(never)]
pub fn drop_scratch() {
    for i in 0..black_box(1000usize) {
        let b = Box::new([i as u8; 100]);
        black_box(&b);
    }
}

/// Everything the workload keeps, so that none of it is freed before exit.
pub struct Kept {
    pub sessions: Vec<Vec<u8>>,
    pub index: Vec<u64>,
}

#[inline(never)]
pub fn serve() -> Kept {
    let mut sessions = Vec::with_capacity(SESSIONS);
    for i in 0..black_box(SESSIONS) {
        handle_request(i, &mut sessions);
    }
    let index = grow_index();
    drop_scratch();
    Kept { sessions, index }
}

struct StackBuf {
    buf: [u8; 128],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// A protocol line on fd 1, with write(2): no stdout buffer is allocated.
fn say(args: std::fmt::Arguments) {
    use std::fmt::Write;
    let mut b = StackBuf { buf: [0; 128], len: 0 };
    let _ = b.write_fmt(args);
    let _ = b.write_str("\n");
    let mut off = 0;
    while off < b.len {
        let n = unsafe { libc::write(1, b.buf[off..].as_ptr().cast(), b.len - off) };
        if n <= 0 {
            return;
        }
        off += n as usize;
    }
}

/// The signal the process was sent, with SIGUSR1, SIGTERM and SIGINT blocked (sigwait).
fn next_signal(set: &libc::sigset_t) -> i32 {
    let mut sig = 0;
    loop {
        if unsafe { libc::sigwait(set, &mut sig) } == 0 {
            return sig;
        }
    }
}

#[inline(never)]
fn pong() {
    let b = black_box(Box::new([0u8; 32]));
    drop(b);
    say(format_args!("pong"));
}

pub fn main_with_protocol() {
    let wait = std::env::args().any(|a| a == "--wait")
        || std::env::var_os("MT_WAIT").map_or(false, |v| v == "1");
    let linger = std::env::var_os("MT_LINGER").map_or(false, |v| v == "1");
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    if wait {
        say(format_args!("ready {}", std::process::id()));
        if next_signal(&set) != libc::SIGUSR1 {
            std::process::exit(0);
        }
    }
    let kept = black_box(serve());
    say(format_args!("done"));
    if !wait && !linger {
        std::process::exit(0);
    }
    loop {
        match next_signal(&set) {
            libc::SIGUSR1 => pong(),
            _ => break,
        }
    }
    drop(black_box(kept));
    std::process::exit(0);
}
