//! Proxies from the environment: which variable applies to which URL, their
//! precedence, `no_proxy` matching, credentials and redaction, and the
//! options that turn proxies off. The variables come from a map handed to
//! `EnvProxy::from_lookup`; the process environment is never changed.
//! (The end-to-end check with a real proxy and real variables is in
//! tests/interop/run.sh, section 4.)

mod common;

use std::collections::HashMap;

use common::{bounded, connect, echo_server};
use sockweave::{
    ClientWebSocket, ClientWebSocketOptions, EnvProxy, ErrorKind, Invoker, InvokerOptions, Options, Proxy,
};

fn env(vars: &[(&str, &str)]) -> EnvProxy {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    EnvProxy::from_lookup(|name| map.get(name).cloned())
}

/// The proxy for `url` as `host:port`, or "direct".
fn route(e: &EnvProxy, url: &str) -> String {
    match e.proxy_for(url).unwrap() {
        Some(p) => format!(
            "{}:{}",
            p.url.host_str().unwrap(),
            p.url.port_or_known_default().unwrap()
        ),
        None => "direct".into(),
    }
}

#[test]
fn each_scheme_has_its_variable() {
    let e = env(&[
        ("http_proxy", "http://plain.proxy:3128"),
        ("https_proxy", "http://secure.proxy:3129"),
    ]);
    assert_eq!(route(&e, "ws://example.com/"), "plain.proxy:3128");
    assert_eq!(route(&e, "http://example.com/"), "plain.proxy:3128");
    assert_eq!(route(&e, "wss://example.com/"), "secure.proxy:3129");
    assert_eq!(route(&e, "https://example.com/"), "secure.proxy:3129");

    let only_https = env(&[("HTTPS_PROXY", "http://secure.proxy:3129")]);
    assert_eq!(route(&only_https, "ws://example.com/"), "direct");
    assert_eq!(route(&only_https, "wss://example.com/"), "secure.proxy:3129");

    assert_eq!(route(&env(&[]), "wss://example.com/"), "direct");
    assert_eq!(route(&env(&[]), "ws://example.com/"), "direct");
}

#[test]
fn lower_case_wins_and_empty_means_unset() {
    let e = env(&[
        ("https_proxy", "http://lower:1"),
        ("HTTPS_PROXY", "http://upper:2"),
        ("http_proxy", "  "),
        ("HTTP_PROXY", "http://upper:3"),
    ]);
    assert_eq!(route(&e, "wss://h/"), "lower:1");
    assert_eq!(route(&e, "ws://h/"), "upper:3");
}

#[test]
fn all_proxy_is_the_fallback() {
    let e = env(&[("ALL_PROXY", "http://all:1"), ("http_proxy", "http://plain:2")]);
    assert_eq!(route(&e, "ws://h/"), "plain:2");
    assert_eq!(route(&e, "wss://h/"), "all:1");
    let lower = env(&[("all_proxy", "http://lower:1"), ("ALL_PROXY", "http://upper:2")]);
    assert_eq!(route(&lower, "wss://h/"), "lower:1");
    assert_eq!(route(&lower, "ws://h/"), "lower:1");
}

#[test]
fn upper_case_http_proxy_is_ignored_under_cgi() {
    // httpoxy: a CGI program sees the request header `Proxy:` as HTTP_PROXY.
    let cgi = env(&[
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("HTTP_PROXY", "http://attacker:1"),
        ("HTTPS_PROXY", "http://secure:2"),
    ]);
    assert_eq!(route(&cgi, "ws://h/"), "direct");
    assert_eq!(route(&cgi, "wss://h/"), "secure:2");
    let cgi_lower = env(&[
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("http_proxy", "http://chosen:1"),
    ]);
    assert_eq!(route(&cgi_lower, "ws://h/"), "chosen:1");
    // Under CGI, all_proxy still applies to ws:// when only HTTP_PROXY is set.
    let cgi_all = env(&[
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("HTTP_PROXY", "http://attacker:1"),
        ("ALL_PROXY", "http://all:3"),
    ]);
    assert_eq!(route(&cgi_all, "ws://h/"), "all:3");
}

#[test]
fn values_without_a_scheme_are_http() {
    let e = env(&[
        ("https_proxy", "proxy.example:8443"),
        ("http_proxy", "proxy.example"),
    ]);
    assert_eq!(route(&e, "wss://h/"), "proxy.example:8443");
    assert_eq!(route(&e, "ws://h/"), "proxy.example:80");
    let v6 = env(&[("https_proxy", "[::1]:3128")]);
    assert_eq!(route(&v6, "wss://h/"), "[::1]:3128");
}

#[test]
fn credentials_in_the_url_are_used_and_never_shown() {
    for (value, user, password) in [
        ("http://ada:s3cret@proxy:3128", "ada", "s3cret"),
        ("http://ada%40corp:p%3Ass%40w@proxy:3128", "ada@corp", "p:ss@w"),
        // Raw, not percent-encoded, as curl accepts.
        ("ada:p@ss@proxy:3128", "ada", "p@ss"),
    ] {
        let e = env(&[("https_proxy", value)]);
        let p = e.proxy_for("wss://h/").unwrap().expect("a proxy");
        let c = p.credentials.as_ref().expect("credentials");
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            (user, password),
            "{value}"
        );
        assert_eq!(p.url.host_str(), Some("proxy"));
        for shown in [format!("{e:?}"), format!("{p:?}")] {
            assert!(!shown.contains(password), "{shown}");
            assert!(!shown.contains("s3cret") && !shown.contains("p%3Ass"), "{shown}");
        }
    }
}

#[test]
fn an_unusable_value_is_an_error_naming_the_variable() {
    let e = env(&[
        ("HTTPS_PROXY", "socks5://ada:hunter2@proxy:1080"),
        ("no_proxy", "internal.example"),
    ]);
    let err = e.proxy_for("wss://example.com/").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Proxy);
    assert!(err.message().contains("HTTPS_PROXY"), "{}", err.message());
    assert!(err.message().contains("socks5"), "{}", err.message());
    assert!(err.message().contains("no_proxy"), "{}", err.message());
    assert!(!err.message().contains("hunter2"), "{}", err.message());
    assert!(!format!("{e:?}").contains("hunter2"));
    // Not used where no_proxy applies, nor for the other scheme.
    assert_eq!(route(&e, "wss://internal.example/"), "direct");
    assert_eq!(route(&e, "ws://example.com/"), "direct");

    let bad = env(&[("http_proxy", "http://")]);
    assert_eq!(bad.proxy_for("ws://h/").unwrap_err().kind(), ErrorKind::Proxy);
}

#[test]
fn no_proxy_matching() {
    let cases: &[(&str, &str, bool)] = &[
        ("*", "wss://anything.example/", true),
        ("*", "ws://10.1.2.3:9/", true),
        // Domains, with or without a leading dot or `*.`: the name and every name under it.
        ("example.com", "wss://example.com/", true),
        ("example.com", "wss://a.b.example.com/", true),
        ("example.com", "wss://badexample.com/", false),
        ("example.com", "wss://example.com.evil.test/", false),
        (".example.com", "wss://example.com/", true),
        (".example.com", "wss://www.example.com/", true),
        ("*.example.com", "wss://www.example.com/", true),
        ("*.example.com", "wss://example.org/", false),
        ("EXAMPLE.com", "wss://Www.Example.COM/", true),
        ("example.com.", "wss://example.com./", true),
        // host:port matches that port only (the URL's default port counts).
        ("example.com:8443", "wss://example.com:8443/", true),
        ("example.com:8443", "wss://example.com/", false),
        ("example.com:443", "wss://example.com/", true),
        // IP addresses: only URLs that name the address.
        ("10.1.2.3", "ws://10.1.2.3:9/", true),
        ("10.1.2.3", "ws://10.1.2.4:9/", false),
        ("10.1.2.3:9", "ws://10.1.2.3:9/", true),
        ("10.1.2.3:9", "ws://10.1.2.3:10/", false),
        ("::1", "ws://[::1]:9/", true),
        ("[::1]", "ws://[::1]:9/", true),
        ("[::1]:9", "ws://[::1]:9/", true),
        ("[::1]:9", "ws://[::1]:10/", false),
        // CIDR blocks.
        ("10.0.0.0/8", "ws://10.200.1.1/", true),
        ("10.0.0.0/8", "ws://11.0.0.1/", false),
        ("192.168.1.0/24", "ws://192.168.1.77/", true),
        ("fd00::/8", "ws://[fd12::1]/", true),
        ("fd00::/8", "ws://[fe80::1]/", false),
        ("10.0.0.0/8", "ws://ten.example/", false),
        // A name entry never matches an address, even as a textual suffix.
        ("0.1", "ws://127.0.0.1/", false),
        // Loopback is not bypassed on its own.
        ("example.com", "ws://127.0.0.1:9/", false),
        ("example.com", "ws://localhost:9/", false),
        ("", "ws://[::1]:9/", false),
        ("localhost,127.0.0.0/8,::1", "ws://localhost:9/", true),
        ("localhost,127.0.0.0/8,::1", "ws://127.0.0.1:9/", true),
        ("localhost,127.0.0.0/8,::1", "ws://[::1]:9/", true),
        // Lists: spaces around entries, empty entries, entries that mean nothing.
        (" a.test , ,b.test ", "wss://b.test/", true),
        ("10.0.0.0/99,[::1,what ever", "ws://10.0.0.1/", false),
        ("10.0.0.0/99,[::1,what ever,c.test", "wss://c.test/", true),
    ];
    for (no_proxy, url, bypassed) in cases {
        let e = env(&[("ALL_PROXY", "http://proxy:3128"), ("NO_PROXY", no_proxy)]);
        assert_eq!(e.is_bypassed(url), *bypassed, "NO_PROXY={no_proxy:?} {url}");
        let expected = if *bypassed { "direct" } else { "proxy:3128" };
        assert_eq!(route(&e, url), expected, "NO_PROXY={no_proxy:?} {url}");
    }
}

#[test]
fn lower_case_no_proxy_wins() {
    let e = env(&[
        ("ALL_PROXY", "http://proxy:3128"),
        ("no_proxy", "a.test"),
        ("NO_PROXY", "b.test"),
    ]);
    assert!(e.is_bypassed("wss://a.test/"));
    assert!(!e.is_bypassed("wss://b.test/"));
}

#[test]
fn urls_that_are_not_urls() {
    let e = env(&[("ALL_PROXY", "http://proxy:3128"), ("NO_PROXY", "*")]);
    assert!(!e.is_bypassed("not a url"));
    assert_eq!(
        e.proxy_for("not a url").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        e.proxy_for("ftp://h/").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn use_proxy_is_on_by_default() {
    assert!(ClientWebSocketOptions::default().use_proxy);
    assert!(InvokerOptions::default().use_proxy);
    assert!(ClientWebSocketOptions::default().invoker_options().use_proxy);
    let off = ClientWebSocketOptions {
        use_proxy: false,
        ..Default::default()
    };
    assert!(!off.invoker_options().use_proxy);
}

#[tokio::test]
async fn use_proxy_off_belongs_to_the_invoker() {
    bounded(async {
        let mut ws = ClientWebSocket::with_options(ClientWebSocketOptions {
            use_proxy: false,
            ..Default::default()
        });
        let err = ws
            .connect_with("ws://127.0.0.1:9/", &Invoker::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IncompatibleOptions);
        assert!(err.message().contains("use_proxy"), "{}", err.message());
    })
    .await;
}

#[tokio::test]
async fn use_proxy_off_ignores_an_explicit_proxy() {
    bounded(async {
        let port = echo_server(Options {
            is_server: true,
            ..Default::default()
        })
        .await;
        // A proxy nobody listens on: with use_proxy off it is never dialled.
        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead_url = format!("http://127.0.0.1:{}", dead.local_addr().unwrap().port());
        drop(dead);
        let proxy = Proxy::new(&dead_url).unwrap();
        let url = format!("ws://127.0.0.1:{port}/");

        let through = ClientWebSocketOptions {
            proxy: Some(proxy.clone()),
            ..Default::default()
        };
        let err = connect(&url, through).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Proxy, "{}", err.message());

        let direct = ClientWebSocketOptions {
            proxy: Some(proxy),
            use_proxy: false,
            ..Default::default()
        };
        let ws = connect(&url, direct).await.expect("a direct connection");
        common::assert_echo(&ws, "direct").await;
        ws.close(Some(sockweave::CloseCode::NORMAL), "").await.unwrap();
    })
    .await;
}
