// mimalloc: rows are allocated on planning threads and freed on the
// ordering thread; glibc's allocator serializes that, mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    campaign::main()
}
