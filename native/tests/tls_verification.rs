//! TLS: verification is on by default; an unknown CA, a wrong host name and an
//! expired certificate fail with clear errors; the check callback can overrule.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use sockweave::{
    CertificateCheck, ClientWebSocket, ClientWebSocketOptions, ErrorKind, MessageType, Options,
    RootCertificates, SendFlags,
};
use tokio::net::TcpListener;

struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

/// A test CA and a server certificate for `names`, valid until `not_after_year`.
fn pki(names: &[&str], not_after_year: i32) -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(not_after_year, 1, 1);
    let cert = params.signed_by(&key, &ca).unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// A wss:// echo server; returns its port.
async fn server(p: &Pki) -> u16 {
    let config =
        sockweave::tls_server_config(p.cert_pem.as_bytes(), p.key_pem.as_bytes(), &[b"http/1.1"]).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(ws) = sockweave::accept(tls, &Options::default()).await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                while let Ok(r) = ws.receive(&mut buf).await {
                    if r.message_type == MessageType::Close {
                        let _ = ws.close_output(r.close_status, "").await;
                        break;
                    }
                    let flags = SendFlags {
                        end_of_message: r.end_of_message,
                        disable_compression: false,
                    };
                    if ws.send(&buf[..r.count], r.message_type, flags).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

async fn connect(url: &str, o: ClientWebSocketOptions) -> Result<ClientWebSocket, sockweave::Error> {
    let mut ws = ClientWebSocket::with_options(o);
    ws.connect(url).await.map(|_| ws)
}

#[tokio::test]
async fn trusted_ca_connects_and_echoes() {
    let p = pki(&["localhost"], 4000);
    let port = server(&p).await;
    let o = ClientWebSocketOptions {
        root_certificates: RootCertificates::from_pem(p.ca_pem.as_bytes()).unwrap(),
        ..Default::default()
    };
    let ws = connect(&format!("wss://localhost:{port}/"), o).await.unwrap();
    ws.send(b"over tls", MessageType::Text, SendFlags::END_OF_MESSAGE)
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let r = ws.receive(&mut buf).await.unwrap();
    assert_eq!(&buf[..r.count], b"over tls");
}

#[tokio::test]
async fn unknown_ca_is_rejected_by_default() {
    let p = pki(&["localhost"], 4000);
    let port = server(&p).await;
    let e = connect(
        &format!("wss://localhost:{port}/"),
        ClientWebSocketOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("issuer is not trusted"), "{e}");
    let e = connect(
        &format!("wss://localhost:{port}/"),
        ClientWebSocketOptions {
            root_certificates: RootCertificates::Bundled,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

#[tokio::test]
async fn wrong_host_name_is_rejected() {
    let p = pki(&["example.test"], 4000);
    let port = server(&p).await;
    let o = ClientWebSocketOptions {
        root_certificates: RootCertificates::from_pem(p.ca_pem.as_bytes()).unwrap(),
        ..Default::default()
    };
    let e = connect(&format!("wss://localhost:{port}/"), o).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("not valid for this host name"), "{e}");
}

#[tokio::test]
async fn expired_certificate_is_rejected() {
    let p = pki(&["localhost"], 2001);
    let port = server(&p).await;
    let o = ClientWebSocketOptions {
        root_certificates: RootCertificates::from_pem(p.ca_pem.as_bytes()).unwrap(),
        ..Default::default()
    };
    let e = connect(&format!("wss://localhost:{port}/"), o).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("expired"), "{e}");
}

#[tokio::test]
async fn the_check_callback_sees_the_verdict_and_decides() {
    let p = pki(&["localhost"], 4000);
    let port = server(&p).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let accept_all = ClientWebSocketOptions {
        remote_certificate_validation: Some(CertificateCheck::new(move |ctx| {
            seen.fetch_add(1, Ordering::SeqCst);
            assert_eq!(ctx.server_name, "localhost");
            assert!(!ctx.end_entity.is_empty());
            // The default roots do not know the test CA: the verdict says so.
            assert!(
                ctx.verification.as_ref().unwrap_err().contains("UnknownIssuer"),
                "{:?}",
                ctx.verification
            );
            true
        })),
        ..Default::default()
    };
    connect(&format!("wss://localhost:{port}/"), accept_all)
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A callback can also refuse a certificate normal verification accepts.
    let refuse = ClientWebSocketOptions {
        root_certificates: RootCertificates::from_pem(p.ca_pem.as_bytes()).unwrap(),
        remote_certificate_validation: Some(CertificateCheck::new(|ctx| {
            assert!(ctx.verification.is_ok());
            false
        })),
        ..Default::default()
    };
    let e = connect(&format!("wss://localhost:{port}/"), refuse)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

#[tokio::test]
async fn client_certificates_are_presented_when_the_server_asks() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use sockweave::ClientCertificate;

    let p = pki(&["localhost"], 4000);
    // The client's certificate, from the same test CA.
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let client_ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client_cert = CertificateParams::new(vec!["client".to_string()])
        .unwrap()
        .signed_by(&client_key, &client_ca)
        .unwrap();

    // A server that requires a client certificate from `client_ca`.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(client_ca.der().clone()).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(p.cert_pem.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(p.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    if let Ok(ws) = sockweave::accept(tls, &Options::default()).await {
                        let _ = ws
                            .send(b"welcome", MessageType::Text, SendFlags::END_OF_MESSAGE)
                            .await;
                        let _ = ws.receive(&mut [0u8; 16]).await;
                    }
                }
            });
        }
    });
    let roots = RootCertificates::from_pem(p.ca_pem.as_bytes()).unwrap();
    let with_cert = ClientWebSocketOptions {
        root_certificates: roots.clone(),
        client_certificate: Some(
            ClientCertificate::from_pem(
                client_cert.pem().as_bytes(),
                client_key.serialize_pem().as_bytes(),
            )
            .unwrap(),
        ),
        ..Default::default()
    };
    let ws = connect(&format!("wss://localhost:{port}/"), with_cert)
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let r = ws.receive(&mut buf).await.unwrap();
    assert_eq!(&buf[..r.count], b"welcome");
    // Without one, the server ends the TLS handshake (TLS 1.3 reports it on first read).
    let without = ClientWebSocketOptions {
        root_certificates: roots,
        ..Default::default()
    };
    let refused = match connect(&format!("wss://localhost:{port}/"), without).await {
        Err(_) => true,
        Ok(ws) => ws.receive(&mut buf).await.is_err(),
    };
    assert!(refused, "the server accepted a client without a certificate");
}
