//! Redaction policies as files (`rules/pii/*.yaml`): which entity types a policy redacts,
//! from what confidence, how, and which values it leaves alone.
//!
//! ```yaml
//! name: pci_dss
//! description: Cardholder data.
//! min_confidence: 0.5              # default floor for every entity below
//! hash_key_env: PALISADE_PII_KEY   # needed by `hash`: the HMAC key's environment variable
//! entities:
//!   credit_card: { method: truncate, keep_first: 6, keep_last: 4 }
//!   card_security_code: drop
//!   email: replace
//!   us_ssn: { method: mask, char: "#", keep_last: 4, min_confidence: 0.7 }
//!   phone: hash
//! allowlist:
//!   values: [4111 1111 1111 1111]  # every tenant
//!   tenants:
//!     acme: [support@acme.example]
//! ```
//!
//! Loading is strict: unknown keys, unknown entity types, options that do not belong to the
//! method, and a `hash` method without a key in the environment are errors naming the file
//! and key. The key itself never appears in an error, a log or `Debug` output.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::{EntityType, Method, PiiPolicy};

/// Shortest HMAC key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

/// A policy file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: invalid policy file: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {key}: {message}")]
    Invalid { path: PathBuf, key: String, message: String },
    #[error("unknown policy `{name}`; available: {available}")]
    Unknown { name: String, available: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default = "default_min_confidence")]
    min_confidence: f32,
    #[serde(default)]
    hash_key_env: Option<String>,
    entities: BTreeMap<String, EntitySpec>,
    #[serde(default)]
    allowlist: AllowlistSpec,
    /// Known names for `person_name` (the recognizer hook for untitled names).
    #[serde(default)]
    names: Vec<String>,
    /// A file of known names, one per line (relative to the policy file).
    #[serde(default)]
    names_file: Option<PathBuf>,
}

fn default_min_confidence() -> f32 {
    0.5
}

/// `email: replace` or `email: {method: replace, ...}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum EntitySpec {
    Name(MethodName),
    Full(EntityOptions),
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum MethodName {
    Replace,
    Mask,
    Hash,
    Truncate,
    Drop,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityOptions {
    method: MethodName,
    #[serde(default)]
    char: Option<char>,
    #[serde(default)]
    keep_first: Option<usize>,
    #[serde(default)]
    keep_last: Option<usize>,
    #[serde(default)]
    min_confidence: Option<f32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowlistSpec {
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    tenants: BTreeMap<String, Vec<String>>,
}

/// Values a policy never redacts: for every tenant, and per tenant. Compared after
/// [`allow_key`] (case, spaces and dashes ignored), so `4111-1111-1111-1111` and
/// `4111111111111111` are the same entry.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    all: HashSet<String>,
    tenants: HashMap<String, HashSet<String>>,
}

impl Allowlist {
    pub fn new(all: &[String], tenants: &BTreeMap<String, Vec<String>>) -> Self {
        Self {
            all: all.iter().map(|v| allow_key(v)).collect(),
            tenants: tenants
                .iter()
                .map(|(t, vs)| (t.clone(), vs.iter().map(|v| allow_key(v)).collect()))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty() && self.tenants.is_empty()
    }

    /// Whether `value` is allowed for `tenant` (or for everyone).
    pub fn allows(&self, tenant: Option<&str>, value: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        let key = allow_key(value);
        self.all.contains(&key)
            || tenant.and_then(|t| self.tenants.get(t)).is_some_and(|set| set.contains(&key))
    }
}

/// The comparison form of an allowlisted value.
fn allow_key(value: &str) -> String {
    value.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect()
}

/// Reads an environment variable (the process environment, or a stand-in in tests).
pub type EnvLookup<'a> = dyn Fn(&str) -> Option<std::ffi::OsString> + 'a;

/// The HMAC-SHA-256 key of the `hash` method. Its bytes never leave this type: `Debug`
/// prints only where it came from.
#[derive(Clone)]
pub struct HashKey {
    key: Vec<u8>,
    source: String,
}

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashKey").field("source", &self.source).finish_non_exhaustive()
    }
}

impl HashKey {
    /// A key from raw bytes (tests, embedding).
    ///
    /// # Errors
    /// When the key is shorter than [`MIN_KEY_BYTES`].
    pub fn new(key: &[u8], source: impl Into<String>) -> Result<Self, String> {
        if key.len() < MIN_KEY_BYTES {
            return Err(format!("the key must be at least {MIN_KEY_BYTES} bytes"));
        }
        Ok(Self { key: key.to_vec(), source: source.into() })
    }

    /// Reads the key from an environment variable.
    ///
    /// # Errors
    /// When the variable is unset, empty or too short; the message names the variable,
    /// never its value.
    pub fn from_env(var: &str) -> Result<Self, String> {
        Self::from_lookup(var, &|v| std::env::var_os(v))
    }

    /// [`Self::from_env`] with the environment given as a lookup function.
    ///
    /// # Errors
    /// As [`Self::from_env`].
    pub fn from_lookup(var: &str, env: &EnvLookup<'_>) -> Result<Self, String> {
        match env(var) {
            None => Err(format!(
                "environment variable {var} is not set: the `hash` method needs an HMAC key \
                 of at least {MIN_KEY_BYTES} bytes there (for example `export {var}=$(openssl rand -hex 32)`)"
            )),
            Some(v) => {
                let bytes = v.as_encoded_bytes();
                Self::new(bytes, format!("${var}")).map_err(|e| format!("{var}: {e}"))
            }
        }
    }

    /// `hex(HMAC-SHA-256(tenant key, type ‖ 0 ‖ value))[..16]`, where the tenant key is
    /// `HMAC-SHA-256(key, "palisade-tenant\0" ‖ tenant)`: the same value gets the same
    /// digest within a tenant and unrelated digests across tenants.
    pub fn digest(&self, tenant: Option<&str>, entity: EntityType, value: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable_hmac());
        mac.update(b"palisade-tenant\0");
        mac.update(tenant.unwrap_or("").as_bytes());
        let tenant_key = mac.finalize().into_bytes();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&tenant_key)
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(entity.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        let out = mac.finalize().into_bytes();
        let mut hex = String::with_capacity(16);
        for b in &out[..8] {
            hex.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            hex.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
        }
        hex
    }
}

/// HMAC accepts keys of any length; this only satisfies the type checker.
fn unreachable_hmac() -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 32]).unwrap_or_else(|_| unreachable_hmac())
}

/// Loads a policy file.
///
/// # Errors
/// [`PolicyError`] naming the file and the key at fault.
pub fn load_file(path: &Path) -> Result<PiiPolicy, PolicyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| PolicyError::Io { path: path.to_owned(), source })?;
    parse(path, &text)
}

/// Parses a policy file's text (`path` is for messages).
///
/// # Errors
/// [`PolicyError`] naming the file and the key at fault.
pub fn parse(path: &Path, text: &str) -> Result<PiiPolicy, PolicyError> {
    parse_with_env(path, text, &|v| std::env::var_os(v))
}

/// [`parse`] with the environment given as a lookup function.
///
/// # Errors
/// As [`parse`].
pub fn parse_with_env(
    path: &Path,
    text: &str,
    env: &EnvLookup<'_>,
) -> Result<PiiPolicy, PolicyError> {
    let file: PolicyFile = serde_saphyr::from_str(text)
        .map_err(|e| PolicyError::Parse { path: path.to_owned(), message: e.to_string() })?;
    let invalid =
        |key: String, message: String| PolicyError::Invalid { path: path.to_owned(), key, message };
    if !(0.0..=1.0).contains(&file.min_confidence) {
        return Err(invalid("min_confidence".into(), "must be between 0 and 1".into()));
    }
    if file.entities.is_empty() {
        return Err(invalid("entities".into(), "a policy needs at least one entity type".into()));
    }
    let mut methods = Vec::with_capacity(file.entities.len());
    let mut needs_key = false;
    for (name, spec) in &file.entities {
        let key = format!("entities.{name}");
        let entity = EntityType::parse(name).ok_or_else(|| {
            let known: Vec<&str> = EntityType::ALL.iter().map(|e| e.as_str()).collect();
            invalid(key.clone(), format!("unknown entity type; known: {}", known.join(", ")))
        })?;
        let (method, floor) = method_of(spec).map_err(|m| invalid(key.clone(), m))?;
        let floor = floor.unwrap_or(file.min_confidence);
        if !(0.0..=1.0).contains(&floor) {
            return Err(invalid(format!("{key}.min_confidence"), "must be between 0 and 1".into()));
        }
        needs_key |= method == Method::Hash;
        methods.push((entity, method, floor));
    }
    let hash_key = match (&file.hash_key_env, needs_key) {
        (Some(var), true) => {
            Some(HashKey::from_lookup(var, env).map_err(|m| invalid("hash_key_env".into(), m))?)
        }
        (None, true) => {
            return Err(invalid(
                "hash_key_env".into(),
                "an entity uses `hash`: name the environment variable holding the HMAC key".into(),
            ));
        }
        (_, false) => None,
    };
    let mut policy = PiiPolicy::with_floors(file.name, file.min_confidence, methods);
    policy.description = file.description;
    policy.hash_key = hash_key;
    policy.allowlist = Allowlist::new(&file.allowlist.values, &file.allowlist.tenants);
    let mut names = file.names;
    if let Some(names_file) = &file.names_file {
        let at = path.parent().unwrap_or(Path::new(".")).join(names_file);
        let text = std::fs::read_to_string(&at).map_err(|e| {
            invalid("names_file".into(), format!("cannot read {}: {e}", at.display()))
        })?;
        names.extend(text.lines().map(str::to_owned));
    }
    if !names.is_empty() {
        if policy.method(EntityType::PersonName).is_none() {
            return Err(invalid(
                "names".into(),
                "known names need `person_name` among the entities".into(),
            ));
        }
        policy.names =
            Some(super::hipaa::NameHook::new(&names).map_err(|m| invalid("names".into(), m))?);
    }
    Ok(policy)
}

fn method_of(spec: &EntitySpec) -> Result<(Method, Option<f32>), String> {
    let (name, o) = match spec {
        EntitySpec::Name(name) => (*name, None),
        EntitySpec::Full(o) => (o.method, Some(o)),
    };
    let get = |o: Option<&EntityOptions>| -> (Option<char>, Option<usize>, Option<usize>) {
        o.map_or((None, None, None), |o| (o.char, o.keep_first, o.keep_last))
    };
    let (ch, keep_first, keep_last) = get(o);
    let floor = o.and_then(|o| o.min_confidence);
    let refuse = |what: &str| Err(format!("`{what}` does not apply to this method"));
    let method = match name {
        MethodName::Replace | MethodName::Hash | MethodName::Drop => {
            if ch.is_some() {
                return refuse("char");
            }
            if keep_first.is_some() {
                return refuse("keep_first");
            }
            if keep_last.is_some() {
                return refuse("keep_last");
            }
            match name {
                MethodName::Replace => Method::Replace,
                MethodName::Hash => Method::Hash,
                _ => Method::Drop,
            }
        }
        MethodName::Mask => Method::Mask {
            char: ch.unwrap_or('*'),
            keep_first: keep_first.unwrap_or(0),
            keep_last: keep_last.unwrap_or(0),
        },
        MethodName::Truncate => {
            if ch.is_some() {
                return refuse("char");
            }
            Method::Truncate {
                keep_first: keep_first.unwrap_or(6),
                keep_last: keep_last.unwrap_or(4),
            }
        }
    };
    Ok((method, floor))
}

/// Where policies are looked up by name.
pub const DEFAULT_POLICY_DIR: &str = "rules/pii";

/// Resolves a policy: a path to a `.yaml`/`.yml` file, or a name looked up as
/// `<dir>/<name>.yaml`; `default_pii` falls back to the built-in policy when the directory
/// has no such file.
///
/// # Errors
/// [`PolicyError::Unknown`] listing the available names, or the file's own error.
pub fn resolve(name: &str, dir: &Path) -> Result<PiiPolicy, PolicyError> {
    if name.ends_with(".yaml") || name.ends_with(".yml") || name.contains('/') {
        return load_file(Path::new(name));
    }
    for ext in ["yaml", "yml"] {
        let path = dir.join(format!("{name}.{ext}"));
        if path.is_file() {
            let policy = load_file(&path)?;
            if policy.name != name {
                return Err(PolicyError::Invalid {
                    path,
                    key: "name".into(),
                    message: format!("is `{}`, but the file is named `{name}`", policy.name),
                });
            }
            return Ok(policy);
        }
    }
    if name == "default_pii" {
        return Ok(PiiPolicy::default_pii());
    }
    let mut available: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let ext = p.extension()?.to_str()?;
            (ext == "yaml" || ext == "yml").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    if !available.iter().any(|n| n == "default_pii") {
        available.push("default_pii".into());
    }
    available.sort();
    Err(PolicyError::Unknown { name: name.to_owned(), available: available.join(", ") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Decoder;
    use crate::pii::{Redactor, TokenVault};

    fn policy(yaml: &str) -> Result<PiiPolicy, String> {
        policy_env(yaml, &[])
    }

    fn policy_env(yaml: &str, vars: &[(&str, &str)]) -> Result<PiiPolicy, String> {
        let lookup = |name: &str| {
            vars.iter().find(|(k, _)| *k == name).map(|(_, v)| std::ffi::OsString::from(v))
        };
        parse_with_env(Path::new("p.yaml"), yaml, &lookup).map_err(|e| e.to_string())
    }

    fn redact(policy: PiiPolicy, tenant: Option<&str>, prompt: &str) -> String {
        let mut json = serde_json::json!({"event_id":"e","ts":"2026-11-22T10:00:00Z",
            "agent_id":"a","session_id":"s","prompt":prompt});
        if let Some(t) = tenant {
            json["tenant"] = t.into();
        }
        let mut event = Decoder::default().interaction(json.to_string().as_bytes()).unwrap();
        Redactor::new(policy.into()).redact(&mut event, &mut TokenVault::default());
        event.prompt.unwrap()
    }

    #[test]
    fn methods_per_entity_and_per_entity_floors() {
        let p = policy(
            "name: t\nentities:\n  credit_card: truncate\n  email: {method: mask, keep_first: 1, keep_last: 3}\n  us_ssn: {method: replace, min_confidence: 1.0}\n",
        )
        .unwrap();
        let out = redact(p, None, "card 4111 1111 1111 1111, mail jo@ex.io, id 123-45-6789");
        assert_eq!(out, "card 411111…1111, mail j*@*x.io, id 123-45-6789");
    }

    #[test]
    fn hash_is_keyed_per_tenant_and_needs_a_key() {
        let var = "PALISADE_PII_KEY";
        let yaml = format!("name: t\nhash_key_env: {var}\nentities:\n  email: hash\n");
        let err = policy(&yaml).unwrap_err();
        assert!(err.contains(var) && err.contains("not set"), "{err}");
        let secret = "k3y-material-that-must-not-leak";
        let p = policy_env(&yaml, &[(var, secret)]).unwrap();
        assert!(!format!("{p:?}").contains(secret));
        let a1 = redact(p.clone(), Some("acme"), "write to jo@ex.io");
        let a2 = redact(p.clone(), Some("acme"), "again jo@ex.io");
        let b = redact(p, Some("globex"), "write to jo@ex.io");
        let digest = |s: &str| s.split("[EMAIL:").nth(1).unwrap()[..16].to_owned();
        assert_eq!(digest(&a1), digest(&a2));
        assert_ne!(digest(&a1), digest(&b));
        assert!(a1.starts_with("write to [EMAIL:") && a1.ends_with(']') && !a1.contains("jo@"));

        let missing = policy("name: t\nentities:\n  email: hash\n").unwrap_err();
        assert!(missing.contains("hash_key_env"), "{missing}");
        let err = policy_env(&yaml, &[(var, "tiny")]).unwrap_err();
        assert!(err.contains("at least 16 bytes") && !err.contains("tiny"), "{err}");
    }

    #[test]
    fn allowlists_apply_globally_and_per_tenant() {
        let p = policy(
            "name: t\nentities:\n  email: replace\n  credit_card: replace\nallowlist:\n  values: ['4111-1111-1111-1111']\n  tenants:\n    acme: [Support@Acme.example]\n",
        )
        .unwrap();
        let text = "test card 4111111111111111, write support@acme.example";
        assert_eq!(redact(p.clone(), Some("acme"), text), text);
        assert_eq!(redact(p, Some("globex"), text), "test card 4111111111111111, write [EMAIL_1]");
    }

    #[test]
    fn strict_loading_names_file_and_key() {
        let e = policy("name: t\nentities:\n  emial: replace\n").unwrap_err();
        assert!(e.contains("p.yaml") && e.contains("entities.emial") && e.contains("email"), "{e}");
        let e =
            policy("name: t\nentities:\n  email: {method: replace, keep_last: 2}\n").unwrap_err();
        assert!(e.contains("entities.email") && e.contains("keep_last"), "{e}");
        let e = policy("name: t\nentitys: {}\n").unwrap_err();
        assert!(e.contains("p.yaml"), "{e}");
        let e = resolve("nope", Path::new("/nonexistent")).unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("default_pii"), "{e}");
        assert_eq!(resolve("default_pii", Path::new("/nonexistent")).unwrap().name, "default_pii");
    }
}
