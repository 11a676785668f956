#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The deployment files (Dockerfile, docker-compose.yml, deploy/**) are for users: no
//! container engine or cluster runs them here. They are parsed and cross-checked against the
//! code instead: every `palisade` command line they run must parse, every pipeline they name
//! must exist and validate, the ConfigMap must embed the repository's pipeline byte for
//! byte, every `${VAR}` of a pipeline must be set where it runs, grace periods must outlast
//! the pipeline's `shutdown_grace`, compose must create topics before starting palisade, and
//! the kustomization must list every manifest.
//!
//! Each check is a function returning the problems it found; `checks_catch_*` tests feed
//! them mutated copies of the files to show that each one fails when the files drift.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use palisade::pipeline::Pipeline;
use serde_json::{Value, json};

/// Where the image puts rules/ and pipelines/, and its working directory.
const WORKDIR: &str = "/opt/palisade";
/// The Kustomize base.
const K8S_DIR: &str = "deploy/kubernetes";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// The YAML documents of a file, split on lines that are exactly `---`. Documents holding
/// only comments and blank lines are skipped.
fn yaml_documents(text: &str, origin: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut current = String::new();
    for line in text.lines().chain(std::iter::once("---")) {
        if line != "---" {
            current.push_str(line);
            current.push('\n');
            continue;
        }
        let has_content = current.lines().any(|l| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#')
        });
        if has_content {
            let doc = serde_saphyr::from_str::<Value>(&current)
                .unwrap_or_else(|e| panic!("{origin}: document {}: {e}", docs.len() + 1));
            docs.push(doc);
        }
        current.clear();
    }
    docs
}

/// Every `*.yaml` / `*.yml` file under `dir` (relative to the project root), sorted.
fn yaml_files(dir: &str) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&root().join(dir), &mut paths);
    let mut files: Vec<String> = paths
        .iter()
        .map(|p| p.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/"))
        .collect();
    files.sort();
    files
}

/// The deployment files, parsed.
#[derive(Debug, Clone)]
struct Deploy {
    dockerfile: String,
    compose: Value,
    /// Every document of deploy/kubernetes/*.yaml but the kustomization: (file, document).
    manifests: Vec<(String, Value)>,
    kustomization: Value,
    /// YAML files directly in deploy/kubernetes, except kustomization.yaml.
    manifest_files: BTreeSet<String>,
}

impl Deploy {
    fn load() -> Self {
        let compose = yaml_documents(&read("docker-compose.yml"), "docker-compose.yml");
        assert_eq!(compose.len(), 1, "docker-compose.yml holds one document");
        let mut manifests = Vec::new();
        let mut manifest_files = BTreeSet::new();
        let mut kustomization = None;
        for file in yaml_files(K8S_DIR) {
            let name = file.strip_prefix(&format!("{K8S_DIR}/")).unwrap().to_owned();
            if name.contains('/') {
                continue; // overlays and the like live in their own folders
            }
            let docs = yaml_documents(&read(&file), &file);
            if name == "kustomization.yaml" || name == "kustomization.yml" {
                kustomization = docs.into_iter().next();
            } else {
                manifest_files.insert(name.clone());
                manifests.extend(docs.into_iter().map(|d| (name.clone(), d)));
            }
        }
        Self {
            dockerfile: read("Dockerfile"),
            compose: compose.into_iter().next().unwrap(),
            manifests,
            kustomization: kustomization.expect("deploy/kubernetes/kustomization.yaml exists"),
            manifest_files,
        }
    }

    fn manifest(&self, kind: &str) -> &Value {
        self.manifests.iter().map(|(_, d)| d).find(|d| d["kind"] == kind).unwrap()
    }

    fn manifest_mut(&mut self, kind: &str) -> &mut Value {
        self.manifests.iter_mut().map(|(_, d)| d).find(|d| d["kind"] == kind).unwrap()
    }
}

// ---- Dockerfile ---------------------------------------------------------------------------

/// Dockerfile instructions (keyword upper-cased, arguments), continuation lines joined,
/// comments and parser directives dropped.
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        // Blank lines and comments, also inside a continued instruction.
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let (keyword, args) = pending.split_once(char::is_whitespace).unwrap_or((&pending, ""));
        out.push((keyword.to_ascii_uppercase(), args.trim().to_owned()));
        pending.clear();
    }
    out
}

/// The instructions of the last stage (the image that ships).
fn final_stage(dockerfile: &str) -> Vec<(String, String)> {
    let all = instructions(dockerfile);
    let start = all.iter().rposition(|(k, _)| k == "FROM").unwrap_or(0);
    all[start..].to_vec()
}

/// An exec-form (JSON array) instruction of the final stage, e.g. ENTRYPOINT or CMD.
fn exec_form(dockerfile: &str, keyword: &str) -> Result<Vec<String>, String> {
    let stage = final_stage(dockerfile);
    let (_, args) = stage
        .iter()
        .rev()
        .find(|(k, _)| k == keyword)
        .ok_or_else(|| format!("Dockerfile: no {keyword} in the final stage"))?;
    serde_json::from_str::<Vec<String>>(args)
        .map_err(|e| format!("Dockerfile: {keyword} must be exec form (a JSON array): {e}"))
}

// ---- Where palisade runs ------------------------------------------------------------------

/// Where a `palisade` command line comes from.
#[derive(Debug, Clone)]
enum Site {
    Dockerfile,
    Compose { service: Value },
    Kubernetes { pod: Value, container: Value },
}

/// One `palisade` command line in the deployment files.
#[derive(Debug, Clone)]
struct Invocation {
    origin: String,
    /// The full command line, program first.
    argv: Vec<String>,
    /// Variables set for it (`None`: from a reference, a Secret or ConfigMap key); `None`
    /// for the Dockerfile, whose environment comes from whoever runs the image.
    env: Option<BTreeMap<String, Option<String>>>,
    site: Site,
}

impl Invocation {
    /// The arguments after the program name.
    fn args(&self) -> &[String] {
        self.argv.get(1..).unwrap_or_default()
    }

    /// The subcommand path: the leading arguments that are not options, e.g. `topics create`.
    fn subcommand(&self) -> String {
        let words: Vec<&str> = self
            .args()
            .iter()
            .map(String::as_str)
            .take_while(|a| !a.starts_with('-'))
            .take(if self.args().first().is_some_and(|a| a == "topics" || a == "rules") {
                2
            } else {
                1
            })
            .collect();
        words.join(" ")
    }

    /// Pipeline files named on the command line (`--pipeline`, `-p`, `validate` arguments).
    fn pipelines(&self) -> Vec<String> {
        let args = self.args();
        let mut out = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = args[i].as_str();
            if arg == "--pipeline" || arg == "-p" {
                if let Some(value) = args.get(i + 1) {
                    out.push(value.clone());
                }
                i += 1;
            } else if let Some(value) = arg.strip_prefix("--pipeline=") {
                out.push(value.to_owned());
            }
            i += 1;
        }
        if self.subcommand() == "validate" {
            out.extend(args[1..].iter().filter(|a| !a.starts_with('-')).cloned());
        }
        out
    }
}

fn string_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list of strings, or a string split on whitespace (compose's shell-less string form).
fn words(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => Some(items.iter().filter_map(string_of).collect()),
        Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
        _ => None,
    }
}

/// The repository (last path segment, without tag or digest) of an image reference.
fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split(':').next().unwrap_or(last)
}

fn is_compose_palisade(service: &Value) -> bool {
    !service["build"].is_null()
        || service["image"].as_str().is_some_and(|i| image_repository(i) == "palisade")
}

fn compose_env(service: &Value) -> BTreeMap<String, Option<String>> {
    let mut env = BTreeMap::new();
    match &service["environment"] {
        Value::Object(map) => {
            for (k, v) in map {
                env.insert(k.clone(), string_of(v));
            }
        }
        Value::Array(items) => {
            for item in items.iter().filter_map(Value::as_str) {
                match item.split_once('=') {
                    Some((k, v)) => env.insert(k.to_owned(), Some(v.to_owned())),
                    None => env.insert(item.to_owned(), None),
                };
            }
        }
        _ => {}
    }
    env
}

/// Pod specs of the workload manifests: (origin, pod spec).
fn pod_specs(deploy: &Deploy) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (file, doc) in &deploy.manifests {
        let pointer = match doc["kind"].as_str() {
            Some("Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job") => {
                "/spec/template/spec"
            }
            Some("CronJob") => "/spec/jobTemplate/spec/template/spec",
            Some("Pod") => "/spec",
            _ => continue,
        };
        if let Some(pod) = doc.pointer(pointer) {
            let name = doc["metadata"]["name"].as_str().unwrap_or("?");
            out.push((
                format!("{file}: {} {name}", doc["kind"].as_str().unwrap_or("?")),
                pod.clone(),
            ));
        }
    }
    out
}

fn config_map<'a>(deploy: &'a Deploy, name: &str) -> Option<&'a Value> {
    deploy
        .manifests
        .iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == name)
}

fn k8s_env(deploy: &Deploy, container: &Value) -> BTreeMap<String, Option<String>> {
    let mut env = BTreeMap::new();
    for from in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = from["prefix"].as_str().unwrap_or("");
        if let Some(map) = from["configMapRef"]["name"]
            .as_str()
            .and_then(|name| config_map(deploy, name))
            .and_then(|cm| cm["data"].as_object())
        {
            for (k, v) in map {
                env.insert(format!("{prefix}{k}"), string_of(v));
            }
        }
    }
    for var in container["env"].as_array().into_iter().flatten() {
        if let Some(name) = var["name"].as_str() {
            env.insert(name.to_owned(), string_of(&var["value"]));
        }
    }
    env
}

/// Every `palisade` command line: the Dockerfile's default, compose services built from the
/// image, and containers of the Kubernetes workloads running the image.
fn invocations(deploy: &Deploy) -> Vec<Invocation> {
    let entrypoint = exec_form(&deploy.dockerfile, "ENTRYPOINT").unwrap_or_default();
    let cmd = exec_form(&deploy.dockerfile, "CMD").unwrap_or_default();
    let mut out = vec![Invocation {
        origin: "Dockerfile: ENTRYPOINT + CMD".into(),
        argv: entrypoint.iter().chain(&cmd).cloned().collect(),
        env: None,
        site: Site::Dockerfile,
    }];
    for (name, service) in deploy.compose["services"].as_object().into_iter().flatten() {
        if !is_compose_palisade(service) {
            continue;
        }
        // Compose semantics: an `entrypoint` override also drops the image's CMD.
        let (program, default_args) = match words(&service["entrypoint"]) {
            Some(e) => (e, Vec::new()),
            None => (entrypoint.clone(), cmd.clone()),
        };
        let args = words(&service["command"]).unwrap_or(default_args);
        out.push(Invocation {
            origin: format!("docker-compose.yml: services.{name}"),
            argv: program.into_iter().chain(args).collect(),
            env: Some(compose_env(service)),
            site: Site::Compose { service: service.clone() },
        });
    }
    for (origin, pod) in pod_specs(deploy) {
        let containers = pod["initContainers"].as_array().into_iter().flatten();
        for container in containers.chain(pod["containers"].as_array().into_iter().flatten()) {
            if container["image"].as_str().is_none_or(|i| image_repository(i) != "palisade") {
                continue;
            }
            // Kubernetes semantics: `command` replaces ENTRYPOINT and drops CMD.
            let (program, default_args) = match words(&container["command"]) {
                Some(c) => (c, Vec::new()),
                None => (entrypoint.clone(), cmd.clone()),
            };
            let args = words(&container["args"]).unwrap_or(default_args);
            out.push(Invocation {
                origin: format!(
                    "{origin}, container {}",
                    container["name"].as_str().unwrap_or("?")
                ),
                argv: program.into_iter().chain(args).collect(),
                env: Some(k8s_env(deploy, container)),
                site: Site::Kubernetes { pod: pod.clone(), container: container.clone() },
            });
        }
    }
    out
}

/// A pipeline path as the container sees it, as a path relative to the project root (the
/// image copies the project's rules/ and pipelines/ to its working directory, /opt/palisade).
fn repo_path(path: &str) -> Result<String, String> {
    if let Some(rel) = path.strip_prefix(&format!("{WORKDIR}/")) {
        Ok(rel.to_owned())
    } else if path.starts_with('/') {
        Err(format!("`{path}` is outside {WORKDIR}, so it is not a file of the project"))
    } else {
        Ok(path.trim_start_matches("./").to_owned())
    }
}

/// The `${VAR}` names a pipeline file references, found by the loader's own substitution.
fn pipeline_variables(text: &str) -> BTreeSet<String> {
    let names = RefCell::new(BTreeSet::new());
    palisade::pipeline::env::substitute(text, |name| {
        names.borrow_mut().insert(name.to_owned());
        Some("x".to_owned())
    })
    .expect("the pipeline's ${...} expressions are well-formed");
    names.into_inner()
}

fn shutdown_grace(rel: &str) -> Result<Duration, String> {
    let text = std::fs::read_to_string(root().join(rel)).map_err(|e| format!("{rel}: {e}"))?;
    let pipeline = Pipeline::parse(Path::new(rel), &text, |_| None).map_err(|e| e.to_string())?;
    Ok(pipeline.settings.shutdown_grace)
}

/// A compose duration: `45s`, `1m30s`, `1500ms`.
fn compose_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" => 1e-6,
            _ => return None,
        };
        total += Duration::from_secs_f64(value * seconds);
        rest = &rest[unit_len..];
    }
    Some(total)
}

fn palisade(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(root())
        .env_clear()
        .output()
        .expect("palisade runs")
}

/// Whether `palisade <args> --help` succeeds and shows the usage of `args[0]`: the
/// subcommand exists and every option before it parses.
fn parses(args: &[String]) -> Result<(), String> {
    let Some(first) = args.first() else {
        return Err("no subcommand (palisade would only print its usage)".into());
    };
    let mut with_help = args.to_vec();
    with_help.push("--help".into());
    let out = palisade(&with_help);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = format!("Usage: palisade {first}");
    if out.status.success() && stdout.lines().any(|l| l.starts_with(&expected)) {
        Ok(())
    } else {
        Err(format!(
            "`palisade {}` does not parse: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

// ---- The checks ---------------------------------------------------------------------------

/// Every command line names a real subcommand with options it accepts.
fn check_commands(deploy: &Deploy) -> Vec<String> {
    let mut problems = Vec::new();
    let all = invocations(deploy);
    let count = |f: fn(&Site) -> bool| all.iter().filter(|i| f(&i.site)).count();
    if count(|s| matches!(s, Site::Compose { .. })) == 0 {
        problems.push("docker-compose.yml: no service runs the palisade image".into());
    }
    if count(|s| matches!(s, Site::Kubernetes { .. })) == 0 {
        problems.push(format!("{K8S_DIR}: no container runs the palisade image"));
    }
    for inv in &all {
        if inv.argv.first().is_none_or(|p| p != "palisade" && !p.ends_with("/palisade")) {
            problems.push(format!(
                "{}: the program is {:?}, not palisade",
                inv.origin,
                inv.argv.first()
            ));
            continue;
        }
        if let Err(e) = parses(inv.args()) {
            problems.push(format!("{}: {e}", inv.origin));
        }
    }
    problems
}

/// Every pipeline a command line names exists in the repository and validates, and a
/// Kubernetes container reads it from the ConfigMap mounted over its directory.
fn check_pipeline_paths(deploy: &Deploy) -> Vec<String> {
    let mut problems = Vec::new();
    let mut validated = BTreeSet::new();
    for inv in invocations(deploy) {
        if inv.subcommand() == "run" && inv.pipelines().is_empty() {
            problems.push(format!("{}: `palisade run` without --pipeline", inv.origin));
        }
        for path in inv.pipelines() {
            let rel = match repo_path(&path) {
                Ok(rel) => rel,
                Err(e) => {
                    problems.push(format!("{}: {e}", inv.origin));
                    continue;
                }
            };
            if !root().join(&rel).is_file() {
                problems.push(format!(
                    "{}: pipeline `{path}` ({rel} in the project) does not exist",
                    inv.origin
                ));
                continue;
            }
            if validated.insert(rel.clone()) {
                let out = palisade(&["validate".to_owned(), rel.clone()]);
                if !out.status.success() {
                    problems.push(format!(
                        "{}: `palisade validate {rel}` fails: {}",
                        inv.origin,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
            }
            if let Site::Kubernetes { pod, container } = &inv.site
                && let Err(e) = mounted_from_config_map(deploy, pod, container, &path)
            {
                problems.push(format!("{}: {e}", inv.origin));
            }
        }
    }
    problems
}

/// `path` (absolute in the container) lies in a directory mounted from a ConfigMap that has
/// the file as a key.
fn mounted_from_config_map(
    deploy: &Deploy,
    pod: &Value,
    container: &Value,
    path: &str,
) -> Result<(), String> {
    let absolute =
        if path.starts_with('/') { path.to_owned() } else { format!("{WORKDIR}/{path}") };
    let (dir, file) = absolute.rsplit_once('/').unwrap();
    let mount = container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["mountPath"].as_str().is_some_and(|p| p.trim_end_matches('/') == dir))
        .ok_or_else(|| {
            format!(
                "nothing is mounted at {dir}, so `{path}` is the image's copy, not the ConfigMap's"
            )
        })?;
    let volume = pod["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == mount["name"])
        .ok_or_else(|| format!("volume {} is not defined", mount["name"]))?;
    let name = volume["configMap"]["name"]
        .as_str()
        .ok_or_else(|| format!("volume {} mounted at {dir} is not a ConfigMap", mount["name"]))?;
    let cm = config_map(deploy, name)
        .ok_or_else(|| format!("ConfigMap {name} is not among the manifests"))?;
    if cm["data"][file].is_string() {
        Ok(())
    } else {
        Err(format!("ConfigMap {name} has no key `{file}`, so `{path}` does not exist in the pod"))
    }
}

/// Every pipeline a ConfigMap embeds (a `*.toml` key) is pipelines/<key>, byte for byte.
fn check_config_map_pipelines(deploy: &Deploy) -> Vec<String> {
    let mut problems = Vec::new();
    let mut embedded = 0;
    for (file, doc) in &deploy.manifests {
        if doc["kind"] != "ConfigMap" {
            continue;
        }
        for (key, value) in doc["data"].as_object().into_iter().flatten() {
            if !key.ends_with(".toml") {
                continue;
            }
            embedded += 1;
            let rel = format!("pipelines/{key}");
            let Ok(expected) = std::fs::read_to_string(root().join(&rel)) else {
                problems.push(format!("{file}: ConfigMap key {key} has no counterpart {rel}"));
                continue;
            };
            let actual = value.as_str().unwrap_or_default();
            if actual != expected {
                let line = actual.lines().zip(expected.lines()).position(|(a, b)| a != b);
                let at = match line {
                    Some(n) => format!("first difference at line {}", n + 1),
                    None => "they differ in length or trailing newlines".into(),
                };
                problems.push(format!(
                    "{file}: the `{key}` embedded in the ConfigMap is not {rel} ({at}); regenerate \
                     it: kubectl create configmap {} --from-file={rel} --dry-run=client -o yaml",
                    doc["metadata"]["name"].as_str().unwrap_or("palisade-pipeline")
                ));
            }
        }
    }
    if embedded == 0 {
        problems.push(format!("{K8S_DIR}: no ConfigMap embeds a pipeline (a *.toml key)"));
    }
    problems
}

/// Every `${VAR}` of a pipeline is set wherever compose or Kubernetes runs it, and Kafka
/// commands get PALISADE_BROKERS (their --brokers default).
fn check_env(deploy: &Deploy) -> Vec<String> {
    let mut problems = Vec::new();
    let mut sites = BTreeSet::new();
    for inv in invocations(deploy) {
        let Some(env) = &inv.env else { continue };
        let mut needed = BTreeSet::new();
        for path in inv.pipelines() {
            if let Ok(text) = repo_path(&path).and_then(|rel| {
                std::fs::read_to_string(root().join(rel)).map_err(|e| e.to_string())
            }) {
                needed.extend(pipeline_variables(&text));
                sites.insert(match inv.site {
                    Site::Kubernetes { .. } => "kubernetes",
                    _ => "compose",
                });
            }
        }
        let subcommand = inv.subcommand();
        if ["produce", "consume", "topics create", "topics list"].contains(&subcommand.as_str()) {
            needed.insert("PALISADE_BROKERS".to_owned());
        }
        for name in needed {
            if !env.contains_key(&name) {
                problems.push(format!(
                    "{}: `palisade {subcommand}` needs {name}, which is not set",
                    inv.origin
                ));
            }
        }
    }
    for site in ["compose", "kubernetes"] {
        if !sites.contains(site) {
            problems.push(format!("no {site} command line runs a pipeline of the project"));
        }
    }
    problems
}

/// Docker/Kubernetes wait longer than the pipeline's shutdown_grace before SIGKILL.
fn check_grace(deploy: &Deploy) -> Vec<String> {
    let mut problems = Vec::new();
    let mut checked = BTreeSet::new();
    for inv in invocations(deploy) {
        if inv.subcommand() != "run" {
            continue;
        }
        for path in inv.pipelines() {
            let Ok(rel) = repo_path(&path) else { continue };
            let grace = match shutdown_grace(&rel) {
                Ok(grace) => grace,
                Err(e) => {
                    problems.push(format!("{}: {e}", inv.origin));
                    continue;
                }
            };
            match &inv.site {
                Site::Dockerfile => {}
                Site::Compose { service } => {
                    checked.insert("compose");
                    let text = string_of(&service["stop_grace_period"]);
                    let period =
                        text.as_deref().map_or(Some(Duration::from_secs(10)), compose_duration);
                    match period {
                        Some(p) if p > grace => {}
                        Some(p) => problems.push(format!(
                            "{}: stop_grace_period {p:?} (compose's default is 10s) does not exceed {rel}'s shutdown_grace {grace:?}",
                            inv.origin
                        )),
                        None => problems.push(format!("{}: cannot read stop_grace_period {text:?}", inv.origin)),
                    }
                }
                Site::Kubernetes { pod, .. } => {
                    checked.insert("kubernetes");
                    let seconds = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
                    if Duration::from_secs(seconds) <= grace {
                        problems.push(format!(
                            "{}: terminationGracePeriodSeconds {seconds} (the default is 30) does not exceed {rel}'s shutdown_grace {grace:?}",
                            inv.origin
                        ));
                    }
                }
            }
        }
    }
    for site in ["compose", "kubernetes"] {
        if !checked.contains(site) {
            problems.push(format!("no {site} command line runs `palisade run --pipeline ...`"));
        }
    }
    problems
}

/// Compose: Kafka has a healthcheck, topic creation waits for it, palisade waits for topic
/// creation to succeed, with the same pipeline; brokers are advertised listeners; the rules
/// and pipelines mounts land where the image has them.
fn check_compose(deploy: &Deploy) -> Vec<String> {
    let mut problems = Vec::new();
    let services = &deploy.compose["services"];
    let all = invocations(deploy);
    let compose: Vec<&Invocation> =
        all.iter().filter(|i| matches!(i.site, Site::Compose { .. })).collect();
    let service_name =
        |inv: &Invocation| inv.origin.rsplit('.').next().unwrap_or_default().to_owned();
    let depends = |service: &Value, on: &str| -> Option<String> {
        match &service["depends_on"] {
            Value::Array(list) => {
                list.iter().any(|s| s == on).then(|| "service_started".to_owned())
            }
            Value::Object(map) => {
                map.get(on).map(|d| d["condition"].as_str().unwrap_or("service_started").to_owned())
            }
            _ => None,
        }
    };

    let kafka = services
        .as_object()
        .into_iter()
        .flatten()
        .find(|(_, s)| s["image"].as_str().is_some_and(|i| image_repository(i) == "kafka"));
    let Some((kafka_name, kafka)) = kafka else {
        return vec!["docker-compose.yml: no Kafka service".into()];
    };
    if kafka["healthcheck"]["test"].is_null() {
        problems.push(format!("docker-compose.yml: services.{kafka_name} has no healthcheck"));
    }
    let advertised =
        string_of(&kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]).unwrap_or_default();

    let Some(run) = compose.iter().find(|i| i.subcommand() == "run") else {
        return vec!["docker-compose.yml: no service runs `palisade run`".into()];
    };
    let Site::Compose { service: run_service } = &run.site else { unreachable!() };
    let topics = compose.iter().find(|i| {
        i.subcommand() == "topics create" && depends(run_service, &service_name(i)).is_some()
    });
    match topics {
        None => problems.push(format!(
            "{}: does not depend on a service running `palisade topics create`",
            run.origin
        )),
        Some(topics) => {
            let condition = depends(run_service, &service_name(topics)).unwrap_or_default();
            if condition != "service_completed_successfully" {
                problems.push(format!(
                    "{}: depends on {} with condition {condition}, not service_completed_successfully",
                    run.origin,
                    service_name(topics)
                ));
            }
            if topics.pipelines() != run.pipelines() {
                problems.push(format!(
                    "{}: creates the topics of {:?} but palisade runs {:?}",
                    topics.origin,
                    topics.pipelines(),
                    run.pipelines()
                ));
            }
            let Site::Compose { service: topics_service } = &topics.site else { unreachable!() };
            if depends(topics_service, kafka_name).as_deref() != Some("service_healthy") {
                problems.push(format!(
                    "{}: must depend on {kafka_name} with condition service_healthy",
                    topics.origin
                ));
            }
        }
    }
    for inv in &compose {
        let env = inv.env.as_ref().unwrap();
        if let Some(Some(brokers)) = env.get("PALISADE_BROKERS") {
            for broker in brokers.split(',') {
                if !advertised
                    .split(',')
                    .any(|l| l.split_once("://").is_some_and(|(_, a)| a == broker.trim()))
                {
                    problems.push(format!(
                        "{}: PALISADE_BROKERS {broker} is not an advertised listener of {kafka_name} ({advertised})",
                        inv.origin
                    ));
                }
            }
        }
        let Site::Compose { service } = &inv.site else { unreachable!() };
        for volume in service["volumes"].as_array().into_iter().flatten().filter_map(Value::as_str)
        {
            let parts: Vec<&str> = volume.split(':').collect();
            let (Some(source), Some(target)) = (parts.first(), parts.get(1)) else { continue };
            let Some(target_rel) = target.strip_prefix(&format!("{WORKDIR}/")) else { continue };
            let source_rel = source.trim_start_matches("./");
            if source_rel != target_rel || !root().join(source_rel).exists() {
                problems.push(format!(
                    "{}: volume `{volume}` should mount the project's {target_rel} (./{target_rel}) at {target}",
                    inv.origin
                ));
            }
            if parts.get(2).is_none_or(|mode| !mode.split(',').any(|m| m == "ro")) {
                problems
                    .push(format!("{}: volume `{volume}` should be read-only (:ro)", inv.origin));
            }
        }
    }
    let mounts_rules = run_service["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|v| v.split(':').nth(1) == Some(format!("{WORKDIR}/rules").as_str()));
    if !mounts_rules {
        problems
            .push(format!("{}: rules/ is not mounted (read-only) at {WORKDIR}/rules", run.origin));
    }
    problems
}

/// The kustomization lists exactly the manifests of its folder and sets the image tag to
/// the crate's version.
fn check_kustomization(deploy: &Deploy) -> Vec<String> {
    let mut problems = Vec::new();
    let listed: BTreeSet<String> = deploy.kustomization["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|r| r.trim_start_matches("./").to_owned())
        .collect();
    for missing in deploy.manifest_files.difference(&listed) {
        problems.push(format!("{K8S_DIR}/kustomization.yaml: resources does not list {missing}"));
    }
    for extra in listed.difference(&deploy.manifest_files) {
        if !extra.contains('/') {
            problems
                .push(format!("{K8S_DIR}/kustomization.yaml: lists {extra}, which does not exist"));
        }
    }
    let image = deploy.kustomization["images"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["name"] == "palisade");
    let version = env!("CARGO_PKG_VERSION");
    match image.and_then(|i| i["newTag"].as_str()) {
        Some(tag) if tag == version => {}
        other => problems.push(format!(
            "{K8S_DIR}/kustomization.yaml: images[palisade].newTag is {other:?}, the crate is {version}"
        )),
    }
    problems
}

/// The Dockerfile builds with the crate's toolchain and ships what the pipelines need
/// where the other files expect it.
fn check_dockerfile(deploy: &Deploy) -> Vec<String> {
    let mut problems = Vec::new();
    let all = instructions(&deploy.dockerfile);
    let cargo: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    let rust_version = cargo["package"]["rust-version"].as_str().unwrap().to_owned();
    let froms: Vec<&str> =
        all.iter().filter(|(k, _)| k == "FROM").map(|(_, a)| a.as_str()).collect();
    if !froms.first().is_some_and(|f| f.starts_with(&format!("rust:{rust_version}-bookworm "))) {
        problems.push(format!(
            "Dockerfile: the builder should be FROM rust:{rust_version}-bookworm (Cargo.toml rust-version), found {:?}",
            froms.first()
        ));
    }
    if froms.last().map(|f| f.split_whitespace().next()) != Some(Some("debian:bookworm-slim")) {
        problems.push(format!(
            "Dockerfile: the runtime should be FROM debian:bookworm-slim, found {:?}",
            froms.last()
        ));
    }
    // The builder needs the manifest, the lock file and the folder of every declared target
    // (cargo refuses to build when a [[bench]] or [[test]] file is missing).
    let first_stage_end =
        all.iter().skip(1).position(|(k, _)| k == "FROM").map_or(all.len(), |p| p + 1);
    let copied: BTreeSet<&str> = all[..first_stage_end]
        .iter()
        .filter(|(k, a)| k == "COPY" && !a.starts_with("--from"))
        .flat_map(|(_, a)| {
            let parts: Vec<&str> = a.split_whitespace().filter(|p| !p.starts_with("--")).collect();
            parts[..parts.len().saturating_sub(1)].to_vec()
        })
        .map(|p| p.trim_start_matches("./").trim_end_matches('/'))
        .collect();
    let mut needed =
        BTreeSet::from(["Cargo.toml".to_owned(), "Cargo.lock".to_owned(), "src".to_owned()]);
    for (kind, default_dir) in [("bench", "benches"), ("test", "tests"), ("example", "examples")] {
        for target in cargo.get(kind).and_then(|t| t.as_array()).into_iter().flatten() {
            let path = target.get("path").and_then(|p| p.as_str()).unwrap_or(default_dir);
            needed.insert(path.split('/').next().unwrap_or(default_dir).to_owned());
        }
    }
    for path in needed.iter().filter(|n| !copied.contains(n.as_str())) {
        problems
            .push(format!("Dockerfile: the builder stage does not COPY {path}, which cargo needs"));
    }
    if !all.iter().any(|(k, a)| k == "RUN" && a.contains("cargo build --release --locked")) {
        problems.push("Dockerfile: no `cargo build --release --locked`".into());
    }
    let stage = final_stage(&deploy.dockerfile);
    let last =
        |keyword: &str| stage.iter().rev().find(|(k, _)| k == keyword).map(|(_, a)| a.clone());
    if last("WORKDIR").as_deref() != Some(WORKDIR) {
        problems.push(format!(
            "Dockerfile: the final WORKDIR should be {WORKDIR} (rule paths resolve from it)"
        ));
    }
    for dir in ["rules", "pipelines"] {
        let copied = stage.iter().any(|(k, a)| {
            let parts: Vec<&str> = a.split_whitespace().filter(|p| !p.starts_with("--")).collect();
            k == "COPY"
                && parts.len() == 2
                && parts[0].trim_end_matches('/') == dir
                && [format!("./{dir}"), dir.to_owned(), format!("{WORKDIR}/{dir}")]
                    .contains(&parts[1].trim_end_matches('/').to_owned())
        });
        if !copied {
            problems.push(format!(
                "Dockerfile: the final stage does not COPY {dir} to {WORKDIR}/{dir}"
            ));
        }
    }
    if !stage.iter().any(|(k, a)| {
        k == "COPY" && a.starts_with("--from=") && a.ends_with(" /usr/local/bin/palisade")
    }) {
        problems.push("Dockerfile: the binary is not copied to /usr/local/bin/palisade".into());
    }
    match exec_form(&deploy.dockerfile, "ENTRYPOINT") {
        Ok(e) if e == ["palisade"] => {}
        other => problems
            .push(format!("Dockerfile: ENTRYPOINT should be [\"palisade\"], found {other:?}")),
    }
    let user = last("USER").unwrap_or_default();
    let uid = user.split(':').next().and_then(|u| u.parse::<u64>().ok());
    match uid {
        Some(uid) if uid != 0 => {
            for (origin, pod) in pod_specs(deploy) {
                let run_as = pod["securityContext"]["runAsUser"].as_u64();
                if run_as.is_some_and(|r| r != uid) {
                    problems.push(format!("{origin}: runAsUser {run_as:?} differs from the image's USER {uid}"));
                }
            }
        }
        _ => problems.push(format!(
            "Dockerfile: USER should be a numeric non-root uid (Kubernetes runAsNonRoot checks it), found {user:?}"
        )),
    }
    problems
}

fn assert_none(problems: Vec<String>) {
    assert!(problems.is_empty(), "deployment files drifted:\n  {}", problems.join("\n  "));
}

/// `check` finds a problem mentioning `needle` once `mutate` has been applied.
fn assert_catches(
    check: fn(&Deploy) -> Vec<String>,
    needle: &str,
    mutate: impl FnOnce(&mut Deploy),
) {
    let mut deploy = Deploy::load();
    mutate(&mut deploy);
    let problems = check(&deploy);
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}, got {problems:#?}"
    );
}

// ---- Tests on the real files --------------------------------------------------------------

#[test]
fn every_deploy_yaml_file_parses() {
    let files = yaml_files("deploy");
    for expected in ["namespace", "configmap-pipeline", "deployment", "job-topics", "kustomization"]
    {
        let file = format!("{K8S_DIR}/{expected}.yaml");
        assert!(files.contains(&file), "{file} is missing: {files:?}");
    }
    for file in &files {
        let docs = yaml_documents(&read(file), file);
        assert!(!docs.is_empty(), "{file} holds no document");
        if file.starts_with(&format!("{K8S_DIR}/")) && !file.ends_with("/kustomization.yaml") {
            for doc in &docs {
                assert!(
                    doc["apiVersion"].is_string()
                        && doc["kind"].is_string()
                        && doc["metadata"]["name"].is_string(),
                    "{file}: every document is a Kubernetes object (apiVersion, kind, metadata.name)"
                );
            }
        }
    }
    let deploy = Deploy::load();
    assert!(deploy.compose["services"].is_object(), "docker-compose.yml has services");
    assert_eq!(deploy.manifest("Deployment")["spec"]["replicas"], json!(2));
    // The checks below see every command line: the image's default, the compose services
    // and the Kubernetes workloads.
    let seen: BTreeSet<(String, String)> = invocations(&deploy)
        .iter()
        .map(|i| (i.origin.split(':').next().unwrap().to_owned(), i.subcommand()))
        .collect();
    for (origin, subcommand) in [
        ("Dockerfile", "run"),
        ("docker-compose.yml", "run"),
        ("docker-compose.yml", "topics create"),
        ("docker-compose.yml", "produce"),
        ("deployment.yaml", "run"),
        ("job-topics.yaml", "topics create"),
    ] {
        assert!(
            seen.contains(&(origin.to_owned(), subcommand.to_owned())),
            "no `palisade {subcommand}` found in {origin}: {seen:?}"
        );
    }
}

#[test]
fn palisade_command_lines_parse() {
    assert_none(check_commands(&Deploy::load()));
}

#[test]
fn pipelines_exist_and_validate() {
    assert_none(check_pipeline_paths(&Deploy::load()));
}

#[test]
fn config_map_embeds_the_repository_pipeline() {
    assert_none(check_config_map_pipelines(&Deploy::load()));
}

#[test]
fn pipeline_variables_are_set_where_pipelines_run() {
    assert_none(check_env(&Deploy::load()));
}

#[test]
fn grace_periods_outlast_shutdown_grace() {
    assert_none(check_grace(&Deploy::load()));
}

#[test]
fn compose_creates_topics_before_palisade_starts() {
    assert_none(check_compose(&Deploy::load()));
}

#[test]
fn kustomization_lists_every_manifest() {
    assert_none(check_kustomization(&Deploy::load()));
}

#[test]
fn dockerfile_matches_the_project() {
    assert_none(check_dockerfile(&Deploy::load()));
}

// ---- Each check fails when the files drift ------------------------------------------------

#[test]
fn checks_catch_unknown_subcommands_and_options() {
    assert_catches(check_commands, "does not parse", |d| {
        d.compose["services"]["palisade"]["command"] =
            json!(["runn", "--pipeline", "pipelines/default.toml"]);
    });
    assert_catches(check_commands, "does not parse", |d| {
        let args = &mut d.manifest_mut("Job")["spec"]["template"]["spec"]["containers"][0]["args"];
        *args = json!(["topics", "create", "--pipelines", "/opt/palisade/pipelines/default.toml"]);
    });
    assert_catches(check_commands, "Dockerfile", |d| {
        d.dockerfile = d.dockerfile.replace(r#"CMD ["run","#, r#"CMD ["start","#);
    });
}

#[test]
fn checks_catch_missing_pipelines() {
    assert_catches(check_pipeline_paths, "does not exist", |d| {
        let args =
            &mut d.manifest_mut("Deployment")["spec"]["template"]["spec"]["containers"][0]["args"];
        *args = json!(["run", "--pipeline", "/opt/palisade/pipelines/kafka.toml"]);
    });
    assert_catches(check_pipeline_paths, "outside /opt/palisade", |d| {
        d.compose["services"]["topics"]["command"] =
            json!(["topics", "create", "--pipeline", "/etc/default.toml"]);
    });
    assert_catches(check_pipeline_paths, "nothing is mounted", |d| {
        d.manifest_mut("Deployment")["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
            json!([]);
    });
}

#[test]
fn checks_catch_a_stale_config_map() {
    assert_catches(check_config_map_pipelines, "is not pipelines/default.toml", |d| {
        let cm = d
            .manifests
            .iter_mut()
            .map(|(_, doc)| doc)
            .find(|doc| doc["data"]["default.toml"].is_string())
            .unwrap();
        let text = cm["data"]["default.toml"]
            .as_str()
            .unwrap()
            .replace("threshold = 50", "threshold = 60");
        cm["data"]["default.toml"] = json!(text);
    });
}

#[test]
fn checks_catch_unset_pipeline_variables() {
    assert_catches(check_env, "needs PALISADE_GROUP", |d| {
        d.compose["services"]["palisade"]["environment"]
            .as_object_mut()
            .unwrap()
            .remove("PALISADE_GROUP");
    });
    assert_catches(check_env, "needs PALISADE_BROKERS", |d| {
        let env =
            &mut d.manifest_mut("Deployment")["spec"]["template"]["spec"]["containers"][0]["env"];
        env.as_array_mut().unwrap().retain(|v| v["name"] != "PALISADE_BROKERS");
    });
    assert_catches(check_env, "needs PALISADE_BROKERS", |d| {
        d.compose["services"]["producer"]["environment"]
            .as_object_mut()
            .unwrap()
            .remove("PALISADE_BROKERS");
    });
}

#[test]
fn checks_catch_short_grace_periods() {
    assert_catches(check_grace, "terminationGracePeriodSeconds 30", |d| {
        d.manifest_mut("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] =
            json!(30);
    });
    assert_catches(check_grace, "stop_grace_period 10s", |d| {
        d.compose["services"]["palisade"].as_object_mut().unwrap().remove("stop_grace_period");
    });
}

#[test]
fn checks_catch_compose_ordering_and_wiring() {
    assert_catches(
        check_compose,
        "does not depend on a service running `palisade topics create`",
        |d| {
            d.compose["services"]["palisade"]["depends_on"] =
                json!({"kafka": {"condition": "service_healthy"}});
        },
    );
    assert_catches(check_compose, "not service_completed_successfully", |d| {
        d.compose["services"]["palisade"]["depends_on"]["topics"]["condition"] =
            json!("service_started");
    });
    assert_catches(check_compose, "service_healthy", |d| {
        d.compose["services"]["topics"]["depends_on"] = json!(["kafka"]);
    });
    assert_catches(check_compose, "not an advertised listener", |d| {
        d.compose["services"]["palisade"]["environment"]["PALISADE_BROKERS"] = json!("broker:9092");
    });
    assert_catches(check_compose, "read-only", |d| {
        d.compose["services"]["palisade"]["volumes"] = json!(["./rules:/opt/palisade/rules"]);
    });
}

#[test]
fn checks_catch_unlisted_manifests() {
    assert_catches(check_kustomization, "does not list job-topics.yaml", |d| {
        d.kustomization["resources"].as_array_mut().unwrap().retain(|r| r != "job-topics.yaml");
    });
    assert_catches(check_kustomization, "does not list service.yaml", |d| {
        d.manifest_files.insert("service.yaml".into());
    });
    assert_catches(check_kustomization, "which does not exist", |d| {
        d.manifest_files.remove("namespace.yaml");
    });
}

#[test]
fn checks_catch_dockerfile_drift() {
    let rust_version = {
        let cargo: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
        cargo["package"]["rust-version"].as_str().unwrap().to_owned()
    };
    assert_catches(check_dockerfile, "rust-version", |d| {
        d.dockerfile = d.dockerfile.replace(&format!("rust:{rust_version}-"), "rust:1.80-");
    });
    assert_catches(check_dockerfile, "USER", |d| {
        d.dockerfile = d.dockerfile.replace("USER 10001:10001", "USER root");
    });
    assert_catches(check_dockerfile, "COPY rules", |d| {
        d.dockerfile = d.dockerfile.replace("COPY rules ./rules", "COPY rules /rules");
    });
    assert_catches(check_dockerfile, "does not COPY benches", |d| {
        d.dockerfile = d.dockerfile.replace("COPY benches ./benches", "");
    });
    assert_catches(check_dockerfile, "runAsUser", |d| {
        d.manifest_mut("Deployment")["spec"]["template"]["spec"]["securityContext"]["runAsUser"] =
            json!(1000);
    });
}

#[test]
fn yaml_documents_split_on_separator_lines_only() {
    let docs =
        yaml_documents("# header\n---\na: 1\n---\nb: |\n  x\n  ---y\n---\n# only a comment\n", "t");
    assert_eq!(docs, vec![json!({"a": 1}), json!({"b": "x\n---y\n"})]);
    assert_eq!(compose_duration("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(compose_duration("45s"), Some(Duration::from_secs(45)));
    assert_eq!(compose_duration("soon"), None);
}
