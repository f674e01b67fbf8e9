//! Node login passwords, salted and encoded as the API wants them.
//!
//! The node-pool API does not take a password in clear: `userPassword.password` must be
//! "salted and encrypted" (the API page: "创建节点时password字段需要加盐加密"). What the console
//! and the Terraform provider send is the standard base64 of a SHA-512 crypt string,
//! `$6$<16-character salt>$<86-character hash>`, the format of `/etc/shadow`. A node given a
//! password in clear cannot be logged into with it.
//!
//! [`NodePassword`] holds such a value and never shows it:
//! - [`NodePassword::salted`] takes the password you will type at the node's login prompt,
//!   draws a random salt, hashes and encodes it. Use it unless you already have the value.
//! - [`NodePassword::presalted`] takes a value that is already salted and encoded, as is: one
//!   made by your own tooling (`openssl passwd -6 'password' | tr -d '\n' | base64 -w0`), one
//!   kept from an earlier request, or one read back from the service.
//!
//! The service only ever sees the hash, so it cannot check the password rule the API documents;
//! [`NodePassword::salted`] checks it on the plain password, before salting:
//! - 8 to 26 characters;
//! - at least three of: upper-case letters, lower-case letters, digits, and the special
//!   characters `!@$%^-_=+[{}]:,./?~#*` (no other character is allowed);
//! - not containing the user name, nor the user name reversed (`root`, the API's default user,
//!   for [`NodePassword::salted`]; the one given to [`NodePassword::salted_for_user`]).
//!
//! ```
//! use cce_upgrade::NodePassword;
//!
//! let password = NodePassword::salted("Node-Passw0rd!")?;
//! assert_eq!(format!("{password:?}"), "NodePassword(** redacted **)");
//! # Ok::<(), cce_upgrade::Error>(())
//! ```

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha_crypt::{Sha512Params, sha512_crypt_b64};

use crate::error::Error;
use crate::secret::SecretString;

/// The characters of a crypt salt: `./0-9A-Za-z`, 64 of them.
const SALT_ALPHABET: &[u8; 64] =
    b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Salt length of the console's and Terraform's values (and SHA-512 crypt's maximum).
const SALT_LEN: usize = 16;

/// A node login password in the form the API takes: the base64 of a SHA-512 crypt string.
///
/// `Debug` and `Display` print `** redacted **`; serialized, it is the string it holds;
/// deserialized, any string is taken as is (as [`NodePassword::presalted`]). See [the module
/// docs](crate::password) for which constructor to use.
#[derive(Clone, PartialEq, Eq)]
pub struct NodePassword(SecretString);

impl NodePassword {
    /// Salts and hashes `plain` (SHA-512 crypt, a random 16-character salt, 5,000 rounds) and
    /// encodes the crypt string in standard base64: what the API takes.
    ///
    /// The user is the API's default, `root`: the password may not contain `root` or `toor`.
    /// Use [`NodePassword::salted_for_user`] for another user.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when `plain` is empty, is
    /// itself already a salted value (use [`NodePassword::presalted`] for those: salting twice
    /// would set a password nobody knows), or breaks the documented password rule (see [the
    /// module docs](crate::password)), naming the rule; [`ErrorKind::Configuration`](crate::ErrorKind::Configuration)
    /// when the system's random source fails.
    pub fn salted(plain: &str) -> Result<NodePassword, Error> {
        NodePassword::salted_for_user(plain, DEFAULT_USER)
    }

    /// As [`NodePassword::salted`], for the login user `username` (`userPassword.username`):
    /// the password may not contain it, nor it reversed.
    pub fn salted_for_user(plain: &str, username: &str) -> Result<NodePassword, Error> {
        if plain.is_empty() {
            return Err(Error::invalid_input(
                "userPassword.password",
                "the password is empty",
            ));
        }
        if is_salted(plain) {
            return Err(Error::invalid_input(
                "userPassword.password",
                "the password is already salted and encoded: pass it to NodePassword::presalted",
            ));
        }
        check_rule(plain, username)
            .map_err(|why| Error::invalid_input("userPassword.password", why))?;
        let mut random = [0_u8; SALT_LEN];
        getrandom::getrandom(&mut random).map_err(|e| {
            Error::configuration(format!(
                "cannot salt the node password: the system random source failed: {e}"
            ))
        })?;
        // 64 divides 256, so each character is uniform over the alphabet.
        let salt: String = random
            .iter()
            .map(|b| char::from(SALT_ALPHABET[usize::from(*b) % SALT_ALPHABET.len()]))
            .collect();
        salted_with(plain, &salt)
    }

    /// Takes a value that is already salted and encoded (the base64 of a `$6$...` crypt
    /// string), as is.
    pub fn presalted(value: impl Into<String>) -> NodePassword {
        NodePassword(SecretString::new(value.into()))
    }

    /// The value sent to the API. Call it only where the value is sent or compared.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

/// The login user when `userPassword.username` is not given.
const DEFAULT_USER: &str = "root";
/// The special characters the password rule counts (and the only ones it allows).
const SPECIALS: &str = "!@$%^-_=+[{}]:,./?~#*";

/// Checks the documented password rule (the `NodePassword` schema of the spec); says which part
/// is broken, never echoing the password.
fn check_rule(plain: &str, username: &str) -> Result<(), String> {
    let length = plain.chars().count();
    if !(8..=26).contains(&length) {
        return Err(format!(
            "the password has {length} characters; the rule is 8 to 26 characters"
        ));
    }
    if let Some(position) = plain
        .chars()
        .position(|c| !c.is_ascii_alphanumeric() && !SPECIALS.contains(c))
    {
        return Err(format!(
            "character {} of the password is not allowed; the rule allows letters, digits and \
             the special characters {SPECIALS}",
            position + 1
        ));
    }
    let classes = [
        plain.chars().any(|c| c.is_ascii_uppercase()),
        plain.chars().any(|c| c.is_ascii_lowercase()),
        plain.chars().any(|c| c.is_ascii_digit()),
        plain.chars().any(|c| SPECIALS.contains(c)),
    ];
    let count = classes.iter().filter(|has| **has).count();
    if count < 3 {
        return Err(format!(
            "the password has {count} of the 4 kinds of characters; the rule is at least 3 of: \
             upper-case letters, lower-case letters, digits, special characters ({SPECIALS})"
        ));
    }
    if !username.is_empty() {
        let reversed: String = username.chars().rev().collect();
        if plain.contains(username) || plain.contains(&reversed) {
            return Err(format!(
                "the password contains the user name `{username}` or it reversed; the rule forbids \
                 both"
            ));
        }
    }
    Ok(())
}

/// `plain` hashed with `salt` (at most 16 crypt characters) into the encoded crypt string.
fn salted_with(plain: &str, salt: &str) -> Result<NodePassword, Error> {
    // The default 5,000 rounds: the crypt string then has no `rounds=` field.
    let params = Sha512Params::default();
    let hash = sha512_crypt_b64(plain.as_bytes(), salt.as_bytes(), &params)
        .map_err(|e| Error::configuration(format!("cannot salt the node password: {e:?}")))?;
    Ok(NodePassword(SecretString::new(
        BASE64.encode(format!("$6${salt}${hash}")),
    )))
}

/// Whether `value` is the base64 of a SHA-512 crypt string.
fn is_salted(value: &str) -> bool {
    BASE64
        .decode(value)
        .is_ok_and(|decoded| decoded.starts_with(b"$6$"))
}

impl fmt::Debug for NodePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodePassword(** redacted **)")
    }
}

impl fmt::Display for NodePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("** redacted **")
    }
}

impl serde::Serialize for NodePassword {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose_secret())
    }
}

impl<'de> serde::Deserialize<'de> for NodePassword {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(NodePassword::presalted)
    }
}

/// A string: the base64 of a SHA-512 crypt string (any string is taken as is).
#[cfg(feature = "schemars")]
#[cfg_attr(docsrs, doc(cfg(feature = "schemars")))]
impl schemars::JsonSchema for NodePassword {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NodePassword".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        "cce_upgrade::NodePassword".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A node login password, salted and encoded: the standard base64 of a SHA-512 crypt string `$6$<salt>$<hash>`.",
            "type": "string",
            "contentEncoding": "base64",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// The decoded crypt string of a password.
    fn crypt_string(password: &NodePassword) -> String {
        String::from_utf8(BASE64.decode(password.expose_secret()).unwrap()).unwrap()
    }

    #[test]
    fn a_salted_password_verifies_with_a_standard_sha512_crypt_verifier() {
        let password = NodePassword::salted("Node-Passw0rd!").unwrap();
        let crypt = crypt_string(&password);
        sha_crypt::sha512_check("Node-Passw0rd!", &crypt).unwrap();
        assert!(sha_crypt::sha512_check("Node-Passw0rd?", &crypt).is_err());

        // `$6$` + 16-character salt + `$` + 86-character hash, nothing else.
        let fields: Vec<&str> = crypt.split('$').collect();
        assert_eq!(fields.len(), 4, "{crypt}");
        assert_eq!((fields[0], fields[1]), ("", "6"), "{crypt}");
        assert_eq!(fields[2].len(), SALT_LEN, "{crypt}");
        assert!(
            fields[2].bytes().all(|b| SALT_ALPHABET.contains(&b)),
            "{crypt}"
        );
        assert_eq!(fields[3].len(), 86, "{crypt}");
        // Standard base64 with padding, on one line.
        assert!(!password.expose_secret().contains(['\n', '-', '_']));
    }

    #[test]
    fn each_salting_draws_a_new_salt() {
        let a = NodePassword::salted("Same-Passw0rd").unwrap();
        let b = NodePassword::salted("Same-Passw0rd").unwrap();
        assert_ne!(a, b);
        assert_ne!(crypt_string(&a)[3..19], crypt_string(&b)[3..19]);
    }

    #[test]
    fn the_hash_matches_the_sha512_crypt_specification_vector() {
        // Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512", test vector 1 (SHA-512).
        let password = salted_with("Hello world!", "saltstring").unwrap();
        assert_eq!(
            crypt_string(&password),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
    }

    #[test]
    fn empty_and_already_salted_passwords_are_refused() {
        let e = NodePassword::salted("").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let once = NodePassword::salted("Node-Passw0rd!").unwrap();
        let e = NodePassword::salted(once.expose_secret()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("presalted"), "{e}");
        assert!(!e.to_string().contains(once.expose_secret()), "{e}");
    }

    #[test]
    fn the_documented_rule_is_checked_on_the_plain_password_naming_the_broken_part() {
        let refused = |plain: &str, user: &str, part: &str| {
            let e = NodePassword::salted_for_user(plain, user).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{plain:?}");
            assert_eq!(e.field(), Some("userPassword.password"));
            let shown = e.to_string();
            assert!(shown.contains(part), "{plain:?}: {shown}");
            assert!(
                plain.len() < 8 || !shown.contains(plain),
                "never echoed: {shown}"
            );
        };
        refused("a", "root", "1 characters; the rule is 8 to 26");
        refused("Aa1!Aa1", "root", "7 characters");
        refused(&"Aa1!".repeat(7), "root", "28 characters");
        refused("abcdefgh", "root", "1 of the 4 kinds");
        refused("abcdefgh12", "root", "2 of the 4 kinds");
        refused("ABCDEFG-!", "root", "2 of the 4 kinds");
        refused(
            "Abc 12345",
            "root",
            "character 4 of the password is not allowed",
        );
        refused("Abcé12345", "root", "character 4");
        refused("Myroot-Pw1", "root", "contains the user name `root`");
        refused("Mytoor-Pw1", "root", "or it reversed");
        refused("Xadmin-Pw1", "admin", "`admin`");
        refused("Xnimda-Pw1", "admin", "reversed");
        assert!(
            NodePassword::salted("Xadmin-Pw1").is_ok(),
            "admin is not root"
        );
        assert!(NodePassword::salted_for_user("Myroot-Pw1", "admin").is_ok());
        // 8 and 26 characters; three kinds of four in each way.
        for ok in [
            "Abcdef1!",
            "Abcdefgh12345678901234567!",
            "abcdefg1!",
            "ABCDEFG1!",
            "Abcdefgh1",
            "Abcdefgh!",
            "!@$%^-_=+[{}]:,./?~#*aA",
        ] {
            NodePassword::salted(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
    }

    #[test]
    fn a_presalted_value_is_taken_as_is() {
        let value = "JDYkc2FsdHN0cmluZyRoYXNo";
        assert_eq!(NodePassword::presalted(value).expose_secret(), value);
    }

    #[test]
    fn debug_and_display_are_redacted() {
        let password = NodePassword::salted("Node-Passw0rd!").unwrap();
        assert_eq!(format!("{password:?}"), "NodePassword(** redacted **)");
        assert_eq!(password.to_string(), "** redacted **");
        assert_eq!(
            format!("{:?}", NodePassword::presalted("anything")),
            "NodePassword(** redacted **)"
        );
    }

    #[test]
    fn it_serializes_as_its_value_and_deserializes_from_any_string() {
        let password = NodePassword::presalted("c2FsdGVk");
        assert_eq!(serde_json::to_string(&password).unwrap(), r#""c2FsdGVk""#);
        let back: NodePassword = serde_json::from_str(r#""not even base64 $""#).unwrap();
        assert_eq!(back.expose_secret(), "not even base64 $");
        assert!(serde_json::from_str::<NodePassword>("42").is_err());
    }
}
