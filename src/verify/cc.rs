//! The C target under `qkhw verify`: compile the generated C99 with
//! `gcc -std=c99 -Wall -Wextra -Werror -O2 -fsanitize=undefined` (any
//! undefined behaviour aborts), run every vector, compare with the golden
//! model.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::backend::c::CModel;
use crate::error::{Error, Result};

/// The harness: int64 input codes in, int64 output codes out.
fn harness(m: &CModel, in_n: usize, out_n: usize) -> String {
    format!(
        r#"/* qkhw verify harness for the C target. Generated. */
#include "{name}.h"
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {{
    long n, s; size_t k;
    FILE *fi, *fo;
    {in_t} in[{in_n}];
    {out_t} out[{out_n}];
    long long v;
    if (argc < 4) return 2;
    n = atol(argv[3]);
    fi = fopen(argv[1], "rb");
    fo = fopen(argv[2], "wb");
    if (!fi || !fo) return 2;
    for (s = 0; s < n; ++s) {{
        for (k = 0; k < {in_n}; ++k) {{
            if (fread(&v, sizeof v, 1, fi) != 1) return 2;
            in[k] = ({in_t})v;
        }}
        {name}_infer(in, out);
        for (k = 0; k < {out_n}; ++k) {{
            v = out[k];
            fwrite(&v, sizeof v, 1, fo);
        }}
    }}
    fclose(fi);
    fclose(fo);
    return 0;
}}
"#,
        name = m.name,
        in_t = m.in_t,
        out_t = m.out_t,
    )
}

/// Compile `m` with UBSan and run `codes` (`n` samples) through it.
pub fn run(m: &CModel, dir: &Path, codes: &[i128], n: usize, in_n: usize, out_n: usize) -> Result<(Vec<i128>, f64, f64)> {
    crate::backend::c::write(m, dir)?;
    std::fs::write(dir.join("harness.c"), harness(m, in_n, out_n)).map_err(|e| Error::io(dir.join("harness.c"), e))?;
    let t = Instant::now();
    let out = Command::new("gcc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-fsanitize=undefined", "-fno-sanitize-recover=all", "-o"])
        .arg(dir.join("harness"))
        .arg(dir.join(format!("{}.c", m.name)))
        .arg(dir.join("harness.c"))
        .arg("-lm")
        .output()
        .map_err(|e| Error::Usage(format!("cannot run gcc: {e}")))?;
    if !out.status.success() {
        return Err(Error::Usage(format!("gcc -std=c99 -Wall -Wextra -Werror failed:\n{}", String::from_utf8_lossy(&out.stderr).lines().take(12).collect::<Vec<_>>().join("\n"))));
    }
    let build = t.elapsed().as_secs_f64();
    let (outs, sim) = super::run_code_harness(&dir.join("harness"), dir, codes, n, "the compiled model (undefined behaviour is fatal under UBSan)")?;
    Ok((outs, build, sim))
}
