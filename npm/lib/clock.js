'use strict';
// The clock and the one timer the drivers use. Tests replace these three
// functions with a virtual clock (tests/npm/lifecycle.test.js), so every
// deadline of the engine can be checked exactly and no test waits.

const { performance } = require('node:perf_hooks');

const clock = {
  /** Milliseconds, monotonic. */
  now: () => performance.now(),
  /** Calls `fn` after `ms` milliseconds; returns a handle for `clearTimer`. */
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending deadline alone does not keep a Node process alive.
    if (t && typeof t.unref === 'function') t.unref();
    return t;
  },
  clearTimer: (t) => clearTimeout(t),
};

module.exports = { clock };
