//! Compiles the contract in `openapi/` into the crate's generated code, in `$OUT_DIR`:
//!
//! - `types.rs`: the request and response types (progenitor's type generator);
//! - `enums.rs`: forward-compatible enums, one for each named `enum` of the spec;
//! - `operations.rs`: for each operation, its method on `Client`, its description (method,
//!   path, the checks of its parameters and body) and its `<OperationId>Query` struct; the
//!   list of every operation (`ALL`, with each Autopilot operation's CCE twin, `x-cce-twin`),
//!   for each pair of twins the crate-private `<cce_method>_for(flavour, ..)`; and the
//!   accessors the spec names (`x-accessors`, `build/accessors.rs`) and the constructors that
//!   only fill fixed values (`x-new`, `build/constructors.rs`);
//! - `operations.md`: the table of the operations, one section per part, for the docs;
//! - `openapi.json`: the assembled spec, for the tests that compare it with the documents.
//!
//! The generator lives in `build/`, one module per thing it emits. A spec it cannot honour stops
//! the build with a message that names the file, the operation or schema, and what is wrong.

#[path = "build/accessors.rs"]
mod accessors;
#[path = "build/checks.rs"]
mod checks;
#[path = "build/constructors.rs"]
mod constructors;
#[path = "build/enums.rs"]
mod enums;
#[path = "build/operations.rs"]
mod operations;
#[path = "build/spec.rs"]
mod spec;
#[path = "build/types.rs"]
mod types;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SPEC: &str = "openapi/cce-upgrade.yaml";
const SPEC_DIR: &str = "openapi";

fn main() {
    println!("cargo:rerun-if-changed={SPEC_DIR}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut owners = Default::default();
    if let Err(message) = generate(Path::new(SPEC), &out_dir, &mut owners) {
        eprintln!("error: {}: {message}", file_of(&message, &owners));
        std::process::exit(1);
    }
}

/// The spec file a message is about: the part that defines the path or schema it starts with,
/// else the root.
fn file_of(message: &str, owners: &BTreeMap<String, String>) -> String {
    let key = if let Some(rest) = message.strip_prefix("components.schemas.") {
        let name = rest.split(['.', ':', ' ']).next().unwrap_or_default();
        format!("/components/schemas/{name}")
    } else if let Some(rest) = message.strip_prefix("paths.") {
        let path = rest.split([' ', ':']).next().unwrap_or_default();
        let path = path.rsplit_once('.').map_or(path, |(p, _method)| p);
        format!("/paths/{path}")
    } else {
        return format!("{SPEC_DIR}/");
    };
    owners.get(&key).cloned().unwrap_or_else(|| SPEC.to_owned())
}

fn generate(
    root: &Path,
    out_dir: &Path,
    owners: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    let (doc, parts) = spec::assemble(root)?;
    *owners = parts;
    let titles = spec::part_titles(owners.values());
    serde_json::from_value::<openapiv3::OpenAPI>(doc.clone())
        .map_err(|e| format!("not a valid OpenAPI 3.0 document: {e}"))?;
    checks::check_vocabulary(&doc, "")?;
    write(out_dir, "openapi.json", &doc.to_string())?;

    let enums = enums::collect_enums(&doc)?;
    enums::check_no_inline_enums(&doc, "", &enums)?;
    // The operations' own checks (path parameters, answers) before the type generator's.
    operations::generate(&doc, &enums, None, owners, &titles)?;
    let adapted = spec::adapt_for_types(&doc)?;
    let accessors_src = accessors::generate(&doc, &adapted, &enums)?;
    let constructors_src = constructors::generate(&doc, &adapted, &enums)?;
    let (types_src, type_names) = types::generate(adapted, &doc, &enums)?;
    write(out_dir, "types.rs", &types_src)?;
    write(out_dir, "enums.rs", &enums::render_enums(&enums))?;
    let operations = operations::generate(&doc, &enums, Some(&type_names), owners, &titles)?;
    write(out_dir, "operations.md", &operations.table)?;
    let file: syn::File = syn::parse_str(&format!(
        "{}\n{accessors_src}\n{constructors_src}",
        operations.code
    ))
    .map_err(|e| format!("the generated operations do not parse: {e}"))?;
    write(out_dir, "operations.rs", &prettyplease::unparse(&file))
}

fn write(out_dir: &Path, name: &str, contents: &str) -> Result<(), String> {
    std::fs::write(out_dir.join(name), contents).map_err(|e| format!("cannot write {name}: {e}"))
}
