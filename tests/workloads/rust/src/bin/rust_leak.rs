// The system allocator: Rust's std calls glibc's malloc, realloc and free.
fn main() {
    rust_leak::main_with_protocol()
}
