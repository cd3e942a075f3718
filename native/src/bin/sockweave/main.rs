//! `sockweave`: a WebSocket client, echo server and demo on the sockweave library.

mod args;

use lexopt::ValueExt;
mod autobahn;
mod bench;
mod connect;
mod demo;
mod echo;
mod serve;

use args::Res;

const USAGE: &str = "\
usage:
  sockweave connect URL [--echo] [options]     stdin lines out as text, messages in to stdout
  sockweave serve ADDR [--echo] [--tls-cert FILE --tls-key FILE] [options]
  sockweave bench URL [-c N] [--size BYTES] [--in-flight N] [--duration D] [options]
                                               load-test a WebSocket echo server
  sockweave demo                               a local server and client showing the features
  sockweave autobahn URL [--agent NAME] [--cases N-M]
                                               drive Autobahn's fuzzing server (for the test suite)

`sockweave COMMAND --help` lists the options of a command.
";

const COMMON: &str = "\
options (both roles):
  --subprotocol P            offer (client) or support (server) a subprotocol; repeatable
  --deflate[=PARAMS]         permessage-deflate; PARAMS: client_max_window_bits=N,
                             server_max_window_bits=N,client_no_context_takeover,server_no_context_takeover
  --keepalive-interval D     e.g. 30s, 500ms, 0 (off)
  --keepalive-timeout D      e.g. 10s; infinite = unsolicited PONG
  --max-message-size BYTES   --handshake-timeout D (default 10s)
  --options JSON             the whole options object, as in the npm package (replaces earlier options)
";

const CONNECT_USAGE: &str = "\
usage: sockweave connect URL [--echo] [options]
  Connects to URL (ws:// or wss://); each line of stdin is sent as a text
  message and each message received is printed on stdout. --echo sends back
  what arrives instead.
";

const CLIENT: &str = "\
client options:
  -H 'Name: value'           extra handshake header; repeatable
  --http-version 1.1|2       --version-policy or-lower|or-higher|exact
  --proxy http://[user:pass@]host:port
                             default: https_proxy (wss://) or http_proxy (ws://), else all_proxy,
                             unless no_proxy names the host (a,.b.example,10.0.0.0/8,host:port,*);
                             upper-case names too; loopback is not skipped on its own
  --no-proxy                 connect directly: no --proxy, no proxy variables
  --ca FILE                  trust exactly this CA (PEM)      --insecure  accept any certificate (warns)
  --client-cert FILE --client-key FILE                         --user USER:PASSWORD (HTTP Basic on 401)
  --allow-basic-over-cleartext   with --user, also answer a 401 on ws:// (the password travels in clear)
";

const BENCH_USAGE: &str = "\
usage: sockweave bench URL [-c N] [--size BYTES] [--in-flight N] [--duration D] [options]
  Load-tests the WebSocket echo server at URL (ws:// or wss://; any server
  that sends every message back). Each connection keeps N messages on their
  way and sends another as each echo returns; each round trip is timed. A
  progress line goes to stderr every second, then a summary to stdout:
  messages/s, MiB/s each way, latency p50/p90/p99/max, errors. Exits 1 if
  any error happened. Over HTTP/2 every WebSocket shares one connection.

bench options:
  -c, --connections N        connections (1)
  --size BYTES               payload of each message (32; also 4k, 1m)
  --in-flight N              messages on their way per connection (1)
  --duration D               how long to send, e.g. 10s (10s); echoes still on their way are awaited
  --text                     text messages (default binary); the payload is pseudo-random letters
  --deflate[=PARAMS]         permessage-deflate on (off by default); --http-version 2 for HTTP/2
";

const SERVE_USAGE: &str = "\
usage: sockweave serve ADDR [--echo] [--tls-cert FILE --tls-key FILE] [options]
  Serves WebSockets on ADDR over HTTP/1.1 and HTTP/2 (h2c with prior
  knowledge, or TLS with ALPN) on the same port; --echo echoes every message.

server options:
  --tls-cert FILE --tls-key FILE   serve wss:// (PEM); the TLS handshake counts in --handshake-timeout
  --allow-origin ORIGIN      accept browsers only from this origin (e.g. https://app.example); repeatable;
                             others get 403 (cross-site WebSocket hijacking)
  --allow-missing-origin     with --allow-origin, also accept clients that send no Origin (non-browsers)
  --idle-timeout T           HTTP/2: GOAWAY after T with no open stream; reset a body stalled for T (60s)
  --max-concurrent-streams N HTTP/2: streams open at once per connection, WebSockets included (128)
  (every option of the npm options object: --options '{\"maxRequestBodySize\": 65536, ...}')
";

const DEMO_USAGE: &str = "\
usage: sockweave demo
  Starts a local server and a client on 127.0.0.1 and shows subprotocols,
  permessage-deflate, keep-alive, HTTP/2 and the close handshake. No network needed.
";

const AUTOBAHN_USAGE: &str = "\
usage: sockweave autobahn URL [--agent NAME] [--cases N-M]
  Runs Autobahn|Testsuite's fuzzing-server cases against sockweave's client
  (used by tests/autobahn).
";

/// The usage text of a command (its own options, then the shared ones).
fn usage_of(cmd: &str) -> Option<String> {
    Some(match cmd {
        "connect" => format!("{CONNECT_USAGE}\n{CLIENT}\n{COMMON}"),
        "bench" => format!("{BENCH_USAGE}\n{CLIENT}\n{COMMON}"),
        "serve" => format!("{SERVE_USAGE}\n{COMMON}"),
        "demo" => String::from(DEMO_USAGE),
        "autobahn" => String::from(AUTOBAHN_USAGE),
        _ => return None,
    })
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime");
    let code = match rt.block_on(run()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sockweave: {e}");
            2
        }
    };
    // Leave at once: connections still closing in the background are not waited for.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}

async fn run() -> Res<i32> {
    let mut p = lexopt::Parser::from_env();
    let cmd = match p.next()? {
        Some(lexopt::Arg::Value(v)) => v.string()?,
        Some(lexopt::Arg::Long("help") | lexopt::Arg::Short('h')) | None => {
            print!("{USAGE}");
            return Ok(0);
        }
        Some(a) => return Err(format!("{}\n{USAGE}", a.unexpected()).into()),
    };
    // `--help` anywhere after the command answers before anything runs.
    if std::env::args().skip(2).any(|a| a == "--help" || a == "-h") {
        if let Some(u) = usage_of(&cmd) {
            print!("{u}");
            return Ok(0);
        }
    }
    match cmd.as_str() {
        "connect" => connect::run(p).await,
        "bench" => bench::run(p).await,
        "serve" => serve::run(p).await,
        "demo" => demo::run().await,
        "autobahn" => autobahn::run(p).await,
        other => Err(format!("unknown command {other:?}\n{USAGE}").into()),
    }
}
