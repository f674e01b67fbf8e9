//! Kubernetes versions as CCE spells them, compared as versions, never as strings.
//!
//! CCE versions look like `v1.28.15-r0`: the Kubernetes version, then a CCE release suffix
//! (`-r0`, `-r1`, and patched builds such as `-r1.sp1`). A minor version such as `v1.29` names a
//! line of versions; as an upgrade target it means the latest patch of that line.
//!
//! ```
//! use cce_upgrade::Version;
//!
//! let a: Version = "v1.28.15-r0".parse()?;
//! let b: Version = "v1.29.1-r0".parse()?;
//! assert!(a < b);
//! assert!("v1.11.3-r1".parse::<Version>()? < "v1.11.3-r1.sp1".parse::<Version>()?);
//! assert!("v1.29".parse::<Version>()?.matches(&b));
//! # Ok::<(), cce_upgrade::ParseVersionError>(())
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A CCE cluster version: `v<major>.<minor>[.<patch>][-<suffix>]`.
#[derive(Clone, Debug, Eq)]
pub struct Version {
    text: String,
    major: u64,
    minor: u64,
    patch: Option<u64>,
    /// The suffix's numeric parts, in order: `r1.sp1` → [(r, 1), (sp, 1)].
    suffix: Vec<(String, u64)>,
}

/// A string that is not a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseVersionError(String);

impl fmt::Display for ParseVersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a cluster version (expected e.g. `v1.29` or `v1.28.15-r0`)",
            self.0
        )
    }
}

impl std::error::Error for ParseVersionError {}

impl FromStr for Version {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError(s.chars().take(64).collect());
        let text = s.trim();
        let body = text
            .strip_prefix('v')
            .or_else(|| text.strip_prefix('V'))
            .unwrap_or(text);
        let (numbers, suffix) = match body.split_once('-') {
            Some((n, s)) => (n, Some(s)),
            None => (body, None),
        };
        let mut parts = numbers.split('.');
        let number = |p: Option<&str>| -> Result<u64, ParseVersionError> {
            p.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse().ok())
                .ok_or_else(err)
        };
        let major = number(parts.next())?;
        let minor = number(parts.next())?;
        let patch = match parts.next() {
            None => None,
            Some(p) => Some(number(Some(p))?),
        };
        if parts.next().is_some() {
            return Err(err());
        }
        let mut pieces = Vec::new();
        if let Some(suffix) = suffix {
            if patch.is_none() || suffix.is_empty() {
                return Err(err());
            }
            for piece in suffix.split('.') {
                let split = piece
                    .find(|c: char| c.is_ascii_digit())
                    .unwrap_or(piece.len());
                let (name, digits) = piece.split_at(split);
                if !name.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(err());
                }
                let n = if digits.is_empty() {
                    0
                } else {
                    number(Some(digits))?
                };
                pieces.push((name.to_ascii_lowercase(), n));
            }
        }
        Ok(Version {
            text: text.to_owned(),
            major,
            minor,
            patch,
            suffix: pieces,
        })
    }
}

/// The cluster's version as the upgrade info gives it: `release` (`v1.28.15`) and `patch` (`r0`)
/// joined (`v1.28.15-r0`), or `patch` alone when it is a whole version itself; blank parts are
/// missing ones. Used by the generated `UpgradeInfo::current_version` (`x-accessors`).
pub(crate) fn join_release_and_patch(release: Option<&str>, patch: Option<&str>) -> Option<String> {
    let release = release.map(str::trim).filter(|r| !r.is_empty());
    let patch = patch.map(str::trim).filter(|p| !p.is_empty());
    let whole = |s: &str| s.parse::<Version>().is_ok();
    match (release, patch) {
        (_, Some(p)) if p.starts_with(['v', 'V']) && whole(p) => Some(p.to_owned()),
        (Some(r), Some(p)) if !r.contains('-') && whole(&format!("{r}-{p}")) => {
            Some(format!("{r}-{p}"))
        }
        (Some(r), _) => Some(r.to_owned()),
        (None, p) => p.map(str::to_owned),
    }
}

impl Version {
    /// The version as written, e.g. `v1.28.15-r0`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `(major, minor)`, e.g. `(1, 28)`.
    pub fn minor_version(&self) -> (u64, u64) {
        (self.major, self.minor)
    }

    /// Whether this is a minor version only (`v1.29`), which names a line of versions.
    pub fn is_minor_only(&self) -> bool {
        self.patch.is_none()
    }

    /// Whether `other` is this version, or, for a minor version, one of its line:
    /// `v1.29` matches `v1.29.15-r0`; `v1.29.15-r0` matches only itself.
    pub fn matches(&self, other: &Version) -> bool {
        if self.is_minor_only() {
            self.minor_version() == other.minor_version()
        } else {
            self == other
        }
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch.unwrap_or(0))
            .cmp(&(other.major, other.minor, other.patch.unwrap_or(0)))
            .then_with(|| self.suffix.cmp(&other.suffix))
    }
}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (
            self.major,
            self.minor,
            self.patch.unwrap_or(0),
            &self.suffix,
        )
            .hash(state);
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upgrade_info_joins_release_and_patch_into_the_current_version() {
        let info = |release: serde_json::Value, patch: serde_json::Value| {
            let info: crate::types::UpgradeInfo = serde_json::from_value(serde_json::json!({
                "spec": {"versionInfo": {"release": release, "patch": patch}}
            }))
            .expect("an upgrade info");
            info.current_version()
        };
        use serde_json::Value::Null;
        assert_eq!(
            info("v1.28.15".into(), "r0".into()).as_deref(),
            Some("v1.28.15-r0")
        );
        assert_eq!(
            info("v1.28".into(), "v1.28.15-r0".into()).as_deref(),
            Some("v1.28.15-r0"),
            "a patch that is a whole version"
        );
        assert_eq!(
            info("v1.28.15-r0".into(), Null).as_deref(),
            Some("v1.28.15-r0")
        );
        assert_eq!(
            info(" ".into(), "v1.29.1-r0".into()).as_deref(),
            Some("v1.29.1-r0")
        );
        assert_eq!(info(Null, Null), None);
        let empty = crate::types::UpgradeInfo::default();
        assert_eq!(empty.current_version(), None);
    }

    #[test]
    fn accessors_named_in_the_spec_read_ids_phases_and_progress() {
        use crate::types::*;
        let task: UpgradeTask = serde_json::from_value(serde_json::json!({
            "metadata": {"uid": "t-1"},
            "status": {"phase": "Running", "progress": "37.50"}
        }))
        .expect("a task");
        assert_eq!(task.uid(), Some("t-1"));
        assert_eq!(task.phase(), Some(&UpgradeTaskPhase::Running));
        assert_eq!(task.progress(), Some("37.50"));
        assert_eq!(UpgradeTask::default().uid(), None);
        let snapshot: SnapshotClusterResponse =
            serde_json::from_value(serde_json::json!({"uid": "s-1"})).expect("a snapshot");
        assert_eq!(snapshot.uid(), Some("s-1"));
        let started: UpgradeClusterResponse =
            serde_json::from_value(serde_json::json!({"metadata": {"uid": "u-1"}}))
                .expect("an upgrade");
        assert_eq!(started.uid(), Some("u-1"));
        let check: PreCheckTask =
            serde_json::from_value(serde_json::json!({"metadata": {"uid": "p-1"}}))
                .expect("a pre-check");
        assert_eq!((check.uid(), check.phase()), (Some("p-1"), None));
    }

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn versions_order_as_versions() {
        let ordered = [
            "v1.9.10-r0",
            "v1.11.3-r1",
            "v1.11.3-r1.sp1",
            "v1.11.3-r1.sp2",
            "v1.11.3-r2",
            "v1.28.15-r0",
            "v1.28.15-r10",
            "v1.29.1-r0",
            "v1.30",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert!("v1.9.10-r0" > "v1.11.3-r1", "as strings they would not be");
        assert_eq!(v("v1.29.1-r0"), v("V1.29.1-R0"));
    }

    #[test]
    fn minor_versions_name_their_line() {
        assert!(v("v1.29").matches(&v("v1.29.15-r0")));
        assert!(!v("v1.29").matches(&v("v1.30.1-r0")));
        assert!(v("v1.29.15-r0").matches(&v("v1.29.15-r0")));
        assert!(!v("v1.29.15-r0").matches(&v("v1.29.15-r1")));
        assert!(v("v1.29").is_minor_only());
    }

    #[test]
    fn not_versions_are_errors() {
        for bad in [
            "",
            "v",
            "1",
            "v1",
            "v1.x",
            "v1.2.3.4",
            "v1.2-r0",
            "v1.2.3-",
            "v1.2.3-r0-x",
        ] {
            assert!(bad.parse::<Version>().is_err(), "{bad:?}");
        }
        let e = "nonsense".parse::<Version>().unwrap_err();
        assert!(e.to_string().contains("v1.29"), "{e}");
    }
}
