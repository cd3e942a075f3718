//! wss:// against a rustls server with certificates from a test CA made by
//! rcgen: trust roots, host names, expiry, the certificate check callback and
//! client certificates.

mod common;

use std::sync::{Arc, Mutex};

use common::servers::receive_message;
use common::servers::serve_one;
use common::{assert_echo, bounded, connect, tls_echo_server, tls_echo_server_for, Ca};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sockweave::{
    CertificateCheck, ClientCertificate, ClientWebSocketOptions, CloseCode, ErrorKind, MessageType, Options,
    RootCertificates, SendFlags, State,
};

fn trusting(ca: &Ca) -> ClientWebSocketOptions {
    ClientWebSocketOptions {
        root_certificates: RootCertificates::from_pem(ca.pem().as_bytes()).unwrap(),
        ..Default::default()
    }
}

#[tokio::test]
async fn wss_with_a_custom_root_connects_and_echoes() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let leaf = ca.server_cert(&["localhost"], 4000);
        let acceptor = leaf.acceptor(&[b"http/1.1"]);
        let (port, server) = serve_one(move |tcp| async move {
            let tls = acceptor.accept(tcp).await.unwrap();
            let (_, conn) = tls.get_ref();
            let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
            let sni = conn.server_name().map(String::from);
            let ws = sockweave::accept(tls, &Options::default()).await.unwrap();
            common::echo(&ws).await;
            (alpn, sni, ws.state())
        })
        .await;

        let ws = connect(&format!("wss://localhost:{port}/secure"), trusting(&ca))
            .await
            .unwrap();
        assert_eq!(ws.state(), State::Open);
        assert_echo(&ws, "over TLS").await;
        let big = vec![0x5au8; 100_000];
        ws.send(&big, MessageType::Binary, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let (_, got) = receive_message(&ws, &mut [0u8; 4096]).await;
        assert!(got == big);
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
        let (alpn, sni, state) = server.await.unwrap();
        assert_eq!(alpn.as_deref(), Some(b"http/1.1".as_slice()), "ALPN");
        assert_eq!(sni.as_deref(), Some("localhost"), "SNI");
        assert_eq!(state, State::Closed);
    })
    .await;
}

#[tokio::test]
async fn custom_roots_given_as_der_work_too() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let port = tls_echo_server_for(&ca.server_cert(&["localhost"], 4000)).await;
        let options = ClientWebSocketOptions {
            root_certificates: RootCertificates::Custom(vec![ca.issuer.der().clone()]),
            ..Default::default()
        };
        let ws = connect(&format!("wss://localhost:{port}/"), options)
            .await
            .unwrap();
        assert_echo(&ws, "der roots").await;
    })
    .await;
}

#[tokio::test]
async fn a_certificate_for_an_ip_address_works_with_an_ip_url() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let port = tls_echo_server_for(&ca.server_cert(&["127.0.0.1"], 4000)).await;
        let ws = connect(&format!("wss://127.0.0.1:{port}/"), trusting(&ca))
            .await
            .unwrap();
        assert_echo(&ws, "by address").await;
    })
    .await;
}

#[tokio::test]
async fn the_default_roots_do_not_trust_the_test_ca() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let port = tls_echo_server_for(&ca.server_cert(&["localhost"], 4000)).await;
        for roots in [RootCertificates::Platform, RootCertificates::Bundled] {
            let options = ClientWebSocketOptions {
                root_certificates: roots.clone(),
                ..Default::default()
            };
            let e = connect(&format!("wss://localhost:{port}/"), options)
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Tls, "{roots:?}: {e}");
            assert!(e.message().contains("issuer is not trusted"), "{roots:?}: {e}");
            assert!(e.response().is_none());
        }
        // A CA that is not the issuer does not help either.
        let other = Ca::new("another CA");
        let e = connect(&format!("wss://localhost:{port}/"), trusting(&other))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        assert!(e.message().contains("issuer is not trusted"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_certificate_for_another_name_is_rejected() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let port = tls_echo_server_for(&ca.server_cert(&["example.test"], 4000)).await;
        let e = connect(&format!("wss://localhost:{port}/"), trusting(&ca))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        assert!(e.message().contains("localhost"), "{e}");
        assert!(e.message().contains("not valid for this host name"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn an_expired_certificate_is_rejected() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let port = tls_echo_server_for(&ca.server_cert(&["localhost"], 2001)).await;
        let e = connect(&format!("wss://localhost:{port}/"), trusting(&ca))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        assert!(e.message().contains("expired"), "{e}");
    })
    .await;
}

#[derive(Debug, Clone, PartialEq)]
struct Seen {
    server_name: String,
    end_entity: Vec<u8>,
    verification: Result<(), String>,
}

/// A check that records what it was shown and answers `verdict`.
fn recording_check(verdict: bool) -> (CertificateCheck, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let check = CertificateCheck::new(move |ctx| {
        log.lock().unwrap().push(Seen {
            server_name: ctx.server_name.to_string(),
            end_entity: ctx.end_entity.to_vec(),
            verification: ctx.verification.clone(),
        });
        verdict
    });
    (check, seen)
}

#[tokio::test]
async fn the_check_callback_sees_the_name_and_verdict_and_can_accept() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let leaf = ca.server_cert(&["localhost"], 4000);
        let port = tls_echo_server_for(&leaf).await;
        let (check, seen) = recording_check(true);
        let options = ClientWebSocketOptions {
            remote_certificate_validation: Some(check),
            ..Default::default()
        };
        let ws = connect(&format!("wss://localhost:{port}/"), options)
            .await
            .unwrap();
        assert_echo(&ws, "accepted by the callback").await;

        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].server_name, "localhost");
        let der = CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap();
        assert_eq!(
            seen[0].end_entity,
            der.as_ref(),
            "the callback saw another certificate"
        );
        let verdict = seen[0].verification.as_ref().unwrap_err();
        assert!(verdict.contains("UnknownIssuer"), "{verdict}");
    })
    .await;
}

#[tokio::test]
async fn the_check_callback_can_refuse() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let port = tls_echo_server_for(&ca.server_cert(&["localhost"], 4000)).await;

        // Refusing an untrusted certificate.
        let (check, seen) = recording_check(false);
        let options = ClientWebSocketOptions {
            remote_certificate_validation: Some(check),
            ..Default::default()
        };
        let e = connect(&format!("wss://localhost:{port}/"), options)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        assert!(e.message().contains("issuer is not trusted"), "{e}");
        assert_eq!(seen.lock().unwrap().len(), 1);

        // Refusing a certificate normal verification accepts.
        let (check, seen) = recording_check(false);
        let options = ClientWebSocketOptions {
            remote_certificate_validation: Some(check),
            ..trusting(&ca)
        };
        let e = connect(&format!("wss://localhost:{port}/"), options)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        assert!(e.message().contains("callback rejected"), "{e}");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].verification, Ok(()));
    })
    .await;
}

#[tokio::test]
async fn the_check_callback_can_accept_a_wrong_name_and_an_expired_certificate() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        for (names, year, expected) in [
            (&["example.test"][..], 4000, "notvalidforname"),
            (&["localhost"][..], 2001, "expired"),
        ] {
            let port = tls_echo_server_for(&ca.server_cert(names, year)).await;
            let (check, seen) = recording_check(true);
            let options = ClientWebSocketOptions {
                remote_certificate_validation: Some(check),
                ..trusting(&ca)
            };
            let ws = connect(&format!("wss://localhost:{port}/"), options)
                .await
                .unwrap();
            assert_echo(&ws, "overruled").await;
            let seen = seen.lock().unwrap().clone();
            let verdict = seen[0].verification.as_ref().unwrap_err();
            // rustls words these as Debug names or as sentences: compare loosely.
            let loose = verdict.to_ascii_lowercase().replace(' ', "");
            assert!(loose.contains(expected), "{verdict}");
        }
    })
    .await;
}

/// A TLS server that requires a client certificate issued by `client_ca`.
fn mutual_tls_config(server: &common::Leaf, client_ca: &Ca) -> Arc<rustls::ServerConfig> {
    mutual_tls_config_with(server, client_ca, rustls::DEFAULT_VERSIONS)
}

/// The same, limited to these TLS versions.
fn mutual_tls_config_with(
    server: &common::Leaf,
    client_ca: &Ca,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(client_ca.issuer.der().clone()).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            CertificateDer::pem_slice_iter(server.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap(),
            PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

#[tokio::test]
async fn a_client_certificate_is_presented_when_required() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let client_ca = Ca::new("client CA");
        let port = tls_echo_server(mutual_tls_config(
            &ca.server_cert(&["localhost"], 4000),
            &client_ca,
        ))
        .await;
        let client = client_ca.client_cert("test client");
        let options = ClientWebSocketOptions {
            client_certificate: Some(
                ClientCertificate::from_pem(client.cert_pem.as_bytes(), client.key_pem.as_bytes()).unwrap(),
            ),
            ..trusting(&ca)
        };
        let ws = connect(&format!("wss://localhost:{port}/"), options)
            .await
            .unwrap();
        assert_echo(&ws, "mutual TLS").await;
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
        assert_eq!(ws.state(), State::Closed);
    })
    .await;
}

#[tokio::test]
async fn without_a_client_certificate_a_server_that_requires_one_refuses() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let client_ca = Ca::new("client CA");
        let port = tls_echo_server(mutual_tls_config(
            &ca.server_cert(&["localhost"], 4000),
            &client_ca,
        ))
        .await;
        // TLS 1.3: the client's side of the handshake ends before the server checks
        // the client's certificate; the refusal arrives as an alert on the first read,
        // which is the read of the handshake response.
        let e = connect(&format!("wss://localhost:{port}/"), trusting(&ca))
            .await
            .unwrap_err();
        assert!(e.response().is_none());
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Tls | ErrorKind::Io | ErrorKind::ConnectionClosedPrematurely
            ),
            "{e:?}"
        );
        assert!(
            e.to_string().to_ascii_lowercase().contains("certificate"),
            "the error does not say a certificate is needed: {e:?}"
        );

        // A certificate from a CA the server does not trust is refused too.
        let stranger = Ca::new("stranger CA").client_cert("stranger");
        let options = ClientWebSocketOptions {
            client_certificate: Some(
                ClientCertificate::from_pem(stranger.cert_pem.as_bytes(), stranger.key_pem.as_bytes())
                    .unwrap(),
            ),
            ..trusting(&ca)
        };
        let e = connect(&format!("wss://localhost:{port}/"), options)
            .await
            .unwrap_err();
        assert!(e.response().is_none(), "{e:?}");
    })
    .await;
}

#[tokio::test]
async fn over_tls_1_2_and_1_3_a_missing_client_certificate_is_a_tls_error() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let client_ca = Ca::new("client CA");
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            let config =
                mutual_tls_config_with(&ca.server_cert(&["localhost"], 4000), &client_ca, &[version]);
            let port = tls_echo_server(config).await;
            // TLS 1.2 refuses inside the handshake, TLS 1.3 after it: the
            // same failure either way, so the same kind.
            let e = connect(&format!("wss://localhost:{port}/"), trusting(&ca))
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Tls, "{version:?}: {e:?}");
            // With a certificate it works.
            let client = client_ca.client_cert("test client");
            let options = ClientWebSocketOptions {
                client_certificate: Some(
                    ClientCertificate::from_pem(client.cert_pem.as_bytes(), client.key_pem.as_bytes())
                        .unwrap(),
                ),
                ..trusting(&ca)
            };
            let ws = connect(&format!("wss://localhost:{port}/"), options)
                .await
                .unwrap();
            assert_echo(&ws, "mutual TLS").await;
        }
    })
    .await;
}

#[tokio::test]
async fn invalid_pem_is_an_invalid_argument() {
    let e = RootCertificates::from_pem(b"not a certificate").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let ca = Ca::new("sockweave test CA");
    let leaf = ca.client_cert("c");
    let e = ClientCertificate::from_pem(leaf.cert_pem.as_bytes(), b"no key here").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let e = ClientCertificate::from_pem(b"", leaf.key_pem.as_bytes()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let e = sockweave::tls_server_config(leaf.cert_pem.as_bytes(), b"", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}
