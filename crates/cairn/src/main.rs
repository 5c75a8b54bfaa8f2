use clap::Parser;

// Ingest allocates many small JSON nodes on the validating thread and frees them on the
// writing thread; mimalloc handles that cross-thread pattern far better than glibc's
// malloc (measured: see docs/performance.md).
// Counted, so benchmarks can report what the indicator index costs (`cairn::alloc`).
#[global_allocator]
static GLOBAL: cairn::alloc::Counting<mimalloc::MiMalloc> = cairn::alloc::Counting(mimalloc::MiMalloc);

fn main() {
    let cli = cairn::cli::Cli::parse();
    let code = cairn::cli::run(cli);
    std::process::exit(code);
}
