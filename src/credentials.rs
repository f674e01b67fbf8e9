//! Credentials and where they come from.
//!
//! Three kinds, as the API documents and the official SDKs have them:
//! - permanent AK/SK ([`Credentials::new`]): every request is signed (SDK-HMAC-SHA256);
//! - temporary AK/SK with a security token ([`Credentials::temporary`]): signed, and the token
//!   is sent (and signed) as `X-Security-Token`;
//! - an IAM token ([`Credentials::token`]): sent as `X-Auth-Token`, no signature.
//!
//! Without credentials in code, the client looks where the official SDKs look, in this order:
//! the environment (`HUAWEICLOUD_SDK_AK`, `HUAWEICLOUD_SDK_SK`,
//! `HUAWEICLOUD_SDK_SECURITY_TOKEN`, `HUAWEICLOUD_SDK_PROJECT_ID`), then the profile file
//! (`~/.huaweicloud/credentials`, or the file named by `HUAWEICLOUD_SDK_CREDENTIALS_FILE`; INI,
//! section `[basic]` with `ak`, `sk`, `security_token`, `project_id`). The environment is an
//! [`Env`] value, so tests inject one instead of touching the process's.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use crate::error::Error;
use crate::secret::SecretString;

/// How requests prove who sends them. `Debug` never shows the secret key or tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    kind: Kind,
}

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    AkSk {
        access_key: String,
        secret_key: SecretString,
        security_token: Option<SecretString>,
    },
    Token(SecretString),
}

impl Credentials {
    /// Permanent AK/SK.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<SecretString>) -> Self {
        Credentials {
            kind: Kind::AkSk {
                access_key: access_key.into(),
                secret_key: secret_key.into(),
                security_token: None,
            },
        }
    }

    /// Temporary AK/SK with their security token.
    pub fn temporary(
        access_key: impl Into<String>,
        secret_key: impl Into<SecretString>,
        security_token: impl Into<SecretString>,
    ) -> Self {
        Credentials {
            kind: Kind::AkSk {
                access_key: access_key.into(),
                secret_key: secret_key.into(),
                security_token: Some(security_token.into()),
            },
        }
    }

    /// An IAM user token, sent as `X-Auth-Token` (requests are then not signed).
    pub fn token(token: impl Into<SecretString>) -> Self {
        Credentials {
            kind: Kind::Token(token.into()),
        }
    }

    /// The access key id, for AK/SK credentials.
    pub fn access_key(&self) -> Option<&str> {
        match &self.kind {
            Kind::AkSk { access_key, .. } => Some(access_key),
            Kind::Token(_) => None,
        }
    }

    /// Whether these are an IAM token rather than AK/SK.
    pub fn is_token(&self) -> bool {
        matches!(self.kind, Kind::Token(_))
    }

    /// `(access key, secret key, security token)` for signing, or `Err(token)` for token auth.
    pub(crate) fn signing_parts(&self) -> Result<(&str, &str, Option<&str>), &str> {
        match &self.kind {
            Kind::AkSk {
                access_key,
                secret_key,
                security_token,
            } => Ok((
                access_key,
                secret_key.expose_secret(),
                security_token.as_ref().map(SecretString::expose_secret),
            )),
            Kind::Token(token) => Err(token.expose_secret()),
        }
    }

    /// The secret values, for scrubbing them out of anything the service echoes back.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        match &self.kind {
            Kind::AkSk {
                secret_key,
                security_token,
                ..
            } => std::iter::once(secret_key.expose_secret())
                .chain(security_token.as_ref().map(SecretString::expose_secret))
                .collect(),
            Kind::Token(token) => vec![token.expose_secret()],
        }
    }

    fn validate(&self, source: &str) -> Result<(), Error> {
        match &self.kind {
            Kind::AkSk {
                access_key,
                secret_key,
                security_token,
            } => {
                if access_key.trim().is_empty() {
                    return Err(Error::configuration(format!(
                        "the access key (AK) from {source} is empty"
                    )));
                }
                if secret_key.is_empty() {
                    return Err(Error::configuration(format!(
                        "the secret key (SK) from {source} is empty"
                    )));
                }
                if security_token.as_ref().is_some_and(SecretString::is_empty) {
                    return Err(Error::configuration(format!(
                        "the security token from {source} is empty"
                    )));
                }
            }
            Kind::Token(token) if token.is_empty() => {
                return Err(Error::configuration(format!(
                    "the IAM token from {source} is empty"
                )));
            }
            Kind::Token(_) => {}
        }
        Ok(())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::AkSk {
                access_key,
                secret_key,
                security_token,
            } => f
                .debug_struct("Credentials")
                .field("access_key", access_key)
                .field("secret_key", secret_key)
                .field("security_token", security_token)
                .finish(),
            Kind::Token(token) => f.debug_struct("Credentials").field("token", token).finish(),
        }
    }
}

/// Where a client's credentials came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// Given in code.
    Explicit,
    /// `HUAWEICLOUD_SDK_*` environment variables.
    Environment,
    /// A profile file.
    ProfileFile(PathBuf),
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Explicit => f.write_str("code"),
            CredentialSource::Environment => f.write_str("the environment"),
            CredentialSource::ProfileFile(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Credentials found by the default chain, with the project id found beside them.
#[derive(Clone, Debug)]
pub struct ResolvedCredentials {
    /// The credentials.
    pub credentials: Credentials,
    /// A project id from the same source, if it had one.
    pub project_id: Option<String>,
    /// Where they came from.
    pub source: CredentialSource,
}

/// The environment the client reads: the process's, or a fixed set of variables (for tests).
#[derive(Clone, Debug, Default)]
pub struct Env {
    fixed: Option<HashMap<String, String>>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Env { fixed: None }
    }

    /// Exactly these variables and no others.
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            fixed: Some(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    /// A variable's value; unset and empty read the same.
    pub fn get(&self, key: &str) -> Option<String> {
        let value = match &self.fixed {
            Some(vars) => vars.get(key).cloned(),
            None => std::env::var(key).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    fn home(&self) -> Option<PathBuf> {
        self.get("HOME")
            .or_else(|| self.get("USERPROFILE"))
            .map(PathBuf::from)
    }

    /// The profile file path: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else `~/.huaweicloud/credentials`.
    pub fn profile_path(&self) -> Option<PathBuf> {
        self.get("HUAWEICLOUD_SDK_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| Some(self.home()?.join(".huaweicloud").join("credentials")))
    }
}

/// Reads credentials from `HUAWEICLOUD_SDK_AK`/`_SK`/`_SECURITY_TOKEN`/`_PROJECT_ID`.
/// `Ok(None)` when neither AK nor SK is set; an error when only one of them is.
pub fn from_env(env: &Env) -> Result<Option<ResolvedCredentials>, Error> {
    let (ak, sk) = (env.get("HUAWEICLOUD_SDK_AK"), env.get("HUAWEICLOUD_SDK_SK"));
    let credentials = match (ak, sk) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(Error::configuration(
                "HUAWEICLOUD_SDK_AK is set but HUAWEICLOUD_SDK_SK is not: set both",
            ));
        }
        (None, Some(_)) => {
            return Err(Error::configuration(
                "HUAWEICLOUD_SDK_SK is set but HUAWEICLOUD_SDK_AK is not: set both",
            ));
        }
        (Some(ak), Some(sk)) => match env.get("HUAWEICLOUD_SDK_SECURITY_TOKEN") {
            Some(token) => Credentials::temporary(ak, sk, token),
            None => Credentials::new(ak, sk),
        },
    };
    credentials.validate("the environment")?;
    Ok(Some(ResolvedCredentials {
        credentials,
        project_id: env.get("HUAWEICLOUD_SDK_PROJECT_ID"),
        source: CredentialSource::Environment,
    }))
}

/// Reads credentials from the profile file. `Ok(None)` when the file does not exist.
pub fn from_profile_file(env: &Env) -> Result<Option<ResolvedCredentials>, Error> {
    let Some(path) = env.profile_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::configuration(format!(
                "cannot read the credentials file {}: {e}",
                path.display()
            )));
        }
    };
    let basic = ini_section(&text, "basic");
    let field = |k: &str| basic.get(k).filter(|v| !v.is_empty()).cloned();
    let where_ = path.display();
    let (ak, sk) = match (field("ak"), field("sk")) {
        (Some(ak), Some(sk)) => (ak, sk),
        (ak, _) => {
            let missing = if ak.is_none() { "ak" } else { "sk" };
            return Err(Error::configuration(format!(
                "the credentials file {where_} has no `{missing}` in its [basic] section: \
                 add `ak = ...` and `sk = ...` under [basic]"
            )));
        }
    };
    let credentials = match field("security_token") {
        Some(token) => Credentials::temporary(ak, sk, token),
        None => Credentials::new(ak, sk),
    };
    let source = CredentialSource::ProfileFile(path.clone());
    credentials.validate(&source.to_string())?;
    Ok(Some(ResolvedCredentials {
        credentials,
        project_id: field("project_id"),
        source,
    }))
}

/// The default chain: the environment, then the profile file. An error says where it looked.
pub fn default_chain(env: &Env) -> Result<ResolvedCredentials, Error> {
    if let Some(found) = from_env(env)? {
        return Ok(found);
    }
    if let Some(found) = from_profile_file(env)? {
        return Ok(found);
    }
    let file = env.profile_path().map_or_else(
        || "~/.huaweicloud/credentials (no home directory)".to_owned(),
        |p| p.display().to_string(),
    );
    Err(Error::configuration(format!(
        "no credentials: looked in code, the environment and {file}; set HUAWEICLOUD_SDK_AK and \
         HUAWEICLOUD_SDK_SK (plus HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary credentials), or \
         write `ak` and `sk` under [basic] in {file}, or pass Credentials to Client::builder().credentials(..)"
    )))
}

/// The `key = value` pairs of one INI section; keys lower-cased, `;` and `#` start comments.
fn ini_section(text: &str, wanted: &str) -> HashMap<String, String> {
    let mut current = String::new();
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_ascii_lowercase();
            continue;
        }
        if current != wanted {
            continue;
        }
        if let Some((k, v)) = line.split_once('=').or_else(|| line.split_once(':')) {
            out.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn debug_output_is_pinned_and_redacted() {
        let c = Credentials::temporary("AKEXAMPLE", "SKSECRET", "TOKENSECRET");
        assert_eq!(
            format!("{c:?}"),
            r#"Credentials { access_key: "AKEXAMPLE", secret_key: ** redacted **, security_token: Some(** redacted **) }"#
        );
        assert_eq!(
            format!("{:?}", Credentials::token("IAMTOKEN")),
            "Credentials { token: ** redacted ** }"
        );
        assert_eq!(
            format!("{:?}", Credentials::new("AK", "SK")),
            r#"Credentials { access_key: "AK", secret_key: ** redacted **, security_token: None }"#
        );
    }

    #[test]
    fn environment_gives_credentials_token_and_project() {
        let env = Env::from_vars([
            ("HUAWEICLOUD_SDK_AK", "ak1"),
            ("HUAWEICLOUD_SDK_SK", "sk1"),
            ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "tok1"),
            ("HUAWEICLOUD_SDK_PROJECT_ID", "p1"),
        ]);
        let found = default_chain(&env).unwrap();
        assert_eq!(found.source, CredentialSource::Environment);
        assert_eq!(
            found.credentials,
            Credentials::temporary("ak1", "sk1", "tok1")
        );
        assert_eq!(found.project_id.as_deref(), Some("p1"));
    }

    #[test]
    fn half_set_environment_is_an_error_naming_the_missing_variable() {
        let e = default_chain(&Env::from_vars([("HUAWEICLOUD_SDK_AK", "ak1")])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration);
        assert!(e.to_string().contains("HUAWEICLOUD_SDK_SK"), "{e}");
    }

    fn temp_file(name: &str, contents: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("cce-upgrade-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("credentials");
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn profile_file_named_by_the_environment() {
        let path = temp_file(
            "named",
            "[other]\nak = nope\n\n[basic]\n; comment\nak = fileak\nsk = filesk\nproject_id = fileproject\n",
        );
        let env = Env::from_vars([("HUAWEICLOUD_SDK_CREDENTIALS_FILE", path.to_str().unwrap())]);
        let found = default_chain(&env).unwrap();
        assert_eq!(found.source, CredentialSource::ProfileFile(path));
        assert_eq!(found.credentials, Credentials::new("fileak", "filesk"));
        assert_eq!(found.project_id.as_deref(), Some("fileproject"));
    }

    #[test]
    fn profile_file_in_home_with_security_token() {
        let path = temp_file("home", "[basic]\nak=a\nsk=s\nsecurity_token=t\n");
        let home = path.parent().unwrap().join("home");
        std::fs::create_dir_all(home.join(".huaweicloud")).unwrap();
        std::fs::copy(&path, home.join(".huaweicloud/credentials")).unwrap();
        let env = Env::from_vars([("HOME", home.to_str().unwrap())]);
        let found = default_chain(&env).unwrap();
        assert_eq!(found.credentials, Credentials::temporary("a", "s", "t"));
        assert_eq!(found.project_id, None);
    }

    #[test]
    fn environment_wins_over_the_profile_file() {
        let path = temp_file("order", "[basic]\nak=fileak\nsk=filesk\n");
        let env = Env::from_vars([
            ("HUAWEICLOUD_SDK_CREDENTIALS_FILE", path.to_str().unwrap()),
            ("HUAWEICLOUD_SDK_AK", "envak"),
            ("HUAWEICLOUD_SDK_SK", "envsk"),
        ]);
        assert_eq!(
            default_chain(&env).unwrap().credentials.access_key(),
            Some("envak")
        );
    }

    #[test]
    fn profile_file_without_sk_names_the_key() {
        let path = temp_file("nosk", "[basic]\nak=a\n");
        let env = Env::from_vars([("HUAWEICLOUD_SDK_CREDENTIALS_FILE", path.to_str().unwrap())]);
        let e = default_chain(&env).unwrap_err();
        assert!(e.to_string().contains("`sk`"), "{e}");
    }

    #[test]
    fn nothing_found_says_where_it_looked_and_what_to_set() {
        let env = Env::from_vars([("HOME", "/nonexistent-home")]);
        let e = default_chain(&env).unwrap_err().to_string();
        for needle in [
            "HUAWEICLOUD_SDK_AK",
            "HUAWEICLOUD_SDK_SK",
            "/nonexistent-home/.huaweicloud/credentials",
        ] {
            assert!(e.contains(needle), "{needle} missing from: {e}");
        }
    }
}
