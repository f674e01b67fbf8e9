//! Regions and the endpoints that serve them.
//!
//! Built in: every region where CCE serves the upgrade APIs, at
//! `https://cce.{region}.myhuaweicloud.com` (`.eu` for `eu-west-101`). As the official SDKs do,
//! the environment variable `HUAWEICLOUD_SDK_REGION_CCE_<REGION>` (region id upper-cased, `-`
//! → `_`) overrides a region's endpoint, and an endpoint given in code
//! ([`ClientBuilder::endpoint`](crate::ClientBuilder::endpoint)) overrides everything.

use std::borrow::Cow;
use std::fmt;

use crate::credentials::Env;
use crate::error::Error;

/// A Huawei Cloud region id, e.g. `cn-north-4`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Region(Cow<'static, str>);

/// The regions with a built-in CCE endpoint.
pub const KNOWN_REGIONS: &[&str] = &[
    "cn-north-1",
    "cn-north-2",
    "cn-north-4",
    "cn-north-9",
    "cn-north-11",
    "cn-north-12",
    "cn-south-1",
    "cn-south-2",
    "cn-south-4",
    "cn-east-2",
    "cn-east-3",
    "cn-east-4",
    "cn-east-5",
    "cn-southwest-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "af-south-1",
    "af-north-1",
    "sa-brazil-1",
    "la-south-2",
    "la-north-2",
    "na-mexico-1",
    "ru-northwest-2",
    "ru-moscow-1",
    "tr-west-1",
    "ae-ad-1",
    "me-east-1",
    "my-kualalumpur-1",
    "eu-west-0",
    "eu-west-101",
];

impl Region {
    /// A region by id.
    pub fn new(id: impl Into<Cow<'static, str>>) -> Self {
        Region(id.into())
    }

    /// A region from a `'static` id, usable in constants.
    pub const fn from_static(id: &'static str) -> Self {
        Region(Cow::Borrowed(id))
    }

    /// The region id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks that the id looks like a region id (`^[a-z0-9]+(-[a-z0-9]+)*$`, e.g. `cn-north-4`):
    /// it becomes part of host names and of the IAM query, so nothing else may get through.
    pub fn check(&self) -> Result<(), Error> {
        let id = self.as_str();
        let valid = !id.is_empty()
            && id.split('-').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if valid {
            Ok(())
        } else {
            Err(Error::configuration(format!(
                "region {id:?} is not a region id: use lower-case letters, digits and single \
                 dashes, such as `cn-north-4` or `ap-southeast-1`"
            )))
        }
    }

    /// Whether the SDK has a built-in endpoint for this region.
    pub fn is_known(&self) -> bool {
        KNOWN_REGIONS.contains(&self.as_str())
    }

    fn domain(&self) -> &'static str {
        if self.as_str() == "eu-west-101" {
            "myhuaweicloud.eu"
        } else {
            "myhuaweicloud.com"
        }
    }

    /// The CCE endpoint: `HUAWEICLOUD_SDK_REGION_CCE_<REGION>` if set, else the built-in one.
    /// Plain `http://` is accepted only to a loopback host.
    pub fn cce_endpoint(&self, env: &Env) -> Result<String, Error> {
        self.cce_endpoint_with(env, false)
    }

    pub(crate) fn cce_endpoint_with(
        &self,
        env: &Env,
        allow_plain_http: bool,
    ) -> Result<String, Error> {
        self.check()?;
        if let Some(url) = env.get(&self.override_variable()) {
            let first = url.split(',').next().unwrap_or_default().trim().to_owned();
            return check_endpoint(&first, allow_plain_http).map_err(|why| {
                Error::configuration(format!("{}={url:?}: {why}", self.override_variable()))
            });
        }
        if !self.is_known() {
            return Err(Error::configuration(format!(
                "unknown region `{self}`: no built-in CCE endpoint; use one of {} or set {} \
                 (or the endpoint in code)",
                KNOWN_REGIONS.join(", "),
                self.override_variable()
            )));
        }
        Ok(format!("https://cce.{}.{}", self.as_str(), self.domain()))
    }

    /// The IAM endpoint used to look up the project id: `HUAWEICLOUD_SDK_IAM_ENDPOINT` if set,
    /// else `https://iam.{region}.myhuaweicloud.com`.
    /// Plain `http://` is accepted only to a loopback host.
    pub fn iam_endpoint(&self, env: &Env) -> Result<String, Error> {
        self.iam_endpoint_with(env, false)
    }

    pub(crate) fn iam_endpoint_with(
        &self,
        env: &Env,
        allow_plain_http: bool,
    ) -> Result<String, Error> {
        self.check()?;
        match env.get("HUAWEICLOUD_SDK_IAM_ENDPOINT") {
            Some(url) => check_endpoint(url.trim(), allow_plain_http).map_err(|why| {
                Error::configuration(format!("HUAWEICLOUD_SDK_IAM_ENDPOINT={url:?}: {why}"))
            }),
            None => Ok(format!("https://iam.{}.{}", self.as_str(), self.domain())),
        }
    }

    /// `HUAWEICLOUD_SDK_REGION_CCE_CN_NORTH_4` for `cn-north-4`.
    pub fn override_variable(&self) -> String {
        format!(
            "HUAWEICLOUD_SDK_REGION_CCE_{}",
            self.as_str().to_ascii_uppercase().replace('-', "_")
        )
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&'static str> for Region {
    fn from(id: &'static str) -> Self {
        Region::from_static(id)
    }
}

impl From<String> for Region {
    fn from(id: String) -> Self {
        Region::new(id)
    }
}

/// An endpoint must be an absolute `https://` URL with a host (`http://` only to a loopback
/// host, unless `allow_plain_http`), without userinfo, query or fragment, which would change or
/// leak from every request; returns it without a trailing `/`.
pub(crate) fn check_endpoint(url: &str, allow_plain_http: bool) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme must be http or https, not `{}`",
            parsed.scheme()
        ));
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err("the URL has no host".into());
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("remove the `user:password@` part: credentials do not go into the URL".into());
    }
    if parsed.query().is_some() {
        return Err("remove the `?query`: an endpoint is scheme, host, port and path only".into());
    }
    if parsed.fragment().is_some() {
        return Err(
            "remove the `#fragment`: an endpoint is scheme, host, port and path only".into(),
        );
    }
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if parsed.scheme() == "http" && !loopback && !allow_plain_http {
        return Err(format!(
            "plain http:// to `{host}`, which is not this machine, would send requests \
             unencrypted: use https://, or call ClientBuilder::allow_plain_http(true) if you mean it"
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_endpoints() {
        let env = Env::from_vars::<_, String, String>([]);
        assert_eq!(
            Region::new("cn-north-4").cce_endpoint(&env).unwrap(),
            "https://cce.cn-north-4.myhuaweicloud.com"
        );
        assert_eq!(
            Region::new("eu-west-101").cce_endpoint(&env).unwrap(),
            "https://cce.eu-west-101.myhuaweicloud.eu"
        );
        assert_eq!(KNOWN_REGIONS.len(), 33);
        for r in KNOWN_REGIONS {
            assert!(
                Region::new(*r)
                    .cce_endpoint(&env)
                    .unwrap()
                    .starts_with("https://cce.")
            );
        }
        assert_eq!(
            Region::new("cn-north-4").iam_endpoint(&env).unwrap(),
            "https://iam.cn-north-4.myhuaweicloud.com"
        );
    }

    #[test]
    fn environment_overrides_the_endpoint() {
        let env = Env::from_vars([(
            "HUAWEICLOUD_SDK_REGION_CCE_CN_NORTH_4",
            "http://127.0.0.1:9999/",
        )]);
        assert_eq!(
            Region::new("cn-north-4").cce_endpoint(&env).unwrap(),
            "http://127.0.0.1:9999"
        );
        let env = Env::from_vars([(
            "HUAWEICLOUD_SDK_REGION_CCE_XX_TEST_1",
            "https://cce.example",
        )]);
        assert_eq!(
            Region::new("xx-test-1").cce_endpoint(&env).unwrap(),
            "https://cce.example"
        );
        let env = Env::from_vars([("HUAWEICLOUD_SDK_IAM_ENDPOINT", "http://127.0.0.1:1")]);
        assert_eq!(
            Region::new("cn-north-4").iam_endpoint(&env).unwrap(),
            "http://127.0.0.1:1"
        );
    }

    #[test]
    fn endpoints_are_https_or_loopback_and_carry_nothing_else() {
        for ok in [
            "https://cce.example.com",
            "https://cce.example.com:8443/base/",
            "http://127.0.0.1:9999",
            "http://127.3.2.1",
            "http://[::1]:80",
            "http://localhost:1",
            "http://LOCALHOST",
        ] {
            assert!(check_endpoint(ok, false).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("http://cce.example.com", "allow_plain_http"),
            ("http://10.0.0.1", "allow_plain_http"),
            ("http://[::2]", "allow_plain_http"),
            ("http://localhost.example.com", "allow_plain_http"),
            ("https://cce.example.com/?a=b", "?query"),
            ("https://cce.example.com/#x", "#fragment"),
            ("https://user:pw@cce.example.com", "user:password@"),
            ("https://user@cce.example.com", "user:password@"),
            ("ftp://cce.example.com", "scheme"),
            ("cce.example.com", "not a URL"),
        ] {
            let why = check_endpoint(bad, false).unwrap_err();
            assert!(why.contains(says), "{bad}: {why}");
        }
        assert!(check_endpoint("http://cce.example.com", true).is_ok());
        assert!(check_endpoint("http://cce.example.com/?q", true).is_err());
    }

    #[test]
    fn region_ids_are_validated_before_they_reach_a_host_name() {
        let env = Env::from_vars::<_, String, String>([]);
        for ok in ["cn-north-4", "ap-southeast-1", "eu-west-101", "x1"] {
            assert!(Region::new(ok).check().is_ok(), "{ok}");
        }
        for bad in [
            "x@127.0.0.1:8080/",
            "",
            "-cn",
            "cn-",
            "cn--north",
            "CN-NORTH-4",
            "cn.north",
            "cn-north-4/",
            "cn north",
        ] {
            let region = Region::new(bad);
            let e = region.check().unwrap_err().to_string();
            assert!(e.contains("region") && e.contains("cn-north-4"), "{e}");
            assert!(region.iam_endpoint(&env).is_err(), "{bad}");
            assert!(region.cce_endpoint(&env).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_override_and_unknown_region_are_errors_that_say_what_to_do() {
        let env = Env::from_vars([("HUAWEICLOUD_SDK_REGION_CCE_CN_NORTH_4", "ftp://x")]);
        let e = Region::new("cn-north-4")
            .cce_endpoint(&env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("HUAWEICLOUD_SDK_REGION_CCE_CN_NORTH_4") && e.contains("http"),
            "{e}"
        );
        let env = Env::from_vars::<_, String, String>([]);
        let e = Region::new("mars-1")
            .cce_endpoint(&env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mars-1")
                && e.contains("cn-north-4")
                && e.contains("HUAWEICLOUD_SDK_REGION_CCE_MARS_1"),
            "{e}"
        );
    }
}
