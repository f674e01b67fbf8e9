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
//!
//! # The profile file
//!
//! The file is read as the official Python SDK reads it (with Python's `configparser`), by the
//! [`configparser`](https://docs.rs/configparser) crate set up to match:
//! - `key = value` or `key: value`; the first `=` or `:` on the line splits it, so
//!   `sk: abc=def` is the secret key `abc=def`;
//! - keys are case-insensitive (`AK` is `ak`); the `[DEFAULT]` section's keys apply to
//!   `[basic]` too, unless `[basic]` sets them;
//! - surrounding whitespace of keys and values is ignored; a line indented deeper than its key
//!   continues that key's value (so a value then holds a line break, and is refused);
//! - whole lines starting with `#` or `;` are comments; a `;` or `#` after a value is part of
//!   the value (Python has no inline comments by default);
//! - the file is UTF-8, with or without a byte order mark.
//!
//! A section given twice (two `[basic]`), or a key given twice in one section, is refused
//! as Python refuses it, naming the file and the line: merging them could make a key pair of an
//! `ak` from one section and an `sk` from another.
//!
//! Two differences, both deliberate and on the lenient side:
//! - section names are case-insensitive (`[Basic]` is read; Python would not find it), so
//!   `[basic]` and `[Basic]` count as the same section, given twice;
//! - `%` in a value is taken literally (Python would try to interpolate it; the Go and Java SDKs
//!   take it literally too), so a secret key holding `%` works.
//!
//! On Unix, reading a file that group or others may read logs a warning: it holds a secret key.
//!
//! Wherever they come from, credentials are checked before anything is sent: an empty access
//! key, secret key or token, or one holding a line break or another character a header cannot
//! carry, is an [`ErrorKind::Configuration`](crate::ErrorKind::Configuration) error.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use configparser::ini::{Ini, IniDefault};

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

    /// Refuses credentials that cannot be sent: an empty access key, secret key or token, or
    /// one with a character a header cannot carry (a line break above all). `source` names
    /// where they came from, for the message; the message never holds a secret.
    pub(crate) fn validate(&self, source: &str) -> Result<(), Error> {
        match &self.kind {
            Kind::AkSk {
                access_key,
                secret_key,
                security_token,
            } => {
                check_value("access key (AK)", access_key, source)?;
                check_value("secret key (SK)", secret_key.expose_secret(), source)?;
                if let Some(token) = security_token {
                    check_value("security token", token.expose_secret(), source)?;
                }
            }
            Kind::Token(token) => check_value("IAM token", token.expose_secret(), source)?,
        }
        Ok(())
    }
}

/// An error unless `value` is non-empty and fits in a header value (visible ASCII, spaces
/// and tabs inside, no line breaks). Names the value, never shows it.
fn check_value(what: &str, value: &str, source: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::configuration(format!(
            "the {what} from {source} is empty"
        )));
    }
    if value.contains(['\r', '\n']) {
        return Err(Error::configuration(format!(
            "the {what} from {source} contains a line break: remove it"
        )));
    }
    if http::HeaderValue::from_str(value).is_err() || value.trim() != value {
        return Err(Error::configuration(format!(
            "the {what} from {source} has a character a request header cannot carry (a control \
             character, non-ASCII, or surrounding whitespace): check the value"
        )));
    }
    Ok(())
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
#[non_exhaustive]
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
    let project_id = env.get("HUAWEICLOUD_SDK_PROJECT_ID");
    if let Some(id) = &project_id {
        crate::checks::check_project_id(id, "HUAWEICLOUD_SDK_PROJECT_ID")?;
    }
    Ok(Some(ResolvedCredentials {
        credentials,
        project_id,
        source: CredentialSource::Environment,
    }))
}

/// The largest profile file read; a credentials file is a few hundred bytes.
const MAX_PROFILE_FILE_BYTES: u64 = 1 << 20;

/// Reads credentials from the profile file (see [the module docs](self#the-profile-file)).
/// `Ok(None)` when the file does not exist.
pub fn from_profile_file(env: &Env) -> Result<Option<ResolvedCredentials>, Error> {
    let Some(path) = env.profile_path() else {
        return Ok(None);
    };
    let Some(text) = read_profile_file(&path)? else {
        return Ok(None);
    };
    let where_ = path.display();
    refuse_duplicates(&text)
        .map_err(|e| Error::configuration(format!("the credentials file {where_}, line {e}")))?;
    let basic = ini_section(&text, "basic").map_err(|e| {
        Error::configuration(format!(
            "the credentials file {where_} is not valid INI: {e}"
        ))
    })?;
    let field = |k: &str| basic.get(k).filter(|v| !v.is_empty()).cloned();
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
    let project_id = field("project_id");
    if let Some(id) = &project_id {
        crate::checks::check_project_id(
            id,
            &format!("the credentials file {where_} (`project_id` in [basic])"),
        )?;
    }
    Ok(Some(ResolvedCredentials {
        credentials,
        project_id,
        source,
    }))
}

/// The file's text without a byte order mark; `Ok(None)` when it does not exist. Warns when
/// group or others may read it.
fn read_profile_file(path: &Path) -> Result<Option<String>, Error> {
    let cannot = |e: std::io::Error| {
        Error::configuration(format!(
            "cannot read the credentials file {}: {e}",
            path.display()
        ))
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    warn_if_shared(path, &file.metadata().map_err(cannot)?);
    let mut bytes = Vec::new();
    file.take(MAX_PROFILE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_PROFILE_FILE_BYTES {
        return Err(Error::configuration(format!(
            "the credentials file {} is larger than {MAX_PROFILE_FILE_BYTES} bytes: is it the \
             right file?",
            path.display()
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::configuration(format!(
            "the credentials file {} is not UTF-8 text",
            path.display()
        ))
    })?;
    Ok(Some(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    }))
}

/// Logs a warning when group or others may read the file (Unix only).
fn warn_if_shared(path: &Path, metadata: &std::fs::Metadata) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o044 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = %format_args!("{mode:03o}"),
                "the credentials file can be read by other users: restrict it with `chmod 600`"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, metadata);
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

/// Refuses a section given twice or a key given twice in one section, as Python's
/// `configparser` does (its default `strict = True`), so that `ak` from one `[basic]` and `sk`
/// from another never make a mixed key pair. Section names and keys compare case-insensitively
/// (as they are read). The error is `{line}: {what}`.
fn refuse_duplicates(text: &str) -> Result<(), String> {
    use std::collections::hash_map::Entry;
    // Each section's line, and the keys seen in the current one with their lines.
    let mut sections: HashMap<String, usize> = HashMap::new();
    let mut keys: HashMap<String, usize> = HashMap::new();
    // The indentation of the last key line: a deeper-indented line continues its value.
    let mut key_indent: Option<usize> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if key_indent.is_some_and(|key| indent > key) {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            let name = name.trim().to_lowercase();
            match sections.entry(name) {
                Entry::Occupied(first) => {
                    return Err(format!(
                        "{line}: the section [{}] is given twice (first on line {}): merge them \
                         into one",
                        first.key(),
                        first.get()
                    ));
                }
                Entry::Vacant(slot) => {
                    slot.insert(line);
                }
            }
            keys.clear();
            key_indent = None;
            continue;
        }
        let Some(split) = trimmed.find(['=', ':']) else {
            continue;
        };
        let key = trimmed[..split].trim().to_lowercase();
        key_indent = Some(indent);
        match keys.entry(key) {
            Entry::Occupied(first) => {
                return Err(format!(
                    "{line}: the key `{}` is given twice in its section (first on line {}): keep \
                     one",
                    first.key(),
                    first.get()
                ));
            }
            Entry::Vacant(slot) => {
                slot.insert(line);
            }
        }
    }
    Ok(())
}

/// The `key = value` pairs of one INI section with Python `configparser` rules (see [the
/// module docs](self#the-profile-file)): keys lower-cased, the `[DEFAULT]` section's pairs
/// under the section's own. An absent section reads as empty.
fn ini_section(text: &str, wanted: &str) -> Result<HashMap<String, String>, String> {
    let mut rules = IniDefault::default();
    // Python's configparser has no inline comments by default: `sk = a;b` is `a;b`.
    rules.enable_inline_comments = false;
    // A deeper-indented line continues the value above it, as in Python.
    rules.multiline = true;
    rules.comment_symbols = vec!['#', ';'];
    rules.delimiters = vec!['=', ':'];
    // Keys case-insensitive as Python's `optionxform`; section names too (leniently).
    rules.case_sensitive = false;
    rules.default_section = "default".to_owned();
    let mut ini = Ini::new_from_defaults(rules);
    let mut sections = ini.read(text.to_owned())?;
    let Some(section) = sections.remove(wanted) else {
        return Ok(HashMap::new());
    };
    let defaults = sections.remove("default").unwrap_or_default();
    Ok(defaults
        .into_iter()
        .chain(section)
        .map(|(key, value)| (key, value.unwrap_or_default()))
        .collect())
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

    /// Reads `contents` as the profile file named by the environment.
    fn from_file(name: &str, contents: &str) -> Result<Option<ResolvedCredentials>, Error> {
        let path = temp_file(name, contents);
        from_profile_file(&Env::from_vars([(
            "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
            path.to_str().unwrap(),
        )]))
    }

    fn credentials_in(name: &str, contents: &str) -> Credentials {
        from_file(name, contents).unwrap().unwrap().credentials
    }

    fn secret_key(credentials: &Credentials) -> String {
        credentials.signing_parts().unwrap().1.to_owned()
    }

    #[test]
    fn a_colon_is_a_delimiter_and_the_first_delimiter_splits() {
        let c = credentials_in("colon", "[basic]\nak: a=b\nsk: abc=def\n");
        assert_eq!(c.access_key(), Some("a=b"));
        assert_eq!(secret_key(&c), "abc=def");
        let c = credentials_in("equals", "[basic]\nak = a:b\nsk=x:y=z\n");
        assert_eq!(c.access_key(), Some("a:b"));
        assert_eq!(secret_key(&c), "x:y=z");
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let c = credentials_in("bom", "\u{feff}[basic]\nak = a\nsk = s\n");
        assert_eq!(c, Credentials::new("a", "s"));
    }

    #[test]
    fn whole_line_comments_are_skipped_and_inline_ones_are_part_of_the_value() {
        let c = credentials_in(
            "comments",
            "# a comment\n; another\n[basic]\n  # indented comment\nak = a\n; sk = wrong\nsk = s;t #u\n",
        );
        assert_eq!(c.access_key(), Some("a"));
        assert_eq!(secret_key(&c), "s;t #u");
    }

    #[test]
    fn whitespace_around_keys_and_values_and_crlf_line_ends_are_ignored() {
        let c = credentials_in(
            "spaces",
            "[basic]\r\n\t ak \t=   a  \r\nsk\t:\ts\t\r\nproject_id = p \r\n",
        );
        assert_eq!(c, Credentials::new("a", "s"));
        let found = from_file("spaces2", "[basic]\nak=a\nsk=s\nproject_id =  p  \n");
        assert_eq!(found.unwrap().unwrap().project_id.as_deref(), Some("p"));
    }

    #[test]
    fn keys_are_case_insensitive_and_default_applies_to_basic() {
        let c = credentials_in("case", "[DEFAULT]\nsk = fromdefault\n[basic]\nAK = a\n");
        assert_eq!(c, Credentials::new("a", "fromdefault"));
        let c = credentials_in("override", "[DEFAULT]\nsk = d\n[basic]\nak = a\nSk = own\n");
        assert_eq!(secret_key(&c), "own");
    }

    #[test]
    fn a_section_or_a_key_given_twice_is_refused_naming_the_file_and_line() {
        let e = from_file(
            "dup-section",
            "[basic]\nak = a\n\n[other]\nx = 1\n[basic]\nsk = s\n",
        )
        .unwrap_err();
        let shown = e.to_string();
        assert_eq!(e.kind(), ErrorKind::Configuration);
        assert!(
            shown.contains("dup-section/credentials, line 6: the section [basic] is given twice (first on line 1)"),
            "{shown}"
        );
        let e = from_file("dup-case", "[basic]\nak = a\nsk = s\n[Basic]\n").unwrap_err();
        assert!(e.to_string().contains("line 4: the section [basic]"), "{e}");
        let e = from_file("dup-key", "[basic]\nak = a\nsk = s\nAK: b\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("dup-key/credentials, line 4: the key `ak` is given twice in its section (first on line 2)"),
            "{e}"
        );
        // The same key in two sections, a continuation line that looks like a key, and
        // comments that do: all fine.
        let c = credentials_in(
            "dup-fine",
            "[DEFAULT]\nak = d\n[basic]\nak = a\nsk = s\n# sk = old\nnote = p\n  sk = more\n",
        );
        assert_eq!(c.access_key(), Some("a"));
    }

    #[test]
    fn other_sections_do_not_leak_into_basic() {
        let e = from_file("sections", "[global]\nak = g\nsk = g\n[basic]\nak = a\n").unwrap_err();
        assert!(e.to_string().contains("`sk`"), "{e}");
    }

    #[test]
    fn an_indented_line_continues_the_value_and_is_refused() {
        // Python reads `sk` as "s\ncontinued": a value with a line break cannot be sent.
        let e = from_file("multiline", "[basic]\nak = a\nsk = s\n  continued\n").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration);
        assert!(e.to_string().contains("line break"), "{e}");
        assert!(!e.to_string().contains("continued"), "{e}");
    }

    #[test]
    fn empty_and_line_broken_tokens_are_refused_before_sending() {
        let e = from_file(
            "emptytoken",
            "[basic]\nak = a\nsk = s\nsecurity_token =   \n",
        );
        // An empty value reads as absent: permanent credentials.
        assert_eq!(e.unwrap().unwrap().credentials, Credentials::new("a", "s"));

        for (what, credentials) in [
            ("IAM token", Credentials::token("")),
            ("IAM token", Credentials::token("  ")),
            ("IAM token", Credentials::token("abc\r\nX-Injected: 1")),
            ("IAM token", Credentials::token("abc\n")),
            ("security token", Credentials::temporary("a", "s", "t\r")),
            ("security token", Credentials::temporary("a", "s", "")),
            ("access key (AK)", Credentials::new("a\nb", "s")),
            ("access key (AK)", Credentials::new("", "s")),
            ("secret key (SK)", Credentials::new("a", "s\n")),
            ("secret key (SK)", Credentials::new("a", "")),
        ] {
            let e = credentials.validate("code").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Configuration);
            let message = e.to_string();
            assert!(message.contains(what), "{message}");
            assert!(!message.contains("X-Injected"), "{message}");
        }
        for fine in [
            Credentials::token("MIIabc+/="),
            Credentials::temporary("a", "s", "t"),
            Credentials::new("a", "s p a c e s"),
        ] {
            fine.validate("code").unwrap();
        }
    }

    #[test]
    fn a_line_broken_token_from_the_environment_is_refused() {
        let env = Env::from_vars([
            ("HUAWEICLOUD_SDK_AK", "ak1"),
            ("HUAWEICLOUD_SDK_SK", "sk1"),
            ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "tok\nen"),
        ]);
        let e = default_chain(&env).unwrap_err();
        assert!(e.to_string().contains("security token"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_utf8_or_too_large_is_an_error() {
        let path = temp_file("latin1", "");
        std::fs::write(&path, b"[basic]\nak = \xe9\nsk = s\n").unwrap();
        let env = Env::from_vars([("HUAWEICLOUD_SDK_CREDENTIALS_FILE", path.to_str().unwrap())]);
        let e = from_profile_file(&env).unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");

        let big = format!("[basic]\nak = a\nsk = s\n#{}\n", "x".repeat(2 << 20));
        let e = from_file("big", &big).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
    }

    /// Runs `f` with a subscriber that records WARN and above, returns what it logged.
    fn warnings_of(f: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let logged = sink.0.lock().unwrap().clone();
        String::from_utf8(logged).unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_warned_about_without_its_secrets() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_file("perms", "[basic]\nak = a\nsk = topsecretsk\n");
        let env = Env::from_vars([("HUAWEICLOUD_SDK_CREDENTIALS_FILE", path.to_str().unwrap())]);
        let read = |mode: u32| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            warnings_of(|| {
                from_profile_file(&env).unwrap().unwrap();
            })
        };
        for shared in [0o644, 0o640, 0o604] {
            let logged = read(shared);
            assert!(logged.contains("chmod 600"), "{shared:o}: {logged}");
            assert!(logged.contains(&format!("{shared:03o}")), "{logged}");
            assert!(!logged.contains("topsecretsk"), "{logged}");
        }
        for private in [0o600, 0o400] {
            assert_eq!(read(private), "", "{private:o}");
        }
    }
}
