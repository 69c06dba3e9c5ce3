// tikv-jemallocator: jemalloc linked into the executable, its functions named _rjem_*.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    rust_leak::main_with_protocol()
}
