'use strict';
// The driver: a wasm engine Session on a byte transport. It moves bytes,
// arms one timer at the session's pollTimeout() and does what the session's
// transportAction says. Every protocol rule and deadline (keep-alive, the
// close timeout, the wait for the peer's end, who ends the transport first,
// what an end or an error means) is the engine's: see
// core/src/session/lifecycle.rs. The JavaScript twin of native/src/driver/.
//
// It reads whenever the session takes input, whether or not the application
// is receiving (PINGs are answered and PONGs seen), and pauses the transport
// only while the session takes no more (a full receive buffer, or PONG
// answers a non-reading peer has not taken).

const { clock } = require('./clock.js');
const { isReset } = require('./transport.js');

class Driver {
  /**
   * @param session the wasm `Session`
   * @param transport a transport (see transport.js)
   * @param leftover bytes read past the handshake, or null
   * @param onChange called when the application may look again (data, a
   *   Close, an error, written output, the end)
   * @param onFinish called once, when the transport was released
   */
  constructor(session, transport, leftover, onChange, onFinish) {
    this.session = session;
    this.transport = transport;
    this.finished = false;
    /** A write is in flight: the transport takes no more for now. */
    this.writing = false;
    /** Output bytes taken from the session and handed to the transport, from the start. */
    this.taken = 0;
    this._onChange = onChange;
    this._onFinish = onFinish;
    this._epoch = clock.now();
    /** Chunks read that the session could not take yet, in order. */
    this._unfed = [];
    this._inputEnded = false;
    this._eofFed = false;
    this._shut = false;
    this._timer = null;
    this._timerAt = Infinity;
    this._inPump = false;
    this._pumpAgain = false;
    transport.onData = (c) => this._onData(c);
    transport.onEnd = () => this._onEnd();
    transport.onError = (e) => this._onError(e);
    if (leftover && leftover.length) this._onData(leftover);
    // Read on, unless what came with the handshake already filled the receive buffer.
    if (!this._unfed.length) transport.resume();
    this.pump();
  }

  /** The session's clock: milliseconds since the driver started. */
  now() {
    return Math.floor(clock.now() - this._epoch);
  }

  _onData(chunk) {
    if (this.finished) return;
    const s = this.session;
    s.setNow(this.now());
    if (this._unfed.length) {
      // Arrived while pausing (a read already in flight): keep it in order.
      this._unfed.push(chunk);
    } else {
      const n = s.feed(chunk);
      if (n < chunk.length) this._unfed.push(chunk.subarray(n));
    }
    if (this._unfed.length) this.transport.pause();
    this._onChange();
    this.pump();
  }

  _onEnd() {
    if (this.finished || this._inputEnded) return;
    this._inputEnded = true;
    this._feedEofWhenFed();
    this._onChange();
    this.pump();
  }

  _onError(e) {
    if (this.finished) return;
    this.session.transportFailed(isReset(e), e && e.message ? e.message : String(e));
    this._inputEnded = true;
    this._unfed = [];
    this._onChange();
    this.pump();
  }

  _feedEofWhenFed() {
    if (this._inputEnded && !this._unfed.length && !this._eofFed) {
      this._eofFed = true;
      this.session.feedEof();
    }
  }

  /** The application took data, or output was written: held input may flow again. */
  inputMayFlow() {
    if (this.finished) return;
    const s = this.session;
    while (this._unfed.length) {
      const c = this._unfed[0];
      const n = s.feed(c);
      if (n < c.length) {
        this._unfed[0] = c.subarray(n);
        break;
      }
      this._unfed.shift();
    }
    if (!this._unfed.length) {
      if (this._inputEnded) this._feedEofWhenFed();
      else this.transport.resume();
    }
    this.pump();
  }

  /** Writes what the session queued, as long as the transport takes it. */
  _transmit() {
    const s = this.session;
    if (this.writing) {
      // The transport still holds a write: the engine may replace a waiting
      // PONG with a newer PING's answer instead of queueing behind it.
      if (s.pendingOutputLength) s.outputBlocked();
      return;
    }
    let wrote = false;
    while (!this.writing) {
      const out = s.takeOutput();
      if (!out) break;
      wrote = true;
      this.taken += out.length;
      let p;
      try {
        p = this.transport.write(out);
      } catch (e) {
        this._onError(e);
        return;
      }
      if (p) {
        this.writing = true;
        p.then(
          () => {
            this.writing = false;
            this._onChange();
            // PONG answers were taken: input held back for them may flow.
            this.inputMayFlow();
          },
          (e) => {
            this.writing = false;
            this._onError(e);
          },
        );
      }
    }
    if (wrote) this._onChange();
  }

  /** Output bytes the transport has written out, from the start (what it was given minus what it still holds). */
  get written() {
    return this.taken - this.transport.unwritten();
  }

  /** One step: write, end the transport as the session says, run and arm the timer. Re-entrant calls are folded. */
  pump() {
    if (this.finished) return;
    if (this._inPump) {
      this._pumpAgain = true;
      return;
    }
    this._inPump = true;
    try {
      do {
        this._pumpAgain = false;
        this._step();
      } while (this._pumpAgain && !this.finished);
    } finally {
      this._inPump = false;
    }
  }

  _step() {
    const s = this.session;
    for (;;) {
      if (this.finished) return;
      this._transmit();
      const action = s.transportAction;
      if (action === 'drop') {
        this._finish(true);
        return;
      }
      // Ending waits until the transport has taken every byte written.
      if (!this.writing && (action === 'shutdownWrite' || action === 'close') && !this._shut) {
        this._shut = true;
        this.transport.end();
      }
      if (!this.writing && action === 'close') {
        this._finish(false);
        return;
      }
      const now = this.now();
      const deadline = s.pollTimeout();
      if (deadline !== undefined && deadline <= now) {
        s.handleTimeout(now);
        this._onChange();
        continue;
      }
      this._arm(deadline === undefined ? Infinity : deadline);
      return;
    }
  }

  _arm(deadline) {
    if (deadline === this._timerAt) return;
    if (this._timer) clock.clearTimer(this._timer);
    this._timer = null;
    this._timerAt = deadline;
    if (deadline === Infinity) return;
    const delay = Math.max(0, deadline - this.now());
    this._timer = clock.setTimer(() => {
      this._timer = null;
      this._timerAt = Infinity;
      this.pump();
    }, delay);
  }

  /** Releases the transport: at once (`abrupt`), or once what we wrote is out. */
  _finish(abrupt) {
    if (this.finished) return;
    this.finished = true;
    if (this._timer) clock.clearTimer(this._timer);
    this._timer = null;
    this.transport.detach();
    if (abrupt) this.transport.destroy();
    else this.transport.release();
    this._onChange();
    this._onFinish();
  }
}

module.exports = { Driver };
