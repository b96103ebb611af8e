//! The C target under `qkhw verify`: compile the generated C99 with
//! `gcc -std=c99 -Wall -Wextra -Werror -O2 -fsanitize=undefined` (any
//! undefined behaviour aborts), run every vector, compare with the golden
//! model.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::backend::c::CModel;
use crate::error::{Error, Result};

/// The harness: input codes in (a sample's inputs side by side, model
/// order), output codes out, each as one int64 word, or two (low uint64,
/// high int64) where a type is the 128-bit one.
fn harness(m: &CModel, out_n: usize) -> String {
    let wide = crate::backend::c::WIDE;
    let two = m.ins.iter().any(|x| x.t == wide);
    let mut decls = String::new();
    let mut reads = String::new();
    for x in &m.ins {
        decls += &format!("    {} {}[{}];\n", x.t, x.param, x.n);
        let read = if two {
            format!("if (fread(&v, sizeof v, 1, fi) != 1 || fread(&h, sizeof h, 1, fi) != 1) return 2;\n            {}[k] = ({})QKHW_WIDE(h, (unsigned long long)v);", x.param, x.t)
        } else {
            format!("if (fread(&v, sizeof v, 1, fi) != 1) return 2;\n            {}[k] = ({})v;", x.param, x.t)
        };
        reads += &format!("        for (k = 0; k < {}; ++k) {{\n            {read}\n        }}\n", x.n);
    }
    let write = if m.out_t == wide {
        "{ unsigned long long lo = (unsigned long long)(qkhw_uwide)out[k];\n                long long hi = (long long)((out[k] - (qkhw_wide)lo) / ((qkhw_wide)1 << 64));\n                fwrite(&lo, sizeof lo, 1, fo); fwrite(&hi, sizeof hi, 1, fo); }".to_string()
    } else {
        "v = out[k];\n            fwrite(&v, sizeof v, 1, fo);".to_string()
    };
    let args = m.ins.iter().map(|x| x.param.as_str()).collect::<Vec<_>>().join(", ");
    format!(
        r#"/* qkhw verify harness for the C target. Generated. */
#include "{name}.h"
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {{
    long n, s; size_t k;
    FILE *fi, *fo;
{decls}    {out_t} out[{out_n}];
    long long v, h = 0;
    if (argc < 4) return 2;
    n = atol(argv[3]);
    fi = fopen(argv[1], "rb");
    fo = fopen(argv[2], "wb");
    if (!fi || !fo) return 2;
    (void)h;
    for (s = 0; s < n; ++s) {{
{reads}        {name}_infer({args}, out);
        for (k = 0; k < {out_n}; ++k) {{
            {write}
        }}
    }}
    fclose(fi);
    fclose(fo);
    return 0;
}}
"#,
        name = m.name,
        out_t = m.out_t,
    )
}

/// Compile `m` with UBSan and run `codes` (`n` samples) through it.
pub fn run(m: &CModel, dir: &Path, codes: &[i128], n: usize, out_n: usize) -> Result<(Vec<i128>, f64, f64)> {
    crate::backend::c::write(m, dir)?;
    std::fs::write(dir.join("harness.c"), harness(m, out_n)).map_err(|e| Error::io(dir.join("harness.c"), e))?;
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
    let words = |t: &str| if t == crate::backend::c::WIDE { 2 } else { 1 };
    let (outs, sim) = super::run_code_harness(&dir.join("harness"), dir, codes, n, (if m.ins.iter().any(|x| x.t == crate::backend::c::WIDE) { 2 } else { 1 }, words(m.out_t)), "the compiled model (undefined behaviour is fatal under UBSan)")?;
    Ok((outs, build, sim))
}
