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
    ExitCode::from(qkhw::cli::main(std::env::args_os()))
}
