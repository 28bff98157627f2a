//! `skillhost new skill`: scaffold a skill crate that builds to a component as is.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The release profile the sample skills use: small components.
const RELEASE_PROFILE: &str = r#"[profile.release]
opt-level = "s"
# Components are loaded often and kept in memory: keep them small.
strip = "debuginfo"
codegen-units = 4
panic = "abort"
"#;

pub fn skill(name: &str, dir: &Path, sdk: Option<&Path>) -> Result<()> {
    check_name(name)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    let crate_dir = dir.join(name);
    if crate_dir.exists() {
        bail!("{} already exists", crate_dir.display());
    }
    let sdk = match sdk {
        Some(p) => p
            .canonicalize()
            .with_context(|| format!("--sdk {}: no such directory", p.display()))?,
        None => find_sdk(&dir)?,
    };
    if !sdk.join("Cargo.toml").is_file() {
        bail!(
            "{}: not a crate (no Cargo.toml); pass the skill-sdk directory with --sdk",
            sdk.display()
        );
    }
    let workspace_manifest = dir.join("Cargo.toml");
    let in_workspace = std::fs::read_to_string(&workspace_manifest)
        .map(|t| t.lines().any(|l| l.trim() == "[workspace]"))
        .unwrap_or(false);

    let sdk_rel = relative(&crate_dir, &sdk);
    let mut manifest = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

# A skill is a cdylib: built for wasm32-wasip2 it is a component exporting the skill world.
[lib]
crate-type = ["cdylib"]

[dependencies]
skill-sdk = {{ path = "{}" }}
"#,
        sdk_rel.display().to_string().replace('\\', "/")
    );
    if !in_workspace {
        manifest.push_str("\n# Its own workspace: build with `cargo build --release --target wasm32-wasip2`.\n[workspace]\n\n");
        manifest.push_str(RELEASE_PROFILE);
    }
    let lib = LIB_RS.replace("{name}", name);

    std::fs::create_dir_all(crate_dir.join("src"))?;
    std::fs::write(crate_dir.join("Cargo.toml"), manifest)?;
    std::fs::write(crate_dir.join("src/lib.rs"), lib)?;
    let mut joined = String::new();
    if in_workspace {
        if add_member(&workspace_manifest, name)? {
            joined = format!(
                " and added it to the members of {}",
                workspace_manifest.display()
            );
        } else {
            joined = format!(
                "; add \"{name}\" to `members` in {} to build it with the workspace",
                workspace_manifest.display()
            );
        }
    }
    let idn = format!("{}Skill", camel(name));
    println!(
        "created skill crate `{name}` in {}{joined}",
        crate_dir.display()
    );
    println!(
        "\nUse it in a flow (the project's skillhost.yaml names this workspace as `skills_workspace`):\n\n\
         skills:\n  - idn: {idn}\n    crate: {name}\nevents:\n  - idn: hello\n    skill_idn: {idn}\n\n\
         Test it natively: cargo test --manifest-path {}/Cargo.toml\n\
         Build it:         skillhost build <project>   (or cargo build --release --target wasm32-wasip2)",
        crate_dir.display()
    );
    Ok(())
}

const LIB_RS: &str = r#"//! {name}: a skillhost skill.
//!
//! Runs once per event its flow subscribes it to: replies to the user with the
//! event's idn and its `text` argument. Replace `run` with your skill.
use skill_sdk::prelude::*;

skill!(run);

fn run(act: Act) -> Result<()> {
    let text = act.arg("text").unwrap_or_default();
    log::info(&format!("{} received `{text}`", act.idn()));
    reply(&format!("{name} got {}: {text}", act.idn()))
}

#[cfg(test)]
mod tests {
    use skill_sdk::testing::TestHost;

    #[test]
    fn replies_with_the_event_and_its_text() {
        let done = TestHost::new("hello").arg("text", "hi").run(super::run);
        assert_eq!(done.reply_texts(), ["{name} got hello: hi"]);
    }
}
"#;

fn check_name(name: &str) -> Result<()> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        bail!(
            "`{name}` is not a valid skill crate name: use lowercase letters, digits, `_` and `-`, starting with a letter"
        );
    }
    Ok(())
}

/// The skill SDK: a `skill-sdk` directory beside DIR or an ancestor, or the
/// one this skillhost was built from.
fn find_sdk(dir: &Path) -> Result<PathBuf> {
    for ancestor in dir.ancestors() {
        let candidate = ancestor.join("skill-sdk");
        if candidate.join("Cargo.toml").is_file() {
            return Ok(candidate);
        }
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../skill-sdk");
    if let Ok(p) = built_from.canonicalize() {
        if p.join("Cargo.toml").is_file() {
            return Ok(p);
        }
    }
    bail!("cannot find the skill SDK (a `skill-sdk` directory); pass it with --sdk PATH")
}

/// Adds a member to a workspace manifest's `members = [...]`; `false` if it
/// has no such list this edit understands.
fn add_member(manifest: &Path, name: &str) -> Result<bool> {
    let text = std::fs::read_to_string(manifest)?;
    let Some(start) = text.find("members") else {
        return Ok(false);
    };
    let Some(open) = text[start..].find('[').map(|i| start + i) else {
        return Ok(false);
    };
    let Some(close) = text[open..].find(']').map(|i| open + i) else {
        return Ok(false);
    };
    let inside = &text[open + 1..close];
    let quoted = format!("\"{name}\"");
    if inside.contains(&quoted) {
        return Ok(true);
    }
    let new_inside = if inside.contains('\n') {
        // One member per line: keep the style.
        let trimmed = inside.trim_end_matches([' ', '\n', '\t']);
        let comma = if trimmed.trim().is_empty() || trimmed.ends_with(',') {
            ""
        } else {
            ","
        };
        format!("{trimmed}{comma}\n    {quoted},\n")
    } else if inside.trim().is_empty() {
        quoted
    } else {
        format!("{}, {quoted}", inside.trim_end().trim_end_matches(','))
    };
    let updated = format!("{}{new_inside}{}", &text[..=open], &text[close..]);
    std::fs::write(manifest, updated)?;
    Ok(true)
}

/// A path to `to` relative to the directory `from` (both absolute).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to_c: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to_c).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return to.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to_c[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// `my_skill-name` → `MySkillName`.
fn camel(name: &str) -> String {
    name.split(['_', '-'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_and_names() {
        assert_eq!(
            relative(Path::new("/a/b/skills/x"), Path::new("/a/b/skill-sdk")),
            PathBuf::from("../../skill-sdk")
        );
        assert_eq!(camel("my_skill-name"), "MySkillName");
        assert!(check_name("greeter_2").is_ok());
        assert!(check_name("2greeter").is_err());
        assert!(check_name("Greeter").is_err());
    }

    #[test]
    fn adds_members_in_either_style() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("Cargo.toml");
        std::fs::write(
            &m,
            "[workspace]\nmembers = [\n    \"echo\",\n    \"counter\",\n]\n",
        )
        .unwrap();
        assert!(add_member(&m, "greeter").unwrap());
        assert_eq!(
            std::fs::read_to_string(&m).unwrap(),
            "[workspace]\nmembers = [\n    \"echo\",\n    \"counter\",\n    \"greeter\",\n]\n"
        );
        std::fs::write(&m, "[workspace]\nmembers = [\"echo\"]\n").unwrap();
        assert!(add_member(&m, "greeter").unwrap());
        assert_eq!(
            std::fs::read_to_string(&m).unwrap(),
            "[workspace]\nmembers = [\"echo\", \"greeter\"]\n"
        );
        std::fs::write(&m, "[workspace]\nmembers = []\n").unwrap();
        assert!(add_member(&m, "greeter").unwrap());
        assert_eq!(
            std::fs::read_to_string(&m).unwrap(),
            "[workspace]\nmembers = [\"greeter\"]\n"
        );
    }
}
