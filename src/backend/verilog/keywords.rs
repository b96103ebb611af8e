//! Verilog-2005 (and SystemVerilog, so tools in SV mode accept the files
//! too) reserved words, and the deterministic namer built on them.

pub const KEYWORDS: &[&str] = &[
    "always", "and", "assign", "automatic", "begin", "buf", "bufif0", "bufif1", "case", "casex", "casez", "cell",
    "cmos", "config", "deassign", "default", "defparam", "design", "disable", "edge", "else", "end", "endcase",
    "endconfig", "endfunction", "endgenerate", "endmodule", "endprimitive", "endspecify", "endtable", "endtask",
    "event", "for", "force", "forever", "fork", "function", "generate", "genvar", "highz0", "highz1", "if",
    "ifnone", "incdir", "include", "initial", "inout", "input", "instance", "integer", "join", "large",
    "liblist", "library", "localparam", "macromodule", "medium", "module", "nand", "negedge", "nmos", "nor",
    "noshowcancelled", "not", "notif0", "notif1", "or", "output", "parameter", "pmos", "posedge", "primitive",
    "pull0", "pull1", "pulldown", "pullup", "pulsestyle_onevent", "pulsestyle_ondetect", "rcmos", "real",
    "realtime", "reg", "release", "repeat", "rnmos", "rpmos", "rtran", "rtranif0", "rtranif1", "scalared",
    "showcancelled", "signed", "small", "specify", "specparam", "strong0", "strong1", "supply0", "supply1",
    "table", "task", "time", "tran", "tranif0", "tranif1", "tri", "tri0", "tri1", "triand", "trior", "trireg",
    "unsigned", "use", "uwire", "vectored", "wait", "wand", "weak0", "weak1", "while", "wire", "wor", "xnor",
    "xor", "logic", "bit", "byte", "int", "shortint", "longint", "void", "struct", "union", "enum", "typedef",
    "class", "interface", "package", "program", "property", "sequence", "string", "const", "static", "virtual",
];

/// Gives each layer a Verilog identifier: `[A-Za-z0-9_]`, not starting with
/// a digit, not a keyword, not taken; the same inputs give the same names.
#[derive(Debug, Default)]
pub struct Namer {
    taken: std::collections::BTreeSet<String>,
}

impl Namer {
    pub fn new(reserved: &[&str]) -> Namer {
        Namer { taken: reserved.iter().map(|s| s.to_string()).collect() }
    }

    pub fn name(&mut self, raw: &str) -> String {
        // One `_` between parts, none at either end: Verilator's C++ names
        // escape `__` (as `___05F`), and C reserves names with `__` or a
        // leading `_`.
        let mapped: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let mut s = mapped.split('_').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("_");
        if s.is_empty() {
            s.push('l');
        } else if s.starts_with(|c: char| c.is_ascii_digit()) {
            s.insert_str(0, "l_");
        }
        if KEYWORDS.contains(&s.as_str()) || s.starts_with('$') {
            s.push_str("_l");
        }
        let mut out = s.clone();
        let mut k = 2;
        while self.taken.contains(&out) {
            out = format!("{s}_{k}");
            k += 1;
        }
        self.taken.insert(out.clone());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_legal_unique_and_stable() {
        let mut n = Namer::new(&["clk"]);
        assert_eq!(n.name("fc1"), "fc1");
        assert_eq!(n.name("module"), "module_l");
        assert_eq!(n.name("1st/dense"), "l_1st_dense");
        assert_eq!(n.name("fc1"), "fc1_2");
        assert_eq!(n.name("clk"), "clk_2");
        // No `__` (Verilator escapes it in C++ names) and no `_` at the ends.
        assert_eq!(n.name("a__b"), "a_b");
        assert_eq!(n.name("x_"), "x");
        assert_eq!(n.name("größe"), "gr_e");
        assert_eq!(n.name("_"), "l");
    }
}
