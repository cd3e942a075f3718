'use strict';
// Byte tunnels for test harnesses (used by the browser entry; no Node APIs):
//   connectedPair()          two WHATWG duplexes wired to each other, in one page
//   webSocketDuplex(url)     a {readable, writable} pair over a WebSocket that
//                            carries raw bytes (binary messages) to a relay

/**
 * Two connected `{readable, writable}` byte duplexes: what one writes the
 * other reads. Closing one's writable ends the other's readable (a FIN);
 * aborting it errors the other's readable (a reset).
 */
function connectedPair() {
  const ab = new TransformStream();
  const ba = new TransformStream();
  return [
    { readable: ba.readable, writable: ab.writable },
    { readable: ab.readable, writable: ba.writable },
  ];
}

/**
 * Opens `url` with the host's `WebSocket` (the browser's own) and resolves with
 * a `{readable, writable, socket}` duplex over it: each chunk written goes as
 * one binary message, each binary message received is a chunk. Meant for a
 * relay that copies those bytes to and from a TCP connection (see
 * tests/browser/server.js), so a page can speak the whole WebSocket protocol
 * to a real server. The peer closing the tunnel ends `readable`; closing
 * `writable` closes the tunnel (code 1000).
 */
function webSocketDuplex(url, { WebSocketClass = globalThis.WebSocket, protocols } = {}) {
  return new Promise((resolve, reject) => {
    if (typeof WebSocketClass !== 'function') {
      reject(new TypeError('webSocketDuplex needs a WebSocket class (the browser global)'));
      return;
    }
    const socket = protocols ? new WebSocketClass(url, protocols) : new WebSocketClass(url);
    socket.binaryType = 'arraybuffer';
    let controller;
    let opened = false;
    let done = false;
    const readable = new ReadableStream({
      start(c) {
        controller = c;
      },
      cancel() {
        done = true;
        try { socket.close(1000); } catch (_) { /* already closing */ }
      },
    });
    const writable = new WritableStream({
      write(chunk) {
        if (socket.readyState !== 1) throw new Error('the tunnel is closed');
        socket.send(chunk);
        // Backpressure: wait while the browser buffers a lot.
        if (socket.bufferedAmount < (1 << 20)) return undefined;
        return new Promise((res) => {
          const check = () => (socket.bufferedAmount < (1 << 20) || socket.readyState !== 1 ? res() : setTimeout(check, 5));
          check();
        });
      },
      close() {
        // The relay half-closes TCP on this Close frame; the readable ends when the relay closes.
        if (socket.readyState === 1) socket.close(1000, 'fin');
      },
      abort() {
        try { socket.close(4000, 'reset'); } catch (_) { /* already closing */ }
      },
    });
    socket.onopen = () => {
      opened = true;
      resolve({ readable, writable, socket });
    };
    socket.onmessage = (ev) => {
      if (done) return;
      const d = ev.data;
      controller.enqueue(d instanceof ArrayBuffer ? new Uint8Array(d) : new TextEncoder().encode(String(d)));
    };
    socket.onerror = () => {
      if (!opened) reject(new Error(`cannot open the tunnel ${url}`));
    };
    socket.onclose = (ev) => {
      if (!opened) {
        reject(new Error(`the tunnel ${url} closed before opening (code ${ev.code})`));
        return;
      }
      if (done) return;
      done = true;
      if (ev.code === 1000 || ev.code === 1005) controller.close();
      else controller.error(new Error(`the tunnel closed with code ${ev.code} ${ev.reason || ''}`.trim()));
    };
  });
}

module.exports = { connectedPair, webSocketDuplex };
