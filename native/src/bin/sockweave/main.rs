//! `sockweave`: a WebSocket client, echo server and demo on the sockweave library.

mod args;

use lexopt::ValueExt;
mod autobahn;
mod connect;
mod demo;
mod echo;
mod serve;

use args::Res;

const USAGE: &str = "\
usage:
  sockweave connect URL [--echo] [options]     stdin lines out as text, messages in to stdout
  sockweave serve ADDR [--echo] [--tls-cert FILE --tls-key FILE] [options]
  sockweave demo                               a local server and client showing the features
  sockweave autobahn URL [--agent NAME] [--cases N-M]
                                               drive Autobahn's fuzzing server (for the test suite)

options (both roles):
  --subprotocol P            offer (client) or support (server) a subprotocol; repeatable
  --deflate[=PARAMS]         permessage-deflate; PARAMS: client_max_window_bits=N,
                             server_max_window_bits=N,client_no_context_takeover,server_no_context_takeover
  --keepalive-interval D     e.g. 30s, 500ms, 0 (off)
  --keepalive-timeout D      e.g. 10s; infinite = unsolicited PONG
  --max-message-size BYTES   --handshake-timeout D (default 10s)
  --options JSON             the whole options object, as in the npm package
client options:
  -H 'Name: value'           extra handshake header; repeatable
  --http-version 1.1|2       --version-policy or-lower|or-higher|exact
  --proxy http://[user:pass@]host:port
  --ca FILE                  trust exactly this CA (PEM)      --insecure  accept any certificate
  --client-cert FILE --client-key FILE                         --user USER:PASSWORD (HTTP Basic on 401)
server options:
  --allow-origin ORIGIN      accept browsers only from this origin (e.g. https://app.example); repeatable;
                             others get 403 (cross-site WebSocket hijacking)
  --allow-missing-origin     with --allow-origin, also accept clients that send no Origin (non-browsers)
  --idle-timeout T           HTTP/2: GOAWAY after T with no open stream; reset a body stalled for T (60s)
  --max-concurrent-streams N HTTP/2: streams open at once per connection, WebSockets included (128)
  (every option of the npm options object: --options '{\"maxRequestBodySize\": 65536, ...}')
";

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
    match cmd.as_str() {
        "connect" => connect::run(p).await,
        "serve" => serve::run(p).await,
        "demo" => demo::run().await,
        "autobahn" => autobahn::run(p).await,
        other => Err(format!("unknown command {other:?}\n{USAGE}").into()),
    }
}
