//! `sockweave autobahn URL`: runs every case of Autobahn|Testsuite's fuzzing
//! server against our client, echoing each message, then asks it to write its report.

use std::time::Duration;

use lexopt::prelude::*;
use sockweave::{ClientWebSocket, MessageType};

use crate::args::{ClientArgs, Res};

pub async fn run(mut p: lexopt::Parser) -> Res<i32> {
    let mut base = None;
    let mut agent = "sockweave".to_owned();
    let mut opts = ClientArgs::default();
    while let Some(arg) = p.next()? {
        match arg {
            Value(v) if base.is_none() => base = Some(v.string()?),
            Long("agent") => agent = p.value()?.string()?,
            other => {
                let name = crate::args::option_name(&other).ok_or_else(|| other.unexpected())?;
                if !opts.take(&name, &mut p)? {
                    return Err(format!("unknown option {name}").into());
                }
            }
        }
    }
    let base = base.ok_or("autobahn needs the fuzzing server's URL, e.g. ws://127.0.0.1:9001")?;
    let base = base.trim_end_matches('/');
    let opts = opts.finish()?;

    let count = {
        let mut ws = ClientWebSocket::with_options(opts.clone());
        ws.connect(&format!("{base}/getCaseCount")).await?;
        let mut buf = [0u8; 64];
        let r = ws.receive(&mut buf).await?;
        let n: u32 = std::str::from_utf8(&buf[..r.count])?.trim().parse()?;
        let _ = ws.close(Some(sockweave::CloseCode::NORMAL), "").await;
        n
    };
    eprintln!("autobahn: {count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        let mut ws = ClientWebSocket::with_options(opts.clone());
        let run = async move {
            ws.connect(&url).await?;
            let mut ws = ws.into_websocket().ok_or("not connected")?;
            let r = crate::echo::echo(&mut ws).await;
            ws.finished().await;
            r.map(|_| ()).map_err(Into::<Box<dyn std::error::Error>>::into)
        };
        match tokio::time::timeout(Duration::from_secs(120), run).await {
            Ok(Ok(())) => {}
            // Many cases end with an error on purpose (the fuzzer sends bad frames).
            Ok(Err(e)) => eprintln!("case {case}: {e}"),
            Err(_) => eprintln!("case {case}: timed out"),
        }
    }
    let mut ws = ClientWebSocket::with_options(opts);
    ws.connect(&format!("{base}/updateReports?agent={agent}")).await?;
    let mut buf = [0u8; 64];
    loop {
        match ws.receive(&mut buf).await {
            Ok(r) if r.message_type == MessageType::Close => {
                let _ = ws
                    .close_output(r.close_status.filter(|c| c.is_valid_on_wire()), "")
                    .await;
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    if let Some(ws) = ws.websocket() {
        ws.finished().await;
    }
    eprintln!("autobahn: report updated for agent {agent}");
    Ok(0)
}
