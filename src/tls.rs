//! TLS for this client only: rustls with the `ring` provider, set on the client's own
//! configuration, never installed as the process's default.
//!
//! Certificates are checked by the platform's verifier (the system's roots), plus any root a
//! caller adds with [`ClientBuilder::add_root_certificate`](crate::ClientBuilder::add_root_certificate)
//! (a private CA, a corporate proxy's). A certificate the client does not trust fails the call at
//! once with [`ErrorKind::Certificate`](crate::ErrorKind::Certificate): it is not retried, since
//! trying again meets the same certificate.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::Error;

/// One or more root certificates (a CA) for the client to trust besides the platform's.
///
/// ```no_run
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use cce_upgrade::{Certificate, Client};
///
/// let pem = std::fs::read("corporate-ca.pem")?;
/// let client = Client::builder()
///     .region("cn-north-4")
///     .add_root_certificate(Certificate::from_pem(&pem)?)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    ders: Vec<CertificateDer<'static>>,
}

impl Certificate {
    /// Every `CERTIFICATE` block of a PEM text (one CA, or a bundle of them). Fails, saying why,
    /// when the text has none or a block is not valid base64.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Certificate, Error> {
        let ders = CertificateDer::pem_slice_iter(pem.as_ref())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                Error::configuration(format!("root certificate: not a valid PEM text ({e})"))
            })?;
        if ders.is_empty() {
            return Err(Error::configuration(
                "root certificate: the PEM text has no `-----BEGIN CERTIFICATE-----` block",
            ));
        }
        Ok(Certificate { ders })
    }

    /// One certificate in DER form.
    pub fn from_der(der: impl Into<Vec<u8>>) -> Certificate {
        Certificate {
            ders: vec![CertificateDer::from(der.into())],
        }
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Certificate({} certificate(s))", self.ders.len())
    }
}

/// The rustls configuration of one client: the `ring` provider, TLS 1.2 and 1.3, the platform
/// verifier with `extra_roots`, HTTP/1.1 offered. (HTTP/2 is left out: the API answers over
/// HTTP/1.1 as well, the requests in flight are capped per client anyway, and it would add `h2`
/// and five more crates to every user's build.)
pub(crate) fn client_config(extra_roots: &[Certificate]) -> Result<rustls::ClientConfig, Error> {
    let cannot = |e: rustls::Error| {
        Error::configuration(format!("cannot set up TLS for the HTTP client: {e}"))
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots: Vec<CertificateDer<'static>> = extra_roots
        .iter()
        .flat_map(|c| c.ders.iter().cloned())
        .collect();
    let verifier = if roots.is_empty() {
        rustls_platform_verifier::Verifier::new(provider.clone())
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
    }
    .map_err(cannot)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(cannot)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Why the server's certificate was refused, when that is what failed the request.
pub(crate) fn certificate_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    // Bounded: a chain of causes is short, and each step goes one level down.
    let mut pending = vec![e];
    let mut looked = 0;
    while let Some(e) = pending.pop() {
        looked += 1;
        if looked > 64 {
            break;
        }
        match e.downcast_ref::<rustls::Error>() {
            Some(rustls::Error::InvalidCertificate(why)) => return Some(describe(why)),
            Some(rustls::Error::NoCertificatesPresented) => {
                return Some("the server presented no certificate".to_owned());
            }
            _ => {}
        }
        pending.extend(e.source());
        // An `io::Error`'s `source` skips the error it wraps (which may be another `io::Error`
        // wrapping rustls' error), so look inside it too.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            pending.push(inner);
        }
    }
    None
}

fn describe(why: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match why {
        C::UnknownIssuer => "it is not signed by a trusted authority (unknown issuer)".to_owned(),
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_owned(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_owned(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is not valid for the endpoint's host name".to_owned()
        }
        C::Revoked => "it has been revoked".to_owned(),
        other => format!("{other:?}"),
    }
}
