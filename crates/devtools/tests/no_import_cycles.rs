//! No file of any crate or service imports a file that imports it back, directly or
//! through others (the developers' guide; see `obs_devtools::module_graph`).

use obs_devtools::module_graph::ImportGraph;
use std::path::{Path, PathBuf};

/// Every `crates/*/src` and `services/*/src` of the workspace.
fn source_dirs(workspace: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for group in ["crates", "services"] {
        let entries = std::fs::read_dir(workspace.join(group)).unwrap();
        for entry in entries {
            let src = entry.unwrap().path().join("src");
            if src.is_dir() {
                dirs.push(src);
            }
        }
    }
    dirs.sort();
    dirs
}

#[test]
fn no_crate_has_an_import_cycle() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let prefix = format!("{}/", workspace.display());
    let mut files = 0;
    let mut imports = 0;
    let mut cycles = Vec::new();
    for src in source_dirs(&workspace) {
        let graph = ImportGraph::read(&src).unwrap();
        files += graph.files().count();
        imports += graph.imports().count();
        cycles.extend(
            graph
                .cycles()
                .iter()
                .map(|cycle| cycle.to_string().replace(&prefix, "")),
        );
    }
    // A walk that found nothing would pass for the wrong reason.
    assert!(
        files > 50 && imports > 50,
        "{files} files, {imports} imports"
    );
    assert!(
        cycles.is_empty(),
        "{} import cycles:\n{}",
        cycles.len(),
        cycles.join("\n")
    );
}
