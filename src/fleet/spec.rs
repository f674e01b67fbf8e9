//! The fleet file: what to upgrade, in which order, at which pace. Read from YAML or JSON by
//! serde (unknown keys are errors); [`FleetSpec::validate`] checks what serde cannot.
//!
//! ```
//! let spec: cce_upgrade::fleet::FleetSpec = serde_json::from_str(r#"{
//!     "target": "v1.29",
//!     "stages": [{"name": "dev", "maxConcurrent": 2, "soak": "30m",
//!                 "clusters": [{"region": "cn-north-4", "tags": {"env": "dev"}}]}]
//! }"#).unwrap();
//! spec.validate().unwrap();
//! assert_eq!(spec.stages[0].soak.unwrap().as_duration().as_secs(), 1800);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// A fleet: stages run in order, and the settings every upgrade of the run shares.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct FleetSpec {
    /// The target: a minor version (`v1.29`, its latest allowed patch) or an exact one
    /// (`v1.29.15-r0`).
    pub target: String,
    /// Whether to back each cluster's masters up before upgrading it (default no).
    #[serde(default)]
    pub snapshot: bool,
    /// Pre-check items to skip (`Risk` findings), on every cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_checks: Vec<String>,
    /// How many times to retry a failed upgrade task of a cluster (default 0).
    #[serde(default)]
    pub retry_failed: u32,
    /// After more than this many failed clusters, no new cluster starts (default 0: the first
    /// failure stops the fleet; clusters already running finish).
    #[serde(default)]
    pub max_failures: u32,
    /// The poll pace of each upgrade (default 5 s growing to 2 min: `Poll::FLEET_DEFAULT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
    /// The stages, run in order.
    pub stages: Vec<Stage>,
}

/// How often each upgrade polls: `initial` after a change, growing to `max` while nothing
/// changes.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Poll {
    /// The first interval, e.g. `5s`.
    pub initial: FleetDuration,
    /// The longest interval, e.g. `30s`.
    pub max: FleetDuration,
}

impl Poll {
    /// A fleet's pace when the file sets none: each wait polls first after 5 s, then ever
    /// less often, up to every 2 min. It backs off further than one upgrade's default (5 s to
    /// 60 s): the service's rate limits are per account, and a fleet's upgrades all poll the
    /// same account. An upgrade takes tens of minutes, so its end is seen at most 2 min late.
    pub const FLEET_DEFAULT: Poll = Poll {
        initial: FleetDuration(Duration::from_secs(5)),
        max: FleetDuration(Duration::from_secs(120)),
    };
}

/// A stage: clusters upgraded side by side, at most `maxConcurrent` at once.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Stage {
    /// The stage's name (unique in the fleet), e.g. `dev`; what `--approve` names.
    pub name: String,
    /// How many of its clusters are upgraded at once (default 1), counting upgrades already
    /// running at the service.
    #[serde(default = "one")]
    pub max_concurrent: u32,
    /// How long to wait after its last cluster finished before the next stage starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<FleetDuration>,
    /// Whether the stage waits for the caller's approval before it starts (default no).
    #[serde(default)]
    pub approval: bool,
    /// Which clusters it upgrades.
    pub clusters: Vec<Selector>,
}

fn one() -> u32 {
    1
}

/// Which clusters of a region a stage takes: by id, by name (`metadata.name`), or by tags
/// (`spec.clusterTags`, every pair must match). When several are given, all must match.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Selector {
    /// The region, e.g. `cn-north-4`.
    pub region: String,
    /// CCE Autopilot clusters instead of CCE clusters (default no).
    #[serde(default)]
    pub autopilot: bool,
    /// The cluster id (`metadata.uid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The cluster name (`metadata.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tags (`spec.clusterTags`) that must all match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl Selector {
    /// Clusters of `region` with these tags.
    pub fn tags<I, K, V>(region: impl Into<String>, tags: I) -> Selector
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Selector {
            region: region.into(),
            tags: tags
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            ..Selector::default()
        }
    }

    /// The cluster of `region` with this id.
    pub fn id(region: impl Into<String>, id: impl Into<String>) -> Selector {
        Selector {
            region: region.into(),
            id: Some(id.into()),
            ..Selector::default()
        }
    }

    /// The cluster of `region` with this name.
    pub fn name(region: impl Into<String>, name: impl Into<String>) -> Selector {
        Selector {
            region: region.into(),
            name: Some(name.into()),
            ..Selector::default()
        }
    }

    /// Autopilot clusters instead of CCE ones.
    pub fn autopilot(mut self, yes: bool) -> Selector {
        self.autopilot = yes;
        self
    }

    /// Whether a cluster of the selector's region and flavour matches.
    pub(crate) fn matches(&self, id: &str, name: Option<&str>, tags: &[(String, String)]) -> bool {
        self.id.as_deref().is_none_or(|want| want == id)
            && self.name.as_deref().is_none_or(|want| Some(want) == name)
            && self
                .tags
                .iter()
                .all(|(k, v)| tags.iter().any(|(tk, tv)| tk == k && tv == v))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flavour = if self.autopilot { "Autopilot " } else { "" };
        write!(f, "{flavour}clusters of {}", self.region)?;
        if let Some(id) = &self.id {
            write!(f, " with id {id:?}")?;
        }
        if let Some(name) = &self.name {
            write!(f, " named {name:?}")?;
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            write!(f, " tagged {}", tags.join(","))?;
        }
        Ok(())
    }
}

impl FleetSpec {
    /// A fleet to `target` with these stages and the defaults for the rest.
    pub fn new(target: impl Into<String>, stages: Vec<Stage>) -> FleetSpec {
        FleetSpec {
            target: target.into(),
            snapshot: false,
            skip_checks: Vec::new(),
            retry_failed: 0,
            max_failures: 0,
            poll: None,
            stages,
        }
    }

    /// Checks what the types cannot: a target, at least one stage, unique non-empty stage
    /// names, `maxConcurrent` at least 1, each selector with a region and an id, a name or tags,
    /// a poll pace above zero. The error names the field and the fix.
    pub fn validate(&self) -> Result<(), Error> {
        if self.target.trim().is_empty() {
            return Err(Error::invalid_input(
                "target",
                "empty: give a minor version (v1.29) or an exact one (v1.29.15-r0)",
            ));
        }
        if self.stages.is_empty() {
            return Err(Error::invalid_input(
                "stages",
                "no stages: give at least one, with a name and clusters",
            ));
        }
        if let Some(poll) = &self.poll
            && poll.initial.0.is_zero()
        {
            return Err(Error::invalid_input(
                "poll.initial",
                "zero: give a pace above zero, e.g. 5s",
            ));
        }
        for (i, stage) in self.stages.iter().enumerate() {
            if stage.name.trim().is_empty() {
                return Err(Error::invalid_input(
                    format!("stages[{i}].name"),
                    "empty: name every stage (e.g. dev, prod)",
                ));
            }
            if self.stages[..i].iter().any(|s| s.name == stage.name) {
                return Err(Error::invalid_input(
                    format!("stages[{i}].name"),
                    format!("{:?} names two stages: give each its own name", stage.name),
                ));
            }
            if stage.max_concurrent == 0 {
                return Err(Error::invalid_input(
                    format!("stages[{i}].maxConcurrent"),
                    "0 would upgrade nothing: give at least 1",
                ));
            }
            if stage.clusters.is_empty() {
                return Err(Error::invalid_input(
                    format!("stages[{i}].clusters"),
                    "empty: select clusters by id, name or tags",
                ));
            }
            for (j, selector) in stage.clusters.iter().enumerate() {
                if selector.region.trim().is_empty() {
                    return Err(Error::invalid_input(
                        format!("stages[{i}].clusters[{j}].region"),
                        "empty: give the region, e.g. cn-north-4",
                    ));
                }
                if selector.id.is_none() && selector.name.is_none() && selector.tags.is_empty() {
                    return Err(Error::invalid_input(
                        format!("stages[{i}].clusters[{j}]"),
                        "selects every cluster of the region: give an id, a name or tags",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The regions the fleet names, each once, in the order they first appear.
    pub fn regions(&self) -> Vec<String> {
        let mut regions: Vec<String> = Vec::new();
        for selector in self.stages.iter().flat_map(|s| &s.clusters) {
            if !regions.contains(&selector.region) {
                regions.push(selector.region.clone());
            }
        }
        regions
    }
}

impl Stage {
    /// A stage of this name and these clusters, one at a time, no soak, no approval.
    pub fn new(name: impl Into<String>, clusters: Vec<Selector>) -> Stage {
        Stage {
            name: name.into(),
            max_concurrent: 1,
            soak: None,
            approval: false,
            clusters,
        }
    }

    /// How many clusters at once.
    pub fn max_concurrent(mut self, n: u32) -> Stage {
        self.max_concurrent = n;
        self
    }

    /// The wait after the stage's last upgrade finished.
    pub fn soak(mut self, soak: Duration) -> Stage {
        self.soak = Some(FleetDuration(soak));
        self
    }

    /// Whether the stage waits for an approval.
    pub fn approval(mut self, yes: bool) -> Stage {
        self.approval = yes;
        self
    }
}

/// A duration as fleet files write it: `100ms`, `30s`, `10m`, `2h` (jiff's friendly format,
/// so also `1h30m`); never negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct FleetDuration(pub Duration);

impl FleetDuration {
    /// The duration.
    pub fn as_duration(&self) -> Duration {
        self.0
    }
}

impl std::str::FromStr for FleetDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let signed: jiff::SignedDuration = s.trim().parse().map_err(|e| {
            format!("{s:?} is not a duration ({e}): write it as 100ms, 30s, 10m or 2h")
        })?;
        Duration::try_from(signed)
            .map(FleetDuration)
            .map_err(|_| format!("{s:?} is negative: a duration is 0 or more"))
    }
}

impl fmt::Display for FleetDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if !d.subsec_nanos().is_multiple_of(1_000_000) {
            write!(f, "{}us", d.as_micros())
        } else if d.subsec_millis() != 0 {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{}s", d.as_secs())
        }
    }
}

impl Serialize for FleetDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FleetDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for FleetDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FleetDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration: 100ms, 30s, 10m, 2h (or combined, 1h30m).",
            "pattern": "^\\s*[0-9]",
            "examples": ["30s", "10m", "2h"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_fleet_files_write_them() {
        for (text, want) in [
            ("100ms", Duration::from_millis(100)),
            ("30s", Duration::from_secs(30)),
            ("10m", Duration::from_secs(600)),
            ("2h", Duration::from_secs(7200)),
            ("1h30m", Duration::from_secs(5400)),
        ] {
            let d: FleetDuration = text.parse().unwrap();
            assert_eq!(d.0, want, "{text}");
            let back: FleetDuration = d.to_string().parse().unwrap();
            assert_eq!(back, d);
        }
        assert!(
            "-5s"
                .parse::<FleetDuration>()
                .unwrap_err()
                .contains("negative")
        );
        assert!("soon".parse::<FleetDuration>().unwrap_err().contains("30s"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_naming_them() {
        let e = serde_json::from_str::<FleetSpec>(r#"{"target":"v1.29","stages":[],"stagez":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("stagez"), "{e}");
        let spec: FleetSpec = serde_json::from_str(
            r#"{"target":"v1.29","stages":[{"name":"a","maxConcurrent":0,"clusters":[{"region":"r","id":"x"}]}]}"#,
        )
        .unwrap();
        let e = spec.validate().unwrap_err().to_string();
        assert!(e.contains("stages[0].maxConcurrent"), "{e}");
        let spec: FleetSpec = serde_json::from_str(
            r#"{"target":"v1.29","stages":[{"name":"a","clusters":[{"region":"r"}]}]}"#,
        )
        .unwrap();
        let e = spec.validate().unwrap_err().to_string();
        assert!(e.contains("stages[0].clusters[0]"), "{e}");
    }

    #[test]
    fn a_selector_matches_when_every_given_criterion_does() {
        let tags = vec![
            ("env".to_owned(), "dev".to_owned()),
            ("team".to_owned(), "a".to_owned()),
        ];
        let s = Selector::tags("r", [("env", "dev")]);
        assert!(s.matches("x", Some("n"), &tags));
        assert!(!Selector::tags("r", [("env", "prod")]).matches("x", None, &tags));
        let s = Selector {
            name: Some("n".into()),
            ..Selector::tags("r", [("env", "dev")])
        };
        assert!(s.matches("x", Some("n"), &tags));
        assert!(!s.matches("x", Some("m"), &tags));
        assert!(Selector::id("r", "x").matches("x", None, &[]));
    }
}
