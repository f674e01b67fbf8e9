//! Cluster versions as the emulated service knows them: how they compare, which platform version
//! each has, and which targets a cluster of each version may be upgraded to.
//!
//! Versions read `v1.28.15-r0`, `v1.28.15-r1.sp1`, or a minor version `v1.29` (meaning the
//! latest allowed patch of that minor). They compare part by part as numbers, never as strings:
//! `v1.28.15-r0` < `v1.28.15-r1.sp1` < `v1.29.1-r0` < `v1.29.10-r0`.

use std::cmp::Ordering;

/// The versions the emulated service offers: `(version, platform version, allowed targets)`.
///
/// | version | platform | targets |
/// |---|---|---|
/// | v1.27.16-r0 | cce.4.0.0 | v1.28.15-r0 |
/// | v1.28.15-r0 | cce.5.0.0 | v1.28.15-r1.sp1, v1.29.10-r0, v1.29.15-r0, v1.30.14-r0 |
/// | v1.28.15-r1.sp1 | cce.5.0.1 | v1.29.10-r0, v1.29.15-r0, v1.30.14-r0 |
/// | v1.29.10-r0 | cce.6.0.0 | v1.29.15-r0, v1.30.14-r0 |
/// | v1.29.15-r0 | cce.6.0.1 | v1.30.14-r0 |
/// | v1.30.14-r0 | cce.7.0.0 | none |
pub(crate) const CATALOGUE: &[(&str, &str, &[&str])] = &[
    ("v1.27.16-r0", "cce.4.0.0", &["v1.28.15-r0"]),
    (
        "v1.28.15-r0",
        "cce.5.0.0",
        &[
            "v1.28.15-r1.sp1",
            "v1.29.10-r0",
            "v1.29.15-r0",
            "v1.30.14-r0",
        ],
    ),
    (
        "v1.28.15-r1.sp1",
        "cce.5.0.1",
        &["v1.29.10-r0", "v1.29.15-r0", "v1.30.14-r0"],
    ),
    ("v1.29.10-r0", "cce.6.0.0", &["v1.29.15-r0", "v1.30.14-r0"]),
    ("v1.29.15-r0", "cce.6.0.1", &["v1.30.14-r0"]),
    ("v1.30.14-r0", "cce.7.0.0", &[]),
];

/// The platform version of a version (`cce.0.0.0` for one the catalogue does not know).
pub(crate) fn platform_of(version: &str) -> &'static str {
    CATALOGUE
        .iter()
        .find(|(v, _, _)| *v == version)
        .map_or("cce.0.0.0", |(_, p, _)| p)
}

/// The targets a cluster of `version` may be upgraded to, lowest first. A version the catalogue
/// does not know may go to every catalogue version above it.
pub(crate) fn targets_of(version: &str) -> Vec<&'static str> {
    if let Some((_, _, targets)) = CATALOGUE.iter().find(|(v, _, _)| *v == version) {
        return targets.to_vec();
    }
    let mut higher: Vec<&'static str> = CATALOGUE
        .iter()
        .map(|(v, _, _)| *v)
        .filter(|v| compare(v, version) == Ordering::Greater)
        .collect();
    higher.sort_by(|a, b| compare(a, b));
    higher
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetError {
    /// Not a version at all.
    Malformed,
    /// Not higher than the current version.
    NotHigher,
    /// Higher, but not among the allowed targets.
    NotAllowed,
}

/// The service's normalised form of `target` for a cluster at `current`: an allowed target, the
/// latest allowed patch for a minor version such as `v1.29`.
pub(crate) fn normalise(current: &str, target: &str) -> Result<String, TargetError> {
    let target = target.trim();
    let parsed = Parsed::new(target).ok_or(TargetError::Malformed)?;
    let allowed = targets_of(current);
    if parsed.numbers.len() == 2 && parsed.suffix.is_empty() {
        let latest = allowed
            .iter()
            .filter(|t| {
                Parsed::new(t).is_some_and(|p| p.numbers.get(..2) == Some(&parsed.numbers[..]))
            })
            .max_by(|a, b| compare(a, b));
        return match latest {
            Some(t) => Ok((*t).to_string()),
            None if compare(target, current) != Ordering::Greater
                && Parsed::new(current)
                    .is_some_and(|c| c.numbers.get(..2) >= Some(&parsed.numbers[..])) =>
            {
                Err(TargetError::NotHigher)
            }
            None => Err(TargetError::NotAllowed),
        };
    }
    if compare(target, current) != Ordering::Greater {
        return Err(TargetError::NotHigher);
    }
    allowed
        .iter()
        .find(|t| compare(t, target) == Ordering::Equal)
        .map(|t| (*t).to_string())
        .ok_or(TargetError::NotAllowed)
}

/// `release` and `patch` of a version: `v1.28.15-r1.sp1` is `v1.28.15` and `r1.sp1`.
pub(crate) fn release_and_patch(version: &str) -> (String, String) {
    match version.split_once('-') {
        Some((release, patch)) => (release.to_string(), patch.to_string()),
        None => (version.to_string(), String::new()),
    }
}

/// Compares two versions part by part; text that is not a version sorts below every version,
/// and two such texts compare as strings.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    match (Parsed::new(a), Parsed::new(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

/// A parsed version: the dotted numbers, then the suffix parts (`r1`, `sp1`) as (letters,
/// number) pairs. The derived order is the version order.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Parsed {
    numbers: Vec<u64>,
    suffix: Vec<(String, u64)>,
}

impl Parsed {
    fn new(text: &str) -> Option<Parsed> {
        let text = text.trim().strip_prefix(['v', 'V'])?;
        let (base, suffix) = text.split_once('-').unwrap_or((text, ""));
        let numbers = base
            .split('.')
            .map(|n| n.parse().ok())
            .collect::<Option<Vec<u64>>>()?;
        if numbers.is_empty() || numbers.len() > 3 {
            return None;
        }
        let suffix = if suffix.is_empty() {
            Vec::new()
        } else {
            suffix
                .split('.')
                .map(|part| {
                    let digits = part.find(|c: char| c.is_ascii_digit())?;
                    let (letters, number) = part.split_at(digits);
                    Some((letters.to_string(), number.parse().ok()?))
                })
                .collect::<Option<Vec<_>>>()?
        };
        Some(Parsed { numbers, suffix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_versions_not_strings() {
        let ordered = [
            "v1.9.1-r0",
            "v1.28.15-r0",
            "v1.28.15-r1",
            "v1.28.15-r1.sp1",
            "v1.28.15-r2",
            "v1.28.15-r10",
            "v1.29.1-r0",
            "v1.29.10-r0",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(compare("v1.28.15-r0", "v1.28.15-r0"), Ordering::Equal);
        assert_eq!(compare("latest", "v1.0"), Ordering::Less);
    }

    #[test]
    fn targets_are_normalised_or_refused() {
        let current = "v1.28.15-r0";
        assert_eq!(normalise(current, "v1.29").as_deref(), Ok("v1.29.15-r0"));
        assert_eq!(normalise(current, "v1.30").as_deref(), Ok("v1.30.14-r0"));
        assert_eq!(
            normalise(current, "v1.28").as_deref(),
            Ok("v1.28.15-r1.sp1")
        );
        assert_eq!(
            normalise(current, " v1.29.10-r0 ").as_deref(),
            Ok("v1.29.10-r0")
        );
        assert_eq!(
            normalise(current, "v1.28.15-r0"),
            Err(TargetError::NotHigher)
        );
        assert_eq!(
            normalise(current, "v1.27.16-r0"),
            Err(TargetError::NotHigher)
        );
        assert_eq!(normalise(current, "v1.27"), Err(TargetError::NotHigher));
        assert_eq!(
            normalise(current, "v1.29.11-r0"),
            Err(TargetError::NotAllowed)
        );
        assert_eq!(normalise(current, "v1.31"), Err(TargetError::NotAllowed));
        assert_eq!(normalise(current, "latest"), Err(TargetError::Malformed));
        assert_eq!(normalise(current, ""), Err(TargetError::Malformed));
        assert_eq!(
            normalise("v1.30.14-r0", "v1.31"),
            Err(TargetError::NotAllowed)
        );
    }

    #[test]
    fn unknown_versions_may_go_to_every_higher_catalogue_version() {
        assert_eq!(targets_of("v1.29.12-r0"), ["v1.29.15-r0", "v1.30.14-r0"]);
        assert_eq!(platform_of("v1.29.12-r0"), "cce.0.0.0");
        assert_eq!(platform_of("v1.28.15-r0"), "cce.5.0.0");
        assert_eq!(
            release_and_patch("v1.28.15-r1.sp1"),
            ("v1.28.15".to_string(), "r1.sp1".to_string())
        );
    }
}
