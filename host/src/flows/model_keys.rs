//! The model keys of a project: `models:`, `default_model` and
//! `newo_models` in `skillhost.yaml`, a skill's `model` and a flow's
//! `default_model` (Newo exports carry both), and the load-time checks that
//! every model a flow file names is configured and allowed by the flow's
//! `allowed_outbound_hosts`.

use std::path::Path;
use std::time::Duration;

use marked_yaml::Node;
use reqwest::Url;

use super::diagnostics::{Checked, LoadError, Report, Reported};
use super::model::Flow;
use super::project_file::PROJECT_FILE;
use super::typed_yaml::{is_null, list, name, reject_unknown_keys, required_name, text, Obj};
use super::yaml::{read_yaml, start_line};
use crate::limits::parse_duration;
use crate::llm::config::{DEFAULT_MAX_CONCURRENCY, DEFAULT_RETRIES, DEFAULT_TIMEOUT};
use crate::llm::{ModelChoice, ModelConfig, ModelRef, Models, NewoModel};

/// The keys of `skillhost.yaml` this module reads.
pub(super) const MODEL_PROJECT_KEYS: [&str; 3] = ["models", "default_model", "newo_models"];
const MODEL_KEYS: &[&str] = &[
    "base_url",
    "model",
    "api_key_env",
    "timeout",
    "max_concurrency",
    "retries",
];
const NEWO_KEYS: &[&str] = &["provider_idn", "model_idn", "model"];

/// Reads the model keys of `dir/skillhost.yaml`. A file that does not parse
/// is reported by the project file's own loader, so not again here.
pub(super) fn load_models(dir: &Path, errors: &mut Vec<LoadError>) -> Models {
    let file = dir.join(PROJECT_FILE);
    let mut models = Models {
        file: file.clone(),
        ..Models::default()
    };
    if !file.exists() {
        return models;
    }
    let Some(root) = read_yaml(&file, &mut Report::new(&file, &mut Vec::new())) else {
        return models;
    };
    let mut r = Report::new(&file, errors);
    let obj = Obj::root(&root);
    models.models = model_entries(&obj, &mut r);
    let known = |alias: &str| models.models.iter().any(|m| m.alias == alias);
    if let Ok(Some(default)) = name(&obj, "default_model", &mut r) {
        if known(&default.value) {
            models.default_model = Some(default.value);
        } else {
            r.error(
                default.line,
                &default.field,
                unknown(&default.value, &models),
            );
        }
    }
    for item in list(&obj, "newo_models", &mut r) {
        reject_unknown_keys(&item, NEWO_KEYS, &mut r);
        let (provider, model, alias) = (
            required_name(&item, "provider_idn", &mut r),
            required_name(&item, "model_idn", &mut r),
            required_name(&item, "model", &mut r),
        );
        let (Ok(provider), Ok(model), Ok(alias)) = (provider, model, alias) else {
            continue;
        };
        if !known(&alias.value) {
            r.error(alias.line, &alias.field, unknown(&alias.value, &models));
            continue;
        }
        models.newo.push(NewoModel {
            provider_idn: provider.value,
            model_idn: model.value,
            alias: alias.value,
        });
    }
    models
}

/// `models: {ALIAS: {base_url, model, api_key_env, timeout, max_concurrency, retries}}`.
fn model_entries(obj: &Obj, r: &mut Report) -> Vec<ModelConfig> {
    let Some(value) = obj.get("models") else {
        return Vec::new();
    };
    let map = match value.node {
        Node::Mapping(map) => map,
        _ if is_null(value.node) => return Vec::new(),
        _ => {
            value.wrong_shape("a mapping of model aliases to models", r);
            return Vec::new();
        }
    };
    let mut models = Vec::new();
    for (alias, node) in map.iter() {
        let field = format!("models.{}", alias.as_str());
        let line = start_line(alias.span());
        let Node::Mapping(entry) = node else {
            let message = "expected a mapping with `base_url` and `model`";
            r.error(line, &field, message);
            continue;
        };
        if alias.as_str().trim().is_empty() {
            r.error(line, &field, "a model alias must not be empty");
            continue;
        }
        let entry = Obj {
            map: entry,
            path: field,
        };
        if let Ok(model) = model_entry(alias.as_str(), &entry, line, r) {
            models.push(model);
        }
    }
    models
}

fn model_entry(
    alias: &str,
    obj: &Obj,
    line: Option<usize>,
    r: &mut Report,
) -> Checked<ModelConfig> {
    reject_unknown_keys(obj, MODEL_KEYS, r);
    let base_url = required_name(obj, "base_url", r).and_then(|t| {
        parse_base_url(&t.value).map_err(|message| {
            r.error(t.line, &t.field, message);
            Reported
        })
    });
    let model = required_name(obj, "model", r);
    let api_key_env = name(obj, "api_key_env", r);
    let timeout = text(obj, "timeout", r).and_then(|t| {
        let Some(t) = t else {
            return Ok(DEFAULT_TIMEOUT);
        };
        match parse_duration(&t.value) {
            Ok(d) if d > Duration::ZERO => Ok(d),
            Ok(_) => Err(report(r, &t, "must be more than zero".into())),
            Err(message) => Err(report(r, &t, message)),
        }
    });
    let count = |key: &str, default: usize, min: usize, r: &mut Report| {
        let Some(t) = text(obj, key, r)? else {
            return Ok(default);
        };
        match t.value.trim().parse::<usize>() {
            Ok(n) if n >= min => Ok(n),
            _ => {
                let message = format!(
                    "expected a whole number of at least {min}, found `{}`",
                    t.value
                );
                Err(report(r, &t, message))
            }
        }
    };
    let max_concurrency = count("max_concurrency", DEFAULT_MAX_CONCURRENCY, 1, r);
    let retries = count("retries", DEFAULT_RETRIES as usize, 0, r);
    Ok(ModelConfig {
        alias: alias.to_string(),
        base_url: base_url?,
        model: model?.value,
        api_key_env: api_key_env?.map(|t| t.value),
        timeout: timeout?,
        max_concurrency: max_concurrency?,
        retries: u32::try_from(retries?).unwrap_or(u32::MAX),
        line: line.unwrap_or(0),
    })
}

/// Reports what is wrong with a value.
fn report(r: &mut Report, t: &super::typed_yaml::Text, message: String) -> Reported {
    r.error(t.line, &t.field, message);
    Reported
}

/// An `http`/`https` URL with a host and no query, fragment or user.
fn parse_base_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| {
        format!("`{text}` is not a URL ({e}); write e.g. `http://127.0.0.1:8080/v1`")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{text}`: the scheme must be `http` or `https`"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}`: no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "`{text}`: no query, fragment or user; requests go to `{{base_url}}/chat/completions`"
        ));
    }
    Ok(url)
}

/// A flow file's `model` (of a skill) or `default_model` (of a flow): an
/// alias, or Newo's `{provider_idn, model_idn}` (other keys of it ignored;
/// a mapping without both names no model, as Newo exports sometimes have).
pub(super) fn model_ref(obj: &Obj, key: &str, r: &mut Report) -> Checked<Option<ModelRef>> {
    let Some(value) = obj.get(key) else {
        return Ok(None);
    };
    let line = value.line.unwrap_or(0);
    match value.node {
        _ if is_null(value.node) => Ok(None),
        Node::Scalar(_) => Ok(name(obj, key, r)?.map(|t| ModelRef {
            choice: ModelChoice::Alias(t.value),
            line,
        })),
        Node::Mapping(map) => {
            let inner = Obj {
                map,
                path: value.field.clone(),
            };
            let (Some(provider), Some(model)) = (
                name(&inner, "provider_idn", r)?,
                name(&inner, "model_idn", r)?,
            ) else {
                return Ok(None);
            };
            Ok(Some(ModelRef {
                choice: ModelChoice::Newo {
                    provider_idn: provider.value,
                    model_idn: model.value,
                },
                line,
            }))
        }
        Node::Sequence(_) => Err(value.wrong_shape(
            "a model alias or a mapping with `provider_idn` and `model_idn`",
            r,
        )),
    }
}

/// Every model a flow file names must be configured (an alias; a Newo model
/// without a mapping falls back at run time) and allowed by its flow. A
/// project that configures no models at all is not checked, so a Newo
/// export loads as is; its generations fail with `unknown-model`.
pub(super) fn check_model_refs(
    models: &Models,
    flows: &[std::sync::Arc<Flow>],
    errors: &mut Vec<LoadError>,
) {
    if models.models.is_empty() {
        return;
    }
    for flow in flows {
        let mut r = Report::new(&flow.file, errors);
        let refs =
            flow.default_model
                .iter()
                .map(|m| (m, "default_model".to_string()))
                .chain(flow.skills.iter().enumerate().filter_map(|(i, s)| {
                    s.model.as_ref().map(|m| (m, format!("skills[{i}].model")))
                }));
        for (m, field) in refs {
            let Some(alias) = models.alias_of(&m.choice) else {
                continue;
            };
            match models.get(alias) {
                None => r.error(Some(m.line), &field, unknown(alias, models)),
                Some(model) => {
                    if let Err(e) = crate::llm::check_allowed(flow, model) {
                        let message = match e {
                            crate::llm::LlmError::NotAllowed(m) => m,
                            other => other.to_string(),
                        };
                        r.error(Some(m.line), &field, message);
                    }
                }
            }
        }
    }
}

fn unknown(alias: &str, models: &Models) -> String {
    let known: Vec<&str> = models.models.iter().map(|m| m.alias.as_str()).collect();
    let hint = skillhost_emission::did_you_mean(alias, known.iter().copied())
        .map(|near| format!(" (did you mean `{near}`?)"))
        .unwrap_or_default();
    format!(
        "unknown model `{alias}`{hint}: `models:` in {PROJECT_FILE} configures {}",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use crate::flows::test_support::*;
    use crate::llm::ModelChoice;
    use std::time::Duration;

    const MODELS: &str = "\
models:
  fast:
    base_url: http://127.0.0.1:8080/v1
    model: llama-3
    api_key_env: LOCAL_KEY
    timeout: 5s
    max_concurrency: 2
  big:
    base_url: https://api.example.com/v1
    model: gpt-x
default_model: fast
newo_models:
  - provider_idn: openai
    model_idn: gpt4o
    model: big
";

    #[test]
    fn loads_models_and_the_model_keys_of_flows() {
        let dir = project(&[
            ("skillhost.yaml", MODELS),
            ("a.wasm", ""),
            (
                "flow.yaml",
                "\
idn: F
default_model: {provider_idn: openai, model_idn: gpt4o}
allowed_outbound_hosts: [\"http://127.0.0.1:*\", \"https://api.example.com\"]
skills:
  - idn: S
    wasm: a.wasm
    model: fast
  - idn: T
    wasm: a.wasm
    model: {provider_idn: acme, model_idn: unmapped, extra: 1}
",
            ),
        ]);
        let project = load(&dir);
        let m = &project.models;
        assert_eq!(m.default_model.as_deref(), Some("fast"));
        let fast = m.get("fast").expect("fast");
        assert_eq!(fast.endpoint(), "http://127.0.0.1:8080/v1/chat/completions");
        assert_eq!(fast.timeout, Duration::from_secs(5));
        assert_eq!(
            (fast.max_concurrency, fast.api_key_env.as_deref()),
            (2, Some("LOCAL_KEY"))
        );
        assert_eq!(m.get("big").expect("big").timeout, Duration::from_secs(60));
        let flow = project.flow("F").expect("F");
        let s = flow.skill("S").expect("S");
        let t = flow.skill("T").expect("T");
        // The skill's own model, then the flow's default, then the project's.
        assert_eq!(m.resolve(None, flow, s).unwrap().alias, "fast");
        assert_eq!(m.resolve(None, flow, t).unwrap().alias, "big");
        assert_eq!(m.resolve(Some("big"), flow, s).unwrap().alias, "big");
        assert!(m.resolve(Some("nope"), flow, s).is_err());
        assert!(matches!(
            &t.model.as_ref().unwrap().choice,
            ModelChoice::Newo { model_idn, .. } if model_idn == "unmapped"
        ));
    }

    #[test]
    fn newo_exports_load_without_models_configured() {
        let dir = project(&[
            ("a.wasm", ""),
            (
                "flow.yaml",
                "idn: F\ndefault_model: {provider_idn: openai}\nskills:\n  - idn: S\n    wasm: a.wasm\n    model: gpt4o\n",
            ),
        ]);
        let project = load(&dir);
        let flow = project.flow("F").expect("F");
        assert_eq!(flow.default_model, None);
        let s = flow.skill("S").expect("S");
        assert_eq!(s.model.as_ref().map(|m| m.line), Some(6));
        let e = project.models.resolve(None, flow, s).unwrap_err();
        assert!(e.to_string().contains("unknown model `gpt4o`"), "{e}");
    }

    #[test]
    fn reports_bad_models_with_file_and_line() {
        let dir = project(&[
            (
                "skillhost.yaml",
                "\
models:
  a:
    base_url: ftp://x
    model: m
  b:
    model: m
    timeout: soon
    max_concurrency: 0
    temprature: 1
  c: just-a-string
default_model: d
newo_models:
  - provider_idn: p
    model_idn: m
    model: zzz
",
            ),
            ("flow.yaml", "idn: F\n"),
        ]);
        let errors = errors(&dir);
        let e = |line, field, text| {
            assert_error(&errors, &dir, "skillhost.yaml", Some(line), field, text)
        };
        e(3, "models.a.base_url", "scheme must be `http` or `https`");
        e(6, "models.b.base_url", "missing required key `base_url`");
        e(7, "models.b.timeout", "not a duration");
        e(8, "models.b.max_concurrency", "at least 1");
        e(9, "models.b.temprature", "unknown key");
        e(10, "models.c", "expected a mapping");
        e(11, "default_model", "unknown model `d`");
        e(15, "newo_models[0].model", "unknown model `zzz`");
    }

    #[test]
    fn a_model_the_flow_does_not_allow_is_a_load_error() {
        let dir = project(&[
            ("skillhost.yaml", MODELS),
            ("a.wasm", ""),
            (
                "flow.yaml",
                "\
idn: F
allowed_outbound_hosts: [\"http://127.0.0.1:*\"]
default_model: big
skills:
  - idn: S
    wasm: a.wasm
    model: fast
  - idn: T
    wasm: a.wasm
    model: fats
",
            ),
        ]);
        let errors = errors(&dir);
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(3),
            "default_model",
            "model `big` is at `https://api.example.com`, which flow `F` does not allow",
        );
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(10),
            "skills[1].model",
            "unknown model `fats` (did you mean `fast`?)",
        );
        assert_eq!(errors.len(), 2, "{}", LoadErrors(errors.clone()));
    }
}
