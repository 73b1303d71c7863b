//! The import graph between the source files of one crate's `src/` directory, and its
//! cycles: a file that imports a file which, directly or through others, imports it back.
//! The developers' guide forbids them (a file does one job; siblings import siblings, a
//! child does not import back the `mod.rs` that re-exports it).
//!
//! Each file is mapped to its module by its place (`lib.rs` or `main.rs` the root,
//! `foo.rs` and `foo/mod.rs` module `foo`, `foo/bar.rs` module `foo::bar`; `src/bin/*` are
//! crates of their own); inline `mod name { … }` blocks are modules of their file. An
//! import is any path naming a module of the crate: in a `use` (groups, `self`, globs and
//! `pub use` included) or written in code, starting with `crate::`, `super::`, `self::` or
//! the name of a child module. It leads to the file of the deepest module the path names
//! (`super::sibling::Item` to the sibling's file, `super::Item` to the parent's). A file
//! naming itself (an inline `mod tests { use super::*; }`) is no import. Comments and
//! literals are skipped; `#[path]` attributes are not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// A crate's source directory that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading {}: {source}", path.display())]
pub struct ReadError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// One file importing another: the first path by which it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub from: PathBuf,
    pub to: PathBuf,
    /// 1-based line of the path in `from`.
    pub line: usize,
    /// The path as written, segments joined by `::`.
    pub path: String,
}

impl fmt::Display for Import {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {} (line {}: {})",
            self.from.display(),
            self.to.display(),
            self.line,
            self.path
        )
    }
}

/// Files that import one another in a circle: a strongly connected group of the graph, so
/// every cycle lies within one, and a file is in at most one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// Sorted.
    pub files: Vec<PathBuf>,
    /// The imports between these files, sorted.
    pub imports: Vec<Import>,
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "import cycle between {} files:", self.files.len())?;
        for import in &self.imports {
            writeln!(f, "  {import}")?;
        }
        Ok(())
    }
}

/// Every source file of a crate directory and the other files it imports.
#[derive(Debug, Clone, Default)]
pub struct ImportGraph {
    imports: BTreeMap<PathBuf, BTreeMap<PathBuf, Import>>,
}

impl ImportGraph {
    /// Reads every `.rs` file under `src` (a crate's `src/` directory).
    pub fn read(src: &Path) -> Result<ImportGraph, ReadError> {
        let mut files = Vec::new();
        list_rust_files(src, &mut files)?;
        let mut tokens = BTreeMap::new();
        for file in &files {
            let text = std::fs::read_to_string(file).map_err(|source| ReadError {
                path: file.clone(),
                source,
            })?;
            tokens.insert(file.clone(), tokenize(&text));
        }
        let mut graph = ImportGraph::default();
        for krate in crates_of(src, &files) {
            graph.add_crate(&krate, &tokens);
        }
        Ok(graph)
    }

    /// Every import, by importing file then imported file.
    pub fn imports(&self) -> impl Iterator<Item = &Import> {
        self.imports.values().flat_map(BTreeMap::values)
    }

    /// The files read.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.imports.keys().map(PathBuf::as_path)
    }

    /// The groups of files that import one another, in the order of their first file.
    pub fn cycles(&self) -> Vec<Cycle> {
        let mut cycles: Vec<Cycle> = strongly_connected(&self.imports)
            .into_iter()
            .filter(|group| group.len() > 1)
            .map(|files| {
                let imports = files
                    .iter()
                    .flat_map(|from| self.imports[from].values())
                    .filter(|import| files.contains(&import.to))
                    .cloned()
                    .collect();
                Cycle {
                    files: files.into_iter().collect(),
                    imports,
                }
            })
            .collect();
        cycles.sort_by(|a, b| a.files.cmp(&b.files));
        cycles
    }

    fn add_crate(&mut self, krate: &Crate, tokens: &BTreeMap<PathBuf, Vec<Token>>) {
        let mut modules = BTreeMap::new();
        let mut walks = BTreeMap::new();
        for (file, module) in &krate.members {
            modules.insert(module.clone(), file.clone());
            let walk = walk(&tokens[file], module);
            for inline in &walk.inline_modules {
                modules.insert(inline.clone(), file.clone());
            }
            walks.insert(file, walk);
        }
        for file in &krate.scanned {
            let edges = self.imports.entry(file.clone()).or_default();
            for reference in &walks[file].references {
                let Some(to) = resolve(&modules, &reference.module, &reference.path) else {
                    continue;
                };
                if to == file {
                    continue;
                }
                edges.entry(to.clone()).or_insert_with(|| Import {
                    from: file.clone(),
                    to: to.clone(),
                    line: reference.line,
                    path: reference.path.join("::"),
                });
            }
        }
    }
}

fn list_rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ReadError> {
    let error = |source| ReadError {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(error)? {
        let path = entry.map_err(error)?.path();
        if path.is_dir() {
            list_rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}

/// One crate of a source directory.
struct Crate {
    /// Every file of its module tree, with its module path (the root's is empty).
    members: Vec<(PathBuf, Vec<String>)>,
    /// The files whose imports are read as this crate's: a file shared by the library and
    /// `main.rs` is read as the library's.
    scanned: Vec<PathBuf>,
}

/// The library or binary rooted at `src/lib.rs` or `src/main.rs` (both, when `main.rs`
/// sits next to a library: it is then a crate of its own, reading only itself), and each
/// `src/bin/NAME.rs` or `src/bin/NAME/main.rs`.
fn crates_of(src: &Path, files: &[PathBuf]) -> Vec<Crate> {
    let bin = src.join("bin");
    let lib = src.join("lib.rs");
    let main = src.join("main.rs");
    let has_lib = files.contains(&lib);
    let mut crates = Vec::new();
    let in_tree = |file: &PathBuf| !(file.starts_with(&bin) || (has_lib && *file == main));
    let tree: Vec<(PathBuf, Vec<String>)> = files
        .iter()
        .filter(|file| in_tree(file))
        .map(|file| (file.clone(), module_of(src, file)))
        .collect();
    if has_lib && files.contains(&main) {
        let mut members: Vec<_> = tree.iter().filter(|(f, _)| *f != lib).cloned().collect();
        members.push((main.clone(), Vec::new()));
        crates.push(Crate {
            members,
            scanned: vec![main],
        });
    }
    crates.push(Crate {
        scanned: tree.iter().map(|(file, _)| file.clone()).collect(),
        members: tree,
    });
    let mut bin_dirs = BTreeSet::new();
    for file in files.iter().filter(|file| file.starts_with(&bin)) {
        if file.parent() == Some(bin.as_path()) {
            crates.push(Crate {
                members: vec![(file.clone(), Vec::new())],
                scanned: vec![file.clone()],
            });
        } else if let Some(name) = file.strip_prefix(&bin).ok().and_then(|p| p.iter().next()) {
            bin_dirs.insert(bin.join(name));
        }
    }
    for dir in bin_dirs {
        let members: Vec<_> = files
            .iter()
            .filter(|file| file.starts_with(&dir))
            .map(|file| (file.clone(), module_of(&dir, file)))
            .collect();
        crates.push(Crate {
            scanned: members.iter().map(|(file, _)| file.clone()).collect(),
            members,
        });
    }
    crates
}

/// `lib.rs`, `main.rs`: the root; `a/b.rs`, `a/b/mod.rs`: `a::b`.
fn module_of(dir: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(dir).unwrap_or(file);
    let mut module: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let root_file = module.len() == 1 && (module[0] == "lib" || module[0] == "main");
    if root_file || module.last().is_some_and(|last| last == "mod") {
        module.pop();
    }
    module
}

/// The file of the deepest module `path` names, seen from `module`; `None` for a path
/// outside the crate (another crate, a type, a local name).
fn resolve<'a>(
    modules: &'a BTreeMap<Vec<String>, PathBuf>,
    module: &[String],
    path: &[String],
) -> Option<&'a PathBuf> {
    let first = path.first()?;
    let (mut at, rest) = match first.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" | "super" => {
            let mut at = module.to_vec();
            let mut used = 0;
            for segment in path {
                match segment.as_str() {
                    "self" if used == 0 => {}
                    "super" => {
                        at.pop()?;
                    }
                    _ => break,
                }
                used += 1;
            }
            (at, &path[used..])
        }
        _ => {
            let mut child = module.to_vec();
            child.push(first.clone());
            if !modules.contains_key(&child) {
                return None;
            }
            (module.to_vec(), path)
        }
    };
    for segment in rest {
        at.push(segment.clone());
        if !modules.contains_key(&at) {
            at.pop();
            break;
        }
    }
    modules.get(&at)
}

/// Tarjan's algorithm: the strongly connected groups of files.
fn strongly_connected(
    graph: &BTreeMap<PathBuf, BTreeMap<PathBuf, Import>>,
) -> Vec<BTreeSet<PathBuf>> {
    struct Search<'a> {
        graph: &'a BTreeMap<PathBuf, BTreeMap<PathBuf, Import>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on_stack: BTreeSet<&'a PathBuf>,
        groups: Vec<BTreeSet<PathBuf>>,
    }

    impl<'a> Search<'a> {
        fn visit(&mut self, file: &'a PathBuf) {
            let number = self.index.len();
            self.index.insert(file, number);
            self.low.insert(file, number);
            self.stack.push(file);
            self.on_stack.insert(file);
            let graph = self.graph;
            for next in graph.get(file).into_iter().flat_map(BTreeMap::keys) {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[file].min(self.low[next]);
                    self.low.insert(file, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[file].min(self.index[next]);
                    self.low.insert(file, low);
                }
            }
            if self.low[file] == self.index[file] {
                let mut group = BTreeSet::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    group.insert(member.clone());
                    if member == file {
                        break;
                    }
                }
                self.groups.push(group);
            }
        }
    }

    let mut search = Search {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for file in graph.keys() {
        if !search.index.contains_key(file) {
            search.visit(file);
        }
    }
    search.groups
}

/// What the module-path analysis needs of Rust's tokens; everything else is `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Ident(String),
    PathSep,
    Open(char),
    Close(char),
    Semicolon,
    Comma,
    Star,
    Other,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    line: usize,
}

/// Splits source text into tokens, dropping comments (nested block comments included),
/// string, byte-string, raw-string and character literals, and lifetimes.
fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        let start_line = line;
        let kind = match c {
            '\n' => {
                line += 1;
                i += 1;
                continue;
            }
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '/' if at(i + 1) == '/' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        line += usize::from(chars[i] == '\n');
                        i += 1;
                    }
                }
                continue;
            }
            '"' => {
                i = skip_quoted(&chars, i, '"', &mut line);
                Kind::Other
            }
            '\'' => {
                if at(i + 1) == '\\' || (at(i + 2) == '\'' && at(i + 1) != '\'') {
                    i = skip_quoted(&chars, i, '\'', &mut line);
                } else {
                    // A lifetime or label: skip the quote, its name follows as an identifier
                    // that is never followed by `::`.
                    i += 1;
                    while is_ident_char(at(i)) {
                        i += 1;
                    }
                }
                Kind::Other
            }
            c if c == '_' || c.is_alphabetic() => {
                let start = i;
                while is_ident_char(at(i)) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = at(i);
                match (word.as_str(), next) {
                    ("r" | "br" | "cr", '"' | '#') if next == '"' || raw_string_at(&chars, i) => {
                        i = skip_raw_string(&chars, i, &mut line);
                        Kind::Other
                    }
                    ("r", '#') => {
                        // A raw identifier, `r#name`: never a path keyword.
                        i += 1;
                        while is_ident_char(at(i)) {
                            i += 1;
                        }
                        Kind::Other
                    }
                    ("b" | "c", '"') => {
                        i = skip_quoted(&chars, i, '"', &mut line);
                        Kind::Other
                    }
                    ("b", '\'') => {
                        i = skip_quoted(&chars, i, '\'', &mut line);
                        Kind::Other
                    }
                    _ => Kind::Ident(word),
                }
            }
            c if c.is_ascii_digit() => {
                while is_ident_char(at(i)) || (at(i) == '.' && at(i + 1).is_ascii_digit()) {
                    i += 1;
                }
                Kind::Other
            }
            ':' if at(i + 1) == ':' => {
                i += 2;
                Kind::PathSep
            }
            _ => {
                i += 1;
                match c {
                    '{' | '(' | '[' => Kind::Open(c),
                    '}' | ')' | ']' => Kind::Close(c),
                    ';' => Kind::Semicolon,
                    ',' => Kind::Comma,
                    '*' => Kind::Star,
                    _ => Kind::Other,
                }
            }
        };
        tokens.push(Token {
            kind,
            line: start_line,
        });
    }
    tokens
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Past the literal opening at `start` with `quote` and closed by the next unescaped one.
fn skip_quoted(chars: &[char], start: usize, quote: char, line: &mut usize) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                *line += usize::from(chars.get(i + 1) == Some(&'\n'));
                i += 2;
            }
            c if c == quote => return i + 1,
            c => {
                *line += usize::from(c == '\n');
                i += 1;
            }
        }
    }
    i
}

/// Whether `#…#"` (a raw string's hashes and quote) starts at `i`.
fn raw_string_at(chars: &[char], mut i: usize) -> bool {
    while chars.get(i) == Some(&'#') {
        i += 1;
    }
    chars.get(i) == Some(&'"')
}

/// Past the raw string whose hashes or quote start at `start`.
fn skip_raw_string(chars: &[char], start: usize, line: &mut usize) -> usize {
    let mut i = start;
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    i += 1;
    while i < chars.len() {
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        *line += usize::from(chars[i] == '\n');
        i += 1;
    }
    i
}

/// A path written in a file, not yet resolved.
#[derive(Debug)]
struct Reference {
    /// The module the path is written in (an inline module included).
    module: Vec<String>,
    path: Vec<String>,
    line: usize,
}

#[derive(Debug, Default)]
struct Walk {
    /// The inline `mod name { … }` blocks, as module paths.
    inline_modules: Vec<Vec<String>>,
    /// Every `use` path and every path in code that could name a module.
    references: Vec<Reference>,
}

/// Reads the inline modules and the paths of one file of module `module`.
fn walk(tokens: &[Token], module: &[String]) -> Walk {
    let mut walk = Walk::default();
    let mut current = module.to_vec();
    // The brace depth inside each open inline module's body.
    let mut inline_depths: Vec<usize> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    let ident = |i: usize| match tokens.get(i).map(|t| &t.kind) {
        Some(Kind::Ident(name)) => Some(name.as_str()),
        _ => None,
    };
    let kind = |i: usize| tokens.get(i).map(|t| &t.kind);
    while i < tokens.len() {
        match &tokens[i].kind {
            Kind::Open('{') => depth += 1,
            Kind::Close('}') => {
                if inline_depths.last() == Some(&depth) {
                    inline_depths.pop();
                    current.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Kind::Ident(word) if word == "mod" => {
                if let (Some(name), Some(Kind::Open('{'))) = (ident(i + 1), kind(i + 2)) {
                    current.push(name.to_owned());
                    walk.inline_modules.push(current.clone());
                    inline_depths.push(depth + 1);
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            Kind::Ident(word) if word == "use" => {
                let mut paths = Vec::new();
                let mut j = i + 1;
                use_tree(tokens, &mut j, Vec::new(), &mut paths);
                for (path, line) in paths {
                    walk.references.push(Reference {
                        module: current.clone(),
                        path,
                        line,
                    });
                }
                while j < tokens.len() && tokens[j].kind != Kind::Semicolon {
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            Kind::Ident(first)
                if kind(i + 1) == Some(&Kind::PathSep)
                    && i.checked_sub(1).and_then(kind) != Some(&Kind::PathSep)
                    && !in_visibility(tokens, i) =>
            {
                let mut path = vec![first.clone()];
                let mut j = i + 1;
                while kind(j) == Some(&Kind::PathSep) {
                    let Some(segment) = ident(j + 1) else { break };
                    path.push(segment.to_owned());
                    j += 2;
                }
                walk.references.push(Reference {
                    module: current.clone(),
                    path,
                    line: tokens[i].line,
                });
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    walk
}

/// Whether the path at `i` is that of a visibility, `pub(in path)`: no import.
fn in_visibility(tokens: &[Token], i: usize) -> bool {
    let kind = |back: usize| i.checked_sub(back).map(|at| &tokens[at].kind);
    matches!(kind(1), Some(Kind::Ident(word)) if word == "in")
        && kind(2) == Some(&Kind::Open('('))
        && matches!(kind(3), Some(Kind::Ident(word)) if word == "pub")
}

/// Reads one use tree from `*i`, adding each path it imports with its line: `a::b::C`
/// gives `a::b::C`; `a::{self, b::C}` gives `a` and `a::b::C`; `a::*` gives `a`.
fn use_tree(
    tokens: &[Token],
    i: &mut usize,
    mut prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, usize)>,
) {
    while let Some(token) = tokens.get(*i) {
        match &token.kind {
            Kind::PathSep if prefix.is_empty() => {
                // `::name`: always another crate.
                prefix.push("::".to_owned());
                *i += 1;
            }
            Kind::PathSep => *i += 1,
            Kind::Ident(name) if name == "self" && !prefix.is_empty() => {
                *i += 1;
                skip_rename(tokens, i);
                out.push((prefix, token.line));
                return;
            }
            Kind::Ident(name) => {
                prefix.push(name.clone());
                *i += 1;
                if tokens.get(*i).map(|t| &t.kind) != Some(&Kind::PathSep) {
                    skip_rename(tokens, i);
                    out.push((prefix, token.line));
                    return;
                }
            }
            Kind::Star => {
                *i += 1;
                out.push((prefix, token.line));
                return;
            }
            Kind::Open('{') => {
                *i += 1;
                while let Some(inner) = tokens.get(*i) {
                    match inner.kind {
                        Kind::Close('}') => {
                            *i += 1;
                            return;
                        }
                        Kind::Comma => *i += 1,
                        _ => {
                            let before = *i;
                            use_tree(tokens, i, prefix.clone(), out);
                            if *i == before {
                                *i += 1;
                            }
                        }
                    }
                }
                return;
            }
            _ => return,
        }
    }
}

/// Past `as name`, if there.
fn skip_rename(tokens: &[Token], i: &mut usize) {
    if matches!(tokens.get(*i).map(|t| &t.kind), Some(Kind::Ident(word)) if word == "as") {
        *i += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A crate's `src/` written to a fresh temporary directory, removed when dropped.
    struct Tree(PathBuf);

    impl Tree {
        fn new(files: &[(&str, &str)]) -> Tree {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "module-graph-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            for (path, text) in files {
                let path = dir.join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            Tree(dir)
        }

        fn graph(&self) -> ImportGraph {
            ImportGraph::read(&self.0).unwrap()
        }

        /// The imports as `from -> to` pairs of paths relative to the tree.
        fn edges(&self) -> Vec<(String, String)> {
            self.graph()
                .imports()
                .map(|import| (self.name(&import.from), self.name(&import.to)))
                .collect()
        }

        fn cycles(&self) -> Vec<Vec<String>> {
            self.graph()
                .cycles()
                .into_iter()
                .map(|cycle| cycle.files.iter().map(|f| self.name(f)).collect())
                .collect()
        }

        fn name(&self, path: &Path) -> String {
            path.strip_prefix(&self.0).unwrap().display().to_string()
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_two_file_cycle_is_found() {
        let tree = Tree::new(&[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "use crate::b::B;\npub struct A;\n"),
            (
                "b.rs",
                "pub struct B;\nfn f() { for _ in crate::a::all() {} }\n",
            ),
        ]);
        assert_eq!(tree.cycles(), [["a.rs", "b.rs"]]);
        let cycle = &tree.graph().cycles()[0];
        assert_eq!(cycle.imports.len(), 2);
        assert_eq!(cycle.imports[1].line, 2);
        assert_eq!(cycle.imports[1].path, "crate::a::all");
    }

    #[test]
    fn a_three_file_cycle_through_a_pub_use_in_a_mod_rs_is_found() {
        let tree = Tree::new(&[
            ("lib.rs", "pub mod shapes;\n"),
            (
                "shapes/mod.rs",
                "mod circle;\nmod square;\npub use circle::Circle;\n",
            ),
            (
                "shapes/circle.rs",
                "pub struct Circle(super::square::Side);\n",
            ),
            (
                "shapes/square.rs",
                "use super::{Circle as Round};\npub struct Side;\n",
            ),
        ]);
        assert_eq!(
            tree.cycles(),
            [["shapes/circle.rs", "shapes/mod.rs", "shapes/square.rs"]]
        );
    }

    #[test]
    fn a_clean_tree_has_no_cycle() {
        let tree = Tree::new(&[
            (
                "lib.rs",
                "pub mod shapes;\npub mod draw;\npub use shapes::{circle::Circle, Square};\n",
            ),
            (
                "shapes/mod.rs",
                "pub mod circle;\nmod square;\npub use self::square::Square;\n",
            ),
            ("shapes/circle.rs", "use super::square::Side;\npub struct Circle(Side);\n"),
            (
                "shapes/square.rs",
                "pub struct Side;\npub struct Square;\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use crate::shapes::square::Side as S;\n}\n",
            ),
            (
                "draw.rs",
                "use crate::shapes::{self, Square};\nfn f(_: shapes::circle::Circle) {}\n",
            ),
        ]);
        assert_eq!(tree.cycles(), Vec::<Vec<String>>::new());
        assert_eq!(
            tree.edges(),
            pairs(&[
                ("draw.rs", "shapes/mod.rs"),
                ("lib.rs", "shapes/circle.rs"),
                ("lib.rs", "shapes/mod.rs"),
                ("shapes/circle.rs", "shapes/square.rs"),
                ("shapes/mod.rs", "shapes/square.rs"),
            ])
        );
    }

    #[test]
    fn comments_and_literals_are_not_imports() {
        let tree = Tree::new(&[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "use crate::b::B;\n"),
            (
                "b.rs",
                concat!(
                    "// use crate::a::A;\n",
                    "/* crate::a::A /* nested */ crate::a::A */\n",
                    "/// [`A`](crate::a::A)\n",
                    "const S: &str = \"crate::a::A \\\" crate::a::A\";\n",
                    "const R: &str = r#\"crate::a::A \" crate::a::A\"#;\n",
                    "const C: char = '\"'; const L: &[u8] = b\"crate::a::A\";\n",
                    "fn f<'a>(x: &'a str) -> &'a str { x }\n",
                    "pub(in crate::a) struct B;\n",
                ),
            ),
        ]);
        assert_eq!(tree.edges(), pairs(&[("a.rs", "b.rs")]));
    }

    #[test]
    fn bins_and_a_main_next_to_a_library_are_crates_of_their_own() {
        let tree = Tree::new(&[
            ("lib.rs", "pub mod a;\n"),
            ("a.rs", "pub fn a() {}\n"),
            ("main.rs", "fn main() { crate::helper() }\nfn helper() {}\n"),
            (
                "bin/tool.rs",
                "mod a { pub fn f() {} }\nfn main() { crate::a::f() }\n",
            ),
            ("bin/big/main.rs", "mod part;\nfn main() { part::f() }\n"),
            ("bin/big/part.rs", "pub fn f() {}\n"),
        ]);
        assert_eq!(
            tree.edges(),
            pairs(&[("bin/big/main.rs", "bin/big/part.rs")])
        );
    }

    #[test]
    fn module_paths_follow_the_layout() {
        let src = Path::new("src");
        let module = |file: &str| module_of(src, &src.join(file)).join("::");
        assert_eq!(module("lib.rs"), "");
        assert_eq!(module("main.rs"), "");
        assert_eq!(module("a.rs"), "a");
        assert_eq!(module("a/mod.rs"), "a");
        assert_eq!(module("a/b.rs"), "a::b");
        assert_eq!(module("a/b/mod.rs"), "a::b");
    }
}
