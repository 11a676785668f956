//! Rules that change without a restart.
//!
//! A [`RulesHandle`] holds the current [`RuleSet`] and a generation number. Workers compare
//! the generation between batches and pick up a new set there, so every event is scanned by
//! exactly one version and none is dropped. A watcher thread reloads when the rule files
//! change (names, sizes, modification times) or when SIGHUP asks for it
//! ([`request_reload`]). A file that does not load leaves the old rules in place and raises
//! an audit event.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use super::{RuleError, RuleSet};

static RELOAD_REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Asks every watcher to reload now (what SIGHUP does).
pub fn request_reload() {
    RELOAD_REQUESTS.fetch_add(1, Ordering::Release);
}

/// The current rules, swappable.
#[derive(Debug)]
pub struct RulesHandle {
    path: PathBuf,
    current: RwLock<Arc<RuleSet>>,
    generation: AtomicU64,
}

/// Names, sizes and modification times of the rule files: changes when any file does.
fn fingerprint(path: &Path) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut entries: Vec<(PathBuf, u64, Option<std::time::SystemTime>)> = Vec::new();
    let files: Vec<PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    } else {
        vec![path.to_owned()]
    };
    for file in files {
        if let Ok(meta) = std::fs::metadata(&file) {
            entries.push((file, meta.len(), meta.modified().ok()));
        }
    }
    entries.sort();
    entries.hash(&mut hasher);
    hasher.finish()
}

impl RulesHandle {
    /// Loads the rules at `path`.
    ///
    /// # Errors
    /// [`RuleError`] if they do not load.
    pub fn load(path: &Path) -> Result<Arc<Self>, RuleError> {
        let rules = RuleSet::load(path)?;
        Ok(Arc::new(Self {
            path: path.to_owned(),
            current: RwLock::new(Arc::new(rules)),
            generation: AtomicU64::new(0),
        }))
    }

    /// The rules in force.
    pub fn current(&self) -> Arc<RuleSet> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Bumped on every successful swap.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Reloads from disk. Returns whether the rules changed (same content: no swap).
    ///
    /// # Errors
    /// [`RuleError`] if the files do not load; the old rules stay in force.
    pub fn reload(&self) -> Result<bool, RuleError> {
        let fresh = RuleSet::load(&self.path)?;
        let old = self.current();
        if fresh.version() == old.version() {
            return Ok(false);
        }
        tracing::info!(
            target: "palisade::audit",
            event = "rules_reloaded",
            path = %self.path.display(),
            old_version = old.version(),
            new_version = fresh.version(),
            rules = fresh.rules().len(),
            "detection rules reloaded"
        );
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fresh);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(true)
    }

    /// Watches the rule files (every `interval`) and SIGHUP requests, reloading on change,
    /// until the handle is dropped everywhere else.
    pub fn watch(self: &Arc<Self>, interval: Duration) {
        let weak: Weak<Self> = Arc::downgrade(self);
        let path = self.path.clone();
        let spawned =
            std::thread::Builder::new().name("palisade-rules-watch".into()).spawn(move || {
                let mut seen_requests = RELOAD_REQUESTS.load(Ordering::Acquire);
                let mut seen_files = fingerprint(&path);
                loop {
                    std::thread::sleep(interval);
                    let Some(handle) = weak.upgrade() else { return };
                    let requests = RELOAD_REQUESTS.load(Ordering::Acquire);
                    let files = fingerprint(&path);
                    if requests == seen_requests && files == seen_files {
                        continue;
                    }
                    seen_requests = requests;
                    seen_files = files;
                    if let Err(error) = handle.reload() {
                        tracing::error!(
                            target: "palisade::audit",
                            event = "rules_reload_failed",
                            path = %path.display(),
                            kept_version = handle.current().version(),
                            error = %error,
                            "detection rules NOT reloaded; the previous rules stay in force"
                        );
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the rules watcher; reload disabled");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACK: &str = "name: t\nversion: '1'\nrules:\n  - id: A-1\n    category: jailbreak\n    risk_score: 60\n    pattern: alpha\n";

    #[test]
    fn reload_swaps_good_rules_and_keeps_old_ones_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.yaml");
        std::fs::write(&file, PACK).unwrap();
        let handle = RulesHandle::load(dir.path()).unwrap();
        let v1 = handle.current().version().to_owned();
        assert!(!handle.reload().unwrap(), "same content: no swap");
        assert_eq!(handle.generation(), 0);

        std::fs::write(&file, PACK.replace("alpha", "beta")).unwrap();
        assert!(handle.reload().unwrap());
        assert_eq!(handle.generation(), 1);
        assert_ne!(handle.current().version(), v1);

        std::fs::write(&file, "name: t\nversion: '1'\nrules:\n  - id: [broken\n").unwrap();
        assert!(handle.reload().is_err());
        assert_eq!(handle.generation(), 1, "a bad file keeps the old rules");
        assert!(handle.current().rules()[0].pattern.as_ref().unwrap().is_match("beta"));
    }
}
