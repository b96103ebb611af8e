//! The `qkhw` binary: the library's command line ([`qkhw::cli`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    // `qkhw ... | head` ends quietly, as command-line tools do.
    #[cfg(unix)]
    {
        unsafe extern "C" {
            fn signal(sig: i32, handler: usize) -> usize;
        }
        // SAFETY: restoring the default SIGPIPE action (13) before any I/O.
        unsafe {
            signal(13, 0);
        }
    }
    // The golden model allocates and frees each step's buffers per chunk of
    // samples: keep freed memory in the process (no trimming of the heap
    // top) and serve blocks below 4 MiB from the heap, not fresh mmaps,
    // so chunks after the first do not page-fault.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: glibc's M_TRIM_THRESHOLD (-1) and M_MMAP_THRESHOLD (-3),
        // set before any thread starts.
        unsafe {
            mallopt(-1, 1 << 30);
            mallopt(-3, 4 << 20);
        }
    }
    // Ctrl-C or a SIGTERM (`timeout`, a CI job's cancel): remove the staged
    // outputs and scratch folders this run made, then stop (130, as a
    // shell reports an interrupt). Not in the library: the Python
    // extension keeps Python's own KeyboardInterrupt.
    let _ = ctrlc::set_handler(|| {
        qkhw::staging::remove_pending();
        eprintln!("qkhw: interrupted; removed this run's partial outputs");
        std::process::exit(130);
    });
    ExitCode::from(qkhw::cli::main(std::env::args_os()))
}
