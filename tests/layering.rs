//! The crate's layers depend one way, bottom up (see `## Layers` in src/lib.rs):
//!
//! ```text
//! element ← error ← chunks ← { io, exec } ← ops ← graph ← array ← lib.rs (re-exports)
//! ```
//!
//! This test reads every file under `src/` (not `src/bin`: binaries, like the CLI in `cli/`,
//! are separate crates that see only the public API) as text, finds each path into the crate
//! (`crate::x`, `$crate::x`, the items of `use crate::{x, y::z}`, and `super::` chains that
//! climb to the crate root) and fails, naming
//! the file and line, on any that goes against [`ALLOWED`]. Comments and string literals are
//! skipped; names re-exported at the crate root (`crate::Error`) count as the module they come
//! from, and `#[macro_export]` macros (`crate::dispatch!`) as the module that defines them.
//!
//! A new top-level module fails the test until it is given a row in [`ALLOWED`]; an exception
//! needs a row in [`EXCEPTIONS`] with its reason, and an exception that is no longer used fails
//! too, so the list stays true.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Each top-level module and the top-level modules it may import directly.
const ALLOWED: &[(&str, &[&str])] = &[
    // The sealed element types and the runtime dtype; the `dispatch*!` macros.
    ("element", &[]),
    // One error enum; names dtypes.
    ("error", &["element"]),
    // Pure geometry: no threads, files, element data or memory accounting.
    ("chunks", &["error"]),
    // Block sources and sinks: geometry and element types only.
    ("io", &["chunks", "element", "error"]),
    // A generic task runner: scheduling and memory, no knowledge of arrays or plans.
    ("exec", &["chunks", "element", "error"]),
    // Block kernels (read, fused elementwise, reductions, scans) and the pure planners.
    ("ops", &["chunks", "element", "error", "exec", "io"]),
    // The lazy plan, optimizer and lowering to exec tasks running ops kernels.
    (
        "graph",
        &["chunks", "element", "error", "exec", "io", "ops"],
    ),
    // Engines beyond the local pool: stage cut, workers, launchers (issue 11).
    (
        "engine",
        &["chunks", "element", "error", "exec", "io", "graph", "array"],
    ),
    // CF time: calendars, date arithmetic, decoding and encoding of time values.
    ("time", &["error"]),
    // The user's handle.
    (
        "array",
        &[
            "chunks", "element", "error", "exec", "io", "ops", "graph", "engine",
        ],
    ),
    // Labelled arrays (Dataset, DataArray): names, coordinates, CF time, on top of array.
    (
        "dataset",
        &["chunks", "element", "error", "exec", "io", "array", "time"],
    ),
    // src/lib.rs: re-exports and the prelude.
    (
        "lib",
        &[
            "chunks", "element", "error", "exec", "io", "ops", "graph", "array", "time", "dataset",
            "engine",
        ],
    ),
];

/// `(file under src/, imported module, reason)`: imports allowed against the order.
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "graph/layout.rs",
        "array",
        "unit tests only (#[cfg(test)]): they build strided and permuted inputs through \
         ChunkedArray and compare with ndarray; no library code of graph uses array",
    ),
    (
        "exec/runtime.rs",
        "engine",
        "the runtime holds its engine setting (a plain enum and its launcher)",
    ),
    (
        "exec/report.rs",
        "engine",
        "the run report carries the engine's summary (stages, batches)",
    ),
    (
        "io/guard.rs",
        "engine",
        "in a worker process, output locks are redirected to the work directory",
    ),
    (
        "io/zarr.rs",
        "engine",
        "in a worker process, created outputs are redirected to the work directory",
    ),
];

/// One import that goes against the order.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    file: String,
    line: usize,
    from: String,
    to: String,
    path: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "src/{}:{}: `{}` imports `{}` ({}), against the layer order",
            self.file, self.line, self.from, self.path, self.to
        )
    }
}

/// The source with comments and string/char literals replaced by spaces; newlines kept, so
/// byte offsets still give line numbers.
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = src[i..].find('\n').map_or(b.len(), |n| i + n);
                blank(&mut out, i, end);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let (mut depth, mut j) = (1, i + 2);
                while j < b.len() && depth > 0 {
                    if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                        depth += 1;
                        j += 2;
                    } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                        depth -= 1;
                        j += 2;
                    } else {
                        j += 1;
                    }
                }
                blank(&mut out, i, j);
                i = j;
            }
            b'r' if (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
                && (i == 0 || !is_ident(b[i - 1])) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let start = i + 2 + hashes;
                let end = src[start..]
                    .find(&close)
                    .map_or(b.len(), |n| start + n + close.len());
                blank(&mut out, i, end);
                i = end;
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                blank(&mut out, i, (j + 1).min(b.len()));
                i = j + 1;
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{..}'); otherwise a lifetime.
                let end = if b.get(i + 1) == Some(&b'\\') {
                    src[i + 2..].find('\'').map(|n| i + 2 + n + 1)
                } else {
                    let c = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                    (b.get(i + 1 + c) == Some(&b'\'')).then_some(i + 2 + c)
                };
                match end {
                    Some(end) => {
                        blank(&mut out, i, end);
                        i = end;
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    String::from_utf8(out).expect("blanking keeps UTF-8: only ASCII bytes change")
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn ident_at(s: &str, i: usize) -> &str {
    let n = s[i..].bytes().take_while(|&c| is_ident(c)).count();
    &s[i..i + n]
}

fn skip_ws(s: &str, mut i: usize) -> usize {
    while i < s.len() && s.as_bytes()[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The first segment of each path into the crate root, with the byte offset of its `crate`
/// (or `super`) keyword and the path as written (shortened).
fn root_paths(code: &str, depth: usize) -> Vec<(usize, String, String)> {
    let b = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !is_ident(b[i]) || (i > 0 && is_ident(b[i - 1])) {
            i += 1;
            continue;
        }
        let word = ident_at(code, i);
        let start = i;
        i += word.len();
        let mut after = i;
        match word {
            "crate" => {}
            "super" => {
                // `super::super::x` from a file `depth` modules deep reaches the root after
                // `depth` steps (inline modules such as `mod tests` are not counted, so this
                // errs on the side of reporting).
                let mut steps = 1;
                while code[after..].starts_with("::super") && !is_ident_at(code, after + 7) {
                    steps += 1;
                    after += 7;
                }
                i = after;
                if steps < depth {
                    continue;
                }
            }
            _ => continue,
        }
        if !code[after..].starts_with("::") {
            continue;
        }
        let j = skip_ws(code, after + 2);
        let shown = |end: usize| -> String {
            let mut end = end.min(start + 80).min(code.len());
            while !code.is_char_boundary(end) {
                end -= 1;
            }
            code[start..end]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        if code[j..].starts_with('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first segment of each top-level item.
            let (mut level, mut k, mut item_start) = (0, j + 1, true);
            while k < b.len() {
                match b[k] {
                    b'{' => level += 1,
                    b'}' if level == 0 => break,
                    b'}' => level -= 1,
                    b',' if level == 0 => item_start = true,
                    c if item_start && is_ident(c) => {
                        found.push((start, ident_at(code, k).to_string(), shown(k + 40)));
                        item_start = false;
                        k += ident_at(code, k).len();
                        continue;
                    }
                    _ => {}
                }
                k += 1;
            }
        } else if j < b.len() && is_ident(b[j]) {
            let name = ident_at(code, j);
            let end = j + code[j..]
                .bytes()
                .take_while(|&c| is_ident(c) || c == b':')
                .count();
            found.push((start, name.to_string(), shown(end)));
        }
    }
    found
}

fn is_ident_at(s: &str, i: usize) -> bool {
    s.as_bytes().get(i).is_some_and(|&c| is_ident(c))
}

/// The top-level module a file under `src/` belongs to and its depth in the module tree.
fn module_of(rel: &str) -> (String, usize) {
    let parts: Vec<&str> = rel.split('/').collect();
    let top = parts[0].trim_end_matches(".rs").to_string();
    let last = parts[parts.len() - 1];
    let depth = if last == "mod.rs" {
        parts.len() - 1
    } else {
        parts.len()
    };
    (top, depth)
}

/// Where each crate-root name resolves to: top-level modules to themselves, names re-exported
/// by `pub use module::...` in lib.rs to that module, `#[macro_export]` macros to the module
/// defining them; anything else defined in lib.rs to `lib`.
fn root_names(files: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for rel in files.keys() {
        let (top, _) = module_of(rel);
        if top != "lib" {
            names.insert(top.clone(), top);
        }
    }
    for (rel, code) in files {
        let (top, _) = module_of(rel);
        let mut rest = code.as_str();
        while let Some(at) = rest.find("#[macro_export]") {
            rest = &rest[at..];
            if let Some(m) = rest.find("macro_rules!") {
                let k = skip_ws(rest, m + "macro_rules!".len());
                names.insert(ident_at(rest, k).to_string(), top.clone());
            }
            rest = &rest["#[macro_export]".len()..];
        }
    }
    let lib = &files["lib.rs"];
    let uses = ["pub use ", "pub(crate) use "].into_iter().flat_map(|kw| {
        lib.match_indices(kw)
            .map(move |(at, _)| &lib[at + kw.len()..])
    });
    for stmt in uses {
        let stmt = &stmt[..stmt.find(';').expect("`pub use` ends with `;`")];
        let stmt = stmt.strip_prefix("crate::").unwrap_or(stmt);
        let module = ident_at(stmt, 0).to_string();
        let tail = stmt[module.len()..].trim_start_matches("::");
        let items: Vec<&str> = if let Some(group) = tail.strip_prefix('{') {
            group.trim_end_matches('}').split(',').collect()
        } else if tail.is_empty() {
            // `crate::name` or `crate::{a as b}`: a crate-root name (an exported macro).
            vec![stmt]
        } else {
            vec![tail.rsplit("::").next().unwrap_or(tail)]
        };
        for item in items {
            let item = item.trim();
            let name = item.rsplit(" as ").next().unwrap_or(item);
            let name = name.rsplit("::").next().unwrap_or(name).trim();
            if name.is_empty() {
                continue;
            }
            if names.get(&module).is_some_and(|m| m == &module) {
                names.insert(name.to_string(), module.clone());
            } else if let Some(defined) = names.get(item.split(" as ").next().unwrap_or(item)) {
                // A root name re-exported under another name: it comes from where the
                // original does.
                names.insert(name.to_string(), defined.clone());
            }
        }
    }
    names
}

/// Every import against [`ALLOWED`] (before [`EXCEPTIONS`]), plus the problems that are not
/// one import (a module without a row, a path to an unknown root name).
fn check(files: &BTreeMap<String, String>) -> (Vec<Violation>, Vec<String>) {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().collect()))
        .collect();
    let stripped: BTreeMap<String, String> = files
        .iter()
        .map(|(rel, code)| (rel.clone(), strip(code)))
        .collect();
    let names = root_names(&stripped);
    let (mut violations, mut problems) = (Vec::new(), Vec::new());
    for (rel, code) in &stripped {
        let (from, depth) = module_of(rel);
        let Some(ok) = allowed.get(from.as_str()) else {
            problems.push(format!(
                "src/{rel}: module `{from}` has no row in ALLOWED (tests/layering.rs): \
                 decide which layers it may import"
            ));
            continue;
        };
        for (at, name, shown) in root_paths(code, depth) {
            let line = code[..at].matches('\n').count() + 1;
            let Some(to) = names.get(&name) else {
                problems.push(format!(
                    "src/{rel}:{line}: `{shown}`: `{name}` is no top-level module, lib.rs \
                     re-export or exported macro that this test knows"
                ));
                continue;
            };
            if *to != from && !ok.contains(to.as_str()) {
                violations.push(Violation {
                    file: rel.clone(),
                    line,
                    from: from.clone(),
                    to: to.clone(),
                    path: shown,
                });
            }
        }
    }
    (violations, problems)
}

fn read_src(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path
            .strip_prefix(root)
            .expect("under src/")
            .to_string_lossy()
            .replace('\\', "/");
        if path.is_dir() {
            if rel != "bin" {
                read_src(&path, root, out);
            }
        } else if rel.ends_with(".rs") {
            let code = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            out.insert(rel, code);
        }
    }
}

#[test]
fn imports_follow_the_layer_order() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    read_src(&root, &root, &mut files);
    assert!(
        files.contains_key("lib.rs") && files.contains_key("ops/fused.rs"),
        "src/ not found at {}",
        root.display()
    );
    let (violations, mut problems) = check(&files);
    let mut used = BTreeSet::new();
    for v in &violations {
        match EXCEPTIONS
            .iter()
            .position(|(f, to, _)| *f == v.file && *to == v.to)
        {
            Some(k) => {
                used.insert(k);
            }
            None => problems.push(v.to_string()),
        }
    }
    for (k, (file, to, _)) in EXCEPTIONS.iter().enumerate() {
        if !used.contains(&k) {
            problems.push(format!(
                "EXCEPTIONS lists src/{file} -> {to}, which no import uses any more: remove it"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

fn synthetic(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut files: BTreeMap<String, String> = [
        ("lib.rs", "mod array;\npub mod io;\npub use array::{ChunkedArray, where_};\npub use error::{Error, Result};\n"),
        ("element.rs", "#[macro_export]\nmacro_rules! dispatch { () => {} }\n"),
        ("error.rs", "use crate::element::DType;\n"),
        ("chunks/mod.rs", ""),
        ("exec/mod.rs", ""),
        ("ops/mod.rs", ""),
        ("graph/mod.rs", ""),
        ("array/mod.rs", ""),
        ("io/mod.rs", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        files.insert(k.to_string(), v.to_string());
    }
    files
}

fn found(extra: &[(&str, &str)]) -> Vec<(String, usize, String)> {
    let (v, p) = check(&synthetic(extra));
    assert!(p.is_empty(), "{p:?}");
    v.into_iter().map(|v| (v.file, v.line, v.to)).collect()
}

#[test]
fn the_check_catches_imports_against_the_order() {
    // Each form of path, against the order, is reported with its file and line.
    let bad = [
        (
            "io/zarr.rs",
            "use crate::chunks::Region;\nuse crate::graph::Node;\n",
            2,
            "graph",
        ),
        (
            "exec/task.rs",
            "\n\nuse crate::{element::AnyArray, ops::fused};\n",
            3,
            "ops",
        ),
        (
            "ops/fused.rs",
            "fn f() {\n    let e = crate::graph::expr::map1(\"neg\", |x: f32| -x);\n}\n",
            2,
            "graph",
        ),
        (
            "graph/x.rs",
            "fn f() -> crate::ChunkedArray<f32> { todo!() }\n",
            1,
            "array",
        ),
        (
            "chunks/grid.rs",
            "use super::super::exec::Runtime;\n",
            1,
            "exec",
        ),
        (
            "io/hdf5/raw.rs",
            "use crate::{\n    chunks::Region,\n    array::{Boundary, where_},\n};\n",
            1,
            "array",
        ),
    ];
    for (file, code, line, to) in bad {
        assert_eq!(
            found(&[(file, code)]),
            vec![(file.to_string(), line, to.to_string())],
            "{file}: {code}"
        );
    }
    // Allowed imports, root re-exports of allowed modules, exported macros, comments, strings
    // and plain `super::` are not reported.
    let good = [
        (
            "io/zarr.rs",
            "use crate::error::Result;\nfn f() -> crate::Result<()> { crate::dispatch!() }\n",
        ),
        (
            "ops/fused.rs",
            "/// See [`crate::graph::Node`].\n// crate::graph::x\nconst S: &str = \"crate::graph::y\";\nuse super::expr::Expr;\n",
        ),
        (
            "ops/reduce.rs",
            "use crate::{exec::task::Kernel, io::BlockSource};\nfn f<'a>(c: char) -> bool { c == '{' }\n",
        ),
        (
            "array/x.rs",
            "use crate::graph::NodeRef;\n/* nested /* crate::lib */ crate::x */\n",
        ),
    ];
    for (file, code) in good {
        assert_eq!(found(&[(file, code)]), vec![], "{file}: {code}");
    }
    // A module without a row, and a root name the test does not know, are problems too.
    let (_, p) = check(&synthetic(&[
        ("newmod.rs", ""),
        ("io/z.rs", "use crate::Mystery;\n"),
    ]));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].contains("src/io/z.rs:1") && p[0].contains("Mystery"),
        "{p:?}"
    );
    assert!(p[1].contains("newmod"), "{p:?}");
}
