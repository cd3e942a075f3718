//! TLS with rustls: trust roots, the server-certificate check callback, client
//! certificates, and the server-side configuration for `sockweave serve`.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, ErrorKind};

/// Which certificate authorities a client trusts.
#[derive(Clone, Debug, Default)]
pub enum RootCertificates {
    /// The operating system's store, and Mozilla's bundled roots if it is empty (the default).
    #[default]
    Platform,
    /// Mozilla's roots, compiled in (`webpki-roots`): the same on every machine.
    Bundled,
    /// Exactly these certificates (DER), e.g. a private CA.
    Custom(Vec<CertificateDer<'static>>),
}

impl RootCertificates {
    /// Trust exactly the certificates in a PEM file's contents.
    pub fn from_pem(pem: &[u8]) -> Result<Self, Error> {
        let certs = parse_certs(pem)?;
        Ok(RootCertificates::Custom(certs))
    }

    fn store(&self) -> Result<RootCertStore, Error> {
        let mut store = RootCertStore::empty();
        match self {
            RootCertificates::Platform => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                }
            }
            RootCertificates::Bundled => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            RootCertificates::Custom(certs) => {
                for c in certs {
                    store.add(c.clone()).map_err(|e| {
                        Error::new(
                            ErrorKind::InvalidArgument,
                            format!("a root certificate is not usable: {e}"),
                        )
                    })?;
                }
            }
        }
        Ok(store)
    }
}

/// What a [`CertificateCheck`] is shown (the inputs of .NET's
/// `RemoteCertificateValidationCallback`).
pub struct CertificateContext<'a> {
    /// The host name the client connected to.
    pub server_name: &'a str,
    /// The server's certificate (DER).
    pub end_entity: &'a [u8],
    /// The rest of the chain the server sent (DER).
    pub intermediates: Vec<&'a [u8]>,
    /// The verdict of normal verification against the trusted roots:
    /// `Ok` or why it failed (unknown issuer, wrong name, expired, ...).
    pub verification: Result<(), String>,
}

/// A custom server-certificate check: return `true` to accept the connection.
/// It sees the normal verdict and may overrule it either way. The handshake's
/// signatures are always checked, whatever the callback says.
#[derive(Clone)]
pub struct CertificateCheck(pub Arc<dyn Fn(&CertificateContext<'_>) -> bool + Send + Sync>);

impl CertificateCheck {
    /// A check from a closure that gets the certificate, the host and the
    /// verdict of normal verification, and returns whether to accept.
    pub fn new(f: impl Fn(&CertificateContext<'_>) -> bool + Send + Sync + 'static) -> Self {
        CertificateCheck(Arc::new(f))
    }

    /// Accepts any certificate. Only for tests against self-signed servers:
    /// it removes the protection TLS gives against impostors.
    pub fn danger_accept_any() -> Self {
        CertificateCheck::new(|_| true)
    }
}

impl fmt::Debug for CertificateCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CertificateCheck(..)")
    }
}

/// A client certificate and its private key, for servers that ask for one.
#[derive(Debug)]
pub struct ClientCertificate {
    /// The certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf certificate's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for ClientCertificate {
    fn clone(&self) -> Self {
        ClientCertificate {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl ClientCertificate {
    /// From PEM contents: the certificate chain, and the private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<Self, Error> {
        Ok(ClientCertificate {
            chain: parse_certs(chain)?,
            key: parse_key(key)?,
        })
    }
}

pub(crate) fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        Ok(_) => Err(Error::new(ErrorKind::InvalidArgument, "no PEM certificate found")),
        Err(e) => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid PEM certificate: {e}"),
        )),
    }
}

pub(crate) fn parse_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("no usable PEM private key: {e}"),
        )
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Runs the normal verification, then lets the callback decide.
#[derive(Debug)]
struct CheckedVerifier {
    inner: Arc<WebPkiServerVerifier>,
    check: CertificateCheck,
}

impl ServerCertVerifier for CheckedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        let name = server_name.to_str();
        let ctx = CertificateContext {
            server_name: &name,
            end_entity: end_entity.as_ref(),
            intermediates: intermediates.iter().map(|c| c.as_ref()).collect(),
            verification: verdict.as_ref().map(|_| ()).map_err(|e| e.to_string()),
        };
        if (self.check.0)(&ctx) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(verdict.err().unwrap_or_else(|| {
                rustls::Error::General(
                    "the certificate check callback rejected the server certificate".into(),
                )
            }))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A client configuration. `alpn` lists the protocols to offer (e.g. `http/1.1`).
pub(crate) fn client_config(
    roots: &RootCertificates,
    check: Option<&CertificateCheck>,
    client_cert: Option<&ClientCertificate>,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let tls_err = |e: rustls::Error| Error::new(ErrorKind::Tls, format!("TLS configuration: {e}"));
    let store = Arc::new(roots.store()?);
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?;
    let builder = match check {
        None => builder.with_root_certificates(store),
        Some(check) => {
            let inner = WebPkiServerVerifier::builder_with_provider(store, provider())
                .build()
                .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS configuration: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(CheckedVerifier {
                    inner,
                    check: check.clone(),
                }))
        }
    };
    let mut config = match client_cert {
        None => builder.with_no_client_auth(),
        Some(c) => builder
            .with_client_auth_cert(c.chain.clone(), c.key.clone_key())
            .map_err(tls_err)?,
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A server configuration from PEM certificate chain and key.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS configuration: {e}")))?
        .with_no_client_auth()
        .with_single_cert(parse_certs(cert_pem)?, parse_key(key_pem)?)
        .map_err(|e| {
            Error::new(
                ErrorKind::Tls,
                format!("the server certificate or key is not usable: {e}"),
            )
        })?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A TLS failure as an error that says what to do about it.
pub(crate) fn handshake_error(host: &str, e: std::io::Error) -> Error {
    let detail = e.to_string();
    // rustls spells these as Debug names or as sentences depending on the case.
    let d = detail.to_ascii_lowercase().replace(' ', "");
    let hint = if d.contains("unknownissuer") {
        " (the certificate's issuer is not trusted: add your CA with RootCertificates::Custom / --ca)"
    } else if d.contains("notvalidforname") {
        " (the certificate is not valid for this host name: connect with the name it was issued for)"
    } else if d.contains("expired") {
        " (the certificate has expired)"
    } else {
        ""
    };
    Error::new(
        ErrorKind::Tls,
        format!("TLS handshake with {host} failed: {detail}{hint}"),
    )
    .with_source(e)
}
