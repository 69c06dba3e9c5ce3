// The mimalloc crate: mimalloc linked into the executable, called as mi_malloc_aligned & co.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    rust_leak::main_with_protocol()
}
